#include "worker/plugin_host.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

extern char** environ;

namespace crossfarm::worker {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kPluginStartTimeout = std::chrono::minutes(2);

Result<std::pair<UniqueFd, UniqueFd>> Pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Err(Status::FromErrno("pipe2", errno));
  return std::pair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::vector<std::string> HostArgv(const PluginHostOptions& o) {
  std::vector<std::string> argv;
  // No network for a plugin outside fetch/track: an empty network namespace,
  // everything else as ours (the host reads the project, writes the job's root).
  if (!o.network)
    // No --die-with-parent: its PDEATHSIG fires when the *thread* that started
    // the host ends, and pooled hosts outlive the job thread that started
    // them. A host whose crossfarm is gone gets EOF on stdin and exits.
    argv = {"bwrap", "--dev-bind", "/", "/", "--unshare-net", "--"};
  // Debian's python3, the one python3-buildstream is installed for (not
  // whatever python3 comes first in PATH).
  argv.push_back("/usr/bin/python3");
  argv.push_back("-u");
  argv.push_back("-B");  // no __pycache__ in the project's plugin directories
  argv.push_back(o.program.empty() ? DefaultPluginHostProgram() : o.program);
  return argv;
}

// The traceback's last lines: where in the plugin it raised.
std::string TracebackTail(const std::string& tb, size_t lines) {
  size_t pos = tb.size();
  while (pos > 0 && tb[pos - 1] == '\n') --pos;
  for (size_t n = 0; n <= lines && pos != std::string::npos && pos > 0; ++n)
    pos = tb.rfind('\n', pos - 1);
  return pos == std::string::npos ? tb : tb.substr(pos + 1);
}

}  // namespace

std::string DefaultPluginHostProgram() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("CROSSFARM_PLUGIN_HOST"); env && *env) return env;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path installed = exe.parent_path().parent_path() / "share/crossfarm/plugin_host.py";
    if (fs::exists(installed, ec)) return installed.string();
  }
  return std::string(CROSSFARM_BUILD_SHARE_DIR) + "/plugin_host.py";
}

std::chrono::milliseconds DefaultPluginTimeout() {
  if (const char* env = std::getenv("CROSSFARM_PLUGIN_TIMEOUT"); env && *env) {
    char* end = nullptr;
    double s = std::strtod(env, &end);
    if (end && *end == '\0' && s >= 0) return std::chrono::milliseconds(static_cast<long>(s * 1000));
  }
  return PluginHostOptions{}.timeout;
}

Result<std::unique_ptr<PluginHost>> PluginHost::Start(const PluginHostOptions& options) {
  std::unique_ptr<PluginHost> host(new PluginHost());
  host->options_ = options;
  CF_ASSIGN_OR_RETURN(auto in, Pipe());
  CF_ASSIGN_OR_RETURN(auto out, Pipe());
  // The host's stderr (its own crash, plugins' prints outside a request) is
  // kept in memory and quoted when it dies.
  host->stderr_ = UniqueFd(::memfd_create("plugin-host-stderr", MFD_CLOEXEC));
  if (!host->stderr_.valid()) return Err(Status::FromErrno("memfd_create", errno));
  std::vector<std::string> argv = HostArgv(options);
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in.first.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out.second.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, host->stderr_.get(), 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  int rc = ::posix_spawnp(&host->pid_, cargv[0], &fa, &attr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Err(Status::FromErrno("starting the plugin host (" + argv[0] + ")", rc));
  host->to_host_ = std::move(in.second);
  host->from_host_ = std::move(out.first);
  // The child's ends: closed here, so its death is an EOF for us.
  in.first.Reset();
  out.second.Reset();
  // Importing buildstream takes seconds on a loaded machine: the start-up is
  // not the plugin's time, and gets a fixed allowance.
  CF_ASSIGN_OR_RETURN(Json hello, host->Receive("start-up", kPluginStartTimeout));
  if (hello.value("hello", "") != "crossfarm-plugin-host" ||
      hello.value("version", 0) != kPluginProtocolVersion)
    return Err(host->Fail("the plugin host speaks another protocol: " + hello.dump()));
  return host;
}

PluginHost::~PluginHost() {
  if (pid_ <= 0) return;
  to_host_.Reset();  // EOF: the host exits on its own
  for (int i = 0; i < 50; ++i) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    ::usleep(2000);
  }
  ::kill(-pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

Status PluginHost::Fail(std::string what) {
  if (pid_ > 0 && !dead_) {
    ::kill(-pid_, SIGKILL);
    int status = 0;
    if (::waitpid(pid_, &status, 0) == pid_) {
      if (WIFEXITED(status)) what += " (exit code " + std::to_string(WEXITSTATUS(status)) + ")";
      else if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
        what += " (killed by signal " + std::to_string(WTERMSIG(status)) + ")";
    }
    pid_ = -1;
  }
  dead_ = true;
  std::string tail = StderrTail();
  if (!tail.empty()) what += "\n  plugin host stderr: " + tail;
  return Status::Unavailable(what);
}

std::string PluginHost::StderrTail() const {
  if (!stderr_.valid()) return "";
  off_t size = ::lseek(stderr_.get(), 0, SEEK_END);
  if (size <= 0) return "";
  off_t from = size > 1500 ? size - 1500 : 0;
  std::string buf(static_cast<size_t>(size - from), '\0');
  ssize_t n = ::pread(stderr_.get(), buf.data(), buf.size(), from);
  buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
  while (!buf.empty() && buf.back() == '\n') buf.pop_back();
  return buf;
}

Status PluginHost::Send(const Json& frame) {
  if (dead_) return Status::Unavailable("the plugin host is gone");
  std::string body = frame.dump(-1, ' ', false, Json::error_handler_t::replace);
  uint32_t n = static_cast<uint32_t>(body.size());
  std::string data = {char(n >> 24), char(n >> 16), char(n >> 8), char(n)};
  data += body;
  // A dead host's pipe raises SIGPIPE, which would kill crossfarm: block it
  // on this thread while writing, and consume one the write raised (EPIPE).
  sigset_t pipe_set, saved;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &saved);
  size_t off = 0;
  bool broken = false;
  while (off < data.size()) {
    ssize_t w = ::write(to_host_.get(), data.data() + off, data.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      broken = true;
      break;
    }
    off += static_cast<size_t>(w);
  }
  if (broken && !sigismember(&saved, SIGPIPE)) {
    timespec zero{0, 0};
    while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (broken) return Fail("the plugin host closed its input");
  return Status::Ok();
}

Result<Json> PluginHost::Receive(std::string_view during, std::chrono::milliseconds timeout) {
  if (dead_) return Err(Status::Unavailable("the plugin host is gone"));
  auto deadline = Clock::now() + timeout;
  std::string buf;
  size_t want = 4;
  bool header = true;
  while (buf.size() < want) {
    int wait_ms = -1;
    if (timeout.count() > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0)
        return Err(Fail("the plugin did not answer within " +
                        std::to_string(timeout.count() / 1000.0).substr(0, 5) +
                        " s in " + std::string(during) + " (hung?)"));
      wait_ms = static_cast<int>(left.count());
    }
    pollfd p{from_host_.get(), POLLIN, 0};
    int r = ::poll(&p, 1, wait_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;  // the deadline check above reports it
    char chunk[65536];
    ssize_t n = ::read(from_host_.get(), chunk, std::min(sizeof chunk, want - buf.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Err(Fail("the plugin host died in " + std::string(during)));
    buf.append(chunk, static_cast<size_t>(n));
    if (header && buf.size() == 4) {
      auto* b = reinterpret_cast<const unsigned char*>(buf.data());
      uint32_t len = (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | b[3];
      if (len > kMaxPluginFrame || len == 0)
        return Err(Fail("the plugin host wrote garbage on its pipe in " + std::string(during) +
                        " (a frame of " + std::to_string(len) + " bytes)"));
      header = false;
      buf.clear();
      want = len;
    }
  }
  Json frame = Json::parse(buf, nullptr, /*allow_exceptions=*/false);
  if (frame.is_discarded() || !frame.is_object())
    return Err(Fail("the plugin host wrote garbage on its pipe in " + std::string(during) +
                    ": " + buf.substr(0, 80)));
  return frame;
}

Result<Json> PluginHost::Request(const Json& request, const PluginCall& on_call,
                                 const PluginLog& log) {
  std::string op = request.value("op", "?");
  CF_TRY(Send(request));
  for (;;) {
    CF_ASSIGN_OR_RETURN(Json frame, Receive(op, options_.timeout));
    if (log && frame.contains("log") && frame["log"].is_string() &&
        !frame["log"].get_ref<const std::string&>().empty())
      log(frame["log"].get_ref<const std::string&>());
    if (frame.contains("call")) {
      Result<Json> answer = on_call ? on_call(frame)
                                    : Err(Status::InvalidArgument("no calls during " + op));
      CF_TRY(Send(answer ? *answer : Json{{"error", answer.error().message()}}));
      continue;
    }
    if (!frame.contains("ok") || !frame["ok"].is_boolean())
      return Err(Fail("the plugin host wrote garbage on its pipe in " + op + ": " +
                      frame.dump().substr(0, 80)));
    if (frame["ok"].get<bool>()) return frame.value("result", Json::object());
    std::string detail = frame.value("detail", "");
    std::string msg = frame.value("error", "error");
    if (!detail.empty()) msg += "\n" + TracebackTail(detail, 3);
    return Err(Status::InvalidArgument(msg));
  }
}

PluginHostPool::Lease::~Lease() {
  if (!host_ || !pool_ || host_->dead()) return;
  std::lock_guard lock(pool_->mu_);
  pool_->idle_.push_back(std::move(host_));
}

Result<PluginHostPool::Lease> PluginHostPool::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto host = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(host));
    }
    ++started_;
  }
  CF_ASSIGN_OR_RETURN(auto host, PluginHost::Start(options_));
  return Lease(this, std::move(host));
}

}  // namespace crossfarm::worker
