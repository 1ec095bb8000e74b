// Workspaces on a cluster (docs/workspaces.md, "Remote builds"): real
// crossfarm-cas, crossfarm-scheduler and crossfarm-worker daemons on loopback
// with CurveZMQ keys; a workspaced element built with --remote, edited and
// built again: the second upload is the edited file only.
#include <gtest/gtest.h>

#include "tests/e2e/cluster_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(WorkspaceClusterE2ETest, SecondBuildUploadsOnlyTheEditedFile) {
  TempTree dir("ws-cluster");
  const fs::path p = dir.path() / "project";
  auto P = [&](const std::string& name) { return (dir.path() / name).string(); };
  WriteFile(p / "project.conf", "name: wscluster\nelement-path: elements\nvariables:\n  strip-binaries: \"\"\n"
                                "environment:\n  PATH: /usr/bin:/bin\n");
  WriteFile(p / "elements/busybox.bst",
            "kind: import\nsources:\n- kind: deb\n  arch: amd64\n  packages: [busybox-static]\n");
  fs::create_directories(p / "files/links/usr/bin");
  for (const char* applet : {"sh", "cat", "cp", "mkdir"})
    fs::create_symlink("busybox", p / "files/links/usr/bin" / applet);
  WriteFile(p / "elements/links.bst", "kind: import\nsources:\n- kind: local\n  path: files/links\n");
  WriteFile(p / "elements/base.bst", "kind: stack\ndepends:\n- busybox.bst\n- links.bst\n");
  WriteFile(p / "elements/data.bst",
            "kind: manual\nbuild-depends:\n- base.bst\nsources:\n- kind: local\n  path: files/data\n"
            "config:\n  build-commands:\n  - mkdir -p %{install-root}\n"
            "  - cat small.txt > %{install-root}/small.txt\n  - cp big.bin %{install-root}/big.bin\n");
  WriteFile(p / "files/data/small.txt", "one\n");
  ASSERT_EQ(RunCmd("head -c 3000000 /dev/urandom > " + (p / "files/data/big.bin").string()).exit_code, 0);

  const std::string cf = BuildBin("client/crossfarm") + " -C " + p.string() + " --mirror-dir " + TestCache() +
                         "/mirror --cache-dir " + P("client-cache");
  auto track = RunCmd(cf + " source track --save busybox.bst");
  ASSERT_EQ(track.exit_code, 0) << track.output;
  const std::string ws = P("ws");
  auto open = RunCmd(cf + " workspace open --directory " + ws + " data.bst");
  ASSERT_EQ(open.exit_code, 0) << open.output;

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

  auto first = RunCmd(remote + " build data.bst");
  ASSERT_EQ(first.exit_code, 0) << first.output << worker.Log();
  EXPECT_NE(first.output.find("workspace of data.bst: uploading 2 of 2 files (3000004 bytes)"), std::string::npos)
      << first.output;

  WriteFile(ws + "/small.txt", "two!\n");
  auto second = RunCmd(remote + " build data.bst");
  ASSERT_EQ(second.exit_code, 0) << second.output << worker.Log();
  EXPECT_NE(second.output.find("workspace of data.bst: uploading 1 of 2 files (5 bytes)"), std::string::npos)
      << second.output;

  auto co = RunCmd(remote + " checkout data.bst " + P("out"));
  ASSERT_EQ(co.exit_code, 0) << co.output;
  EXPECT_EQ(ReadFile(P("out") + "/small.txt"), "two!\n");
  EXPECT_EQ(fs::file_size(P("out") + "/big.bin"), 3000000u);
}

}  // namespace
}  // namespace crossfarm::e2e
