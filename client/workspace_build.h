// Building elements that have an open workspace (docs/workspaces.md).
//
// Embedded builds keep one build directory per (workspace, arch) in the cache:
//   <cache>/workspaces/builds/<sha256 of element + workspace dir>/<arch>/build
// Before each build the workspace is synced into it: files whose digest
// changed since the last sync are copied (with the current time, so make
// sees them as newer than what it built from them), files gone from the
// workspace are removed, the rest (and every build product) is left alone.
// The job then runs in that directory (JobSpec::persistent_build_dir), so a
// second `make` rebuilds only what changed. bst 1.6 mounts the workspace
// itself as the build dir; a separate directory per arch keeps the user's
// tree free of objects (its key then follows the sources only) and lets one
// workspace build for x86_64 and an emulated aarch64 side by side.
//
// As bst's `prepared`, configure-commands run once per build directory: the
// first successful build marks it configured; `workspace reset --soft` (or
// a hard reset, or close) forgets that.
//
// Cluster builds upload the workspace as a Merkle tree (ImportWorkspace):
// only the blobs the cluster's CAS lacks are sent.
#pragma once

#include <string>

#include "cas/cas.h"
#include "common/element.h"
#include "common/job_spec.h"
#include "worker/process.h"

namespace crossfarm::client {

// True when `e` builds in a WorkspaceBuildDir: it has a workspace and runs
// BuildElement commands (an import element with a workspace imports its files).
bool BuildsInWorkspaceDir(const Element& e);

class WorkspaceBuildDir {
 public:
  // Locks the build directory of `e`'s workspace for `arch` under
  // `workspaces_dir` (waiting for another build of the same), syncs the
  // workspace into it, points `spec` at it, and drops spec's
  // configure-commands when they already ran there. FailedPrecondition when
  // the workspace changed since the project was loaded (the key would lie).
  static Result<WorkspaceBuildDir> Prepare(const Element& e, const std::string& workspaces_dir,
                                           const std::string& arch, JobSpec& spec);
  // After a successful build: configure-commands ran in this directory.
  void MarkConfigured() const;

 private:
  WorkspaceBuildDir(std::string dir, worker::UniqueFd lock) : dir_(std::move(dir)), lock_(std::move(lock)) {}
  std::string dir_;  // <...>/<arch>: holds build/, synced, configured
  worker::UniqueFd lock_;
};

// What ForgetWorkspaceBuilds removes.
enum class ForgetBuilds { kConfigured, kEverything };

// Forgets the build directories of `element`'s workspace at `directory`, for
// every arch: only their "configured" marks (`reset --soft`) or entirely
// (`reset`, `close`).
Status ForgetWorkspaceBuilds(const std::string& workspaces_dir, const std::string& element,
                             const std::string& directory, ForgetBuilds what);

// The CAS tree of `e`'s workspace: the scan's file digests are checked with
// FindMissing and only the missing blobs travel (a remote CAS also says how
// many on stderr: "workspace of x.bst: 1 of 12 files not in the CAS
// (2.1 KiB) ..."). FailedPrecondition when the workspace changed since load.
Result<Digest> ImportWorkspace(cas::Cas& cas, const Element& e, const std::string& stat_cache_dir);

}  // namespace crossfarm::client
