// SchedulerState: the scheduler's brain without sockets (docs/scheduler.md).
// SchedulerService feeds it decoded messages with the sender's routing id and
// sends whatever it leaves in the outbox; tests drive it directly.
//
// Jobs are keyed by cache key, so two builds (two clients) wanting the same
// artifact share one job. A job waits for the jobs producing its inputs; when
// it is dispatched, the producers' artifact roots are filled into its spec.
// Every state change goes to the JobStore first (when there is one), so a
// restarted scheduler resumes where it stopped: jobs that were running stay
// assigned to their worker for one heartbeat timeout, waiting for it to report
// them again, and are requeued otherwise.
//
// Not thread-safe: one owner (the scheduler thread).
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "proto/scheduler_types.h"
#include "scheduler/build_queue.h"
#include "scheduler/dispatch_policy.h"
#include "scheduler/job_store.h"
#include "scheduler/worker_registry.h"

namespace crossfarm::scheduler {

struct StateOptions {
  std::chrono::milliseconds heartbeat_timeout{10000};
  uint32_t max_retries = 3;  // re-runs after a lost worker or infrastructure error
  std::chrono::milliseconds finished_retention{600000};  // finished builds kept for watchers
};

// A job dispatched or finished: the service turns these into metrics and the
// per-job log line (docs/operations.md "Logs"). `sandbox` is native, emulated
// or accelerated (emulated with the distcc/host-tools accelerator).
struct JobEvent {
  enum class Kind { kDispatched, kFinished };
  Kind kind = Kind::kDispatched;
  std::string element, cache_key, arch, worker, sandbox;
  std::string outcome;  // finished: done, failed, retried (worker lost or infra error)
  std::string message;  // finished: why it failed or was retried
  double waited_seconds = 0;  // dispatched: ready -> assigned
  double ran_seconds = 0;     // finished: assigned -> result
};

// What the status page and the metrics read each refresh: every unfinished
// job with its arch and why it waits, and each live build's DAG progress.
struct LiveView {
  struct Job {
    std::string element, cache_key, arch, state, reason, worker;
    uint32_t attempts = 0;
    double seconds_in_state = 0;  // running: since assigned; ready: since ready
  };
  struct Build {
    std::string id;
    bool cancelled = false;
    std::map<std::string, size_t> jobs_by_state;  // RemoteJobStateName -> count
    size_t total = 0;
  };
  std::vector<Job> jobs;
  std::vector<Build> builds;  // unfinished ones and those finished in the retention window
};

struct Outgoing {
  std::string route;
  proto::SchedMessage message;
};

class SchedulerState {
 public:
  // `store` may be null (tests, benchmarks of the policy): nothing persists.
  SchedulerState(JobStore* store, StateOptions options);

  // Loads the store (call once, before anything else).
  Status Recover(Clock::time_point now);

  void OnHeartbeat(const std::string& route, const proto::WorkerInfo& info, Clock::time_point now);
  void OnResult(const std::string& route, const proto::JobResultMsg& result, Clock::time_point now);
  void OnLogChunk(const std::string& key, const std::string& data);
  void OnSubmit(const std::string& route, const std::string& build_id,
                std::vector<proto::JobRequest> jobs, Clock::time_point now);
  void OnWatch(const std::string& route, const std::string& build_id);
  void OnCancel(const std::string& route, const std::string& build_id, Clock::time_point now);
  proto::StatusReply StatusSnapshot(Clock::time_point now) const;
  LiveView Live(Clock::time_point now) const;
  // The job of `key` as a client update would show it (nullopt: unknown).
  std::optional<proto::JobUpdate> JobUpdateFor(const std::string& key) const;

  // Expires silent workers (requeueing their jobs), forgets old finished builds.
  void Tick(Clock::time_point now);
  // Assigns ready jobs to free slots (dispatch_policy.h).
  void Dispatch(Clock::time_point now);
  // Queues the state changes since the last flush to the watching clients.
  void FlushUpdates();
  // Writes the jobs and builds changed since the last successful call to the
  // store. Call before sending the outbox, and send it only on Ok: nothing is
  // announced before it is stored. On an error (e.g. a full disk) the changes
  // stay pending and the next call writes them again.
  [[nodiscard]] Status FlushStore();

  std::vector<Outgoing>& outbox() { return outbox_; }
  // Job events since the caller last cleared it.
  std::vector<JobEvent>& events() { return events_; }
  // Jobs of accepted submissions that the cluster had built or was building
  // already (hits), and jobs it had to add (misses): the status page's ratio.
  uint64_t submitted_hits() const { return submitted_hits_; }
  uint64_t submitted_misses() const { return submitted_misses_; }
  size_t job_count() const { return jobs_.size(); }
  const WorkerRegistry& workers() const { return workers_; }

 private:
  struct Job {
    proto::StoredJob rec;
    std::vector<std::string> dependents;
    uint32_t pending = 0;  // producers not done yet
    Clock::time_point assigned_at;
    Clock::time_point ready_at;  // last became ready (wait metrics)
    std::string detail;    // last progress detail ("x86_64 native")
    // Dispatch order among ready jobs: build_queue.h CriticalPathPriorities,
    // the embedded build's policy; `order` is submission order (ties).
    uint32_t priority = 0;
    uint64_t order = 0;
  };
  struct ReadyEntry {
    uint32_t priority;
    uint64_t order;
    std::string key;
    bool operator<(const ReadyEntry& o) const {
      return RunsBefore(priority, order, o.priority, o.order);
    }
  };
  struct Build {
    proto::StoredBuild rec;
    std::string route;
    std::set<ReadyEntry> ready;  // first = next to dispatch
    size_t unfinished = 0;
    std::vector<proto::JobUpdate> pending_updates;
    bool finished_sent = false;
    std::optional<Clock::time_point> finished_at;
  };

  Job* FindJob(const std::string& key);
  Build* FindBuild(const std::string& id);
  std::vector<std::string> Producers(const Job& job) const;
  Status ValidateSubmit(const std::vector<proto::JobRequest>& jobs) const;
  void AddToBuild(Build& build, proto::JobRequest request, uint32_t priority);
  void RecomputePriorities();
  ReadyEntry ReadyOf(const Job& job) const {
    return {job.priority, job.order, job.rec.request.spec.cache_key};
  }
  void Reset(Job& job);
  void Requeue(Job& job);
  void SetState(Job& job, proto::RemoteJobState state, Clock::time_point now);
  void Propagate(Job& job, Clock::time_point now);
  void Retry(Job& job, const std::string& why, Clock::time_point now);
  void Assign(Job& job, WorkerEntry& worker, bool emulated, Clock::time_point now);
  bool DispatchFrom(Build& build, Clock::time_point now);
  void ReconcileWorker(WorkerEntry& worker, const proto::WorkerInfo& info, bool is_new,
                       Clock::time_point now);
  void Persist(const Job& job);
  proto::JobUpdate UpdateOf(const Job& job) const;
  void SendSnapshot(Build& build);
  void SendError(const std::string& route, Status error);
  void ForgetBuild(const std::string& id);
  std::string WaitingReason(const Job& job) const;
  void Finished(const Job& job, std::string outcome, Clock::time_point now);

  JobStore* store_;
  StateOptions options_;
  WorkerRegistry workers_;
  BuildRotation rotation_;
  std::unordered_map<std::string, Job> jobs_;
  uint64_t next_order_ = 0;
  std::unordered_map<std::string, Build> builds_;
  std::unordered_set<std::string> dirty_;         // jobs changed since FlushStore
  std::unordered_set<std::string> dirty_builds_;  // builds changed since FlushStore
  bool store_failing_ = false;                    // to log a failure streak once
  std::unordered_set<std::string> orphans_;  // running at recovery, worker not back yet
  Clock::time_point recovered_at_;
  std::vector<Outgoing> outbox_;
  std::vector<JobEvent> events_;
  uint64_t submitted_hits_ = 0, submitted_misses_ = 0;
};

}  // namespace crossfarm::scheduler
