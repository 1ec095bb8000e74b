#include "scheduler/worker_registry.h"

#include <algorithm>

namespace crossfarm::scheduler {

bool WorkerRegistry::Heartbeat(const proto::WorkerInfo& info, const std::string& route,
                               Clock::time_point now) {
  auto [it, inserted] = workers_.try_emplace(info.name);
  WorkerEntry& w = it->second;
  if (inserted) w.registered = now;
  w.info = info;
  w.route = route;
  w.last_heartbeat = now;
  w.cache_roots = {info.cache_roots.begin(), info.cache_roots.end()};
  w.view.name = info.name;
  w.view.native_archs = {info.native_archs.begin(), info.native_archs.end()};
  w.view.emulated_archs = {info.emulated_archs.begin(), info.emulated_archs.end()};
  w.view.slots = info.slots;
  w.view.busy = static_cast<uint32_t>(w.running.size());
  w.view.cache_roots = &w.cache_roots;
  if (inserted) Reorder();
  return inserted;
}

std::vector<WorkerEntry> WorkerRegistry::Expire(Clock::time_point now,
                                                std::chrono::milliseconds timeout) {
  std::vector<WorkerEntry> lost;
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (now - it->second.last_heartbeat > timeout) {
      lost.push_back(std::move(it->second));
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  if (!lost.empty()) Reorder();
  return lost;
}

WorkerEntry* WorkerRegistry::Find(const std::string& name) {
  auto it = workers_.find(name);
  return it == workers_.end() ? nullptr : &it->second;
}

uint32_t WorkerRegistry::free_slots() const {
  uint32_t free = 0;
  for (const auto* w : ordered_) free += w->view.slots > w->view.busy ? w->view.slots - w->view.busy : 0;
  return free;
}

void WorkerRegistry::Reorder() {
  ordered_.clear();
  for (auto& [name, w] : workers_) ordered_.push_back(&w);
  std::stable_sort(ordered_.begin(), ordered_.end(),
                   [](const WorkerEntry* a, const WorkerEntry* b) { return a->registered < b->registered; });
  views_.clear();
  for (const auto* w : ordered_) views_.push_back(&w->view);
}

}  // namespace crossfarm::scheduler
