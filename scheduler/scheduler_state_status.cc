// SchedulerState's read side: what the status request, the status page and
// the metrics see (waiting reasons, snapshots, job events). Split from
// scheduler_state.cc, which holds the state changes.
#include <spdlog/spdlog.h>

#include "scheduler/scheduler_state.h"

namespace crossfarm::scheduler {

using proto::RemoteJobState;

Status SchedulerState::ValidateSubmit(const std::vector<proto::JobRequest>& jobs) const {
  if (jobs.empty()) return Status::InvalidArgument("empty submission");
  std::unordered_set<std::string> seen;
  std::unordered_set<std::string> archs;
  for (const auto& req : jobs) {
    const auto& spec = req.spec;
    if (spec.cache_key.empty()) return Status::InvalidArgument(spec.element + " has no cache key");
    for (size_t i = 0; i < spec.inputs.size(); ++i) {
      if (spec.inputs[i].root != Digest{}) continue;
      const auto& p = req.input_keys[i];
      if (!seen.contains(p) && !jobs_.contains(p))
        return Status::InvalidArgument("input " + spec.inputs[i].element + " of " + spec.element +
                                       " is neither built nor part of the submission");
    }
    seen.insert(spec.cache_key);
    auto it = jobs_.find(spec.cache_key);
    if (it == jobs_.end() || it->second.rec.state != RemoteJobState::kDone) archs.insert(spec.sandbox_arch);
  }
  for (const auto& arch : archs) {
    bool any = std::any_of(workers_.views().begin(), workers_.views().end(),
                           [&](const WorkerView* w) { return CanRun(*w, arch); });
    if (any) continue;
    std::string who;
    for (const auto& req : jobs)
      if (req.spec.sandbox_arch == arch) { who = req.spec.element; break; }
    return Status::FailedPrecondition("no connected worker can run " + (arch.empty() ? "any" : arch) +
                                      " jobs (needed by " + who + "): " +
                                      DescribeWait(WaitReason::kNoCapableWorker, arch).substr(
                                          DescribeWait(WaitReason::kNoCapableWorker, arch).find(": ") + 2));
  }
  return Status::Ok();
}

// ---- status ----

std::string SchedulerState::WaitingReason(const Job& job) const {
  switch (job.rec.state) {
    case RemoteJobState::kWaiting: {
      std::string deps;
      for (const auto& p : Producers(job)) {
        auto it = jobs_.find(p);
        if (it == jobs_.end() || it->second.rec.state == RemoteJobState::kDone) continue;
        deps += (deps.empty() ? "" : ", ") + it->second.rec.request.spec.element;
      }
      return "waiting for dependencies: " + deps;
    }
    case RemoteJobState::kReady: {
      Placement p = ChooseWorker(job.rec.request.spec, workers_.views());
      return p.worker ? "about to be dispatched"
                      : DescribeWait(p.reason, job.rec.request.spec.sandbox_arch);
    }
    case RemoteJobState::kRunning: return "running on " + job.rec.worker;
    default: return job.rec.message;
  }
}

proto::StatusReply SchedulerState::StatusSnapshot(Clock::time_point now) const {
  proto::StatusReply reply;
  for (const WorkerEntry* w : workers_.ordered()) {
    proto::WorkerStatusEntry e{w->info.name, w->info.native_archs, w->info.emulated_archs,
                               w->info.slots, static_cast<uint32_t>(w->running.size()),
                               static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   now - w->last_heartbeat).count()),
                               {w->running.begin(), w->running.end()}};
    reply.workers.push_back(std::move(e));
  }
  constexpr size_t kMaxListed = 1000;
  for (const auto& [key, job] : jobs_) {
    if (proto::IsFinal(job.rec.state) || reply.jobs.size() >= kMaxListed) continue;
    reply.jobs.push_back({job.rec.request.spec.element, key, job.rec.state, WaitingReason(job),
                          job.rec.worker, job.rec.attempts});
  }
  for (const auto& [id, build] : builds_)
    if (build.unfinished > 0) ++reply.builds;
  return reply;
}


LiveView SchedulerState::Live(Clock::time_point now) const {
  LiveView view;
  for (const auto& [key, job] : jobs_) {
    if (proto::IsFinal(job.rec.state)) continue;
    auto since = job.rec.state == RemoteJobState::kRunning ? job.assigned_at : job.ready_at;
    view.jobs.push_back({job.rec.request.spec.element, key, job.rec.request.spec.sandbox_arch,
                         proto::RemoteJobStateName(job.rec.state), WaitingReason(job), job.rec.worker,
                         job.rec.attempts,
                         job.rec.state == RemoteJobState::kWaiting
                             ? 0 : std::chrono::duration<double>(now - since).count()});
  }
  for (const auto& [id, build] : builds_) {
    LiveView::Build b{.id = id, .cancelled = build.rec.cancelled, .jobs_by_state = {},
                      .total = build.rec.job_keys.size()};
    for (const auto& key : build.rec.job_keys) {
      auto it = jobs_.find(key);
      if (it != jobs_.end()) ++b.jobs_by_state[proto::RemoteJobStateName(it->second.rec.state)];
    }
    view.builds.push_back(std::move(b));
  }
  return view;
}

// One finished job (or a finished attempt that will be retried): the event
// the service logs and counts.
void SchedulerState::Finished(const Job& job, std::string outcome, Clock::time_point now) {
  const auto& spec = job.rec.request.spec;
  bool emulated = job.detail.ends_with("emulated");
  events_.push_back({.kind = JobEvent::Kind::kFinished, .element = spec.element, .cache_key = spec.cache_key,
                     .arch = spec.sandbox_arch, .worker = job.rec.worker,
                     .sandbox = !emulated ? "native" : spec.accel ? "accelerated" : "emulated",
                     .outcome = std::move(outcome),
                     .message = job.rec.message,
                     .ran_seconds = std::chrono::duration<double>(now - job.assigned_at).count()});
}

std::optional<proto::JobUpdate> SchedulerState::JobUpdateFor(const std::string& key) const {
  auto it = jobs_.find(key);
  if (it == jobs_.end()) return std::nullopt;
  return UpdateOf(it->second);
}

}  // namespace crossfarm::scheduler
