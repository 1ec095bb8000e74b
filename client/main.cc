// crossfarm: the command line. A thin main over the client library: global
// options, the subcommand table, and the mapping from results to exit codes.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>

#include "client/command.h"
#include "client/commands.h"

namespace {

using crossfarm::client::GlobalOptions;

void AddGlobalOptions(CLI::App& app, GlobalOptions& g) {
  app.add_option("-C,--directory", g.directory, "Project directory (holds project.conf)");
  app.add_option("--arch", g.arch, "Arch to build for (host and target), e.g. aarch64");
  app.add_option("--host-arch", g.host_arch, "Arch the built programs run on");
  app.add_option("--target-arch", g.target_arch, "Arch a built toolchain generates code for");
  app.add_option("-o,--option", g.options, "Set project option NAME to VALUE")
      ->type_name("NAME VALUE")
      ->allow_extra_args(false);
  app.add_option("--cache-dir", g.cache_dir, "Cache directory (default $XDG_CACHE_HOME/crossfarm)");
  app.add_option("--mirror-dir", g.mirror_dir,
                 "Where downloaded sources are kept (default <cache-dir>/sources)");
  app.add_option("--remote", g.remote, "Scheduler of a cluster, tcp://HOST:PORT");
  app.add_option("--remote-key", g.remote_key, "Public key file of the scheduler");
  app.add_option("--key", g.key, "This client's secret key file");
  app.add_flag("-v,--verbose", g.verbose, "Log more");
  app.add_option("--accel", g.accel,
                 "Acceleration of emulated builds the project declares: auto (all it offers), "
                 "none, distcc, host-tools (docs/acceleration.md)")
      ->capture_default_str();
  app.add_flag_callback("--no-accel", [&g] { g.accel = "none"; }, "Same as --accel none");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"crossfarm: build BuildStream projects for any arch, here or on a cluster"};
  app.require_subcommand(1);
  GlobalOptions g;
  AddGlobalOptions(app, g);
  crossfarm::client::LoadUserConfig(g);

  std::vector<std::pair<CLI::App*, crossfarm::client::Action>> actions;
  for (auto add : crossfarm::client::kCommands) {
    size_t before = app.get_subcommands({}).size();
    auto action = add(app, g);
    auto subs = app.get_subcommands({});
    if (subs.size() > before) actions.emplace_back(subs.back(), std::move(action));
  }
  for (auto* sub : app.get_subcommands({})) sub->fallthrough();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : crossfarm::client::kExitBadInput;
  }
  for (auto& [sub, action] : actions)
    if (sub->parsed()) return action();
  return crossfarm::client::kExitBadInput;
}
