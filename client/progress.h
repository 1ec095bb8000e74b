// Live build status on stderr: what runs where (element, arch, native/emulated,
// worker, elapsed) and the queued / running / done / cached / failed counts.
// On a terminal it redraws a status block a few times a second; otherwise it
// prints one plain line per event (CI logs, pipes) and, while jobs run, a
// status line every 10 s ($CROSSFARM_PROGRESS_INTERVAL seconds). Both show
// each running job's phase and the last line of its log.
//
// Thread-safe: the build loop and worker threads report events concurrently.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace crossfarm::client {

struct ProgressCounts {
  size_t total = 0, queued = 0, running = 0, done = 0, cached = 0, failed = 0, skipped = 0;
};

enum class ProgressMode { kAuto, kTerminal, kPlain };

class Progress {
 public:
  explicit Progress(ProgressMode mode = ProgressMode::kAuto, FILE* out = stderr);
  ~Progress();  // stops the redraw thread and prints the final summary line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void SetTotals(size_t total, size_t cached);
  // `where` is e.g. "aarch64 emulated on local:1" or "x86_64 native on w7".
  void JobStarted(const std::string& element, const std::string& where);
  void JobFinished(const std::string& element, bool success, const std::string& detail = {});
  void JobSkipped(const std::string& element);
  // A chunk of a running job's live log: a "# crossfarm: phase NAME" line sets
  // the phase shown beside the job (configure, build, install...), and its
  // last other line is shown under it. Chunks may split lines anywhere.
  void JobLog(const std::string& element, std::string_view data);
  // "build: make -j4" or "" (what the live view shows of a running job).
  std::string JobActivity(const std::string& element) const;
  // A message that must stay visible (warnings, failure log tails).
  void Message(const std::string& text);
  ProgressCounts counts() const;
  // Final summary line ("done 3, cached 10, failed 0 in 12.3 s"); idempotent.
  void Finish();

 private:
  using Clock = std::chrono::steady_clock;
  struct Running {
    std::string where;
    Clock::time_point start;
    std::string phase, last_line, partial;  // partial: a line not ended yet
  };
  static std::string ActivityOf(const Running& r);
  std::string Elapsed(Clock::time_point since) const;
  void RedrawLocked();
  void StatusLineLocked();
  void ClearLocked();
  void Loop();

  FILE* out_;
  bool terminal_;
  Clock::time_point start_ = Clock::now();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool finished_ = false;
  size_t drawn_lines_ = 0;
  ProgressCounts counts_;
  std::map<std::string, Running> running_;
  std::chrono::seconds plain_interval_{10};
  std::thread thread_;
};

}  // namespace crossfarm::client
