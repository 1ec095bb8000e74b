#include "worker/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

extern char** environ;

namespace crossfarm::worker {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) Reset(other.Release());
  return *this;
}

int UniqueFd::Release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::Reset(int fd) {
  // close() must not be retried on EINTR on Linux: the fd is gone either way.
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

CancelToken::CancelToken() : event_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

void CancelToken::Cancel() {
  uint64_t one = 1;
  // A full counter (EAGAIN) still leaves the fd readable: nothing to handle.
  [[maybe_unused]] ssize_t n = ::write(event_.get(), &one, sizeof(one));
}

bool CancelToken::cancelled() const {
  pollfd p{event_.get(), POLLIN, 0};
  int r;
  do r = ::poll(&p, 1, 0);
  while (r < 0 && errno == EINTR);
  return r > 0 && (p.revents & POLLIN);
}

std::string ExitInfo::Describe() const {
  std::string how;
  if (signal > 0) {
    how = fmt::format("killed by signal {} ({})", signal, ::strsignal(signal));
  } else {
    how = fmt::format("exit code {}", exit_code);
  }
  if (timed_out) return "timed out (" + how + ")";
  if (cancelled) return "cancelled (" + how + ")";
  return how;
}

namespace {

using Clock = std::chrono::steady_clock;
// After the child exits, stragglers are killed; their pipe ends close at once, but
// do not hang forever on a writer outside the process group.
constexpr std::chrono::milliseconds kDrainGrace{2000};

// Keeps the C strings alive for posix_spawn.
struct CArgv {
  explicit CArgv(const std::vector<std::string>& v) {
    for (const auto& s : v) ptrs.push_back(const_cast<char*>(s.c_str()));
    ptrs.push_back(nullptr);
  }
  std::vector<char*> ptrs;
};

// posix_spawn attribute/file-action objects with their destroy calls.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

void ConfigureSpawn(const ProcessOptions& o, int out_fd, SpawnSetup& s) {
  if (o.stdio == StdioMode::kCaptureCombined) {
    posix_spawn_file_actions_addopen(&s.actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&s.actions, out_fd, 1);
    posix_spawn_file_actions_adddup2(&s.actions, out_fd, 2);
  }
  posix_spawn_file_actions_addclosefrom_np(&s.actions, 3);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&s.attr, &empty);
  posix_spawnattr_setsigdefault(&s.attr, &all);  // undo our SIG_IGN of SIGPIPE etc.
  if (o.group == ProcessGroup::kNew) {
    flags |= POSIX_SPAWN_SETPGROUP;
    posix_spawnattr_setpgroup(&s.attr, 0);
  }
  posix_spawnattr_setflags(&s.attr, flags);
}

Result<pid_t> Spawn(const ProcessOptions& o, int out_fd) {
  if (o.argv.empty()) return Err(Status::InvalidArgument("RunProcess: empty argv"));
  SpawnSetup setup;
  ConfigureSpawn(o, out_fd, setup);
  CArgv argv(o.argv);
  std::optional<CArgv> envp;
  if (o.env) envp.emplace(*o.env);
  pid_t pid = -1;
  int err = ::posix_spawnp(&pid, argv.ptrs[0], &setup.actions, &setup.attr, argv.ptrs.data(),
                           envp ? envp->ptrs.data() : environ);
  if (err != 0) return Err(Status::FromErrno("cannot start " + o.argv[0], err));
  return pid;
}

// Waits for the state of one child: reads its output, watches the pidfd, the
// deadline and the cancel token. Fills the timed_out/cancelled flags.
class Waiter {
 public:
  Waiter(const ProcessOptions& o, pid_t pid, UniqueFd out, UniqueFd pidfd)
      : o_(o), pid_(pid), out_(std::move(out)), pidfd_(std::move(pidfd)) {}

  ExitInfo Run() {
    if (o_.timeout.count() > 0) deadline_ = Clock::now() + o_.timeout;
    while (!exited_ || (out_.valid() && Clock::now() < drain_deadline_)) Step();
    return Reap();
  }

 private:
  int PollTimeoutMs() const {
    auto until = exited_ ? std::optional(drain_deadline_) : (killed_ ? std::nullopt : deadline_);
    if (!until) return -1;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*until - Clock::now());
    return static_cast<int>(std::max<int64_t>(0, ms.count()) + 1);
  }

  void Step() {
    pollfd fds[3] = {{out_.get(), POLLIN, 0},
                     {exited_ ? -1 : pidfd_.get(), POLLIN, 0},
                     {o_.cancel && !killed_ ? o_.cancel->fd() : -1, POLLIN, 0}};
    int r = ::poll(fds, 3, PollTimeoutMs());
    if (r < 0) return;  // EINTR: just loop
    if (fds[0].revents) ReadOutput();
    if (fds[1].revents & POLLIN) OnExit();
    if (fds[2].revents & POLLIN) Kill(/*timeout=*/false);
    if (!killed_ && !exited_ && deadline_ && Clock::now() >= *deadline_) Kill(true);
  }

  void ReadOutput() {
    char buf[16384];
    ssize_t n = ::read(out_.get(), buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
      out_.Reset();
      return;
    }
    if (o_.on_output) o_.on_output(std::string_view(buf, static_cast<size_t>(n)));
  }

  void OnExit() {
    exited_ = true;
    drain_deadline_ = Clock::now() + kDrainGrace;
    // Stragglers left in the group by the exited leader (still a zombie, so its
    // pid cannot have been reused as a pgid).
    if (o_.group == ProcessGroup::kNew) ::kill(-pid_, SIGKILL);
  }

  void Kill(bool timeout) {
    if (killed_) return;
    killed_ = true;
    (timeout ? info_.timed_out : info_.cancelled) = true;
    ::kill(o_.group == ProcessGroup::kNew ? -pid_ : pid_, SIGKILL);
  }

  ExitInfo Reap() {
    int status = 0;
    pid_t r;
    do r = ::waitpid(pid_, &status, 0);
    while (r < 0 && errno == EINTR);
    if (r == pid_ && WIFEXITED(status)) info_.exit_code = WEXITSTATUS(status);
    if (r == pid_ && WIFSIGNALED(status)) info_.signal = WTERMSIG(status);
    return info_;
  }

  const ProcessOptions& o_;
  pid_t pid_;
  UniqueFd out_;
  UniqueFd pidfd_;
  std::optional<Clock::time_point> deadline_;
  Clock::time_point drain_deadline_{};
  bool exited_ = false;
  bool killed_ = false;
  ExitInfo info_;
};

}  // namespace

Result<ExitInfo> RunProcess(const ProcessOptions& options) {
  UniqueFd read_end, write_end;
  if (options.stdio == StdioMode::kCaptureCombined) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return Err(Status::FromErrno("pipe2", errno));
    read_end.Reset(p[0]);
    write_end.Reset(p[1]);
  }
  CF_ASSIGN_OR_RETURN(pid_t pid, Spawn(options, write_end.get()));
  write_end.Reset();  // only the child holds the write end now: EOF when it is done
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) {
    int err = errno;
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return Err(Status::FromErrno("pidfd_open", err));
  }
  Waiter waiter(options, pid, std::move(read_end), std::move(pidfd));
  return waiter.Run();
}

}  // namespace crossfarm::worker
