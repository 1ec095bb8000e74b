// Commands on built artifacts: `crossfarm checkout`, `crossfarm log`,
// `crossfarm artifact list-contents|log|delete` (bst 2's `artifact` commands).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <unordered_map>
#include <fstream>
#include <iostream>

#include "cas/cas.h"
#include "client/commands.h"
#include "client/job_builder.h"
#include "client/log_follow.h"
#include "client/local_build.h"
#include "client/remote_build.h"
#include "client/transfer_progress.h"
#include "common/project.h"
#include "worker/archive.h"
#include "worker/fs_util.h"
#include "worker/sandbox.h"
#include "worker/staging.h"

namespace crossfarm::client {
namespace {

struct Loaded {
  std::unique_ptr<Project> project;
  Element* element = nullptr;
  std::unique_ptr<cas::Cas> cas;
  std::shared_ptr<TransferStats> transfers;  // with --remote: the cluster CAS's bytes
};

Result<Loaded> LoadOne(const GlobalOptions& g, const std::string& target) {
  Loaded l;
  CF_ASSIGN_OR_RETURN(l.project, LoadProject(g));
  CF_ASSIGN_OR_RETURN(auto targets, l.project->LoadTargets({target}));
  l.element = targets.front();
  if (!l.element->cache_key)
    return Err(Status::InvalidArgument(target + " has sources without a ref\n  hint: run `" +
                                       CommandFor(g, "source track " + target) + "`"));
  // With --remote the artifacts are the cluster's, not this machine's.
  if (!g.remote.empty()) {
    l.transfers = std::make_shared<TransferStats>();
    CF_ASSIGN_OR_RETURN(l.cas, OpenClusterCas(g, l.transfers));
  } else {
    CF_ASSIGN_OR_RETURN(l.cas, OpenCache(CacheLayout(g)));
  }
  return l;
}

Result<proto::RefInfo> ArtifactOf(const GlobalOptions& g, Loaded& l) {
  auto ref = l.cas->GetRef(ArtifactRef(*l.element));
  if (!ref && ref.error().IsNotFound())
    return Err(Status::NotFound(l.element->name + " is not built (key " +
                                l.element->ShortKey() + ")\n  hint: run `" +
                                CommandFor(g, "build " + l.element->name) + "` first"));
  return ref;
}

struct CheckoutArgs {
  std::string target, dir, tar;
  std::string deps = "run";
  bool force = false;
  bool hardlinks = false;
  bool integrate = true;  // bst 1.6's default: --integrate
};

// The build environment's SOURCE_DATE_EPOCH (bst's default, 2011-11-10 15:00
// UTC): every tarball entry gets it, so two tarballs of one artifact are
// byte-identical.
constexpr int64_t kTarballMtime = 1320937200;

Status CheckEmptyOrForced(const std::string& dir, bool force) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec) || force) return Status::Ok();
  if (!std::filesystem::is_directory(dir, ec))
    return Status::InvalidArgument(dir + " exists and is not a directory");
  if (!std::filesystem::is_empty(dir, ec))
    return Status::InvalidArgument(dir + " is not empty\n  hint: --force overwrites the files "
                                         "the checkout has in common with it");
  return Status::Ok();
}

// Files of a hard-linked export are the store's read-only copies; a copied
// checkout is the user's to edit, as bst's: add u+w (never through a symlink).
void MakeUserWritable(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it); it.increment(ec)) {
    if (it->is_symlink(ec)) continue;
    fs::permissions(it->path(), fs::perms::owner_write, fs::perm_options::add, ec);
  }
}

// The integration commands of `e` (public bst.integration-commands, substituted).
std::vector<std::string> IntegrationCommands(const Element& e) {
  std::vector<std::string> out;
  const YAML::Node commands = e.public_data()["bst"]["integration-commands"];
  if (commands && commands.IsSequence())
    for (const auto& c : commands) out.push_back(c.as<std::string>());
  return out;
}

// bst 1.6's `checkout --integrate` (its default): the checked-out elements'
// integration commands run, in staging order, each with its element's
// environment, in a sandbox whose writable root is `root` (a private copy).
// A foreign root runs through qemu-user like a build.
Status Integrate(const std::vector<const Element*>& elements, const std::string& root,
                 const std::string& target) {
  // The sandbox adds its mount points (/proc, /dev, /tmp) to the root; those
  // the artifacts did not have are no part of the checkout (bst's has none).
  namespace fs = std::filesystem;
  std::vector<fs::path> added;
  std::error_code ec;
  for (const char* dir : {"proc", "dev", "tmp"})
    if (!fs::exists(fs::symlink_status(fs::path(root) / dir, ec))) added.push_back(fs::path(root) / dir);
  struct RemoveMountPoints {
    const std::vector<fs::path>& dirs;
    ~RemoveMountPoints() {
      std::error_code ec;
      for (const auto& d : dirs) fs::remove(d, ec);  // only if still empty
    }
  } cleanup{added};
  worker::Sandbox sandbox;
  for (const Element* e : elements) {
    std::vector<std::string> commands = IntegrationCommands(*e);
    if (commands.empty()) continue;
    worker::SandboxSpec spec;
    spec.root = root;
    spec.root_access = worker::Access::kReadWrite;
    for (const auto& [k, v] : e->environment) spec.SetEnv(k, v);
    std::string output;
    worker::LogSink log{.path = "", .callback = [&output](std::string_view s) { output += s; }};
    const std::string what = "integration commands of " + e->name + " (checkout of " + target + ")";
    auto r = sandbox.RunCommands(spec, commands, log);
    Status s = r ? r->ToStatus(commands.size()) : r.error();
    if (s.ok()) continue;
    // The commands' own output says why; its tail is enough (a loop may print a lot).
    constexpr size_t kTail = 4000;
    if (output.size() > kTail) output = "..." + output.substr(output.size() - kTail);
    return Status(s.code(), what + ": " + s.message() + "\n" + output +
                                "  hint: --no-integrate checks out without running them");
  }
  return Status::Ok();
}

// Stages the artifact of `target` (with --deps run, its runtime closure in bst's
// staging order) for one arch into `dest`.
Status CheckoutOneArch(const GlobalOptions& g, const CheckoutArgs& a, const std::string& dest,
                       const std::string& scratch) {
  CF_ASSIGN_OR_RETURN(Loaded l, LoadOne(g, a.target));
  std::vector<Element*> elements = {l.element};
  if (a.deps == "run") elements = l.project->Plan({l.element}, Scope::kRun);
  std::vector<std::pair<const Element*, Digest>> roots;
  std::string missing;
  for (const Element* e : elements) {
    if (!e->cache_key) {
      missing += " " + e->name;
      continue;
    }
    auto ref = l.cas->GetRef(ArtifactRef(*e));
    if (ref) roots.emplace_back(e, ref->root);
    else if (ref.error().IsNotFound()) missing += " " + e->name;
    else return ref.error();
  }
  if (!missing.empty())
    return Status::NotFound("not built for " + std::string(l.project->arch().host->name) + ":" +
                            missing + "\n  hint: run `" + CommandFor(g, "build " + a.target) + "` first");
  // Each artifact is exported (hard links into the store where it can) and
  // staged over the ones before it, as a build sandbox stages them.
  CF_ASSIGN_OR_RETURN(worker::TempDir exports, worker::TempDir::Create(scratch, "checkout-"));
  std::vector<std::string> dirs;
  {
    TransferProgress download("downloading artifacts", l.transfers);
    for (size_t i = 0; i < roots.size(); ++i) {
      dirs.push_back(exports.path() + "/" + std::to_string(i));
      CF_TRY(l.cas->ExportTree(roots[i].second, dirs.back(), cas::LinkMode::kHardlink));
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(dest, ec);
  if (ec) return Status::IOError("create " + dest + ": " + ec.message());
  const auto mode = a.hardlinks ? worker::StageMode::kHardLink : worker::StageMode::kCopy;
  std::vector<const Element*> staged;
  for (const auto& [e, root] : roots) staged.push_back(e);
  const bool integrate = a.integrate && std::ranges::any_of(staged, [](const Element* e) {
                           return !IntegrationCommands(*e).empty();
                         });
  std::optional<worker::StagedRoot> integrated;
  if (integrate) {
    // The commands write into the root (ldconfig, caches): a private copy, as a
    // compose's, then moved (hard links of the copy) into `dest`.
    CF_ASSIGN_OR_RETURN(integrated, worker::StagedRoot::Create(exports.path(), dirs, worker::StageMode::kCopy));
    CF_TRY(Integrate(staged, integrated->path(), a.target));
    dirs = {integrated->path()};
  }
  CF_ASSIGN_OR_RETURN(worker::StageReport report,
                      worker::StageArtifacts(dest, dirs, integrate ? worker::StageMode::kHardLink : mode));
  if (!a.hardlinks) MakeUserWritable(dest);
  if (integrated && !integrated->report().overlaps.empty()) report = integrated->report();
  if (!report.overlaps.empty() && g.verbose)
    std::fprintf(stderr, "%zu paths staged by more than one artifact (later ones win)\n",
                 report.overlaps.size());
  return Status::Ok();
}

// `crossfarm [--arch a,b] checkout [--deps run|none] [--force] [--hardlinks]
// TARGET DIR | --tar FILE|-`: several archs go to DIR/<arch>/ (or <arch>/ in
// the tarball).
Status Checkout(const GlobalOptions& g, const CheckoutArgs& a) {
  if (a.tar.empty() == a.dir.empty())
    return Status::InvalidArgument("checkout needs a directory or --tar FILE (- for standard output), not both");
  const std::vector<GlobalOptions> archs = PerArch(g);
  CacheLayout layout(g);
  CF_TRY(layout.Create());
  std::optional<worker::TempDir> staging;
  std::string base = a.dir;
  if (!a.tar.empty()) {
    std::string parent = a.tar == "-" ? layout.tmp : std::filesystem::path(a.tar).parent_path().string();
    CF_ASSIGN_OR_RETURN(staging, worker::TempDir::Create(parent.empty() ? "." : parent, ".crossfarm-checkout-"));
    base = staging->path() + "/tree";
  } else {
    CF_TRY(CheckEmptyOrForced(a.dir, a.force));
  }
  for (const GlobalOptions& arch_g : archs) {
    std::string dest = base;
    if (archs.size() > 1) {
      CF_ASSIGN_OR_RETURN(ArchConfig arch, ArchConfig::Make(arch_g.arch, "", ""));
      dest += "/" + std::string(arch.host->name);
      if (a.tar.empty()) CF_TRY(CheckEmptyOrForced(dest, a.force));
    }
    CF_TRY(CheckoutOneArch(arch_g, a, dest, layout.tmp));
  }
  if (a.tar.empty()) {
    std::printf("%s\n", a.dir.c_str());
    return Status::Ok();
  }
  std::error_code ec;
  std::filesystem::create_directories(base, ec);  // a target with nothing to stage
  CF_TRY(worker::WriteTarball(base, "", a.tar, worker::CompressionForName(a.tar), kTarballMtime));
  if (a.tar != "-") std::printf("%s\n", a.tar.c_str());
  return Status::Ok();
}

int RunCheckout(const GlobalOptions& g, const CheckoutArgs& a) {
  Status s = Checkout(g, a);
  return s.ok() ? kExitOk : ReportError(s);
}

// The log stored with the artifact (the cluster's with --remote).
Status PrintStoredLog(const GlobalOptions& g, Loaded& l) {
  CF_ASSIGN_OR_RETURN(auto ref, ArtifactOf(g, l));
  if (!ref.build_log) return Status::NotFound("no build log stored for " + l.element->name);
  CF_ASSIGN_OR_RETURN(auto text, l.cas->Get(*ref.build_log));
  std::fwrite(text.data(), 1, text.size(), stdout);
  return Status::Ok();
}

// Every path of the artifact, directories too, sorted, one per line after
// "ELEMENT:" (bst 2's `artifact list-contents`).
Status ListContents(const GlobalOptions& g, Loaded& l) {
  CF_ASSIGN_OR_RETURN(auto ref, ArtifactOf(g, l));
  CF_ASSIGN_OR_RETURN(auto tree, l.cas->GetTree(ref.root));
  std::unordered_map<Digest, const cas::DirectoryData*, DigestHash> nodes;
  for (const auto& node : tree) nodes.emplace(node.digest, &node.directory);
  std::vector<std::string> paths;
  std::vector<std::pair<Digest, std::string>> todo = {{ref.root, ""}};
  while (!todo.empty()) {
    auto [digest, prefix] = todo.back();
    todo.pop_back();
    const cas::DirectoryData& dir = *nodes.at(digest);
    for (const auto& f : dir.files) paths.push_back(prefix + f.name);
    for (const auto& s : dir.symlinks) paths.push_back(prefix + s.name);
    for (const auto& d : dir.directories) {
      paths.push_back(prefix + d.name);
      todo.emplace_back(d.digest, prefix + d.name + "/");
    }
  }
  std::sort(paths.begin(), paths.end());
  std::printf("%s:\n", l.element->name.c_str());
  for (const auto& p : paths) std::printf("\t%s\n", p.c_str());
  return Status::Ok();
}

// Drops the artifact's ref; its blobs go at the next GC (docs/cas.md).
Status DeleteArtifact(const GlobalOptions& g, Loaded& l) {
  CF_TRY(ArtifactOf(g, l));
  CF_TRY(l.cas->DeleteRef(ArtifactRef(*l.element)));
  std::fprintf(stderr, "crossfarm: deleted the artifact of %s (key %s)\n", l.element->name.c_str(),
               l.element->ShortKey().c_str());
  return Status::Ok();
}

struct ArtifactArgs {
  std::vector<std::string> targets;
  std::string sub;
};

// Each element in turn: an error is reported and the others still run.
int RunArtifact(const GlobalOptions& g, const ArtifactArgs& a) {
  int exit = kExitOk;
  for (const auto& target : a.targets) {
    auto l = LoadOne(g, target);
    Status s = !l ? l.error()
               : a.sub == "list-contents" ? ListContents(g, *l)
               : a.sub == "log"           ? PrintStoredLog(g, *l)
                                          : DeleteArtifact(g, *l);
    if (!s.ok()) exit = std::max(exit, ReportError(s));
  }
  return exit;
}

struct LogArgs {
  std::string target;
  bool follow = false;
};

// `log -f` of a job running on the cluster: its live log, else (ended, or
// never run there) the log the cluster stored. True when it printed one;
// `exit` is then the job's outcome.
Result<bool> FollowRemote(const GlobalOptions& g, Loaded& l, int& exit) {
  auto followed = FollowRemoteLog(g, l.element->name, *l.element->cache_key);
  if (!followed && followed.error().IsNotFound()) return false;  // the artifact's log
  if (!followed) return Err(followed.error());
  const proto::JobUpdate& end = followed->end;
  exit = end.state == proto::RemoteJobState::kDone ? kExitOk : kExitBuildFailed;
  if (followed->printed) return true;
  if (!end.log) return false;
  CF_ASSIGN_OR_RETURN(auto text, l.cas->Get(*end.log));
  std::fwrite(text.data(), 1, text.size(), stdout);
  return true;
}

int RunLog(const GlobalOptions& g, const LogArgs& a) {
  auto l = LoadOne(g, a.target);
  if (!l) return ReportError(l.error());
  // The newest log on this machine (failed builds have one too), else the
  // log stored with the artifact.
  std::string name = l->element->name;
  for (char& c : name)
    if (c == '/') c = '_';
  std::string path = CacheLayout(g).logs + "/" + name + "/" + *l->element->cache_key + ".log";
  if (a.follow && !g.remote.empty()) {
    int exit = kExitOk;
    auto printed = FollowRemote(g, *l, exit);
    if (!printed) return ReportError(printed.error());
    if (*printed) return exit;
  } else if (a.follow) {
    // A build in this or another process writes it now, or wrote it.
    auto followed = FollowLocalLog(path);
    if (!followed) return ReportError(followed.error());
    if (*followed) return kExitOk;
  }
  // With --remote the log is the cluster's (its worker's), never this machine's.
  if (std::ifstream in(path); in && g.remote.empty()) {
    std::cout << in.rdbuf();
    return kExitOk;
  }
  Status s = PrintStoredLog(g, *l);
  return s.ok() ? kExitOk : ReportError(s);
}

}  // namespace

Action AddCheckoutCommand(CLI::App& app, const GlobalOptions& g) {
  auto args = std::make_shared<CheckoutArgs>();
  auto* cmd = app.add_subcommand(
      "checkout", "Check out a built artifact (and what it needs at run time) into a directory");
  cmd->add_option("target", args->target, "Element (.bst)")->required();
  cmd->add_option("directory", args->dir, "Directory to create (with several --arch: DIR/<arch>/)");
  cmd->add_option("--tar", args->tar,
                  "Write a tarball instead (- for standard output; .gz/.xz/.zst/.bz2 compress); "
                  "byte-identical for one artifact");
  cmd->add_option("-d,--deps", args->deps, "run (default, as bst: the runtime closure) or none")
      ->check(CLI::IsMember({"run", "none"}));
  cmd->add_flag("-f,--force", args->force, "Check out into a non-empty directory, overwriting files");
  cmd->add_flag("--integrate,!--no-integrate", args->integrate,
                "Run the integration commands of the checked-out elements in a sandbox over the "
                "checkout (default, as bst), or not");
  cmd->add_flag("--hardlinks", args->hardlinks,
                "Hard-link files from the cache (fast; the files are read-only and must not be edited)");
  return [&g, args] { return RunCheckout(g, *args); };
}

Action AddLogCommand(CLI::App& app, const GlobalOptions& g) {
  auto args = std::make_shared<LogArgs>();
  auto* cmd = app.add_subcommand("log", "Print the build log of an element");
  cmd->add_option("target", args->target, "Element (.bst)")->required();
  cmd->add_flag("-f,--follow", args->follow,
                "Follow the log of a running job as it is written (with --remote: on its worker), "
                "until the job ends");
  return [&g, args] { return RunLog(g, *args); };
}

Action AddArtifactCommand(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<ArtifactArgs>();
  auto* cmd = app.add_subcommand("artifact", "Inspect and delete built artifacts (as bst 2's `artifact`)");
  cmd->require_subcommand(1);
  struct Sub {
    const char* name;
    const char* help;
  };
  for (Sub sub : {Sub{"list-contents", "List the files of each element's artifact"},
                  Sub{"log", "Print the build log stored with each element's artifact"},
                  Sub{"delete", "Delete each element's artifact from the cache (the next gc frees it)"}}) {
    auto* c = cmd->add_subcommand(sub.name, sub.help);
    c->add_option("elements", a->targets, "Elements (.bst)")->required();
    c->callback([a, name = std::string(sub.name)] { a->sub = name; });
  }
  return [&g, a] { return RunArtifact(g, *a); };
}

}  // namespace crossfarm::client
