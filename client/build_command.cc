// `crossfarm build`: builds targets and everything they need, in-process (the
// embedded default) or on a cluster with --remote.
#include <CLI/CLI.hpp>

#include "client/commands.h"
#include "client/local_build.h"
#include "client/remote_build.h"
#include "common/project.h"

namespace crossfarm::client {
namespace {

struct BuildArgs {
  int jobs = 0;
  std::string on_error = "continue";
  std::vector<std::string> targets;
};

int RunBuild(const GlobalOptions& g, const BuildArgs& a) {
  BuildSettings settings;
  settings.jobs = a.jobs;
  settings.on_error =
      a.on_error == "quit" ? scheduler::OnError::kQuit : scheduler::OnError::kContinue;
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
  cmd->add_option("targets", args->targets, "Target elements (.bst)")->required();
  return [&g, args] { return RunBuild(g, *args); };
}

}  // namespace crossfarm::client
