// crossfarm: the command line. A thin main over the client library: global
// options, the subcommand table, and the mapping from results to exit codes.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "client/command.h"
#include "client/commands.h"
#include "common/node.h"
#include "common/path_flags.h"
#include "common/version.h"

namespace {

using crossfarm::client::GlobalOptions;

// Every long option name ("--force") of `app` and its subcommands, recursively.
void CollectOptionNames(const CLI::App& app, std::vector<std::string>& out) {
  for (const CLI::Option* o : app.get_options())
    for (const auto& name : o->get_lnames()) out.push_back("--" + name);
  for (const CLI::App* sub : app.get_subcommands({})) CollectOptionNames(*sub, out);
}

// After a parse error: the word the user most likely misspelt, with the
// command or option it is close to ("biuld" -> "build"), or "" when none is.
// Words that are option values (`--arch aarch64`) are skipped.
std::string Suggestion(const CLI::App& app, int argc, char** argv) {
  std::vector<std::string> option_names;
  CollectOptionNames(app, option_names);
  std::vector<std::string_view> options(option_names.begin(), option_names.end());
  std::vector<std::string> command_names;
  const CLI::App* level = &app;
  for (int i = 1; i < argc; ++i) {
    std::string tok = argv[i];
    if (tok == "--") break;
    if (tok.starts_with("--")) {
      std::string name = tok.substr(0, tok.find('='));
      const CLI::Option* opt = nullptr;
      for (const CLI::App* a = level; a && !opt; a = a->get_parent()) opt = a->get_option_no_throw(name);
      if (!opt) {
        std::string near = crossfarm::DidYouMean(name, options);
        return near.empty() ? "" : "unknown option '" + name + "'; did you mean '" + near + "'?";
      }
      if (tok.find('=') == std::string::npos) i += std::max(0, opt->get_items_expected_min());
      continue;
    }
    if (tok.starts_with("-") && tok.size() == 2) {
      const CLI::Option* opt = nullptr;
      for (const CLI::App* a = level; a && !opt; a = a->get_parent()) opt = a->get_option_no_throw(tok);
      if (opt) i += std::max(0, opt->get_items_expected_min());
      continue;
    }
    const CLI::App* sub = nullptr;
    for (const CLI::App* candidate : level->get_subcommands({}))
      if (candidate->get_name() == tok) sub = candidate;
    if (sub) {
      level = sub;
      continue;
    }
    if (level->get_subcommands({}).empty()) continue;  // a positional argument
    std::vector<std::string_view> names;
    for (const CLI::App* candidate : level->get_subcommands({})) names.push_back(candidate->get_name());
    std::string near = crossfarm::DidYouMean(tok, names);
    return near.empty() ? "" : "unknown command '" + tok + "'; did you mean '" + near + "'?";
  }
  return "";
}

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
  app.set_version_flag("--version", crossfarm::VersionText("crossfarm"));
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
    if (e.get_exit_code() != 0) {
      if (std::string hint = Suggestion(app, argc, argv); !hint.empty()) {
        crossfarm::client::PrintError(hint);
        return crossfarm::client::kExitBadInput;
      }
    }
    int rc = app.exit(e);
    return rc == 0 ? 0 : crossfarm::client::kExitBadInput;
  }
  // Relative paths are the user's cwd's, whatever later chdirs or sandboxes
  // see (a relative --cache-dir reached bwrap as a bind source).
  if (crossfarm::Status s = crossfarm::MakePathFlagsAbsolute({{"--cache-dir", &g.cache_dir},
                                                              {"--mirror-dir", &g.mirror_dir},
                                                              {"--key", &g.key},
                                                              {"--remote-key", &g.remote_key}});
      !s.ok())
    return crossfarm::client::ReportError(s);
  for (auto& [sub, action] : actions)
    if (sub->parsed()) return action();
  return crossfarm::client::kExitBadInput;
}
