#include "worker/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <thread>

namespace crossfarm::worker {
namespace {

using namespace std::chrono_literals;

ProcessOptions Sh(std::string script) {
  ProcessOptions o;
  o.argv = {"/bin/sh", "-c", std::move(script)};
  return o;
}

struct Captured {
  ExitInfo exit;
  std::string output;
};

Captured RunCaptured(ProcessOptions o) {
  Captured c;
  o.on_output = [&](std::string_view d) { c.output += d; };
  auto r = RunProcess(o);
  EXPECT_TRUE(r.has_value()) << r.error().ToString();
  if (r) c.exit = *r;
  return c;
}

// Pids whose command line contains `marker` (our own sandboxes' sleepers).
std::vector<int> ProcessesWithArg(const std::string& marker) {
  std::vector<int> pids;
  DIR* d = ::opendir("/proc");
  while (dirent* e = d ? ::readdir(d) : nullptr) {
    int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream in("/proc/" + std::string(e->d_name) + "/cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), {});
    for (auto& ch : cmd) ch = ch == '\0' ? ' ' : ch;
    if (cmd.find(marker) != std::string::npos) pids.push_back(pid);
  }
  if (d) ::closedir(d);
  return pids;
}

bool AllGoneWithin(const std::string& marker, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ProcessesWithArg(marker).empty()) return true;
    std::this_thread::sleep_for(5ms);  // polling interval, not a wait for an event
  }
  return ProcessesWithArg(marker).empty();
}

TEST(RunProcessTest, CapturesStdoutAndStderrTogetherAndTheExitCode) {
  Captured c = RunCaptured(Sh("echo out; echo err >&2; exit 3"));
  EXPECT_EQ(c.output, "out\nerr\n");
  EXPECT_EQ(c.exit.exit_code, 3);
  EXPECT_EQ(c.exit.signal, 0);
  EXPECT_FALSE(c.exit.ok());
  EXPECT_EQ(c.exit.Describe(), "exit code 3");
}

TEST(RunProcessTest, ReportsDeathBySignal) {
  Captured c = RunCaptured(Sh("kill -9 $$"));
  EXPECT_EQ(c.exit.signal, 9);
  EXPECT_NE(c.exit.Describe().find("signal 9"), std::string::npos);
}

TEST(RunProcessTest, StdinIsDevNull) {
  Captured c = RunCaptured(Sh("cat; echo done"));
  EXPECT_EQ(c.output, "done\n");
}

TEST(RunProcessTest, EnvironmentIsExactlyTheGivenOne) {
  ProcessOptions o;
  o.argv = {"/usr/bin/env"};
  o.env = std::vector<std::string>{"ONLY=1"};
  Captured c = RunCaptured(o);
  EXPECT_EQ(c.output, "ONLY=1\n");
}

TEST(RunProcessTest, ChildSeesNoFdsBeyondStdio) {
  int leaked = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(leaked, 3);
  Captured c = RunCaptured(Sh("ls /proc/self/fd"));
  ::close(leaked);
  // ls itself holds one fd for the directory it reads.
  EXPECT_EQ(c.output, "0\n1\n2\n3\n");
}

TEST(RunProcessTest, AMissingProgramIsAnError) {
  ProcessOptions o;
  o.argv = {"/nonexistent/program"};
  auto r = RunProcess(o);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("/nonexistent/program"), std::string::npos);
}

TEST(RunProcessTest, TimeoutKillsTheWholeProcessGroup) {
  std::string marker = std::to_string(900000 + ::getpid() % 90000);
  ProcessOptions o = Sh("sleep " + marker + " & sleep " + marker + "; echo unreachable");
  o.timeout = 300ms;
  Captured c = RunCaptured(o);
  EXPECT_TRUE(c.exit.timed_out);
  EXPECT_EQ(c.exit.signal, 9);
  EXPECT_EQ(c.output, "");
  EXPECT_TRUE(AllGoneWithin(marker, 10s));
}

TEST(RunProcessTest, CancelFromAnotherThreadKillsTheChild) {
  CancelToken token;
  std::promise<void> started;
  std::string marker = std::to_string(800000 + ::getpid() % 90000);
  ProcessOptions o = Sh("echo ready; sleep " + marker);
  o.cancel = &token;
  bool signalled = false;
  o.on_output = [&](std::string_view d) {
    if (!signalled && d.find("ready") != std::string_view::npos) {
      signalled = true;
      started.set_value();
    }
  };
  std::thread canceller([&] {
    started.get_future().wait();
    token.Cancel();
  });
  auto r = RunProcess(o);
  canceller.join();
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->cancelled);
  EXPECT_FALSE(r->timed_out);
  EXPECT_TRUE(token.cancelled());
  EXPECT_TRUE(AllGoneWithin(marker, 10s));
}

TEST(RunProcessTest, BackgroundStragglersDoNotOutliveTheChild) {
  std::string marker = std::to_string(700000 + ::getpid() % 90000);
  Captured c = RunCaptured(Sh("sleep " + marker + " & echo parent-done"));
  EXPECT_EQ(c.exit.exit_code, 0);
  EXPECT_EQ(c.output, "parent-done\n");
  EXPECT_TRUE(AllGoneWithin(marker, 10s));
}

}  // namespace
}  // namespace crossfarm::worker
