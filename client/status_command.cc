// `crossfarm status --remote URL`: the cluster's workers (archs, slots, busy,
// last heartbeat) and its queue, with the reason each waiting job waits.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "client/commands.h"
#include "client/remote_build.h"

namespace crossfarm::client {
namespace {

int RunStatus(const GlobalOptions& g) {
  if (g.remote.empty()) {
    PrintError("status needs --remote tcp://HOST:PORT (or remote: in ~/.config/crossfarm/config.yaml)");
    return kExitBadInput;
  }
  auto conn = SchedulerConnection::Open(g);
  if (!conn) return ReportError(conn.error());
  auto status = (*conn)->QueryStatus(std::chrono::seconds(10));
  if (!status) return ReportError(status.error());
  std::fputs(FormatStatus(*status).c_str(), stdout);
  return kExitOk;
}

}  // namespace

Action AddStatusCommand(CLI::App& app, const GlobalOptions& g) {
  app.add_subcommand("status", "Show the cluster's workers and queue (needs --remote)");
  return [&g] { return RunStatus(g); };
}

}  // namespace crossfarm::client
