// Real bubblewrap runs in a staged busybox root (the host's x86_64 busybox).
#include "worker/sandbox.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/worker/test_roots.h"
#include "worker/staging.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::ReadFile;
using testing::WriteFile;

TempDir MustTempDir() {
  auto d = TempDir::Create();
  EXPECT_TRUE(d.has_value());
  return std::move(*d);
}

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bb = testing::MakeBusyboxArtifact();
    ASSERT_TRUE(bb.has_value()) << bb.error().ToString();
    busybox_ = std::move(*bb);
    WriteFile(lib_.path() + "/usr/lib/libfoo.so", "original", 0444);
    testing::MakeReadOnly(lib_.path());
    std::vector<std::string> arts = {busybox_.path(), lib_.path()};
    auto root = StagedRoot::Create("", arts, StageMode::kHardLink);
    ASSERT_TRUE(root.has_value()) << root.error().ToString();
    root_.emplace(std::move(*root));
    spec_.root = root_->path();
    spec_.SetBuildDir(build_.path(), "/buildstream/test/hello.bst");
    spec_.SetInstallDir(install_.path(), "/buildstream-install");
    spec_.SetEnv("PATH", "/bin");
  }

  struct Output {
    ExitInfo exit;
    std::string log;
  };

  // Runs `script` with sh -c; the log goes through the callback.
  Output RunScript(const std::string& script) {
    Output out;
    RunControl control{.timeout = std::chrono::seconds(60), .cancel = nullptr};
    LogSink sink{.path = "", .callback = [&](std::string_view d) { out.log += d; }};
    auto r = sandbox_.Run(spec_, {"sh", "-c", script}, sink, control);
    EXPECT_TRUE(r.has_value()) << r.error().ToString();
    if (r) out.exit = *r;
    EXPECT_FALSE(out.exit.timed_out) << script;
    return out;
  }

  Sandbox sandbox_;
  TempDir busybox_ = MustTempDir();
  TempDir lib_ = MustTempDir();
  TempDir build_ = MustTempDir();
  TempDir install_ = MustTempDir();
  TempDir logs_ = MustTempDir();
  std::optional<StagedRoot> root_;
  SandboxSpec spec_;
};

TEST_F(SandboxTest, CommandOutputLandsInTheLogFileAndCallbackWithItsExitCode) {
  std::string log_path = logs_.path() + "/build.log";
  std::string streamed;
  LogSink sink{.path = log_path, .callback = [&](std::string_view d) { streamed += d; }};
  auto r = sandbox_.Run(spec_, {"sh", "-c", "echo hello; echo oops >&2; exit 7"}, sink);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->exit_code, 7);
  EXPECT_EQ(ReadFile(log_path), "hello\noops\n");
  EXPECT_EQ(streamed, "hello\noops\n");
}

TEST_F(SandboxTest, CommandListStopsAtTheFirstFailureAndSaysWhich) {
  std::string log_path = logs_.path() + "/build.log";
  auto r = sandbox_.RunCommands(spec_, {"echo one", "echo two; exit 3", "echo never"},
                                LogSink{.path = log_path, .callback = nullptr});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_TRUE(r->failure.has_value());
  EXPECT_EQ(r->failure->index, 1u);
  EXPECT_EQ(r->failure->exit.exit_code, 3);
  EXPECT_EQ(r->commands_run, 2u);
  std::string log = ReadFile(log_path);
  EXPECT_NE(log.find("one\n"), std::string::npos);
  EXPECT_NE(log.find("two\n"), std::string::npos);
  EXPECT_EQ(log.find("never"), std::string::npos);
  Status s = r->ToStatus(3);
  EXPECT_EQ(s.code(), StatusCode::kBuildFailed);
  EXPECT_EQ(s.message(), "command 2 of 3 failed with exit code 3: echo two; exit 3");
}

TEST_F(SandboxTest, CommandsRunWithShDashESoAFailingStepInsideACommandFailsIt) {
  auto r = sandbox_.RunCommands(spec_, {"false\necho after"}, LogSink{});
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->failure.has_value());
  EXPECT_EQ(r->failure->exit.exit_code, 1);
}

TEST_F(SandboxTest, AllCommandsSucceeding) {
  std::string log_path = logs_.path() + "/ok.log";
  auto r = sandbox_.RunCommands(spec_, {"echo a > a", "cat a"}, LogSink{.path = log_path});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->ok());
  EXPECT_EQ(r->commands_run, 2u);
  EXPECT_TRUE(r->ToStatus(2).ok());
  EXPECT_EQ(ReadFile(build_.path() + "/a"), "a\n");  // cwd is the build dir
}

TEST_F(SandboxTest, OnlyLoopbackExistsWithoutNetwork) {
  Output o = RunScript("cat /proc/net/dev");
  EXPECT_EQ(o.exit.exit_code, 0);
  EXPECT_NE(o.log.find("lo:"), std::string::npos) << o.log;
  int interfaces = 0;
  for (size_t p = 0; (p = o.log.find(':', p)) != std::string::npos; ++p) ++interfaces;
  EXPECT_EQ(interfaces, 1) << o.log;
}

// A listener on the host's 127.0.0.1; connect() succeeds via the backlog.
struct Listener {
  Listener() {
    fd.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(::listen(fd.get(), 8), 0);
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
  }
  UniqueFd fd;
  int port = 0;
};

TEST_F(SandboxTest, HostLoopbackIsUnreachableWithoutNetwork) {
  Listener l;
  // `-e true`: once connected, nc becomes `true` and exits 0.
  std::string script = "nc 127.0.0.1 " + std::to_string(l.port) + " -e true";
  Output o = RunScript(script);
  EXPECT_NE(o.exit.exit_code, 0) << o.log;
  // The same command reaches the listener when the element asks for network.
  spec_.network = Network::kShared;
  Output shared = RunScript(script);
  EXPECT_EQ(shared.exit.exit_code, 0) << shared.log;
}

TEST_F(SandboxTest, NoHostToolsAreVisibleAndUidIsZero) {
  ASSERT_TRUE(fs::exists("/usr/lib/x86_64-linux-gnu/libc.so.6"));  // on the host
  Output o = RunScript(
      "test -e /usr/bin/gcc && echo gcc; test -e /usr/lib/x86_64-linux-gnu/libc.so.6 && "
      "echo libc; test -e /usr/bin/bwrap && echo bwrap; id -u; id -g; ls /usr/lib");
  EXPECT_EQ(o.exit.exit_code, 0);
  EXPECT_EQ(o.log, "0\n0\nlibfoo.so\n");
}

TEST_F(SandboxTest, EnvironmentIsExactlyTheSpecs) {
  ::setenv("CROSSFARM_LEAK_CHECK", "leaked", 1);
  spec_.SetEnv("ELEMENT_VAR", "value");
  Output o = RunScript("env");
  ::unsetenv("CROSSFARM_LEAK_CHECK");
  EXPECT_NE(o.log.find("ELEMENT_VAR=value\n"), std::string::npos) << o.log;
  EXPECT_NE(o.log.find("PATH=/bin\n"), std::string::npos) << o.log;
  EXPECT_EQ(o.log.find("CROSSFARM_LEAK_CHECK"), std::string::npos) << o.log;
  EXPECT_EQ(o.log.find("HOME="), std::string::npos) << o.log;
}

TEST_F(SandboxTest, HostnameAndWorkingDirectoryComeFromTheSpec) {
  spec_.hostname = "crossfarm-test";
  Output o = RunScript("hostname; pwd");
  EXPECT_EQ(o.log, "crossfarm-test\n/buildstream/test/hello.bst\n");
}

TEST_F(SandboxTest, WritesToTheStagedRootNeverReachTheArtifactCache) {
  std::string cached = lib_.path() + "/usr/lib/libfoo.so";
  for (const char* attack :
       {"echo evil > /usr/lib/libfoo.so", "echo evil >> /usr/lib/libfoo.so",
        "chmod 666 /usr/lib/libfoo.so", "rm /usr/lib/libfoo.so", "touch /usr/lib/new",
        "ln /usr/lib/libfoo.so /buildstream-install/libfoo.so"}) {
    Output o = RunScript(attack);
    EXPECT_NE(o.exit.exit_code, 0) << attack << ": " << o.log;
  }
  EXPECT_EQ(ReadFile(cached), "original");
  struct stat st{};
  ASSERT_EQ(::stat(cached.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  EXPECT_FALSE(fs::exists(root_->path() + "/usr/lib/new"));
}

TEST_F(SandboxTest, BuildDirInstallDirAndTmpAreWritable) {
  Output o = RunScript("echo b > b && echo i > /buildstream-install/i && echo t > /tmp/t && "
                       "cat /tmp/t");
  EXPECT_EQ(o.exit.exit_code, 0) << o.log;
  EXPECT_EQ(ReadFile(build_.path() + "/b"), "b\n");
  EXPECT_EQ(ReadFile(install_.path() + "/i"), "i\n");
  EXPECT_FALSE(fs::exists(root_->path() + "/tmp/t"));  // /tmp is a tmpfs
}

TEST_F(SandboxTest, TimeoutKillsEveryProcessInTheSandbox) {
  std::string marker = std::to_string(600000 + ::getpid() % 90000);
  RunControl control{.timeout = 500ms, .cancel = nullptr};
  auto r = sandbox_.RunCommands(
      spec_, {"sleep " + marker + " & sleep " + marker + " & sleep " + marker}, LogSink{},
      control);
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->failure.has_value());
  EXPECT_TRUE(r->failure->exit.timed_out);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  bool any = true;
  while (any && std::chrono::steady_clock::now() < deadline) {
    any = false;
    for (const auto& e : fs::directory_iterator("/proc")) {
      std::string cmd = ReadFile(e.path().string() + "/cmdline");
      if (cmd.find(marker) != std::string::npos) any = true;
    }
  }
  EXPECT_FALSE(any) << "a sandboxed sleep " << marker << " survived the timeout";
}

TEST_F(SandboxTest, CancelStopsTheCommandListAsCancelled) {
  CancelToken token;
  LogSink sink{.path = "", .callback = [&](std::string_view d) {
                 if (d.find("ready") != std::string_view::npos) token.Cancel();
               }};
  RunControl control{.timeout = 0ms, .cancel = &token};
  auto r = sandbox_.RunCommands(spec_, {"echo ready; sleep 1000", "echo never"}, sink, control);
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->failure.has_value());
  EXPECT_TRUE(r->failure->exit.cancelled);
  EXPECT_EQ(r->failure->index, 0u);
  EXPECT_EQ(r->ToStatus(2).code(), StatusCode::kCancelled);
}

TEST_F(SandboxTest, InteractiveModeRunsTheGivenCommandWithoutANewSession) {
  auto r = sandbox_.RunInteractive(spec_, {"sh", "-c", "exit 5"});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->exit_code, 5);
}

TEST_F(SandboxTest, DetectsTheHostArchOfABusyboxRoot) {
  auto arch = DetectRootArch(root_->path());
  ASSERT_TRUE(arch.has_value()) << arch.error().ToString();
  EXPECT_EQ((*arch)->name, HostArch().name);
}

TEST(DetectRootArchTest, ResolvesAbsoluteSymlinksInsideTheRootNotOnTheHost) {
  TempDir root = MustTempDir();
  // An aarch64 ELF header (EM_AARCH64 = 183) at the root's /bin/busybox; the
  // host's /bin/busybox is x86_64, so following the link on the host gives x86_64.
  std::string header("\x7f" "ELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00",
                     20);
  WriteFile(root.path() + "/bin/busybox", header, 0755);
  fs::create_symlink("/bin/busybox", root.path() + "/bin/sh");
  auto arch = DetectRootArch(root.path());
  ASSERT_TRUE(arch.has_value()) << arch.error().ToString();
  EXPECT_EQ((*arch)->name, "aarch64");
}

TEST(DetectRootArchTest, ARootWithoutExecutablesIsAClearError) {
  TempDir root = MustTempDir();
  WriteFile(root.path() + "/bin/sh", "#!/bin/dash\n", 0755);
  auto arch = DetectRootArch(root.path());
  ASSERT_FALSE(arch.has_value());
  EXPECT_EQ(arch.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(arch.error().message().find("sandbox: build-arch"), std::string::npos);
}

TEST_F(SandboxTest, ForeignRootWithoutHandlerFailsBeforeStartingBwrap) {
  TempDir fake_binfmt = MustTempDir();
  WriteFile(fake_binfmt.path() + "/register", "");
  Sandbox sandbox(Sandbox::Options{.bwrap = "/nonexistent/bwrap",
                                   .binfmt_dir = fake_binfmt.path()});
  spec_.arch = *LookupArch("s390x");
  auto r = sandbox.Run(spec_, {"true"}, LogSink{});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.error().message().find("s390x"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("crossfarm setup binfmt"), std::string::npos);
}

TEST_F(SandboxTest, AMissingRootIsNotFound) {
  spec_.root = "/nonexistent/root";
  auto r = sandbox_.Run(spec_, {"true"}, LogSink{});
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error().IsNotFound());
}

}  // namespace
}  // namespace crossfarm::worker
