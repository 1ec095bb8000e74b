// The real crossfarm-cas binary: SIGKILL during uploads, restart, nothing lost.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "cas/cas.h"
#include "tests/cas/test_util.h"

extern char** environ;

namespace crossfarm::cas {
namespace {

using testing::RandomBytes;
using testing::TempDir;

// A crossfarm-cas child process; its first stdout line names the endpoint.
class Daemon {
 public:
  Daemon(const std::string& listen, const std::string& dir) {
    int pipe_fds[2];
    EXPECT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    std::vector<std::string> args = {CROSSFARM_CAS_BINARY, "--listen", listen, "--dir", dir};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(::posix_spawn(&pid_, CROSSFARM_CAS_BINARY, &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[1]);
    out_ = pipe_fds[0];
  }
  ~Daemon() {
    if (pid_ > 0) Kill(SIGKILL);
    if (out_ >= 0) ::close(out_);
  }
  // Reads "endpoint=..." within a deadline; empty on failure.
  std::string Endpoint() {
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[256];
      ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    if (!line.starts_with("endpoint=") || line.find('\n') == std::string::npos) return "";
    return line.substr(9, line.find('\n') - 9);
  }
  int Kill(int sig) {
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

// Polls `done` until it holds or 60 s pass.
bool WaitFor(const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

std::string Payload(uint32_t i) {
  // Every fifth upload is a chunked blob: its manifest must never be half there.
  return RandomBytes(i % 5 == 0 ? 2 * kChunkSize + i : 20000 + i, i);
}

TEST(DaemonTest, AcknowledgedUploadsSurviveSigkillAndNothingPartialIsVisible) {
  TempDir dir;
  auto first = std::make_unique<Daemon>("tcp://127.0.0.1:*", dir / "store");
  std::string endpoint = first->Endpoint();
  ASSERT_FALSE(endpoint.empty());
  RemoteOptions options;
  options.attempt_timeout = std::chrono::milliseconds(500);
  options.deadline = std::chrono::seconds(60);
  auto cas = OpenCas(endpoint, {.remote = options});
  ASSERT_OK(cas);

  std::atomic<bool> stop{false};
  std::atomic<uint32_t> acked{0};
  Status upload_error;
  std::thread uploader([&] {
    for (uint32_t i = 0; !stop; ++i) {
      auto d = (*cas)->Put(Payload(i));
      if (!d) {
        upload_error = d.error();
        return;
      }
      acked = i + 1;
    }
  });
  ASSERT_TRUE(WaitFor([&] { return acked >= 15; }));
  int status = first->Kill(SIGKILL);
  EXPECT_TRUE(WIFSIGNALED(status));
  uint32_t at_kill = acked;
  Daemon second(endpoint, dir / "store");  // same port, same directory
  EXPECT_EQ(second.Endpoint(), endpoint);
  bool progressed = WaitFor([&] { return acked >= at_kill + 10 || !upload_error.ok(); });
  stop = true;
  uploader.join();
  ASSERT_TRUE(progressed);
  ASSERT_TRUE(upload_error.ok()) << upload_error.ToString();

  auto check = OpenCas(endpoint, {.remote = options});
  ASSERT_OK(check);
  for (uint32_t i = 0; i < acked + 1; ++i) {
    std::string data = Payload(i);
    Digest d = Digest::OfBytes(data);
    auto missing = (*check)->FindMissing(std::span(&d, 1));
    ASSERT_OK(missing);
    if (i < acked) {
      EXPECT_TRUE(missing->empty()) << "acknowledged upload " << i << " lost";
    }
    if (!missing->empty()) continue;
    auto got = (*check)->Get(d);  // present means complete
    ASSERT_OK(got);
    EXPECT_TRUE(*got == data) << i;
  }
  auto verify = (*check)->Verify();
  ASSERT_OK(verify);
  EXPECT_EQ(verify->corrupt_removed, 0u);
  status = second.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(DaemonTest, BadQuotaIsAUsageError) {
  TempDir dir;
  std::string cmd = std::string(CROSSFARM_CAS_BINARY) + " --listen tcp://127.0.0.1:* --dir " +
                    (dir / "s") + " --quota 10X 2>/dev/null";
  int status = std::system(cmd.c_str());
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

}  // namespace
}  // namespace crossfarm::cas
