// `crossfarm source fetch|track` and `crossfarm shell`.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cas/cas.h"
#include "client/commands.h"
#include "client/job_builder.h"
#include "client/local_build.h"
#include "client/sources.h"
#include "common/project.h"
#include "worker/job_runner.h"

namespace crossfarm::client {
namespace {

struct SourceArgs {
  std::string deps = "none";
  bool save = false;
  std::vector<std::string> targets;
};

Result<std::vector<Element*>> Selection(Project& project, const SourceArgs& a) {
  CF_ASSIGN_OR_RETURN(auto targets, project.LoadTargets(a.targets));
  // `--deps all` is what `build` needs, so it includes the accelerators.
  if (a.deps == "all") return BuildPlan(project, targets);
  Scope scope = a.deps == "plan" ? Scope::kPlan : Scope::kNone;
  return project.Plan(targets, scope);
}

// Runs `fn` on the loaded project, its selected elements and the mirror dir.
// Fetch and track touch only the mirror dir, the .bst files and the tracked
// refs, never the CAS, so they run beside a build that holds the cache.
template <typename Fn>
int WithSelection(const GlobalOptions& g, const SourceArgs& a, Fn fn) {
  auto project = LoadProject(g);
  if (!project) return ReportError(project.error());
  auto elements = Selection(**project, a);
  if (!elements) return ReportError(elements.error());
  CacheLayout layout(g);
  if (Status s = layout.Create(); !s.ok()) return ReportError(s);
  if (Status s = fn(**project, *elements, layout.sources); !s.ok()) return ReportError(s);
  return kExitOk;
}

int RunFetch(const GlobalOptions& g, const SourceArgs& a) {
  return WithSelection(g, a, [](const Project& project, const std::vector<Element*>& elements,
                                const std::string& mirror) -> Status {
    for (Element* e : elements) {
      CF_ASSIGN_OR_RETURN(auto plugins, SourcePlugins(project, *e, mirror));
      for (size_t i = 0; i < plugins.size(); ++i) {
        std::fprintf(stderr, "fetching %s source %zu\n", e->name.c_str(), i + 1);
        CF_TRY(plugins[i]->Fetch());
      }
    }
    return Status::Ok();
  });
}

int RunTrack(const GlobalOptions& g, const SourceArgs& a) {
  return WithSelection(g, a, [&a](const Project& project, const std::vector<Element*>& elements,
                                  const std::string& mirror) -> Status {
    CF_TRY(TrackSources(project, elements, mirror, a.save));
    return Status::Ok();
  });
}

struct ShellArgs {
  std::string target;
  std::vector<std::string> command;
};

int RunShell(const GlobalOptions& g, const ShellArgs& a) {
  auto project = LoadProject(g);
  if (!project) return ReportError(project.error());
  auto targets = (*project)->LoadTargets({a.target});
  if (!targets) return ReportError(targets.error());
  Element& e = *targets->front();
  // The build dependencies must be built; build them first, like bst shell
  // (before opening the CAS here: the build opens it itself).
  std::vector<Element*> deps = StagingSet(e);
  if (!deps.empty()) {
    auto summary = BuildLocally(**project, deps, g, BuildSettings{});
    if (!summary) return ReportError(summary.error());
    if (!summary->ok()) return kExitBuildFailed;
  }
  CacheLayout layout(g);
  if (Status s = layout.Create(); !s.ok()) return ReportError(s);
  // Through the cache service: an open shell blocks no other command.
  auto cas = OpenCache(layout);
  if (!cas) return ReportError(cas.error());
  Result<JobSpec> spec = [&]() -> Result<JobSpec> {
    SourceCache sources(**project, **cas, layout.sources, layout.tmp);
    CF_ASSIGN_OR_RETURN(auto tree, sources.Tree(e));
    return MakeJobSpec(e, tree, [&](const Element& d) -> std::optional<Digest> {
      auto ref = (*cas)->GetRef(ArtifactRef(d));
      return ref ? std::optional<Digest>(ref->root) : std::nullopt;
    });
  }();
  if (!spec) return ReportError(spec.error());
  worker::JobRunner runner(**cas, {.work_dir = layout.tmp, .checkout_dir = layout.checkouts,
                                   .log_dir = layout.logs, .worker_name = "local", .sandbox = {}});
  auto exit = runner.Shell(*spec, a.command);
  if (!exit) return ReportError(exit.error());
  return exit->exit_code >= 0 ? exit->exit_code : kExitBuildFailed;
}

}  // namespace

Action AddSourceCommand(CLI::App& app, const GlobalOptions& g) {
  auto args = std::make_shared<SourceArgs>();
  auto* cmd = app.add_subcommand("source", "Fetch or track element sources");
  cmd->require_subcommand(1);
  auto* fetch = cmd->add_subcommand("fetch", "Download sources into the mirror cache");
  auto* track = cmd->add_subcommand(
      "track", "Pin sources to their newest upstream ref (kept in the cache; --save edits the .bst files)");
  track->add_flag("--save", args->save,
                  "Write the new refs into the .bst files (as bst's track), not into the cache");
  for (auto* sub : {fetch, track}) {
    sub->add_option("-d,--deps", args->deps, "none, plan or all")
        ->check(CLI::IsMember({"none", "plan", "all"}));
    sub->add_option("targets", args->targets, "Elements (.bst)")->required();
    sub->fallthrough();
  }
  return [&g, args, fetch] { return fetch->parsed() ? RunFetch(g, *args) : RunTrack(g, *args); };
}

Action AddShellCommand(CLI::App& app, const GlobalOptions& g) {
  auto args = std::make_shared<ShellArgs>();
  auto* cmd = app.add_subcommand("shell", "Open a shell in the build sandbox of an element");
  cmd->add_option("target", args->target, "Element (.bst)")->required();
  cmd->add_option("command", args->command, "Command to run instead of an interactive shell");
  return [&g, args] { return RunShell(g, *args); };
}

}  // namespace crossfarm::client
