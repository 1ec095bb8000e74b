// Parses element files on background threads ahead of the loader.
//
// Loading a project is read + parse (libyaml into Node trees) then resolve
// (composition, variables, keys). Parsing needs nothing but the file, so while
// the loader resolves one element, helper threads parse the files it has
// already discovered as dependencies (bench_show: parsing is ~40% of `show`).
//
// Thread-safety: Request and Take are called by one thread (the loader); the
// helpers only parse. A result is handed out once, to Take. The destructor
// stops the helpers and drops what was never taken.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/node.h"
#include "common/status.h"

namespace crossfarm {

class ParsePrefetcher {
 public:
  // `threads` helpers; 0 = none (Take parses inline).
  explicit ParsePrefetcher(int threads);
  ~ParsePrefetcher();
  ParsePrefetcher(const ParsePrefetcher&) = delete;
  ParsePrefetcher& operator=(const ParsePrefetcher&) = delete;

  // Helper threads for this machine: one fewer than the cores, at most 2
  // (the loader's own thread resolves; more parsers than that only wait).
  static int DefaultThreads();

  // Queues `path` (ParseYamlFile(path, display)). The most recent request
  // is parsed first: the loader walks depth-first and needs it next.
  void Request(const std::string& path, const std::string& display);
  // The parse of `path`: waits for a helper that has started it, otherwise
  // parses it on this thread. Same result as ParseYamlFile.
  Result<NodePtr> Take(const std::string& path, const std::string& display);

 private:
  enum class State { kQueued, kRunning, kDone };
  struct Slot {
    State state = State::kQueued;
    std::string display;
    std::optional<Result<NodePtr>> result;
  };
  void Run();

  std::mutex mu_;
  std::condition_variable work_cv_;  // helpers: a request or stop
  std::condition_variable done_cv_;  // Take: a slot became kDone
  std::vector<std::string> stack_;   // queued paths, newest last
  std::unordered_map<std::string, Slot> slots_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace crossfarm
