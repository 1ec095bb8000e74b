// The worker's side of collect_manifest and collect_integration
// (buildstream-external 0.x, docs/element-format.md): the client generates
// their files from the element graph (client/collect_elements.h) and the job
// (JobKind::kCollect) stores exactly those files as the artifact.
#pragma once

#include <string>

#include "cas/cas.h"
#include "common/job_spec.h"
#include "common/status.h"

namespace crossfarm::worker {

// Writes spec.files into a fresh directory under `work_dir` and imports it
// into the CAS: the artifact's root. BuildFailed for a path that leaves the
// artifact root; IOError when a file cannot be written.
Result<Digest> RunCollectJob(const JobSpec& spec, cas::Cas& cas, const std::string& work_dir);

}  // namespace crossfarm::worker
