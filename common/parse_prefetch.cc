#include "common/parse_prefetch.h"

#include <algorithm>

#include "common/yaml_loader.h"

namespace crossfarm {

ParsePrefetcher::ParsePrefetcher(int threads) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

ParsePrefetcher::~ParsePrefetcher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

int ParsePrefetcher::DefaultThreads() {
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(cores - 1, 0, 2);
}

void ParsePrefetcher::Request(const std::string& path, const std::string& display) {
  if (threads_.empty()) return;
  {
    std::lock_guard lock(mu_);
    if (!slots_.try_emplace(path, Slot{State::kQueued, display, std::nullopt}).second) return;
    stack_.push_back(path);
  }
  work_cv_.notify_one();
}

void ParsePrefetcher::Run() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stop_ || !stack_.empty(); });
    if (stop_) return;
    std::string path = std::move(stack_.back());
    stack_.pop_back();
    auto it = slots_.find(path);
    // Taken (and parsed) by the loader meanwhile.
    if (it == slots_.end() || it->second.state != State::kQueued) continue;
    it->second.state = State::kRunning;
    std::string display = it->second.display;
    lock.unlock();
    auto parsed = ParseYamlFile(path, display);
    lock.lock();
    // The slot stays: only Take erases a kRunning slot, after kDone.
    Slot& slot = slots_.at(path);
    slot.result = std::move(parsed);
    slot.state = State::kDone;
    done_cv_.notify_all();
  }
}

Result<NodePtr> ParsePrefetcher::Take(const std::string& path, const std::string& display) {
  std::unique_lock lock(mu_);
  auto it = slots_.find(path);
  if (it == slots_.end() || it->second.state == State::kQueued) {
    // Not started: parse here rather than wait (a helper skips it later).
    if (it != slots_.end()) slots_.erase(it);
    lock.unlock();
    return ParseYamlFile(path, display);
  }
  done_cv_.wait(lock, [&] { return slots_.at(path).state == State::kDone; });
  it = slots_.find(path);
  Result<NodePtr> out = std::move(*it->second.result);
  slots_.erase(it);
  return out;
}

}  // namespace crossfarm
