// The start-up every crossfarm daemon shares (crossfarm-cas, -scheduler,
// -worker): flags and config file (daemon/config.h), --help and --version,
// logging (stderr for journald, or --log-file), signals (SIGINT/SIGTERM stop,
// SIGHUP reloads), the metrics HTTP listener and the one stdout line
// `endpoint=...` scripts read. A daemon's main.cc is its option table and a
// StartFn (docs/operations.md).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "daemon/config.h"
#include "daemon/http_server.h"
#include "metrics/registry.h"

namespace crossfarm::daemon {

// A started daemon. Stop() is called once, from the main thread.
class Service {
 public:
  virtual ~Service() = default;
  // The settings re-read on SIGHUP (only `reloadable` options are expected to
  // change anything). An error is logged and the old settings stay in force.
  virtual Status Reload(const Settings& settings) = 0;
  virtual void Stop() = 0;
  // Printed as `endpoint=...` once started ("" prints nothing).
  virtual std::string endpoint() const { return ""; }
  // After Stop(): why the daemon ended on its own, if it did (exit code 1/2).
  virtual Status outcome() const { return Status::Ok(); }
};

struct DaemonContext {
  metrics::Registry& metrics;
  // Extra HTTP pages (path -> handler), served beside /metrics when
  // metrics-listen is set. Filled by StartFn.
  std::map<std::string, HttpHandler>& pages;
};

using StartFn = std::function<Result<std::unique_ptr<Service>>(const Settings&, DaemonContext&)>;

struct DaemonSpec {
  std::string binary;   // "crossfarm-cas": --version, log name, default config name
  std::string summary;  // --help's first line
  std::vector<OptionSpec> options;  // the daemon's own; config, log-file, log-level, metrics-listen are added
};

// Runs the daemon; returns the process exit code (0, 1 failure, 2 bad
// usage or config).
int Main(const DaemonSpec& spec, int argc, char** argv, const StartFn& start);

// Exit code of a start-up error: 2 for InvalidArgument (bad flags/config), else 1.
int ExitCodeOf(const Status& s);

}  // namespace crossfarm::daemon
