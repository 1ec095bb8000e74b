#include "client/workspace_build.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/kind_defaults.h"
#include "common/workspaces.h"
#include "worker/fs_util.h"

namespace crossfarm::client {

namespace fs = std::filesystem;

namespace {

std::string BuildsRoot(const std::string& workspaces_dir, const std::string& element,
                       const std::string& directory) {
  return workspaces_dir + "/builds/" + Sha256Hex(element + "\n" + directory).substr(0, 32);
}

Result<WorkspaceScan> ScanUnchanged(const Element& e, const std::string& stat_cache_dir) {
  const ElementWorkspace& w = *e.workspace;
  CF_ASSIGN_OR_RETURN(WorkspaceScan scan,
                      ScanWorkspace(w.directory, WorkspaceStatCache(stat_cache_dir, w.directory)));
  if (scan.key != w.key)
    return Err(Status::FailedPrecondition(
        "the workspace of " + e.name + " (" + w.directory +
        ") changed while crossfarm was running: its key would not match its files\n"
        "  hint: run the command again"));
  return scan;
}

// "TYPE DIGEST-OR-TARGET PATH" per item of the last sync: what the build
// dir's copy of the workspace holds.
using Synced = std::map<std::string, std::string>;  // path -> "TYPE VALUE"

std::string SyncValue(const WorkspaceItem& item) {
  std::string v(1, static_cast<char>(item.type));
  if (item.type == WorkspaceItem::Type::kSymlink) v += " " + item.target;
  else if (item.type != WorkspaceItem::Type::kDirectory) v += " " + item.digest.ToString();
  return v;
}

Synced ReadSynced(const std::string& path) {
  Synced out;
  std::ifstream in(path);
  for (std::string path_line, value; std::getline(in, path_line) && std::getline(in, value);)
    out[path_line] = value;
  return out;
}

Status WriteSynced(const std::string& path, const Synced& synced) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& [p, v] : synced) out << p << '\n' << v << '\n';
    if (!out.flush()) return Status::IOError("cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return Status::IOError("cannot replace " + path + ": " + ec.message());
  return Status::Ok();
}

// Copies one changed item into the build dir. `keep_mtime` on the first sync
// (the workspace's times, e.g. the deterministic ones of `workspace open`,
// keep autotools' generated files newer than their inputs); later copies get
// the current time, so make rebuilds what depends on them.
Status CopyItem(const std::string& from, const std::string& to, const WorkspaceItem& item,
                bool keep_mtime) {
  std::error_code ec;
  if (item.type == WorkspaceItem::Type::kDirectory) {
    if (fs::is_symlink(to, ec) || (fs::exists(to, ec) && !fs::is_directory(to, ec))) fs::remove(to, ec);
    fs::create_directories(to, ec);
    if (ec) return Status::IOError("mkdir " + to + ": " + ec.message());
    return Status::Ok();
  }
  if (fs::is_directory(fs::symlink_status(to, ec))) CF_TRY(worker::RemoveTree(to));
  else fs::remove(to, ec);
  if (item.type == WorkspaceItem::Type::kSymlink) {
    fs::create_symlink(item.target, to, ec);
  } else {
    fs::copy_file(from, to, ec);
    if (!ec) fs::permissions(to, item.type == WorkspaceItem::Type::kExecutable ? fs::perms(0755) : fs::perms(0644), ec);
    if (!ec && keep_mtime) {
      const struct timespec times[2] = {{0, UTIME_OMIT},
                                        {item.mtime_ns / 1'000'000'000, item.mtime_ns % 1'000'000'000}};
      if (::utimensat(AT_FDCWD, to.c_str(), times, 0) != 0) return Status::FromErrno("set mtime of " + to, errno);
    }
  }
  if (ec) return Status::IOError("copy " + from + " -> " + to + ": " + ec.message());
  return Status::Ok();
}

// Makes `build` hold the workspace as `scan` saw it; `synced` is what it held.
Status Sync(const std::string& workspace, const std::string& build, const WorkspaceScan& scan,
            Synced& synced) {
  const bool first = synced.empty();
  Synced now;
  for (const auto& item : scan.items) now[item.path] = SyncValue(item);
  // Gone from the workspace: gone from the build dir (deepest first).
  for (auto it = synced.rbegin(); it != synced.rend(); ++it) {
    if (now.count(it->first)) continue;
    std::string path = build + "/" + it->first;
    std::error_code ec;
    if (fs::is_directory(fs::symlink_status(path, ec))) CF_TRY(worker::RemoveTree(path));
    else fs::remove(path, ec);
  }
  for (const auto& item : scan.items) {
    auto old = synced.find(item.path);
    std::error_code ec;
    bool present = fs::exists(fs::symlink_status(build + "/" + item.path, ec));
    if (old != synced.end() && old->second == now[item.path] && present) continue;
    CF_TRY(CopyItem(workspace + "/" + item.path, build + "/" + item.path, item, first));
  }
  synced = std::move(now);
  return Status::Ok();
}

}  // namespace

bool BuildsInWorkspaceDir(const Element& e) { return e.workspace && IsBuildElementKind(e.kind); }

Result<WorkspaceBuildDir> WorkspaceBuildDir::Prepare(const Element& e, const std::string& workspaces_dir,
                                                     const std::string& arch, JobSpec& spec) {
  const ElementWorkspace& w = *e.workspace;
  const std::string dir = BuildsRoot(workspaces_dir, e.name, w.directory) + "/" + arch;
  std::error_code ec;
  fs::create_directories(dir + "/build", ec);
  if (ec) return Err(Status::IOError("cannot create " + dir + "/build: " + ec.message()));
  // Two builds of one workspace for one arch would write one build dir.
  worker::UniqueFd lock(::open((dir + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock.valid()) return Err(Status::FromErrno("open " + dir + "/lock", errno));
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    std::fprintf(stderr, "crossfarm: waiting for another build in the workspace of %s (%s)\n",
                 e.name.c_str(), arch.c_str());
    if (::flock(lock.get(), LOCK_EX) != 0) return Err(Status::FromErrno("lock " + dir + "/lock", errno));
  }
  CF_ASSIGN_OR_RETURN(WorkspaceScan scan, ScanUnchanged(e, workspaces_dir + "/stat"));
  Synced synced = ReadSynced(dir + "/synced");
  if (synced.empty()) {  // never synced (or the record was lost): start clean
    CF_TRY(worker::RemoveTree(dir + "/build"));
    fs::create_directories(dir + "/build", ec);
    fs::remove(dir + "/configured", ec);
  }
  CF_TRY(Sync(w.directory, dir + "/build", scan, synced).WithContext("syncing the workspace of " + e.name));
  CF_TRY(WriteSynced(dir + "/synced", synced));
  spec.persistent_build_dir = dir + "/build";
  spec.sources.clear();
  if (fs::exists(dir + "/configured", ec))
    std::erase_if(spec.phases, [](const auto& phase) { return phase.first == "configure-commands"; });
  return WorkspaceBuildDir(dir, std::move(lock));
}

void WorkspaceBuildDir::MarkConfigured() const {
  // Best effort: without the mark, the next build configures again.
  std::ofstream(dir_ + "/configured") << "configure-commands ran here\n";
}

Status ForgetWorkspaceBuilds(const std::string& workspaces_dir, const std::string& element,
                             const std::string& directory, ForgetBuilds what) {
  const std::string root = BuildsRoot(workspaces_dir, element, directory);
  if (what == ForgetBuilds::kEverything) return worker::RemoveTree(root);
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
    fs::remove(it->path() / "configured", ec);
  return Status::Ok();
}

Result<Digest> ImportWorkspace(cas::Cas& cas, const Element& e, const std::string& stat_cache_dir) {
  CF_ASSIGN_OR_RETURN(WorkspaceScan scan, ScanUnchanged(e, stat_cache_dir));
  std::vector<Digest> files;
  for (const auto& item : scan.items)
    if (item.type == WorkspaceItem::Type::kFile || item.type == WorkspaceItem::Type::kExecutable)
      files.push_back(item.digest);
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  CF_ASSIGN_OR_RETURN(std::vector<Digest> missing, cas.FindMissing(files));
  uint64_t bytes = 0;
  for (const auto& d : missing) bytes += d.size;
  if (!cas.is_local())
    std::fprintf(stderr,
                 "crossfarm: workspace of %s: uploading %zu of %zu files (%llu bytes); the rest "
                 "is in the CAS already\n",
                 e.name.c_str(), missing.size(), files.size(), static_cast<unsigned long long>(bytes));
  // ImportTree sends only what FindMissing reports missing (cas/tree.cc).
  return cas.ImportTree(e.workspace->directory);
}

}  // namespace crossfarm::client
