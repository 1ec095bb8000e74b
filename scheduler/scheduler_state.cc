#include "scheduler/scheduler_state.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace crossfarm::scheduler {

using proto::MsgKind;
using proto::RemoteJobState;
using proto::SchedMessage;

namespace {

std::string Short(const std::string& key) { return key.substr(0, 12); }

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

SchedulerState::SchedulerState(JobStore* store, StateOptions options)
    : store_(store), options_(options) {}

SchedulerState::Job* SchedulerState::FindJob(const std::string& key) {
  auto it = jobs_.find(key);
  return it == jobs_.end() ? nullptr : &it->second;
}

SchedulerState::Build* SchedulerState::FindBuild(const std::string& id) {
  auto it = builds_.find(id);
  return it == builds_.end() ? nullptr : &it->second;
}

// Keys of the jobs producing inputs the client could not fill in.
std::vector<std::string> SchedulerState::Producers(const Job& job) const {
  std::vector<std::string> out;
  const auto& req = job.rec.request;
  for (size_t i = 0; i < req.spec.inputs.size(); ++i)
    if (req.spec.inputs[i].root == Digest{} && !Contains(out, req.input_keys[i]))
      out.push_back(req.input_keys[i]);
  return out;
}

void SchedulerState::Persist(const Job& job) {
  if (store_) dirty_.insert(job.rec.request.spec.cache_key);
}

Status SchedulerState::FlushStore() {
  if (!store_ || (dirty_.empty() && dirty_builds_.empty())) return Status::Ok();
  std::vector<const proto::StoredJob*> jobs;
  jobs.reserve(dirty_.size());
  for (const auto& key : dirty_)
    if (const Job* job = FindJob(key)) jobs.push_back(&job->rec);
  Status s = jobs.empty() ? Status::Ok() : store_->PutJobs(jobs);
  for (auto it = dirty_builds_.begin(); s.ok() && it != dirty_builds_.end(); ++it)
    if (const Build* build = FindBuild(*it)) s = store_->PutBuild(build->rec);
  if (!s.ok()) {
    if (!store_failing_)
      spdlog::error("scheduler: job store write failed jobs={} builds={} error=\"{}\"; holding "
                    "replies and dispatches until it succeeds",
                    jobs.size(), dirty_builds_.size(), s.message());
    store_failing_ = true;
    return s;
  }
  if (store_failing_) spdlog::info("scheduler: job store writable again");
  store_failing_ = false;
  dirty_.clear();
  dirty_builds_.clear();
  return Status::Ok();
}

Status SchedulerState::Recover(Clock::time_point now) {
  recovered_at_ = now;
  if (!store_) return Status::Ok();
  CF_ASSIGN_OR_RETURN(auto contents, store_->LoadAll());
  for (auto& rec : contents.jobs) {
    std::string key = rec.request.spec.cache_key;
    Job& job = jobs_[key];
    job.rec = std::move(rec);
    job.assigned_at = now;
    if (job.rec.state == RemoteJobState::kRunning) orphans_.insert(key);
  }
  for (auto& [key, job] : jobs_)
    for (const auto& p : Producers(job)) {
      Job* producer = FindJob(p);
      if (producer) producer->dependents.push_back(key);
      if (!producer || producer->rec.state != RemoteJobState::kDone) ++job.pending;
    }
  for (auto& rec : contents.builds)
    for (const auto& key : rec.job_keys)
      if (Job* job = FindJob(key); job && job->order == 0) job->order = ++next_order_;
  RecomputePriorities();
  for (auto& rec : contents.builds) {
    Build& build = builds_[rec.build_id];
    build.rec = std::move(rec);
    for (const auto& key : build.rec.job_keys) {
      Job* job = FindJob(key);
      if (!job || proto::IsFinal(job->rec.state) || build.rec.cancelled) continue;
      ++build.unfinished;
      if (job->rec.state == RemoteJobState::kReady && Contains(job->rec.builds, build.rec.build_id) &&
          job->rec.builds.front() == build.rec.build_id)
        build.ready.insert(ReadyOf(*job));
    }
    if (build.unfinished == 0) build.finished_at = now;
    if (!build.ready.empty()) rotation_.Add(build.rec.build_id);
  }
  spdlog::info("scheduler: recovered jobs={} builds={} running={}", jobs_.size(), builds_.size(),
               orphans_.size());
  return Status::Ok();
}

proto::JobUpdate SchedulerState::UpdateOf(const Job& job) const {
  proto::JobUpdate u;
  u.element = job.rec.request.spec.element;
  u.cache_key = job.rec.request.spec.cache_key;
  u.state = job.rec.state;
  u.worker = job.rec.worker;
  u.detail = job.rec.state == RemoteJobState::kFailed || job.rec.state == RemoteJobState::kSkipped
                 ? job.rec.message : job.detail;
  u.log = job.rec.log;
  return u;
}

// The single place a job changes state: accounting, persistence, client updates.
void SchedulerState::SetState(Job& job, RemoteJobState state, Clock::time_point now) {
  bool was_final = proto::IsFinal(job.rec.state);
  job.rec.state = state;
  bool is_final = proto::IsFinal(state);
  Persist(job);
  for (const auto& id : job.rec.builds) {
    Build* build = FindBuild(id);
    if (!build || build->rec.cancelled) continue;
    if (!was_final && is_final && build->unfinished > 0 && --build->unfinished == 0)
      build->finished_at = now;
    if (was_final && !is_final && build->unfinished++ == 0) build->finished_at.reset();
    build->pending_updates.push_back(UpdateOf(job));
  }
  if (state == RemoteJobState::kReady) {
    job.ready_at = now;
    Requeue(job);
  }
  if (state == RemoteJobState::kDone || state == RemoteJobState::kFailed ||
      state == RemoteJobState::kSkipped)
    Propagate(job, now);
}

// Puts a ready job in the ready queue of the first live build that wants it.
void SchedulerState::Requeue(Job& job) {
  for (const auto& id : job.rec.builds) {
    Build* build = FindBuild(id);
    if (!build || build->rec.cancelled) continue;
    build->ready.insert(ReadyOf(job));
    rotation_.Add(id);
    return;
  }
}

// Done: dependents lose a pending producer. Failed/skipped: dependents are skipped.
void SchedulerState::Propagate(Job& job, Clock::time_point now) {
  bool ok = job.rec.state == RemoteJobState::kDone;
  for (const auto& key : job.dependents) {
    Job* dep = FindJob(key);
    if (!dep || dep->rec.state != RemoteJobState::kWaiting) continue;
    if (!ok) {
      dep->rec.message = "dependency " + job.rec.request.spec.element + " failed";
      SetState(*dep, RemoteJobState::kSkipped, now);
    } else if (dep->pending > 0 && --dep->pending == 0) {
      SetState(*dep, RemoteJobState::kReady, now);
    }
  }
}

void SchedulerState::Retry(Job& job, const std::string& why, Clock::time_point now) {
  if (WorkerEntry* w = workers_.Find(job.rec.worker)) {
    w->running.erase(job.rec.request.spec.cache_key);
    w->view.busy = static_cast<uint32_t>(w->running.size());
  }
  orphans_.erase(job.rec.request.spec.cache_key);
  job.rec.message = why;
  Finished(job, "retried", now);
  if (job.rec.attempts > options_.max_retries) {
    job.rec.message = why + "; gave up after " + std::to_string(job.rec.attempts) + " attempts";
    spdlog::warn("scheduler: job failed element={} job={} reason=\"{}\"", job.rec.request.spec.element,
                 Short(job.rec.request.spec.cache_key), job.rec.message);
    SetState(job, RemoteJobState::kFailed, now);
    return;
  }
  spdlog::warn("scheduler: requeued element={} job={} attempt={} reason=\"{}\"",
               job.rec.request.spec.element, Short(job.rec.request.spec.cache_key),
               job.rec.attempts, why);
  job.detail = "requeued: " + why;
  SetState(job, RemoteJobState::kReady, now);
}


// ---- clients ----

// A failed, skipped or cancelled job wanted again runs again (like a new bst
// session), and so does a done job a new build submits (AddToBuild says why).
void SchedulerState::Reset(Job& job) {
  job.rec.attempts = 0;
  job.rec.message.clear();
  job.rec.worker.clear();
  job.rec.log.reset();
  job.detail.clear();
  job.pending = 0;
  for (const auto& p : Producers(job)) {
    const Job* producer = FindJob(p);
    if (!producer || producer->rec.state != RemoteJobState::kDone) ++job.pending;
  }
}

// After recovery: the longest chain of dependents above each job, over every
// job the scheduler knows (what CriticalPathPriorities gives one submission).
void SchedulerState::RecomputePriorities() {
  std::unordered_map<std::string, uint32_t> memo;
  // Iterative DFS over `dependents` (a DAG: submissions are validated).
  for (auto& [root_key, root] : jobs_) {
    std::vector<std::pair<const std::string*, size_t>> stack = {{&root_key, 0}};
    while (!stack.empty()) {
      auto& [key, i] = stack.back();
      Job& job = jobs_.at(*key);
      if (memo.count(*key)) {
        stack.pop_back();
        continue;
      }
      if (i < job.dependents.size()) {
        const std::string& d = job.dependents[i++];
        if (!memo.count(d) && jobs_.count(d)) stack.emplace_back(&d, 0);
        continue;
      }
      uint32_t p = 0;
      for (const auto& d : job.dependents)
        if (auto it = memo.find(d); it != memo.end()) p = std::max(p, it->second + 1);
      job.priority = p;
      memo[*key] = p;
      stack.pop_back();
    }
  }
}

void SchedulerState::AddToBuild(Build& build, proto::JobRequest request, uint32_t priority) {
  const std::string key = request.spec.cache_key;
  const std::string& id = build.rec.build_id;
  build.rec.job_keys.push_back(key);
  auto now = Clock::now();
  Job* job = FindJob(key);
  bool created = !job;
  // A client submits only the elements it found no usable artifact for: no
  // ref, a ref it refused (bad or missing signature) or one whose tree lost
  // blobs (`cas verify`). So a job done for an earlier build runs again, and
  // its new signed ref replaces the bad one; reusing it would report success
  // without an artifact (issue 19). Its old root stays for the dependents of
  // other builds already waiting on it.
  bool rerun = job && proto::IsFinal(job->rec.state) &&
               (job->rec.state != RemoteJobState::kDone || !Contains(job->rec.builds, id));
  bool shared = job && !rerun;
  ++(shared ? submitted_hits_ : submitted_misses_);
  if (created) {
    job = &jobs_[key];
    job->order = ++next_order_;
    job->priority = priority;
    job->rec.request = std::move(request);
    job->rec.state = RemoteJobState::kWaiting;
    for (const auto& p : Producers(*job)) {
      Job* producer = FindJob(p);
      if (!Contains(producer->dependents, key)) producer->dependents.push_back(key);
    }
  }
  auto& builds = job->rec.builds;
  if (rerun) {
    // Only builds still running keep watching a job that runs again.
    std::erase_if(builds, [&](const std::string& b) {
      const Build* other = FindBuild(b);
      return !other || other->rec.cancelled || other->unfinished == 0;
    });
    builds.push_back(id);
    Reset(*job);
    job->rec.state = RemoteJobState::kCancelled;  // final, so SetState counts it as unfinished
    SetState(*job, RemoteJobState::kWaiting, now);
  } else {
    job->priority = std::max(job->priority, priority);
    if (!Contains(builds, id)) builds.push_back(id);
    if (!proto::IsFinal(job->rec.state)) ++build.unfinished;
    if (created) Reset(*job);  // counts its pending producers
  }
  if (job->rec.state == RemoteJobState::kWaiting) {
    bool blocked = false;
    for (const auto& p : Producers(*job)) {
      const Job* producer = FindJob(p);
      if (producer && (producer->rec.state == RemoteJobState::kFailed ||
                       producer->rec.state == RemoteJobState::kSkipped))
        blocked = true;
    }
    if (blocked) {
      job->rec.message = "a dependency failed";
      SetState(*job, RemoteJobState::kSkipped, now);
    } else if (job->pending == 0) {
      SetState(*job, RemoteJobState::kReady, now);
    } else {
      Persist(*job);
    }
  } else {
    Persist(*job);
  }
}

void SchedulerState::OnSubmit(const std::string& route, const std::string& build_id,
                              std::vector<proto::JobRequest> jobs, Clock::time_point now) {
  if (Build* existing = FindBuild(build_id)) {
    existing->route = route;
    SendSnapshot(*existing);
    return;
  }
  if (Status s = ValidateSubmit(jobs); !s.ok()) {
    spdlog::warn("scheduler: refused build={} reason=\"{}\"", build_id, s.message());
    return SendError(route, s);
  }
  Build& build = builds_[build_id];
  build.rec.build_id = build_id;
  build.route = route;
  // The embedded build's policy (build_queue.h): priorities of this DAG are
  // known before its first job becomes ready.
  std::unordered_map<std::string, uint32_t> index;
  std::vector<std::vector<uint32_t>> deps(jobs.size());
  for (uint32_t i = 0; i < jobs.size(); ++i) {
    const auto& req = jobs[i];
    for (size_t k = 0; k < req.spec.inputs.size() && k < req.input_keys.size(); ++k)
      if (auto it = index.find(req.input_keys[k]);
          req.spec.inputs[k].root == Digest{} && it != index.end())
        deps[i].push_back(it->second);
    index.emplace(req.spec.cache_key, i);
  }
  std::vector<uint32_t> priority = CriticalPathPriorities(deps);
  for (uint32_t i = 0; i < jobs.size(); ++i) AddToBuild(build, std::move(jobs[i]), priority[i]);
  if (store_) dirty_builds_.insert(build_id);  // written with its jobs before any reply
  if (build.unfinished == 0) build.finished_at = now;
  spdlog::info("scheduler: accepted build={} jobs={} unfinished={}", build_id,
               build.rec.job_keys.size(), build.unfinished);
  SendSnapshot(build);
}

void SchedulerState::SendSnapshot(Build& build) {
  SchedMessage m;
  m.kind = MsgKind::kUpdates;
  m.build_id = build.rec.build_id;
  for (const auto& key : build.rec.job_keys)
    if (const Job* job = FindJob(key)) m.updates.push_back(UpdateOf(*job));
  m.finished = build.unfinished == 0;
  build.finished_sent = m.finished;
  build.pending_updates.clear();
  outbox_.push_back({build.route, std::move(m)});
}

void SchedulerState::SendError(const std::string& route, Status error) {
  SchedMessage m;
  m.kind = MsgKind::kError;
  m.error = std::move(error);
  outbox_.push_back({route, std::move(m)});
}

void SchedulerState::OnWatch(const std::string& route, const std::string& build_id) {
  Build* build = FindBuild(build_id);
  if (!build) return SendError(route, Status::NotFound("unknown build " + build_id));
  build->route = route;
  SendSnapshot(*build);
}

void SchedulerState::OnCancel(const std::string& route, const std::string& build_id,
                              Clock::time_point now) {
  Build* build = FindBuild(build_id);
  if (!build) return SendError(route, Status::NotFound("unknown build " + build_id));
  build->route = route;
  build->rec.cancelled = true;
  build->unfinished = 0;
  build->finished_at = now;
  rotation_.Remove(build_id);
  if (store_) dirty_builds_.insert(build_id);
  for (const auto& key : build->rec.job_keys) {
    Job* job = FindJob(key);
    if (!job) continue;
    std::erase(job->rec.builds, build_id);
    bool wanted = std::any_of(job->rec.builds.begin(), job->rec.builds.end(), [&](const std::string& b) {
      const Build* other = FindBuild(b);
      return other && !other->rec.cancelled;
    });
    if (wanted || proto::IsFinal(job->rec.state)) {
      Persist(*job);
      if (wanted && job->rec.state == RemoteJobState::kReady) Requeue(*job);
      continue;
    }
    if (job->rec.state == RemoteJobState::kRunning)
      if (WorkerEntry* w = workers_.Find(job->rec.worker)) {
        SchedMessage m;
        m.kind = MsgKind::kCancelJob;
        m.key = key;
        outbox_.push_back({w->route, std::move(m)});
        w->running.erase(key);
        w->view.busy = static_cast<uint32_t>(w->running.size());
      }
    orphans_.erase(key);
    job->rec.message = "cancelled";
    SetState(*job, RemoteJobState::kCancelled, now);
  }
  spdlog::info("scheduler: cancelled build={}", build_id);
  SendSnapshot(*build);
}

void SchedulerState::FlushUpdates() {
  for (auto& [id, build] : builds_) {
    bool finished = build.unfinished == 0;
    if (build.pending_updates.empty() && finished == build.finished_sent) continue;
    if (build.route.empty()) {
      build.pending_updates.clear();
      continue;
    }
    SchedMessage m;
    m.kind = MsgKind::kUpdates;
    m.build_id = id;
    m.finished = finished;
    m.updates = std::move(build.pending_updates);
    build.pending_updates.clear();
    build.finished_sent = finished;
    outbox_.push_back({build.route, std::move(m)});
  }
}


// ---- workers ----

void SchedulerState::OnHeartbeat(const std::string& route, const proto::WorkerInfo& info,
                                 Clock::time_point now) {
  bool is_new = workers_.Heartbeat(info, route, now);
  WorkerEntry& w = *workers_.Find(info.name);
  if (is_new) {
    spdlog::info("scheduler: worker registered name={} slots={} native={} emulated={}", info.name,
                 info.slots, info.native_archs.size(), info.emulated_archs.size());
    // Jobs it ran before a scheduler restart (or before it was expired).
    for (auto it = orphans_.begin(); it != orphans_.end();) {
      Job* job = FindJob(*it);
      if (job && job->rec.worker == info.name) {
        w.running.insert(*it);
        it = orphans_.erase(it);
      } else {
        ++it;
      }
    }
  }
  ReconcileWorker(w, info, is_new, now);
  w.view.busy = static_cast<uint32_t>(w.running.size());
}

// Compares what the worker says it runs with what we assigned to it.
void SchedulerState::ReconcileWorker(WorkerEntry& w, const proto::WorkerInfo& info, bool is_new,
                                     Clock::time_point now) {
  std::unordered_set<std::string> reported(info.running.begin(), info.running.end());
  std::vector<std::string> lost;
  for (const auto& key : w.running) {
    if (reported.contains(key)) continue;
    const Job* job = FindJob(key);
    // An assignment may still be in flight: only older ones are lost.
    if (!job || now - job->assigned_at > options_.heartbeat_timeout) lost.push_back(key);
  }
  for (const auto& key : lost) {
    w.running.erase(key);
    if (Job* job = FindJob(key); job && job->rec.state == RemoteJobState::kRunning)
      Retry(*job, "worker " + w.info.name + " no longer runs it", now);
  }
  for (const auto& key : reported) {
    if (w.running.contains(key)) continue;
    Job* job = FindJob(key);
    bool adopt = job && (job->rec.state == RemoteJobState::kReady ||
                         job->rec.state == RemoteJobState::kWaiting ||
                         (job->rec.state == RemoteJobState::kRunning && job->rec.worker == w.info.name));
    if (adopt && job->pending == 0) {
      orphans_.erase(key);
      w.running.insert(key);
      job->rec.worker = w.info.name;
      job->assigned_at = now;
      if (job->rec.state != RemoteJobState::kRunning) SetState(*job, RemoteJobState::kRunning, now);
      continue;
    }
    SchedMessage m;  // nobody wants it (any more), or it runs elsewhere
    m.kind = MsgKind::kCancelJob;
    m.key = key;
    outbox_.push_back({w.route, std::move(m)});
  }
  (void)is_new;
}

void SchedulerState::OnResult(const std::string& route, const proto::JobResultMsg& r,
                              Clock::time_point now) {
  SchedMessage ack;
  ack.kind = MsgKind::kResultAck;
  ack.key = r.cache_key;
  outbox_.push_back({route, std::move(ack)});
  if (WorkerEntry* w = workers_.Find(r.worker)) {
    w->running.erase(r.cache_key);
    w->view.busy = static_cast<uint32_t>(w->running.size());
  }
  Job* job = FindJob(r.cache_key);
  if (!job || proto::IsFinal(job->rec.state)) return;  // a duplicate, or nobody wants it
  if (job->rec.state == RemoteJobState::kRunning && job->rec.worker != r.worker)
    if (WorkerEntry* other = workers_.Find(job->rec.worker)) {
      other->running.erase(r.cache_key);
      other->view.busy = static_cast<uint32_t>(other->running.size());
    }
  orphans_.erase(r.cache_key);
  job->rec.worker = r.worker;
  job->rec.log = r.log;
  std::string where = r.sandbox_arch.empty() ? "" : r.sandbox_arch + (r.emulated ? " emulated" : " native");
  if (r.success && r.artifact) {
    job->rec.artifact = r.artifact;
    job->detail = where;
    Finished(*job, "done", now);
    SetState(*job, RemoteJobState::kDone, now);
  } else if (r.infra_error) {
    Retry(*job, "worker " + r.worker + " could not run it: " + r.message, now);
  } else {
    job->rec.message = r.message.empty() ? "build failed" : r.message;
    Finished(*job, "failed", now);
    SetState(*job, RemoteJobState::kFailed, now);
  }
}

void SchedulerState::OnLogChunk(const std::string& key, const std::string& data) {
  Job* job = FindJob(key);
  if (!job) return;
  for (const auto& id : job->rec.builds) {
    Build* build = FindBuild(id);
    if (!build || build->route.empty() || build->rec.cancelled) continue;
    SchedMessage m;
    m.kind = MsgKind::kLogChunk;
    m.key = key;
    m.data = data;
    outbox_.push_back({build->route, std::move(m)});
  }
}

void SchedulerState::Assign(Job& job, WorkerEntry& w, bool emulated, Clock::time_point now) {
  const std::string& key = job.rec.request.spec.cache_key;
  SchedMessage m;
  m.kind = MsgKind::kAssign;
  m.spec = job.rec.request.spec;
  for (size_t i = 0; i < m.spec.inputs.size(); ++i) {
    if (m.spec.inputs[i].root != Digest{}) continue;
    const Job* producer = FindJob(job.rec.request.input_keys[i]);
    m.spec.inputs[i].root = producer && producer->rec.artifact ? *producer->rec.artifact : Digest{};
  }
  // An emulated job with a distcc pool also gets the other workers' pool
  // gateways (docs/acceleration.md); at most a few, the first registered.
  if (emulated && m.spec.accel && m.spec.accel->distcc) {
    constexpr size_t kMaxPoolMembers = 4;
    for (const WorkerEntry* other : workers_.ordered()) {
      if (other == &w || other->info.distcc_slots == 0 || other->info.distcc_address.empty()) continue;
      m.spec.accel->remote_pool.push_back({other->info.name, other->info.distcc_address,
                                           other->info.distcc_port, other->info.distcc_slots});
      if (m.spec.accel->remote_pool.size() == kMaxPoolMembers) break;
    }
  }
  ++job.rec.attempts;
  m.attempt = job.rec.attempts;
  job.rec.worker = w.info.name;
  job.assigned_at = now;
  const std::string& arch = job.rec.request.spec.sandbox_arch;
  job.detail = arch.empty() ? "" : arch + (emulated ? " emulated" : " native");
  w.running.insert(key);
  w.view.busy = static_cast<uint32_t>(w.running.size());
  outbox_.push_back({w.route, std::move(m)});
  events_.push_back({.kind = JobEvent::Kind::kDispatched, .element = job.rec.request.spec.element,
                     .cache_key = key, .arch = arch, .worker = w.info.name,
                     .sandbox = !emulated ? "native" : job.rec.request.spec.accel ? "accelerated" : "emulated",
                     .waited_seconds = std::chrono::duration<double>(now - job.ready_at).count()});
  SetState(job, RemoteJobState::kRunning, now);
}

// Tries the head of `build`'s ready queue (and a few behind it, so one busy
// arch does not block another); false if nothing could be placed.
bool SchedulerState::DispatchFrom(Build& build, Clock::time_point now) {
  constexpr size_t kLookahead = 16;
  size_t tried = 0;
  for (auto it = build.ready.begin(); it != build.ready.end() && tried < kLookahead;) {
    Job* job = FindJob(it->key);
    if (!job || job->rec.state != RemoteJobState::kReady) {
      it = build.ready.erase(it);
      continue;
    }
    ++tried;
    // A ready job's worker is that of its failed previous attempt (Retry), if any.
    Placement p = ChooseWorker(job->rec.request.spec, workers_.views(), job->rec.worker);
    if (!p.worker) {
      ++it;
      continue;
    }
    build.ready.erase(it);
    Assign(*job, *workers_.ordered()[*p.worker], p.emulated, now);
    return true;
  }
  return false;
}

void SchedulerState::Dispatch(Clock::time_point now) {
  size_t stalled = 0;
  while (rotation_.size() > 0 && workers_.free_slots() > 0 && stalled < rotation_.size()) {
    auto id = rotation_.Next();
    Build* build = FindBuild(*id);
    if (!build || build->rec.cancelled || build->ready.empty()) {
      rotation_.Remove(*id);
      continue;
    }
    stalled = DispatchFrom(*build, now) ? 0 : stalled + 1;
    if (build->ready.empty()) rotation_.Remove(*id);
  }
}

void SchedulerState::Tick(Clock::time_point now) {
  for (auto& lost : workers_.Expire(now, options_.heartbeat_timeout)) {
    spdlog::warn("scheduler: worker lost name={} running={} (no heartbeat for {} ms)", lost.info.name,
                 lost.running.size(), options_.heartbeat_timeout.count());
    for (const auto& key : lost.running)
      if (Job* job = FindJob(key); job && job->rec.state == RemoteJobState::kRunning)
        Retry(*job, "worker " + lost.info.name + " lost", now);
  }
  if (!orphans_.empty() && now - recovered_at_ > options_.heartbeat_timeout) {
    auto orphans = orphans_;
    for (const auto& key : orphans)
      if (Job* job = FindJob(key); job && job->rec.state == RemoteJobState::kRunning)
        Retry(*job, "worker " + job->rec.worker + " did not come back after a scheduler restart", now);
    orphans_.clear();
  }
  std::vector<std::string> old;
  for (const auto& [id, build] : builds_)
    if (build.finished_at && now - *build.finished_at > options_.finished_retention) old.push_back(id);
  for (const auto& id : old) ForgetBuild(id);
}

// Drops a finished build, and the jobs no other build wants.
void SchedulerState::ForgetBuild(const std::string& id) {
  Build* build = FindBuild(id);
  if (!build) return;
  for (const auto& key : build->rec.job_keys) {
    Job* job = FindJob(key);
    if (!job) continue;
    std::erase(job->rec.builds, id);
    if (!job->rec.builds.empty() || !proto::IsFinal(job->rec.state)) continue;
    // A delete that fails only brings a finished job back after a restart,
    // where it is forgotten again: log it, nothing to hold back.
    if (store_)
      if (Status s = store_->DeleteJob(key); !s.ok())
        spdlog::warn("scheduler: job store delete failed job={} error=\"{}\"", key, s.message());
    dirty_.erase(key);
    jobs_.erase(key);
  }
  rotation_.Remove(id);
  if (store_)
    if (Status s = store_->DeleteBuild(id); !s.ok())
      spdlog::warn("scheduler: job store delete failed build={} error=\"{}\"", id, s.message());
  dirty_builds_.erase(id);
  builds_.erase(id);
}

}  // namespace crossfarm::scheduler
