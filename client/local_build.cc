#include "client/local_build.h"

#include <csignal>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "cas/cas.h"
#include "client/cache_service.h"
#include "client/job_builder.h"
#include "client/sources.h"
#include "client/workspace_build.h"
#include "worker/job_runner.h"

namespace crossfarm::client {

namespace {

worker::CancelToken* g_cancel = nullptr;

extern "C" void OnInterrupt(int) {
  if (g_cancel) g_cancel->Cancel();  // eventfd write: async-signal-safe
}


// Everything one build shares between the scheduling loop and the job threads.
class LocalBuild {
 public:
  LocalBuild(cas::Cas& cas, const CacheLayout& layout, const BuildSettings& settings,
             Progress& progress)
      : cas_(cas), layout_(layout), settings_(settings), progress_(progress),
        runner_(cas, {.work_dir = layout.tmp, .checkout_dir = layout.checkouts,
                      .log_dir = layout.logs, .worker_name = "local", .sandbox = {}}),
        queue_(settings.on_error) {}

  // Adds the plan of one project (one arch); call before Run.
  void AddPlan(const Project& project, const std::vector<Element*>& plan);
  Result<BuildSummary> Run();

 private:
  void RunJob(scheduler::JobId id);
  void ReportFailure(const std::string& label, const Status& why, const std::string& log_path);
  std::optional<Digest> ArtifactOf(const Element& e) {
    std::lock_guard lock(mu_);
    auto it = artifacts_.find(&e);
    return it == artifacts_.end() ? std::nullopt : std::optional<Digest>(it->second);
  }

  cas::Cas& cas_;
  CacheLayout layout_;
  BuildSettings settings_;
  Progress& progress_;
  // One source cache per project: each knows its arch and aliases.
  std::vector<std::unique_ptr<SourceCache>> source_caches_;
  std::unordered_map<const Element*, SourceCache*> sources_of_;
  std::vector<Element*> plan_;
  std::vector<std::string> labels_;  // JobId -> "name" or "name [arch]"
  worker::JobRunner runner_;
  worker::CancelToken cancel_;

  std::mutex mu_;
  std::condition_variable done_cv_;
  scheduler::BuildQueue queue_;  // guarded by mu_
  std::vector<Element*> jobs_;   // JobId -> element
  std::unordered_map<const Element*, Digest> artifacts_;
  std::vector<std::pair<scheduler::JobId, bool>> completed_;
  Status fatal_;  // first infrastructure error (not a failed command)
};

void LocalBuild::AddPlan(const Project& project, const std::vector<Element*>& plan) {
  source_caches_.push_back(
      std::make_unique<SourceCache>(project, cas_, layout_.sources, layout_.tmp));
  for (Element* e : plan) {
    sources_of_[e] = source_caches_.back().get();
    plan_.push_back(e);
  }
}

Result<BuildSummary> LocalBuild::Run() {
  const std::vector<Element*>& plan = plan_;
  bool multi_arch = source_caches_.size() > 1;
  std::unordered_map<const Element*, scheduler::JobId> ids;
  for (Element* e : plan) {
    std::vector<scheduler::JobId> deps;
    for (Element* d : JobDependencies(*e))
      if (auto it = ids.find(d); it != ids.end()) deps.push_back(it->second);
    scheduler::JobId id = queue_.Add(std::move(deps));
    ids[e] = id;
    jobs_.push_back(e);
    labels_.push_back(multi_arch ? e->name + " [" + sources_of_[e]->arch_name() + "]" : e->name);
    if (auto ref = cas_.GetRef(ArtifactRef(*e))) {
      artifacts_[e] = ref->root;
      queue_.MarkCached(id);
    }
  }
  queue_.Seal();
  progress_.SetTotals(plan.size(), queue_.counts().cached);
  // Default like bst's 4 builders, more on bigger machines: small elements
  // spend their time in sandbox setup, not on a CPU.
  int slots = settings_.jobs > 0
                  ? settings_.jobs
                  : static_cast<int>(std::max(4u, std::thread::hardware_concurrency()));
  g_cancel = &cancel_;
  auto old_handler = std::signal(SIGINT, OnInterrupt);
  std::vector<std::thread> threads;
  std::unique_lock lock(mu_);
  int running = 0;
  while (!queue_.Finished()) {
    while (running < slots && fatal_.ok() && !cancel_.cancelled()) {
      auto id = queue_.PopReady();
      if (!id) break;
      ++running;
      threads.emplace_back([this, i = *id] { RunJob(i); });
    }
    done_cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return !completed_.empty(); });
    for (auto [id, ok] : completed_) {
      --running;
      queue_.Complete(id, ok);
    }
    completed_.clear();
    if ((!fatal_.ok() || cancel_.cancelled()) && running == 0) break;
  }
  lock.unlock();
  for (auto& t : threads) t.join();
  std::signal(SIGINT, old_handler);
  g_cancel = nullptr;
  if (cancel_.cancelled()) return Err(Status::Cancelled("build interrupted"));
  if (!fatal_.ok()) return Err(fatal_);
  BuildSummary summary;
  auto c = queue_.counts();
  summary.built = c.done;
  summary.cached = c.cached;
  summary.failed = c.failed;
  summary.skipped = c.skipped;
  for (size_t i = 0; i < jobs_.size(); ++i) {
    auto st = queue_.state(static_cast<scheduler::JobId>(i));
    if (st == scheduler::JobState::kFailed) summary.failed_elements.push_back(labels_[i]);
    if (st == scheduler::JobState::kSkipped) progress_.JobSkipped(labels_[i]);
  }
  return summary;
}

void LocalBuild::RunJob(scheduler::JobId id) {
  const Element& e = *jobs_[id];
  const std::string& label = labels_[id];
  auto finish = [&](bool ok, Status fatal = Status::Ok()) {
    std::lock_guard lock(mu_);
    if (!fatal.ok() && fatal_.ok()) fatal_ = fatal;
    completed_.emplace_back(id, ok);
    done_cv_.notify_all();
  };
  progress_.JobStarted(label, "local");
  // An open workspace is synced into its build dir instead (client/workspace_build.h).
  Result<std::optional<Digest>> tree = std::optional<Digest>();
  if (!BuildsInWorkspaceDir(e)) tree = sources_of_.at(&e)->Tree(e);
  if (!tree) {
    progress_.JobFinished(label, false, tree.error().message());
    return finish(false, tree.error().code() == StatusCode::kBuildFailed ? Status::Ok() : tree.error());
  }
  auto spec = MakeJobSpec(e, *tree, [this](const Element& d) { return ArtifactOf(d); });
  if (!spec) {
    progress_.JobFinished(label, false);
    return finish(false, spec.error());
  }
  std::optional<WorkspaceBuildDir> workspace;
  if (BuildsInWorkspaceDir(e)) {
    auto dir = WorkspaceBuildDir::Prepare(e, layout_.workspaces, sources_of_.at(&e)->arch_name(), *spec);
    if (!dir) {
      progress_.JobFinished(label, false, dir.error().message());
      return finish(false, dir.error());
    }
    workspace.emplace(std::move(*dir));
  }
  // The live view shows the job's phase and last log line.
  auto outcome = runner_.Run(*spec, [this, &label](std::string_view d) { progress_.JobLog(label, d); },
                             &cancel_);
  if (!outcome) {
    progress_.JobFinished(label, false, outcome.error().message());
    return finish(false, outcome.error());
  }
  std::string where = outcome->sandbox_arch.empty()
                          ? "" : outcome->sandbox_arch + (outcome->emulated ? " emulated" : " native");
  // Also in the job's log; here so that nobody has to read it to learn them.
  auto warn = [&] {
    for (const auto& w : outcome->warnings) progress_.Message("warning: " + label + ": " + w);
  };
  if (!outcome->success) {
    progress_.JobFinished(label, false, where);
    warn();
    ReportFailure(label, outcome->failure, outcome->log_path);
    return finish(false);
  }
  if (workspace) workspace->MarkConfigured();  // bst's `prepared`
  proto::RefInfo info;
  info.root = *outcome->artifact;
  info.element = e.name;
  info.arch = outcome->sandbox_arch;
  info.build_log = outcome->log;
  info.worker = kLocalWorker;
  info.build_seconds = static_cast<uint64_t>(outcome->seconds);
  if (Status s = cas_.PutRef(ArtifactRef(e), info); !s.ok()) {
    progress_.JobFinished(label, false);
    return finish(false, s);
  }
  {
    std::lock_guard lock(mu_);
    artifacts_[&e] = info.root;
  }
  progress_.JobFinished(label, true, where);
  warn();
  finish(true);
}

void LocalBuild::ReportFailure(const std::string& label, const Status& why,
                               const std::string& log_path) {
  progress_.Message("\nFAILED " + label + ": " + why.message() + "\n--- last " +
                    std::to_string(settings_.log_tail_lines) + " lines of the log ---\n" +
                    TailOfFile(log_path, settings_.log_tail_lines) + "--- full log: " + log_path +
                    "\n");
}

}  // namespace

Status CacheLayout::Create() const {
  for (const auto* dir : {&sources, &checkouts, &tmp, &logs}) {
    std::error_code ec;
    std::filesystem::create_directories(*dir, ec);
    if (ec) return Status::FromErrno("create " + *dir, ec.value());
  }
  return Status::Ok();
}

Result<std::unique_ptr<cas::Cas>> OpenCache(const CacheLayout& layout) {
  std::error_code ec;
  std::string dir = std::filesystem::absolute(layout.cas, ec).string();
  if (ec) return Err(Status::FromErrno("cache directory " + layout.cas, ec.value()));
  CF_ASSIGN_OR_RETURN(auto cas, ConnectCacheService(dir));
  // The embedded build signs its artifact refs with the user's own key and
  // trusts only that key (docs/security.md "Signed artifact refs").
  CF_ASSIGN_OR_RETURN(auto pair, cas::LoadOrCreateKeyPair(layout.user_key));
  cas::RefTrust trust;
  CF_ASSIGN_OR_RETURN(trust.signing_key, cas::DeriveSigningKey(pair));
  trust.signers = std::vector<proto::TrustedSigner>{{trust.signing_key->public_key, kLocalWorker}};
  trust.on_refused = ReportRefusedRef;
  cas->SetRefTrust(std::move(trust));
  return cas;
}

void ReportRefusedRef(const std::string& name, const Status& why) {
  (void)name;  // the message names it
  std::fprintf(stderr, "crossfarm: warning: refusing an artifact: %s (a build makes it again)\n", why.message().c_str());
}

Status CheckAllKeyed(const std::vector<Element*>& plan) {
  CF_TRY(CheckRunnable(plan));  // opaque plugin kinds first: tracking cannot help them
  std::string missing;
  for (const Element* e : plan)
    if (!e->HasAllRefs()) missing += "\n  " + e->where.ToString() + ": " + e->name;
  if (missing.empty()) return Status::Ok();
  return Status::InvalidArgument("these elements have sources without a ref:" + missing +
                                 "\n  hint: run `crossfarm source track ELEMENT.bst` to pin them");
}

std::string TailOfFile(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::deque<std::string> ring;
  for (std::string line; std::getline(in, line);) {
    ring.push_back(std::move(line));
    if (ring.size() > lines) ring.pop_front();
  }
  std::string out;
  for (auto& l : ring) out += l + "\n";
  return out;
}

Result<BuildSummary> BuildLocally(const std::vector<ProjectTargets>& builds, const GlobalOptions& g,
                                  const BuildSettings& settings) {
  CacheLayout layout(g);
  CF_TRY(layout.Create());
  CF_ASSIGN_OR_RETURN(auto cas, OpenCache(layout));
  Progress progress(settings.progress);
  LocalBuild build(*cas, layout, settings, progress);
  for (const auto& [project, targets] : builds) {
    std::vector<Element*> plan = BuildPlan(*project, targets);
    CF_TRY(CheckAllKeyed(plan));
    build.AddPlan(*project, plan);
  }
  auto summary = build.Run();
  progress.Finish();
  return summary;
}

Result<BuildSummary> BuildLocally(const Project& project, const std::vector<Element*>& targets,
                                  const GlobalOptions& g, const BuildSettings& settings) {
  return BuildLocally(std::vector<ProjectTargets>{{&project, targets}}, g, settings);
}

}  // namespace crossfarm::client
