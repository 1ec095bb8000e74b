// What a user sees of work they do not run in front of them (issue 21
// "Remote transparency"): upload and download progress with bytes and rate,
// the live view's phase and last log line, and `log -f` of a job running on
// the cluster (through the scheduler) or in another local process. Real
// crossfarm-cas, crossfarm-scheduler and crossfarm-worker daemons on loopback.
#include <gtest/gtest.h>

#include <regex>

#include "tests/e2e/cluster_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// slow.bst prints a line, runs for a few seconds (long enough for a `log -f`
// to join, a sandbox cannot wait for the test), prints another and installs.
void WriteProject(const fs::path& p) {
  WriteBusyboxBaseProject(p, "transparency", {"sh", "echo", "sleep", "mkdir", "head", "cat"});
  fs::create_directories(p / "files/data");
  WriteFile(p / "elements/slow.bst", R"(kind: manual
build-depends:
- base.bst
sources:
- kind: local
  path: files/data
config:
  configure-commands:
  - echo configuring
  build-commands:
  - echo "first line of the build"
  - sleep 8
  - echo "last line of the build"
  install-commands:
  - mkdir -p %{install-root}
  - cat big.bin > %{install-root}/big.bin
)");
}

TEST(RemoteTransparencyE2ETest, ProgressAndLiveLogsOfARemoteBuild) {
  TempTree dir("transparency");
  const fs::path p = dir.path() / "project";
  auto P = [&](const std::string& name) { return (dir.path() / name).string(); };
  WriteProject(p);
  ASSERT_EQ(RunCmd("head -c 2000000 /dev/urandom > " + (p / "files/data/big.bin").string()).exit_code, 0);
  const std::string cf = BuildBin("client/crossfarm") + " -C " + p.string() + " --mirror-dir " + TestCache() +
                         "/mirror --cache-dir " + P("client-cache");
  auto track = RunCmd(cf + " source track --save busybox.bst");
  ASSERT_EQ(track.exit_code, 0) << track.output;

  ClusterKeys keys(dir.path());
  Daemon cas({BuildBin("cas/crossfarm-cas"), "--listen", "tcp://127.0.0.1:*", "--dir", P("cas-store"), "--key",
              P("cas.key"), "--allow", P("cas-allow")},
             P("cas.out"), P("cas.err"));
  const std::string cas_url = cas.Endpoint();
  ASSERT_FALSE(cas_url.empty()) << cas.Log();
  Daemon sched({BuildBin("scheduler/crossfarm-scheduler"), "--listen", "tcp://127.0.0.1:*", "--state",
                P("state"), "--key", P("sched.key"), "--clients", P("clients"), "--workers", P("workers"),
                "--cas", cas_url, "--cas-key", P("cas.pub")},
               P("sched.out"), P("sched.err"));
  const std::string sched_url = sched.Endpoint();
  ASSERT_FALSE(sched_url.empty()) << sched.Log();
  Daemon worker({BuildBin("worker/crossfarm-worker"), "--name", "w1", "--scheduler", sched_url,
                 "--scheduler-key", P("sched.pub"), "--cas", cas_url, "--cas-key", P("cas.pub"), "--key",
                 P("w1.key"), "--slots", "2", "--cache", P("w1-cache"), "--heartbeat-ms", "200"},
                P("w1.out"), P("w1.err"));
  const std::string remote = cf + " --remote " + sched_url + " --remote-key " + P("sched.pub") + " --key " +
                             P("client.key");
  ASSERT_TRUE(WaitFor([&] { return RunCmd(remote + " status").output.find("workers: 1") != std::string::npos; }, 20s))
      << worker.Log();

  // The build in the background, without a terminal, a status line each second.
  ASSERT_EQ(RunCmd("(CROSSFARM_PROGRESS_INTERVAL=1 " + remote + " build slow.bst > " + P("build.out") +
                   " 2>&1; echo $? > " + P("build.rc") + ") > /dev/null 2>&1 &").exit_code, 0);
  // log -f of the running job, from another client, through the scheduler.
  ASSERT_TRUE(WaitFor([&] { return ReadFile(P("build.out")).find("START  slow.bst") != std::string::npos; }, 120s))
      << ReadFile(P("build.out"));
  ASSERT_EQ(ReadFile(P("build.rc")), "") << "the build ended before log -f started";
  auto follow = RunCmd(remote + " log -f slow.bst");
  EXPECT_EQ(follow.exit_code, 0) << follow.output;
  EXPECT_NE(follow.output.find("first line of the build"), std::string::npos) << follow.output;
  EXPECT_NE(follow.output.find("last line of the build"), std::string::npos) << follow.output;
  EXPECT_NE(follow.output.find("crossfarm: slow.bst done"), std::string::npos) << follow.output;
  ASSERT_TRUE(WaitFor([&] { return !ReadFile(P("build.rc")).empty(); }, 120s));
  const std::string out = ReadFile(P("build.out"));
  EXPECT_EQ(ReadFile(P("build.rc")), "0\n") << out;
  // Sources went up with a figure; the live status line named the phase.
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(uploading sources: [0-9.]+ MiB up, .* down in [0-9.]+ s \([0-9.]+ [KMG]?i?B/s\))")))
      << out;
  EXPECT_NE(out.find("slow.bst 00:0"), std::string::npos) << out;
  EXPECT_NE(out.find(" build: first line of the build"), std::string::npos) << out;

  // A finished job: log -f prints its stored log and ends.
  auto again = RunCmd(remote + " log -f slow.bst");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("last line of the build"), std::string::npos) << again.output;

  // The checkout downloads with a figure too.
  auto co = RunCmd(remote + " checkout --deps none slow.bst " + P("out"));
  ASSERT_EQ(co.exit_code, 0) << co.output;
  EXPECT_TRUE(std::regex_search(co.output, std::regex(R"(downloading artifacts: .* up, 1\.[0-9] MiB down in )")))
      << co.output;
  EXPECT_EQ(fs::file_size(P("out") + "/big.bin"), 2000000u);
}

// `log -f` in one process while an embedded build in another writes the log.
TEST(RemoteTransparencyE2ETest, LogFollowTailsAnEmbeddedBuildOfAnotherProcess) {
  TempTree dir("logf");
  const fs::path p = dir.path() / "project";
  auto P = [&](const std::string& name) { return (dir.path() / name).string(); };
  WriteProject(p);
  WriteFile(p / "files/data/big.bin", "small\n");
  const std::string cf = BuildBin("client/crossfarm") + " -C " + p.string() + " --mirror-dir " + TestCache() +
                         "/mirror --cache-dir " + P("cache");
  ASSERT_EQ(RunCmd(cf + " source track --save busybox.bst").exit_code, 0);
  ASSERT_EQ(RunCmd(cf + " build base.bst").exit_code, 0);
  // (The subshell's own output goes elsewhere: RunCmd would wait for it.)
  ASSERT_EQ(RunCmd("(" + cf + " build slow.bst > " + P("build.out") + " 2>&1; echo $? > " + P("build.rc") +
                   ") > /dev/null 2>&1 &").exit_code, 0);
  // Once the job has started (its log exists), follow it to the end.
  ASSERT_TRUE(WaitFor([&] { return RunCmd(cf + " log slow.bst").output.find("configuring") != std::string::npos; },
                      60s))
      << ReadFile(P("build.out"));
  ASSERT_EQ(ReadFile(P("build.rc")), "") << "the build ended before log -f started";
  auto follow = RunCmd(cf + " log -f slow.bst");
  EXPECT_EQ(follow.exit_code, 0) << follow.output;
  EXPECT_NE(follow.output.find("last line of the build"), std::string::npos) << follow.output;
  EXPECT_NE(follow.output.find("# crossfarm: success"), std::string::npos) << follow.output;
  // It ended with the job: the build is done or about to record it.
  EXPECT_TRUE(WaitFor([&] { return ReadFile(P("build.rc")) == "0\n"; }, 30s)) << ReadFile(P("build.out"));
}

}  // namespace
}  // namespace crossfarm::e2e
