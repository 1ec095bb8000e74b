#include "scheduler/dispatch_policy.h"

#include <algorithm>
#include <tuple>

namespace crossfarm::scheduler {

bool CanRun(const WorkerView& w, const std::string& arch) {
  return arch.empty() || w.native_archs.contains(arch) || w.emulated_archs.contains(arch);
}

uint64_t LocalInputBytes(const WorkerView& w, const JobSpec& spec) {
  if (!w.cache_roots || w.cache_roots->empty()) return 0;
  uint64_t bytes = 0;
  for (const auto& input : spec.inputs)
    if (w.cache_roots->contains(input.root.Hex())) bytes += std::max<uint64_t>(input.root.size, 1);
  return bytes;
}

Placement ChooseWorker(const JobSpec& spec, std::span<const WorkerView* const> workers,
                       std::string_view last_worker) {
  Placement best;
  best.reason = WaitReason::kNoCapableWorker;
  // Sort key, larger is better: (native, not the last attempt's worker, local
  // input bytes, free slots, -index). A worker that failed a job for want of a
  // working sandbox would likely fail its retry too (issue 20).
  std::tuple<bool, bool, uint64_t, uint32_t> best_key{};
  for (size_t i = 0; i < workers.size(); ++i) {
    const WorkerView& w = *workers[i];
    if (!CanRun(w, spec.sandbox_arch)) continue;
    if (w.busy >= w.slots) {
      if (!best.worker) best.reason = WaitReason::kAllSlotsBusy;
      continue;
    }
    bool native = spec.sandbox_arch.empty() || w.native_archs.contains(spec.sandbox_arch);
    std::tuple<bool, bool, uint64_t, uint32_t> key{native, w.name != last_worker, LocalInputBytes(w, spec),
                                                   w.slots - w.busy};
    if (!best.worker || key > best_key) {
      best.worker = i;
      best.emulated = !native;
      best.reason = WaitReason::kNone;
      best_key = key;
    }
  }
  return best;
}

std::string DescribeWait(WaitReason reason, const std::string& arch) {
  std::string a = arch.empty() ? "any arch" : arch;
  switch (reason) {
    case WaitReason::kNone: return "";
    case WaitReason::kNoCapableWorker:
      return "no worker for arch " + a + ": start a crossfarm-worker on a " + a +
             " host, or register qemu-user for " + a + " on a worker (crossfarm-worker --setup-binfmt)";
    case WaitReason::kAllSlotsBusy: return "all slots of workers for " + a + " are busy";
  }
  return "";
}

void BuildRotation::Add(const std::string& build) {
  if (members_.insert(build).second) order_.push_back(build);
}

void BuildRotation::Remove(const std::string& build) {
  if (members_.erase(build) == 0) return;
  order_.erase(std::find(order_.begin(), order_.end(), build));
}

std::optional<std::string> BuildRotation::Next() {
  if (order_.empty()) return std::nullopt;
  std::string b = std::move(order_.front());
  order_.pop_front();
  order_.push_back(b);
  return b;
}

}  // namespace crossfarm::scheduler
