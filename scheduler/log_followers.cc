#include "scheduler/log_followers.h"

namespace crossfarm::scheduler {

bool LogFollowers::Follow(const std::string& key, const std::string& route, Clock::time_point now) {
  auto [it, inserted] = by_key_[key].insert_or_assign(route, now);
  return inserted;
}

std::vector<std::string> LogFollowers::Of(const std::string& key) const {
  std::vector<std::string> out;
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return out;
  for (const auto& [route, seen] : it->second) out.push_back(route);
  return out;
}

std::vector<std::string> LogFollowers::Take(const std::string& key) {
  std::vector<std::string> out = Of(key);
  by_key_.erase(key);
  return out;
}

void LogFollowers::Expire(Clock::time_point now) {
  for (auto it = by_key_.begin(); it != by_key_.end();) {
    std::erase_if(it->second, [now](const auto& entry) { return now - entry.second > kExpiry; });
    it = it->second.empty() ? by_key_.erase(it) : std::next(it);
  }
}

}  // namespace crossfarm::scheduler
