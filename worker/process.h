// Subprocess helper for the worker: posix_spawn a child in its own process group,
// stream its combined stdout+stderr to a callback, wait with a timeout and a
// cancellation token, and kill the whole process group when either fires.
//
// Every fd is owned by a UniqueFd; every blocking call retries on EINTR. The child
// gets only fds 0-2 (closefrom(3) in the spawn file actions), so fds other threads
// open without O_CLOEXEC never leak into a sandbox.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace crossfarm::worker {

// Owns one file descriptor; closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release();
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// A cancellation flag another thread can raise; RunProcess polls its fd, so a
// Cancel() wakes a waiting RunProcess at once. Thread-safe; not copyable.
class CancelToken {
 public:
  CancelToken();
  CancelToken(const CancelToken&) = delete;
  CancelToken& operator=(const CancelToken&) = delete;

  void Cancel();
  bool cancelled() const;
  int fd() const { return event_.get(); }  // readable once cancelled

 private:
  UniqueFd event_;  // eventfd
};

// How a child ended. Exactly one of exit_code >= 0 / signal > 0 is set for a
// process that was reaped.
struct ExitInfo {
  int exit_code = -1;
  int signal = 0;
  bool timed_out = false;  // we killed it because the timeout expired
  bool cancelled = false;  // we killed it because the CancelToken fired

  bool ok() const { return exit_code == 0 && !timed_out && !cancelled; }
  // "exit code 3", "killed by signal 9 (Killed)", "timed out after ...", ...
  std::string Describe() const;
};

enum class StdioMode {
  kCaptureCombined,  // stdin </dev/null, stdout+stderr into one pipe -> on_output
  kInherit,          // interactive: share our stdin/stdout/stderr (a tty)
};

enum class ProcessGroup {
  kNew,      // setpgid(0,0): kill(-pgid) reaches every descendant
  kInherit,  // stay in our group: needed to stay the tty's foreground job
};

struct ProcessOptions {
  std::vector<std::string> argv;                     // argv[0] is a path or PATH name
  std::optional<std::vector<std::string>> env;       // "K=V"; nullopt = inherit ours
  StdioMode stdio = StdioMode::kCaptureCombined;
  ProcessGroup group = ProcessGroup::kNew;
  std::chrono::milliseconds timeout{0};              // 0 = no timeout
  const CancelToken* cancel = nullptr;               // may be null
  // Called on the calling thread with each chunk of output as it arrives.
  std::function<void(std::string_view)> on_output;
};

// Runs the child to completion. Errors (Status) are about starting or waiting
// for it (argv empty, spawn failed); how the child itself ended is in ExitInfo.
// On timeout or cancellation the child's process group gets SIGKILL
// (ProcessGroup::kInherit: only the child), and RunProcess still reaps it.
Result<ExitInfo> RunProcess(const ProcessOptions& options);

}  // namespace crossfarm::worker
