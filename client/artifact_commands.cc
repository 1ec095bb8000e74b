// Commands on built artifacts: `crossfarm checkout`, `crossfarm log`.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cas/cas.h"
#include "client/commands.h"
#include "client/job_builder.h"
#include "client/local_build.h"
#include "client/remote_build.h"
#include "common/project.h"
#include "worker/archive.h"
#include "worker/fs_util.h"

namespace crossfarm::client {
namespace {

struct Loaded {
  std::unique_ptr<Project> project;
  Element* element = nullptr;
  std::unique_ptr<cas::Cas> cas;
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
    CF_ASSIGN_OR_RETURN(l.cas, OpenClusterCas(g));
  } else {
    CF_ASSIGN_OR_RETURN(l.cas, cas::OpenCas(CacheLayout(g).cas));
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
};

int RunCheckout(const GlobalOptions& g, const CheckoutArgs& a) {
  auto l = LoadOne(g, a.target);
  if (!l) return ReportError(l.error());
  auto ref = ArtifactOf(g, *l);
  if (!ref) return ReportError(ref.error());
  if (!a.tar.empty()) {
    // Exported next to the tarball, then written with libarchive (sorted,
    // owner 0:0); the compression follows the file name.
    auto tmp = worker::TempDir::Create(std::filesystem::path(a.tar).parent_path().string(),
                                       ".crossfarm-checkout-");
    if (!tmp) return ReportError(tmp.error());
    std::string tree = tmp->path() + "/tree";
    if (Status s = l->cas->ExportTree(ref->root, tree); !s.ok()) return ReportError(s);
    auto ends = [&](std::string_view ext) { return a.tar.ends_with(ext); };
    worker::Compression c = ends(".gz") || ends(".tgz") ? worker::Compression::kGzip
                            : ends(".xz")               ? worker::Compression::kXz
                            : ends(".zst")              ? worker::Compression::kZstd
                            : ends(".bz2")              ? worker::Compression::kBzip2
                                                        : worker::Compression::kNone;
    if (Status s = worker::WriteTarball(tree, "", a.tar, c); !s.ok()) return ReportError(s);
    std::printf("%s\n", a.tar.c_str());
    return kExitOk;
  }
  if (a.dir.empty()) {
    PrintError("checkout needs a directory or --tar FILE");
    return kExitBadInput;
  }
  if (Status s = l->cas->ExportTree(ref->root, a.dir); !s.ok()) return ReportError(s);
  std::printf("%s\n", a.dir.c_str());
  return kExitOk;
}

int RunLog(const GlobalOptions& g, const std::string& target) {
  auto l = LoadOne(g, target);
  if (!l) return ReportError(l.error());
  // The newest log on this machine (failed builds have one too), else the
  // log stored with the artifact.
  std::string name = l->element->name;
  for (char& c : name)
    if (c == '/') c = '_';
  std::string path = CacheLayout(g).logs + "/" + name + "/" + *l->element->cache_key + ".log";
  if (std::ifstream in(path); in) {
    std::cout << in.rdbuf();
    return kExitOk;
  }
  auto ref = ArtifactOf(g, *l);
  if (!ref) return ReportError(ref.error());
  if (!ref->build_log) return ReportError(Status::NotFound("no build log stored for " + target));
  auto text = l->cas->Get(*ref->build_log);
  if (!text) return ReportError(text.error());
  std::fwrite(text->data(), 1, text->size(), stdout);
  return kExitOk;
}

}  // namespace

Action AddCheckoutCommand(CLI::App& app, const GlobalOptions& g) {
  auto args = std::make_shared<CheckoutArgs>();
  auto* cmd = app.add_subcommand("checkout", "Check out a built artifact into a directory");
  cmd->add_option("target", args->target, "Element (.bst)")->required();
  cmd->add_option("directory", args->dir, "Directory to create");
  cmd->add_option("--tar", args->tar, "Write a tarball instead of a directory");
  return [&g, args] { return RunCheckout(g, *args); };
}

Action AddLogCommand(CLI::App& app, const GlobalOptions& g) {
  auto target = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("log", "Print the build log of an element");
  cmd->add_option("target", *target, "Element (.bst)")->required();
  return [&g, target] { return RunLog(g, *target); };
}

}  // namespace crossfarm::client
