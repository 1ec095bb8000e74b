// The job runner's hook for an element of a local Python plugin (JobSpec::
// python, docs/plugins.md): with the job's root staged (a private, writable
// copy holding the build and install dirs, so the plugin's
// sandbox.get_directory() is the whole tree), a plugin host of the pool runs
// the plugin's configure/preflight/configure_sandbox/stage/assemble; each
// sandbox.run() of the plugin runs in the job's sandbox (native or emulated,
// never with network).
#pragma once

#include <string>

#include "common/job_spec.h"
#include "common/status.h"
#include "worker/plugin_host.h"
#include "worker/sandbox.h"

namespace crossfarm::worker {

struct PythonAssembly {
  bool ok = false;
  Status failure;           // BuildFailed naming the element and the plugin (!ok)
  std::string collect_dir;  // host path of what assemble() returned (ok)
};

// An error Status only when the job could not be attempted (the module
// could not be written); the plugin's failures are !ok.
Result<PythonAssembly> RunPythonElement(PluginHostPool& pool, const Sandbox& sandbox,
                                        const JobSpec& spec, const SandboxSpec& sb,
                                        const std::string& work_dir, const LogSink& log,
                                        const RunControl& control);

}  // namespace crossfarm::worker
