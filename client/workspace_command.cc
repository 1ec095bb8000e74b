// `crossfarm workspace open|close|reset|list`: bst 1.6's workspaces
// (common/workspaces.h, client/workspace_build.h, docs/workspaces.md).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include "client/commands.h"
#include "client/local_build.h"
#include "client/sources.h"
#include "client/workspace_build.h"
#include "common/project.h"
#include "common/workspaces.h"
#include "worker/fs_util.h"
#include "worker/staging.h"

namespace crossfarm::client {
namespace {

namespace fs = std::filesystem;

struct WorkspaceArgs {
  bool force = false, no_checkout = false, track = false;  // open
  bool remove_dir = false, all = false, soft = false;      // close, reset
  std::string directory;
  std::vector<std::string> elements;
};

void Info(const std::string& text) { std::fprintf(stderr, "crossfarm: %s\n", text.c_str()); }

// The project (its sources, not its workspaces) and `names` loaded in it;
// with `track`, their sources are tracked first (as `source track` does).
Result<std::pair<std::unique_ptr<Project>, std::vector<Element*>>> Load(
    const GlobalOptions& g, const std::vector<std::string>& names, bool track) {
  if (track) {
    CF_ASSIGN_OR_RETURN(auto project, LoadProject(g, WorkspaceUse::kIgnore));
    CF_ASSIGN_OR_RETURN(auto elements, project->LoadTargets(names));
    CacheLayout layout(g);
    CF_TRY(layout.Create());
    CF_TRY(TrackSources(*project, elements, layout.sources, /*save=*/false));
  }
  CF_ASSIGN_OR_RETURN(auto project, LoadProject(g, WorkspaceUse::kIgnore));
  CF_ASSIGN_OR_RETURN(auto elements, project->LoadTargets(names));
  return std::make_pair(std::move(project), std::move(elements));
}

// bst's refusals: a junction (its sources are a subproject) or an element
// without sources (its dependencies are what to open).
Status CheckOpenable(const Element& e) {
  if (e.kind == "junction")
    return UserError(e.where, e.name + " is a junction: its sources are a subproject, not files to build",
                     "open a workspace on an element of the subproject (" + e.name + ":ELEMENT.bst)");
  if (!e.sources.empty()) return Status::Ok();
  std::string deps;
  for (const Element* d : e.BuildDeps())
    if (!d->sources.empty()) deps += (deps.empty() ? "" : ", ") + d->name;
  return UserError(e.where, e.name + " has no sources",
                   deps.empty() ? "open a workspace on an element that has sources"
                                : "open a workspace on one of its build dependencies instead: " + deps);
}

// Fetches and stages the sources of `e` into `dir` (files already there are
// overwritten, others kept), with bst's deterministic mtimes.
Status CheckOut(const Project& project, const Element& e, const std::string& dir,
                const CacheLayout& layout) {
  CF_ASSIGN_OR_RETURN(auto plugins, SourcePlugins(project, e, layout.sources));
  for (size_t i = 0; i < plugins.size(); ++i)
    if (!plugins[i]->Ref())
      return UserError(e.sources[i].where, e.name + " has a source without a ref",
                       "open it with --track, or run `crossfarm source track " + e.name + "` first");
  CF_ASSIGN_OR_RETURN(worker::TempDir tmp, worker::TempDir::Create(layout.tmp, "workspace-"));
  const std::string staged = tmp.path() + "/tree";
  std::error_code ec;
  fs::create_directories(staged, ec);
  for (auto& p : plugins) {
    CF_TRY(p->Fetch());
    CF_TRY(p->Stage(staged));
  }
  CF_TRY(worker::SetDeterministicMtimes(staged));
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("Failed to create workspace directory " + dir + ": " + ec.message());
  std::vector<std::string> from{staged};
  auto report = worker::StageArtifacts(dir, from, worker::StageMode::kCopy);
  if (!report) return report.error().WithContext("staging the sources of " + e.name + " into " + dir);
  return Status::Ok();
}

std::string AbsoluteDir(const std::string& dir) {
  return fs::absolute(dir).lexically_normal().string();
}

Status CheckTargetDir(const std::string& dir, const WorkspaceArgs& a) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return Status::Ok();
  if (!fs::is_directory(dir, ec))
    return Status::InvalidArgument("Checkout directory is not a directory: " + dir);
  if (!(a.no_checkout || a.force) && !fs::is_empty(dir, ec))
    return Status::InvalidArgument("Checkout directory is not empty: " + dir +
                                   "\n  hint: --force checks the sources out over its files, "
                                   "--no-checkout uses them as they are");
  return Status::Ok();
}

Status Open(const GlobalOptions& g, WorkspaceArgs a) {
  // bst 1.6's form `workspace open ELEMENT DIRECTORY`.
  if (a.directory.empty() && a.elements.size() == 2 && !a.elements[1].ends_with(".bst")) {
    a.directory = a.elements[1];
    a.elements.pop_back();
  }
  if (!a.directory.empty() && a.elements.size() != 1)
    return Status::InvalidArgument("--directory can only be used with a single element");
  CF_ASSIGN_OR_RETURN(auto loaded, Load(g, a.elements, a.track));
  auto& [project, elements] = loaded;
  CF_ASSIGN_OR_RETURN(Workspaces open, Workspaces::Load(project->directory()));
  CacheLayout layout(g);
  CF_TRY(layout.Create());
  for (const Element* e : elements) {
    CF_TRY(CheckOpenable(*e));
    const WorkspaceEntry* existing = open.Find(e->name);
    if (existing && !a.force)
      return Status::InvalidArgument("Workspace '" + e->name + "' is already defined at: " +
                                     open.AbsolutePath(*existing) + "\n  hint: --force opens it again, or `" +
                                     CommandFor(g, "workspace close " + e->name) + "`");
    std::string dir = AbsoluteDir(a.directory.empty() ? ElementNormalName(e->name) : a.directory);
    CF_TRY(CheckTargetDir(dir, a));
    if (!a.no_checkout) CF_TRY(CheckOut(*project, *e, dir, layout));
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::IOError("Failed to create workspace directory " + dir + ": " + ec.message());
    if (existing)
      CF_TRY(ForgetWorkspaceBuilds(layout.workspaces, e->name, open.AbsolutePath(*existing), ForgetBuilds::kEverything));
    open.Open(e->name, dir);
    CF_TRY(open.Save());
    Info("opened a workspace for " + e->name + " at " + dir);
  }
  return Status::Ok();
}

// The workspaces named by `a` (all with --all); NotFound naming those not open.
Result<std::vector<WorkspaceEntry>> Selected(const Workspaces& open, const Project& project,
                                             const WorkspaceArgs& a) {
  if (a.all) return open.entries();
  std::vector<WorkspaceEntry> out;
  std::string missing;
  const std::string prefix = project.element_path().empty() ? "" : project.element_path() + "/";
  for (const auto& name : a.elements) {
    std::string n = NormaliseElementName(name);
    if (!open.Find(n) && !prefix.empty() && n.starts_with(prefix)) n = n.substr(prefix.size());
    if (const WorkspaceEntry* w = open.Find(n)) out.push_back(*w);
    else missing += "\n  " + name;
  }
  if (!missing.empty())
    return Err(Status::InvalidArgument("Workspace does not exist:" + missing +
                                       "\n  hint: `crossfarm workspace list` shows the open ones"));
  return out;
}

Status Close(const GlobalOptions& g, const WorkspaceArgs& a) {
  if (!a.all && a.elements.empty())
    return Status::InvalidArgument("no elements specified\n  hint: name the elements, or --all");
  CF_ASSIGN_OR_RETURN(auto project, LoadProject(g, WorkspaceUse::kIgnore));
  CF_ASSIGN_OR_RETURN(Workspaces open, Workspaces::Load(project->directory()));
  if (a.all && open.entries().empty()) {
    Info("No open workspaces to close");
    return Status::Ok();
  }
  CF_ASSIGN_OR_RETURN(auto selected, Selected(open, *project, a));
  CacheLayout layout(g);
  for (const auto& w : selected) {
    const std::string dir = open.AbsolutePath(w);
    if (a.remove_dir) CF_TRY(worker::RemoveTree(dir).WithContext("Could not remove " + dir));
    CF_TRY(ForgetWorkspaceBuilds(layout.workspaces, w.element, dir, ForgetBuilds::kEverything));
    open.Close(w.element);
    CF_TRY(open.Save());
    Info("Closed workspace for " + w.element);
  }
  return Status::Ok();
}

Status Reset(const GlobalOptions& g, const WorkspaceArgs& a) {
  if (!a.all && a.elements.empty())
    return Status::InvalidArgument("No elements specified to reset\n  hint: name the elements, or --all");
  CF_ASSIGN_OR_RETURN(auto project, LoadProject(g, WorkspaceUse::kIgnore));
  CF_ASSIGN_OR_RETURN(Workspaces open, Workspaces::Load(project->directory()));
  if (a.all && open.entries().empty()) return Status::InvalidArgument("No open workspaces to reset");
  CF_ASSIGN_OR_RETURN(auto selected, Selected(open, *project, a));
  std::vector<std::string> names;
  for (const auto& w : selected) names.push_back(w.element);
  CF_ASSIGN_OR_RETURN(auto loaded, Load(g, names, a.track && !a.soft));
  CacheLayout layout(g);
  CF_TRY(layout.Create());
  for (size_t i = 0; i < selected.size(); ++i) {
    const std::string dir = open.AbsolutePath(selected[i]);
    if (a.soft) {
      CF_TRY(ForgetWorkspaceBuilds(layout.workspaces, names[i], dir, ForgetBuilds::kConfigured));
      open.SetPrepared(names[i], false);
      CF_TRY(open.Save());
      Info("Reset workspace state for " + names[i] + " at: " + dir);
      continue;
    }
    CF_TRY(worker::RemoveTree(dir).WithContext("Could not remove " + dir));
    CF_TRY(ForgetWorkspaceBuilds(layout.workspaces, names[i], dir, ForgetBuilds::kEverything));
    CF_TRY(CheckOut(*loaded.first, *loaded.second[i], dir, layout));
    open.SetPrepared(names[i], false);
    CF_TRY(open.Save());
    Info("Reset workspace for " + names[i] + " at: " + dir);
  }
  return Status::Ok();
}

// bst 1.6's `workspace list`: YAML on stdout.
Status List(const GlobalOptions& g) {
  CF_ASSIGN_OR_RETURN(auto project, LoadProject(g, WorkspaceUse::kIgnore));
  CF_ASSIGN_OR_RETURN(Workspaces open, Workspaces::Load(project->directory()));
  if (open.entries().empty()) {
    std::printf("workspaces: []\n");
    return Status::Ok();
  }
  std::printf("workspaces:\n");
  for (const auto& w : open.entries())
    std::printf("- element: %s\n  directory: %s\n", w.element.c_str(), open.AbsolutePath(w).c_str());
  return Status::Ok();
}

int Report(const Status& s) { return s.ok() ? kExitOk : ReportError(s); }

}  // namespace

Action AddWorkspaceCommand(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<WorkspaceArgs>();
  auto* cmd = app.add_subcommand("workspace", "Manipulate developer workspaces (bst 1.6's)");
  cmd->require_subcommand(1);

  auto* open = cmd->add_subcommand("open", "Open a workspace: a directory of the element's sources "
                                           "that builds use instead of them");
  open->add_flag("--no-checkout", a->no_checkout, "Do not check the sources out, use the directory as it is");
  open->add_flag("-f,--force", a->force, "Check out over existing files; reopen an open workspace");
  open->add_flag("--track", a->track, "Track the sources first (new refs kept as `source track` keeps them)");
  open->add_option("--directory", a->directory,
                   "The workspace directory (default: ./ELEMENT-NAME; bst 1.6's `open ELEMENT DIR` works too)");
  open->add_option("elements", a->elements, "Elements (.bst)")->required();

  auto* close = cmd->add_subcommand("close", "Close workspaces: builds use the element's sources again");
  close->add_flag("--remove-dir", a->remove_dir, "Remove the workspace directory");
  close->add_flag("-a,--all", a->all, "Close all open workspaces");
  close->add_option("elements", a->elements, "Elements (.bst)");

  auto* reset = cmd->add_subcommand("reset", "Reset workspaces to their element's sources");
  reset->add_flag("--soft", a->soft, "Keep the files; only configure again at the next build");
  reset->add_flag("--track", a->track, "Track the sources first");
  reset->add_flag("-a,--all", a->all, "Reset all open workspaces");
  reset->add_option("elements", a->elements, "Elements (.bst)");

  auto* list = cmd->add_subcommand("list", "List open workspaces (YAML, as bst 1.6)");
  for (auto* sub : {open, close, reset, list}) sub->fallthrough();

  return [&g, a, open, close, reset, list] {
    if (open->parsed()) return Report(Open(g, *a));
    if (close->parsed()) return Report(Close(g, *a));
    if (reset->parsed()) return Report(Reset(g, *a));
    if (list->parsed()) return Report(List(g));
    return kExitBadInput;
  };
}

}  // namespace crossfarm::client
