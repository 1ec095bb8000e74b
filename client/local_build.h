// The embedded build (no daemons): BuildQueue from scheduler/, a pool of local
// job slots running worker::JobRunner, the CAS in the cache dir. It is what
// `crossfarm build` does without --remote.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cas/cas.h"
#include "client/command.h"
#include "client/progress.h"
#include "common/project.h"
#include "scheduler/build_queue.h"

namespace crossfarm::client {

struct BuildSettings {
  int jobs = 0;  // parallel element builds; 0 = max(4, CPUs), like bst's builders
  scheduler::OnError on_error = scheduler::OnError::kContinue;
  ProgressMode progress = ProgressMode::kAuto;
  size_t log_tail_lines = 30;
};

struct BuildSummary {
  size_t built = 0, cached = 0, failed = 0, skipped = 0;
  std::vector<std::string> failed_elements;
  bool ok() const { return failed == 0 && skipped == 0; }
};

// One project loaded for one arch, and its targets.
using ProjectTargets = std::pair<const Project*, std::vector<Element*>>;

// Builds the targets of several projects (one per arch of `--arch a,b,c`) in
// one queue, so the archs build in parallel.
Result<BuildSummary> BuildLocally(const std::vector<ProjectTargets>& builds, const GlobalOptions& g,
                                  const BuildSettings& settings);

// Builds `targets` and everything they need. Errors: no reference, bad config,
// CAS or sandbox unusable (Status). Failed commands are in the summary.
Result<BuildSummary> BuildLocally(const Project& project, const std::vector<Element*>& targets,
                                  const GlobalOptions& g, const BuildSettings& settings);

// The cache layout below GlobalOptions::CacheDir() (docs/cache-dir.md).
struct CacheLayout {
  explicit CacheLayout(const GlobalOptions& g)
      : CacheLayout(g.CacheDir()) {
    if (!g.mirror_dir.empty()) sources = g.mirror_dir;
  }
  explicit CacheLayout(const std::string& root)
      : cas(root + "/cas"), sources(root + "/sources"), checkouts(root + "/checkouts"),
        tmp(root + "/tmp"), logs(root + "/logs"), tracked_refs(root + "/tracked-refs"),
        user_key(root + "/user"),
        workspaces(root + "/workspaces"), plugin_keys(root + "/plugin-keys") {}
  std::string cas, sources, checkouts, tmp, logs;
  std::string tracked_refs;  // common/tracked_refs.h: refs `source track` kept here
  std::string user_key;  // user.key/.pub: signs this cache's artifact refs, made on first use
  std::string workspaces;  // client/workspace_build.h: stat caches, build dirs of workspaces
  std::string plugin_keys;  // client/python_plugins.h: Python plugins' element keys, by request
  // Creates the directories (the CAS creates its own).
  Status Create() const;
};

// The cache's CAS, through the per-user cache service (client/cache_service.h,
// docs/cas.md "Several commands on one cache"): any number of commands read
// and write it at once, none waits for another.
Result<std::unique_ptr<cas::Cas>> OpenCache(const CacheLayout& layout);
// Its `artifacts/` refs are signed with, and checked against, the user's key
// (CacheLayout::user_key, made mode 0600 on first use).

// The worker name of artifact refs the embedded build writes.
inline constexpr const char* kLocalWorker = "local";
// RefTrust::on_refused of the CLI: one warning line on stderr.
void ReportRefusedRef(const std::string& name, const Status& why);

// InvalidArgument naming every element of `plan` with a source without a ref,
// and `crossfarm source track` (local and remote builds refuse to start).
Status CheckAllKeyed(const std::vector<Element*>& plan);

// Last `lines` lines of a text file ("" if unreadable).
std::string TailOfFile(const std::string& path, size_t lines);

}  // namespace crossfarm::client
