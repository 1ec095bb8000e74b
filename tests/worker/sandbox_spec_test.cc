#include "worker/sandbox_spec.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace crossfarm::worker {
namespace {

using Args = std::vector<std::string>;

// Position of the sequence `needle` in `hay`, or -1.
long Find(const Args& hay, const Args& needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end());
  return it == hay.end() ? -1 : static_cast<long>(it - hay.begin());
}

bool Has(const Args& hay, const std::string& one) { return Find(hay, {one}) >= 0; }

SandboxSpec BuildSpec() {
  SandboxSpec s;
  s.root = "/cache/root";
  s.SetBuildDir("/w/build", "/buildstream/proj/hello.bst");
  s.SetInstallDir("/w/install", "/buildstream-install");
  s.SetEnv("PATH", "/usr/bin:/bin");
  s.SetEnv("LC_ALL", "C");
  return s;
}

TEST(BwrapArgsTest, NetworkIsUnsharedByDefault) {
  Args a = BwrapArgs(BuildSpec());
  EXPECT_TRUE(Has(a, "--unshare-all"));
  EXPECT_FALSE(Has(a, "--share-net"));
}

TEST(BwrapArgsTest, NetworkIsSharedOnlyWhenAsked) {
  SandboxSpec s = BuildSpec();
  s.network = Network::kShared;
  Args a = BwrapArgs(s);
  EXPECT_LT(Find(a, {"--unshare-all"}), Find(a, {"--share-net"}));
}

TEST(BwrapArgsTest, RunsAsUidZeroInAUserNamespaceWithoutCapabilities) {
  Args a = BwrapArgs(BuildSpec());
  EXPECT_GE(Find(a, {"--unshare-user", "--uid", "0", "--gid", "0"}), 0);
  EXPECT_GE(Find(a, {"--cap-drop", "ALL"}), 0);
}

TEST(BwrapArgsTest, EnvironmentIsClearedThenSetExactlyInOrder) {
  Args a = BwrapArgs(BuildSpec());
  long clear = Find(a, {"--clearenv"});
  long path = Find(a, {"--setenv", "PATH", "/usr/bin:/bin"});
  long lc = Find(a, {"--setenv", "LC_ALL", "C"});
  ASSERT_GE(clear, 0);
  EXPECT_LT(clear, path);
  EXPECT_LT(path, lc);
  EXPECT_EQ(std::count(a.begin(), a.end(), "--setenv"), 2);
}

TEST(BwrapArgsTest, SetEnvReplacesAnExistingKey) {
  SandboxSpec s = BuildSpec();
  s.SetEnv("PATH", "/bin");
  Args a = BwrapArgs(s);
  EXPECT_GE(Find(a, {"--setenv", "PATH", "/bin"}), 0);
  EXPECT_EQ(std::count(a.begin(), a.end(), "PATH"), 1);
}

TEST(BwrapArgsTest, RootIsReadOnlyByDefaultAndMountedFirst) {
  Args a = BwrapArgs(BuildSpec());
  long root = Find(a, {"--ro-bind", "/cache/root", "/"});
  ASSERT_GE(root, 0);
  EXPECT_LT(root, Find(a, {"--proc", "/proc"}));
  EXPECT_LT(Find(a, {"--proc", "/proc"}), Find(a, {"--dev", "/dev"}));
  EXPECT_LT(Find(a, {"--dev", "/dev"}), Find(a, {"--tmpfs", "/tmp"}));
  EXPECT_LT(Find(a, {"--tmpfs", "/tmp"}), Find(a, {"--bind", "/w/build"}));
}

TEST(BwrapArgsTest, WritableRootUsesBind) {
  SandboxSpec s = BuildSpec();
  s.root_access = Access::kReadWrite;
  EXPECT_GE(Find(BwrapArgs(s), {"--bind", "/cache/root", "/"}), 0);
}

TEST(BwrapArgsTest, MountsKeepTheirOrderAndAccess) {
  SandboxSpec s = BuildSpec();
  s.AddBind("/host/ccache", "/ccache", Access::kReadOnly);
  s.AddTmpfs("/var/tmp");
  Args a = BwrapArgs(s);
  long build = Find(a, {"--bind", "/w/build", "/buildstream/proj/hello.bst"});
  long install = Find(a, {"--bind", "/w/install", "/buildstream-install"});
  long ccache = Find(a, {"--ro-bind", "/host/ccache", "/ccache"});
  long tmpfs = Find(a, {"--tmpfs", "/var/tmp"});
  ASSERT_GE(build, 0);
  EXPECT_LT(build, install);
  EXPECT_LT(install, ccache);
  EXPECT_LT(ccache, tmpfs);
}

TEST(BwrapArgsTest, WorkingDirectoryIsTheBuildDir) {
  EXPECT_GE(Find(BwrapArgs(BuildSpec()), {"--chdir", "/buildstream/proj/hello.bst"}), 0);
}

TEST(BwrapArgsTest, BatchRunsGetANewSessionInteractiveOnesDoNot) {
  SandboxSpec s = BuildSpec();
  EXPECT_TRUE(Has(BwrapArgs(s), "--new-session"));
  s.interaction = Interaction::kInteractive;
  EXPECT_FALSE(Has(BwrapArgs(s), "--new-session"));
  EXPECT_TRUE(Has(BwrapArgs(s), "--die-with-parent"));
}

TEST(BwrapArgsTest, HostnameIsSet) {
  SandboxSpec s = BuildSpec();
  s.hostname = "sandbox-1";
  EXPECT_GE(Find(BwrapArgs(s), {"--hostname", "sandbox-1"}), 0);
}

TEST(ValidateSpecTest, AcceptsAnOrdinarySpec) { EXPECT_TRUE(ValidateSpec(BuildSpec()).ok()); }

TEST(ValidateSpecTest, RejectsRelativeOrEscapingPaths) {
  struct Case {
    std::string name;
    void (*mutate)(SandboxSpec&);
  };
  const Case cases[] = {
      {"empty root", [](SandboxSpec& s) { s.root.clear(); }},
      {"relative cwd", [](SandboxSpec& s) { s.cwd = "build"; }},
      {"dotdot dest", [](SandboxSpec& s) { s.AddTmpfs("/a/../etc"); }},
      {"mount over /", [](SandboxSpec& s) { s.AddTmpfs("/"); }},
      {"relative source", [](SandboxSpec& s) { s.AddBind("rel", "/x", Access::kReadOnly); }},
      {"bad env key", [](SandboxSpec& s) { s.SetEnv("A=B", "x"); }},
  };
  for (const auto& c : cases) {
    SandboxSpec s = BuildSpec();
    c.mutate(s);
    Status st = ValidateSpec(s);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.name;
  }
}

TEST(ValidateSpecTest, AllowsDotsInsideNames) {
  SandboxSpec s = BuildSpec();
  s.AddTmpfs("/a/..b/c..");
  EXPECT_TRUE(ValidateSpec(s).ok());
}

}  // namespace
}  // namespace crossfarm::worker
