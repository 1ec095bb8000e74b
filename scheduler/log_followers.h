// Clients following a job's live log (`crossfarm --remote ... log -f`,
// docs/protocol.md "Following a job's log"): which client routes receive the
// log chunks of which cache key. A follower resends followLog as a keepalive;
// one silent for kExpiry is dropped (a client killed without a word).
//
// Scheduler thread only.
#pragma once

#include <chrono>
#include <string>
#include <unordered_map>
#include <vector>

#include "scheduler/scheduler_state.h"

namespace crossfarm::scheduler {

class LogFollowers {
 public:
  static constexpr std::chrono::seconds kExpiry{30};

  // True if `route` was not following `key` yet (it then gets the tail first).
  bool Follow(const std::string& key, const std::string& route, Clock::time_point now);
  // The routes following `key`.
  std::vector<std::string> Of(const std::string& key) const;
  // Removes and returns the routes following `key` (the job stopped running).
  std::vector<std::string> Take(const std::string& key);
  void Expire(Clock::time_point now);
  bool empty() const { return by_key_.empty(); }

 private:
  // cache key -> route -> last followLog
  std::unordered_map<std::string, std::unordered_map<std::string, Clock::time_point>> by_key_;
};

}  // namespace crossfarm::scheduler
