// End-to-end: local Python plugins built through a real cluster
// (crossfarm-cas, crossfarm-scheduler, one crossfarm-worker that also emulates
// aarch64, on loopback): an element of a Python element plugin that calls
// sandbox.run (sandbox_echo), for x86_64 and aarch64, and an element whose
// source is of a Python source plugin (upstream_file). The worker has no copy
// of the project: the element plugin's module reaches it in the JobSpec.
#include <gtest/gtest.h>

#include "tests/e2e/cluster_util.h"
#include "tests/e2e/plugins_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;

TEST(PluginsClusterE2ETest, PythonElementAndSourcePluginsBuildOnTheClusterNativeAndEmulated) {
  TempTree dir("plugins-cluster");
  const fs::path p = dir.path() / "project";
  WritePluginsProject(p);
  WriteUpstreamFileElement(p, "upstream through the cluster\n");
  const std::string cf = BuildBin("client/crossfarm") + " -C " + p.string() + " --mirror-dir " + TestCache() +
                         "/mirror --cache-dir " + (dir.path() / "client-cache").string();
  auto track = RunCmd(cf + " source track --save busybox-amd64.bst busybox-arm64.bst upstream.bst");
  ASSERT_EQ(track.exit_code, 0) << track.output;

  TestCluster cluster(dir.path(), {"--emulate", "aarch64"});
  ASSERT_TRUE(cluster.error.empty()) << cluster.error;
  ASSERT_TRUE(cluster.WorkerRegistered(cf)) << cluster.worker->Log();
  const std::string remote = cf + cluster.RemoteFlags();

  auto native = RunCmd(remote + " --verbose build echo.bst upstream.bst");
  ASSERT_EQ(native.exit_code, 0) << native.output << cluster.worker->Log();
  // The plugin ran on w1: its sandbox.run command and its print() are in the
  // job's log, streamed back from the worker.
  EXPECT_NE(native.output.find("on w1"), std::string::npos) << native.output;
  EXPECT_NE(native.output.find("sandbox_echo: a print() goes to the log"), std::string::npos) << native.output;
  auto emulated = RunCmd(remote + " --arch aarch64 build echo.bst");
  ASSERT_EQ(emulated.exit_code, 0) << emulated.output << cluster.worker->Log();

  auto checkout = [&](const std::string& args, const std::string& out) {
    auto r = RunCmd(remote + " " + args + " " + cluster.P(out));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return cluster.P(out);
  };
  const std::string x86 = checkout("checkout --deps none echo.bst", "x86");
  EXPECT_EQ(ReadFile(x86 + "/out/machine"), "x86_64\n");
  EXPECT_EQ(ReadFile(x86 + "/out/message"), "built by echo.bst\n");
  const std::string arm = checkout("--arch aarch64 checkout --deps none echo.bst", "arm");
  EXPECT_EQ(ReadFile(arm + "/out/machine"), "aarch64\n");
  const std::string up = checkout("checkout upstream.bst", "upstream");
  EXPECT_EQ(ReadFile(up + "/upstream.txt"), "upstream through the cluster\n");

  // The module the worker ran is the client's, written from the JobSpec
  // under the worker's own cache (docs/plugins.md "The build job").
  const std::string module = ReadFile(p / "plugins/elements/sandbox_echo.py");
  size_t copies = 0;
  for (const auto& entry : fs::recursive_directory_iterator(cluster.P("w1-cache")))
    if (entry.path().filename() == "sandbox_echo.py") {
      ++copies;
      EXPECT_EQ(ReadFile(entry.path()), module) << entry.path();
    }
  EXPECT_EQ(copies, 1u);
}

}  // namespace
}  // namespace crossfarm::e2e
