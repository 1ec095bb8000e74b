// WorkerRegistry: the live workers as the scheduler sees them. A worker is
// (re)registered by every heartbeat, so a restarted scheduler relearns them
// within one heartbeat interval; one silent for `timeout` is dropped and its
// jobs are requeued by the caller.
//
// Not thread-safe: the scheduler thread owns it.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "proto/scheduler_types.h"
#include "scheduler/dispatch_policy.h"

namespace crossfarm::scheduler {

using Clock = std::chrono::steady_clock;

struct WorkerEntry {
  proto::WorkerInfo info;
  std::string route;  // ZeroMQ routing id of its connection
  Clock::time_point last_heartbeat;
  Clock::time_point registered;
  WorkerView view;                      // what the dispatch policy reads
  std::unordered_set<std::string> cache_roots;
  std::unordered_set<std::string> running;  // cache keys the scheduler assigned to it
};

class WorkerRegistry {
 public:
  // Records a heartbeat; true if the worker was not known before.
  bool Heartbeat(const proto::WorkerInfo& info, const std::string& route, Clock::time_point now);
  // Removes workers silent for longer than `timeout`; returns them.
  std::vector<WorkerEntry> Expire(Clock::time_point now, std::chrono::milliseconds timeout);

  WorkerEntry* Find(const std::string& name);
  // Workers in registration order, for the dispatch policy.
  const std::vector<WorkerEntry*>& ordered() const { return ordered_; }
  // The same workers' views, for ChooseWorker (indices match ordered()).
  const std::vector<const WorkerView*>& views() const { return views_; }
  uint32_t free_slots() const;
  size_t size() const { return workers_.size(); }

 private:
  void Reorder();
  std::map<std::string, WorkerEntry> workers_;
  std::vector<WorkerEntry*> ordered_;
  std::vector<const WorkerView*> views_;
};

}  // namespace crossfarm::scheduler
