// `crossfarm build`: builds targets and everything they need, in-process (the
// embedded default) or on a cluster with --remote.
#include <CLI/CLI.hpp>

#include "client/commands.h"
#include "client/job_builder.h"
#include "client/local_build.h"
#include "client/remote_build.h"
#include "client/sources.h"
#include "common/project.h"

namespace crossfarm::client {
namespace {

struct BuildArgs {
  int jobs = 0;
  std::string on_error = "continue";
  bool track_all = false;
  std::vector<std::string> track;
  std::vector<std::string> targets;
};

// bst 1.x's `build --track-all` / `--track ELEMENT`: track first (into the
// user's tracked refs, as `source track` does), per arch, then build with them.
Status TrackBeforeBuild(const GlobalOptions& g, const BuildArgs& a) {
  for (const GlobalOptions& arch_g : PerArch(g)) {
    CF_ASSIGN_OR_RETURN(auto project, LoadProject(arch_g));
    std::vector<Element*> elements;
    if (a.track_all) {
      CF_ASSIGN_OR_RETURN(auto targets, project->LoadTargets(a.targets));
      elements = BuildPlan(*project, targets);
    } else {
      CF_ASSIGN_OR_RETURN(elements, project->LoadTargets(a.track));
    }
    CacheLayout layout(arch_g);
    CF_TRY(layout.Create());
    CF_TRY(TrackSources(*project, elements, layout.sources, /*save=*/false));
  }
  return Status::Ok();
}

int RunBuild(const GlobalOptions& g, const BuildArgs& a) {
  BuildSettings settings;
  settings.jobs = a.jobs;
  settings.on_error =
      a.on_error == "quit" ? scheduler::OnError::kQuit : scheduler::OnError::kContinue;
  if (a.track_all || !a.track.empty())
    if (Status s = TrackBeforeBuild(g, a); !s.ok()) return ReportError(s);
  // `--arch a,b,c`: one project load per arch, all built in one queue.
  std::vector<std::unique_ptr<Project>> projects;
  std::vector<ProjectTargets> builds;
  std::vector<GlobalOptions> per_arch = PerArch(g);
  for (const GlobalOptions& arch_g : per_arch) {
    auto project = LoadProject(arch_g);
    if (!project) return ReportError(project.error());
    auto targets = (*project)->LoadTargets(a.targets);
    if (!targets) return ReportError(targets.error());
    builds.emplace_back(project->get(), *targets);
    projects.push_back(std::move(*project));
  }
  auto summary = g.remote.empty() ? BuildLocally(builds, g, settings)
                                  : BuildRemotely(builds, g, settings);
  if (!summary) return ReportError(summary.error());
  if (summary->ok()) return kExitOk;
  std::string failed;
  for (const auto& f : summary->failed_elements) failed += " " + f;
  PrintError("build failed:" + failed);
  return kExitBuildFailed;
}

}  // namespace

Action AddBuildCommand(CLI::App& app, const GlobalOptions& g) {
  auto args = std::make_shared<BuildArgs>();
  auto* cmd = app.add_subcommand("build", "Build elements and everything they depend on");
  cmd->add_option("-j,--jobs", args->jobs, "Elements built in parallel (default: 4 or the CPU count if larger)");
  cmd->add_option("--on-error", args->on_error,
                  "After a failure: continue (finish independent jobs) or quit")
      ->check(CLI::IsMember({"continue", "quit"}))
      ->capture_default_str();
  cmd->add_flag("--track-all", args->track_all,
                "Track every element of the build first (bst 1.x; the new refs are kept in the "
                "cache, as `source track` keeps them)");
  cmd->add_option("--track", args->track, "Track this element first (repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("targets", args->targets, "Target elements (.bst)")->required();
  return [&g, args] { return RunBuild(g, *args); };
}

}  // namespace crossfarm::client
