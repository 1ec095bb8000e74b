// BuildQueue: the dependency-driven ready queue shared by the embedded build and
// the cluster scheduler. It knows nothing of sandboxes or sockets: jobs are ids
// with dependencies; the caller marks them running / done / failed.
//
// Dispatch order among ready jobs (the policy a newcomer looks for): the job
// with the longest chain of dependents above it first (critical path), ties
// broken by insertion order, so the longest chain of the DAG is never starved by
// wide, shallow work.
//
// Not thread-safe: one owner (the embedded build loop, or the scheduler thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <queue>
#include <string>
#include <vector>

namespace crossfarm::scheduler {

using JobId = uint32_t;

enum class JobState : uint8_t {
  kWaiting,  // some dependency not done yet
  kReady,    // all dependencies done; in the ready heap
  kRunning,
  kDone,     // built now
  kCached,   // already in the cache: counts as done, never dispatched
  kFailed,   // its command failed (or it ran out of retries)
  kSkipped,  // a dependency failed, so it cannot run
};

const char* JobStateName(JobState s);

// What to do with other jobs when one fails (bst --on-error).
enum class OnError { kContinue, kQuit };

struct QueueCounts {
  size_t waiting = 0, ready = 0, running = 0, done = 0, cached = 0, failed = 0, skipped = 0;
};

// The one dispatch policy of crossfarm (the embedded build's BuildQueue and the
// cluster's SchedulerState both order ready jobs by it): for jobs listed in
// dependency order, each with the indices of its dependencies, the length of
// the longest chain of dependents above each job. Higher runs first; ties go to
// the job listed first.
std::vector<uint32_t> CriticalPathPriorities(const std::vector<std::vector<uint32_t>>& deps);

// "a runs before b" among ready jobs under that policy.
inline bool RunsBefore(uint32_t a_priority, uint64_t a_order, uint32_t b_priority,
                       uint64_t b_order) {
  return a_priority != b_priority ? a_priority > b_priority : a_order < b_order;
}

class BuildQueue {
 public:
  explicit BuildQueue(OnError on_error = OnError::kContinue) : on_error_(on_error) {}

  // Adds a job; every dependency must have been added before (dependency order).
  JobId Add(std::vector<JobId> deps);
  // Marks a not-yet-started job as satisfied from the cache.
  void MarkCached(JobId id);
  // Call once after all Add/MarkCached: computes priorities, fills the ready heap.
  void Seal();

  // The next ready job (now kRunning), or nullopt if none is ready right now.
  std::optional<JobId> PopReady();
  // A running job finished; dependents become ready, or are skipped on failure.
  void Complete(JobId id, bool success);
  // A running job was lost (worker died): back to ready, to be dispatched again.
  void Requeue(JobId id);

  bool Finished() const;  // nothing ready or running, and nothing can become so
  JobState state(JobId id) const { return jobs_[id].state; }
  const std::vector<JobId>& deps(JobId id) const { return jobs_[id].deps; }
  QueueCounts counts() const { return counts_; }
  size_t size() const { return jobs_.size(); }

 private:
  struct Job {
    std::vector<JobId> deps;
    std::vector<JobId> dependents;
    uint32_t pending = 0;   // dependencies not yet done/cached
    uint32_t priority = 0;  // longest dependent chain above this job
    JobState state = JobState::kWaiting;
  };
  struct HeapEntry {
    uint32_t priority;
    JobId id;
    bool operator<(const HeapEntry& o) const {  // max-heap: "o runs before this"
      return RunsBefore(o.priority, o.id, priority, id);
    }
  };
  void SetState(JobId id, JobState s);
  void MakeReady(JobId id);
  void SkipDependents(JobId id);

  OnError on_error_;
  bool quitting_ = false;
  std::vector<Job> jobs_;
  std::priority_queue<HeapEntry> ready_;
  QueueCounts counts_;
};

}  // namespace crossfarm::scheduler
