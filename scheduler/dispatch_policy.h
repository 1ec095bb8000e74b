// The dispatch policy of crossfarm-scheduler (docs/scheduler.md "Dispatch"):
// which worker runs a ready job, and in which order builds get slots.
//
//   1. Capability: the worker runs the job's sandbox arch natively, else by
//      emulation (qemu-user registered in binfmt_misc). Native always wins.
//   1b. A retry: any other worker before the one whose attempt was lost or
//      could not run (an infraError, e.g. a broken sandbox).
//   2. Locality: among those, the worker whose checkout cache already holds
//      most of the job's input artifact bytes (workers report the roots they
//      have checked out; a root counts with its recorded size).
//   3. Free slots: then the worker with the most free slots.
//   4. Ties: the worker that registered first (stable, testable).
//
// Fairness: ready jobs are queued per build and builds take turns
// (BuildRotation): a client with 10,000 ready jobs cannot starve one with 3.
// Within a build: critical path first (build_queue.h CriticalPathPriorities,
// the embedded build's policy too).
//
// Pure functions over plain values: no sockets, no clock.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/job_spec.h"

namespace crossfarm::scheduler {

// What the policy needs to know about one live worker.
struct WorkerView {
  std::string name;
  std::unordered_set<std::string> native_archs, emulated_archs;
  uint32_t slots = 0;
  uint32_t busy = 0;
  const std::unordered_set<std::string>* cache_roots = nullptr;  // hex hashes
};

enum class WaitReason {
  kNone,             // placed
  kNoCapableWorker,  // no live worker runs this arch at all
  kAllSlotsBusy,     // capable workers exist but every slot is taken
};

struct Placement {
  std::optional<size_t> worker;  // index into the `workers` span
  bool emulated = false;
  WaitReason reason = WaitReason::kNone;
};

// True if `w` can run jobs of `arch` ("" = any worker).
bool CanRun(const WorkerView& w, const std::string& arch);

// Bytes of `spec`'s inputs already in `w`'s checkout cache.
uint64_t LocalInputBytes(const WorkerView& w, const JobSpec& spec);

// Chooses a worker for `spec` following the policy above; `workers` in
// registration order. `last_worker`: the worker of the job's failed previous
// attempt ("" for a first attempt); it is still chosen if it is the only one free.
Placement ChooseWorker(const JobSpec& spec, std::span<const WorkerView* const> workers,
                       std::string_view last_worker = {});

// "no worker runs aarch64 jobs: ..." / "all 4 slots of workers for x86_64 are busy".
std::string DescribeWait(WaitReason reason, const std::string& arch);

// Round-robin over builds that have ready jobs. Not thread-safe.
class BuildRotation {
 public:
  // Adds `build` at the end of the turn order if it is not in it already.
  void Add(const std::string& build);
  void Remove(const std::string& build);
  // The build whose turn it is, moving it to the end of the order; nullopt if empty.
  std::optional<std::string> Next();
  size_t size() const { return order_.size(); }

 private:
  std::deque<std::string> order_;
  std::unordered_set<std::string> members_;
};

}  // namespace crossfarm::scheduler
