// project.conf `plugins:` as BuildStream 1.6 declares it (_project.py
// _load_plugin_factories): a list of origins, each
//   - origin: local            path: <dir in the project>
//     elements: {KIND: FORMAT-VERSION, ...}   sources: {KIND: FORMAT-VERSION}
//   - origin: pip              package-name: <python package>
//     elements: ...            sources: ...
//   - origin: core             (format versions of bst's own kinds)
// A local kind is the Python module <path>/<KIND>.py with its defaults in
// <path>/<KIND>.yaml (optional); crossfarm runs it in the plugin host
// (docs/plugins.md). Native kinds win over a Python plugin of the same name.
#pragma once

#include <map>
#include <string>

#include "common/node.h"
#include "common/provenance.h"
#include "common/status.h"

namespace crossfarm {

// One kind of a local Python plugin.
struct PythonPlugin {
  std::string kind;
  bool element = true;        // an Element plugin (else a Source plugin)
  std::string file;           // absolute path of <path>/<kind>.py
  std::string defaults_file;  // absolute path of <path>/<kind>.yaml (may not exist)
  int required_version = 0;   // the format version project.conf asks of it
  Provenance where;           // the kind's key in project.conf
};

struct ProjectPlugins {
  // "element:KIND" / "source:KIND" -> a local Python plugin.
  std::map<std::string, PythonPlugin> python;
  // "element:KIND" / "source:KIND" -> where a kind crossfarm cannot run comes
  // from ("pip package 'x' (project.conf:L:C)"), for errors.
  std::map<std::string, std::string> foreign;
};

// Reads `plugins:` of the composed project.conf. Errors as bst's: an unknown
// origin, a duplicate kind, a version that is not an integer, a local path
// that is not a directory of the project; each names project.conf:line.
Result<ProjectPlugins> ReadProjectPlugins(const Node& config, const std::string& project_dir);

}  // namespace crossfarm
