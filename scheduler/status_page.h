// The scheduler's live status page (docs/operations.md "Status page"): a
// read-only HTML+JS page embedded in the binary that polls /status.json.
// The JSON holds workers (archs, slots, load, health), the queue per arch
// with why each job waits, running jobs with the tail of their log, recent
// failures with theirs, the submission hit ratio and each build's DAG
// progress. Never a key: worker names, elements and build logs only.
#pragma once

#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

#include "scheduler/scheduler_state.h"

namespace crossfarm::scheduler {

// The last bytes of each running job's log (from its log chunks) and the
// recent failures with theirs. Scheduler thread only.
class LiveLogs {
 public:
  static constexpr size_t kTailBytes = 4096;
  static constexpr size_t kMaxFailures = 20;
  struct Failure {
    std::string element, arch, worker, outcome, message, tail;
    int64_t unix_time = 0;
  };

  void Append(const std::string& key, std::string_view data);
  // A finished attempt: its tail is dropped, or kept as a failure.
  void Finished(const JobEvent& e);
  std::string_view Tail(const std::string& key) const;
  const std::deque<Failure>& failures() const { return failures_; }

 private:
  std::unordered_map<std::string, std::string> tails_;
  std::deque<Failure> failures_;  // newest first
};

// /status.json for the page. `heartbeat_timeout` decides a worker's health
// (ok; late after half of it without a heartbeat).
std::string RenderStatusJson(const SchedulerState& state, const LiveView& live, const LiveLogs& logs,
                             std::chrono::milliseconds heartbeat_timeout, Clock::time_point now);
// The page itself (HTML, CSS and JS in one string).
std::string_view StatusPageHtml();

}  // namespace crossfarm::scheduler
