#include "scheduler/build_queue.h"

#include <cassert>

namespace crossfarm::scheduler {

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kWaiting: return "waiting";
    case JobState::kReady: return "ready";
    case JobState::kRunning: return "running";
    case JobState::kDone: return "done";
    case JobState::kCached: return "cached";
    case JobState::kFailed: return "failed";
    case JobState::kSkipped: return "skipped";
  }
  return "?";
}

static size_t& CountOf(QueueCounts& c, JobState s) {
  switch (s) {
    case JobState::kWaiting: return c.waiting;
    case JobState::kReady: return c.ready;
    case JobState::kRunning: return c.running;
    case JobState::kDone: return c.done;
    case JobState::kCached: return c.cached;
    case JobState::kFailed: return c.failed;
    case JobState::kSkipped: return c.skipped;
  }
  return c.waiting;
}

void BuildQueue::SetState(JobId id, JobState s) {
  --CountOf(counts_, jobs_[id].state);
  ++CountOf(counts_, s);
  jobs_[id].state = s;
}

JobId BuildQueue::Add(std::vector<JobId> deps) {
  JobId id = static_cast<JobId>(jobs_.size());
  Job job;
  for (JobId d : deps) {
    assert(d < id && "dependencies must be added first");
    jobs_[d].dependents.push_back(id);
  }
  job.deps = std::move(deps);
  jobs_.push_back(std::move(job));
  ++counts_.waiting;
  return id;
}

void BuildQueue::MarkCached(JobId id) { SetState(id, JobState::kCached); }

void BuildQueue::Seal() {
  std::vector<std::vector<uint32_t>> deps;
  deps.reserve(jobs_.size());
  for (const Job& j : jobs_) deps.emplace_back(j.deps.begin(), j.deps.end());
  std::vector<uint32_t> priority = CriticalPathPriorities(deps);
  for (JobId id = 0; id < jobs_.size(); ++id) jobs_[id].priority = priority[id];
  for (JobId id = 0; id < jobs_.size(); ++id) {
    Job& j = jobs_[id];
    if (j.state != JobState::kWaiting) continue;
    j.pending = 0;
    for (JobId dep : j.deps) {
      JobState ds = jobs_[dep].state;
      if (ds != JobState::kCached && ds != JobState::kDone) ++j.pending;
    }
    if (j.pending == 0) MakeReady(id);
  }
}

std::vector<uint32_t> CriticalPathPriorities(const std::vector<std::vector<uint32_t>>& deps) {
  // Dependency order: walking backwards sees every dependent before its
  // dependencies, so one pass computes the critical path.
  std::vector<uint32_t> priority(deps.size(), 0);
  for (size_t id = deps.size(); id-- > 0;)
    for (uint32_t dep : deps[id])
      if (dep < id && priority[dep] < priority[id] + 1) priority[dep] = priority[id] + 1;
  return priority;
}

void BuildQueue::MakeReady(JobId id) {
  SetState(id, JobState::kReady);
  ready_.push({jobs_[id].priority, id});
}

std::optional<JobId> BuildQueue::PopReady() {
  if (quitting_ || ready_.empty()) return std::nullopt;
  JobId id = ready_.top().id;
  ready_.pop();
  SetState(id, JobState::kRunning);
  return id;
}

void BuildQueue::Complete(JobId id, bool success) {
  assert(jobs_[id].state == JobState::kRunning);
  if (!success) {
    SetState(id, JobState::kFailed);
    SkipDependents(id);
    if (on_error_ == OnError::kQuit) quitting_ = true;
    return;
  }
  SetState(id, JobState::kDone);
  for (JobId d : jobs_[id].dependents) {
    Job& dep = jobs_[d];
    if (dep.state == JobState::kWaiting && --dep.pending == 0) MakeReady(d);
  }
}

void BuildQueue::Requeue(JobId id) {
  assert(jobs_[id].state == JobState::kRunning);
  MakeReady(id);
}

void BuildQueue::SkipDependents(JobId id) {
  std::vector<JobId> stack(jobs_[id].dependents);
  while (!stack.empty()) {
    JobId d = stack.back();
    stack.pop_back();
    if (jobs_[d].state != JobState::kWaiting) continue;
    SetState(d, JobState::kSkipped);
    stack.insert(stack.end(), jobs_[d].dependents.begin(), jobs_[d].dependents.end());
  }
}

bool BuildQueue::Finished() const {
  if (counts_.running > 0) return false;
  if (quitting_) return true;
  return counts_.ready == 0;
}

}  // namespace crossfarm::scheduler
