// buildstream-external 0.x's collect_manifest and collect_integration
// elements, natively (docs/element-format.md "collect_manifest and
// collect_integration"). Their output depends only on the element graph (the
// dependencies' sources, refs, public data and variables), all of which are in
// the element's cache key, so the client generates the files and the job
// (JobKind::kCollect, worker/collect_elements.h) stores them as the artifact.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/element.h"
#include "common/job_spec.h"

namespace crossfarm::client {

bool IsCollectKind(std::string_view kind);

// The files of a collect_* element:
//   collect_manifest:    `path:` (optional) gets the manifest JSON, written as
//                        bst-external's json.dump(indent=2) writes it;
//   collect_integration: `script-path:` gets "#!/bin/sh\nset -e\n\n" and the
//                        integration commands of the build dependencies.
// UserError (element file:line) for what bst-external's preflight refuses:
// runtime dependencies or sources of collect_integration, an `ignore:` entry
// that is not a build dependency, a `version-match` that matches nothing.
Result<std::vector<GeneratedFile>> CollectElementFiles(const Element& e);

// The manifest JSON of a collect_manifest element (what `path:` receives).
Result<std::string> CollectManifestJson(const Element& e);

// Python's json.dumps(..., indent=2) of a loader tree (ensure_ascii: non-ASCII
// as \uXXXX); scalars are strings, as bst 1.6's YAML loader makes them.
std::string PythonJson(const Node& node);

}  // namespace crossfarm::client
