// End-to-end: local BuildStream Python plugins (tests/data/projects/plugins)
// run by the real crossfarm binary through its plugin host with Debian's
// python3-buildstream: `show` as bst shows them, builds natively and for
// aarch64 under emulation, and broken plugins give one clear error.
#include <gtest/gtest.h>

#include "tests/e2e/bst_compare.h"
#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;

class PluginsE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    project_ = new TempTree("plugins");
    fs::path p = project_->path();
    fs::copy(ProjectDir("plugins"), p, fs::copy_options::recursive);
    WriteFile(p / "project.conf",
              ReadFile(p / "project.conf") +
                  "variables:\n  strip-binaries: ''\nenvironment:\n  PATH: /usr/bin:/bin\n"
                  "options:\n  arch:\n    type: arch\n    description: target\n"
                  "    values: [x86_64, aarch64]\n");
    for (const char* deb : {"amd64", "arm64"})
      WriteFile(p / "elements" / (std::string("busybox-") + deb + ".bst"),
                std::string("kind: import\nsources:\n- kind: deb\n  arch: ") + deb +
                    "\n  packages: [busybox-static]\n");
    fs::create_directories(p / "files/links/usr/bin");
    for (const char* applet : {"sh", "mkdir", "uname", "echo"})
      fs::create_symlink("busybox", p / "files/links/usr/bin" / applet);
    WriteFile(p / "elements/links.bst", "kind: import\nsources:\n- kind: local\n  path: files/links\n");
    WriteFile(p / "elements/echo.bst",
              "kind: sandbox_echo\n"
              "build-depends: [links.bst]\n"
              "(?):\n"
              "- arch == \"x86_64\":\n    build-depends:\n      (>): [busybox-amd64.bst]\n"
              "- arch == \"aarch64\":\n    build-depends:\n      (>): [busybox-arm64.bst]\n"
              "config:\n  message: built by %{element-name}\n");
    auto track = Cf("source track --save busybox-amd64.bst busybox-arm64.bst", nullptr);
    if (track.exit_code != 0) setup_error_ = "source track failed:\n" + track.output;
  }
  static void TearDownTestSuite() { delete project_; }
  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    cache_ = std::make_unique<TempTree>("plugins-cache");
  }

  static CommandResult Cf(const std::string& args, const TempTree* cache,
                          const std::string& env = "") {
    std::string cmd = env + " " + std::string(CROSSFARM_BIN) + " -C " +
                      project_->path().string() + " --mirror-dir " + TestCache() + "/mirror ";
    if (cache) cmd += "--cache-dir " + cache->path().string() + " ";
    return RunCmd(cmd + args);
  }
  static std::string setup_error_;
  static TempTree* project_;
  std::unique_ptr<TempTree> cache_;
};
TempTree* PluginsE2ETest::project_ = nullptr;
std::string PluginsE2ETest::setup_error_;

TEST(PluginsBstCompareTest, ShowResolvesPluginElementsAsBst) {
  const std::vector<std::string> elements = {"scripts.bst", "greeter.bst", "raises.bst"};
  Shown bst = ShowWithBst("plugins", elements, {});
  Shown ours = ShowWithCrossfarm("plugins", elements, {});
  ASSERT_EQ(bst.size(), 3u);
  ExpectSameAsBst(bst, ours, "plugins");
  // The plugin's YAML (scripts-owner) lost to project.conf `elements:`, as in bst.
  EXPECT_EQ(ours["scripts.bst"].vars["scripts-owner"], "project-conf");
  EXPECT_EQ(ours["scripts.bst"].config["path"], "/etc/initial-scripts/collected");
}

TEST_F(PluginsE2ETest, ElementAndSourcePluginsBuildNatively) {
  auto build = Cf("build echo.bst scripts.bst", cache_.get());
  ASSERT_EQ(build.exit_code, 0) << build.output;
  fs::path out = cache_->path() / "out";
  ASSERT_EQ(Cf("checkout --deps none echo.bst " + out.string(), cache_.get()).exit_code, 0);
  EXPECT_EQ(ReadFile(out / "out/machine"), "x86_64\n");
  EXPECT_EQ(ReadFile(out / "out/message"), "built by echo.bst\n");
  EXPECT_EQ(ReadFile(out / "etc/install-commands-ran"), "installed\n");
  fs::path scripts = cache_->path() / "scripts";
  ASSERT_EQ(Cf("checkout --deps none scripts.bst " + scripts.string(), cache_.get()).exit_code, 0);
  // bst's node helpers strip strings, and node_subst_member substitutes with
  // the collecting element's variables: bst writes the same file.
  EXPECT_EQ(ReadFile(scripts / "etc/initial-scripts/collected/greeter"),
            "#!/bin/sh\necho \"initial script of greeter, collected into /etc/initial-scripts\"");
  fs::path greeter = cache_->path() / "greeter";
  ASSERT_EQ(Cf("checkout --deps none greeter.bst " + greeter.string(), cache_.get()).exit_code, 0);
  EXPECT_EQ(ReadFile(greeter / "greeting.sh"), "echo hello from an inline_file source");
  // Built once: a second build finds everything cached.
  auto again = Cf("build echo.bst scripts.bst", cache_.get());
  EXPECT_EQ(again.exit_code, 0) << again.output;
}

TEST_F(PluginsE2ETest, ElementPluginsSandboxRunIsEmulatedForAarch64) {
  auto build = Cf("--arch aarch64 build echo.bst", cache_.get());
  ASSERT_EQ(build.exit_code, 0) << build.output;
  fs::path out = cache_->path() / "out";
  ASSERT_EQ(Cf("--arch aarch64 checkout --deps none echo.bst " + out.string(), cache_.get()).exit_code, 0);
  EXPECT_EQ(ReadFile(out / "out/machine"), "aarch64\n");
}

// `show` says which implementation runs each kind (docs/building.md "Which
// plugin runs"): a local Python plugin is named with its file.
TEST_F(PluginsE2ETest, ShowSaysAPythonPluginRunsTheKind) {
  auto r = Cf("show --deps none --format '%{name} %{plugin}' echo.bst links.bst", nullptr);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("echo.bst python:plugins/elements/sandbox_echo.py"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("links.bst core"), std::string::npos) << r.output;
}

TEST_F(PluginsE2ETest, TheUniqueKeyAndTheModuleArePartOfTheCacheKey) {
  auto key = [&] {
    auto r = Cf("show --deps none --format '%{full-key}' echo.bst", nullptr);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  };
  std::string before = key();
  fs::path module = project_->path() / "plugins/elements/sandbox_echo.py";
  std::string text = ReadFile(module);
  WriteFile(module, text + "\n# a change of the module\n");
  std::string changed_module = key();
  WriteFile(module, text);
  EXPECT_NE(before, changed_module);
  EXPECT_EQ(before, key());
}

TEST_F(PluginsE2ETest, BrokenPluginsGiveOneClearErrorNamingElementAndPlugin) {
  const std::pair<const char*, const char*> cases[] = {
      {"raises", "ValueError: the raises plugin always fails"},
      {"hangs", "did not answer within 5"},
      {"garbage", "wrote garbage on its pipe"},
      {"dies", "the plugin host died in element.assemble (exit code 3)"},
  };
  for (const auto& [kind, what] : cases) {
    std::string element = std::string(kind) + ".bst";
    auto r = Cf("build " + element, cache_.get(), "CROSSFARM_PLUGIN_TIMEOUT=5");
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find(element + ": " + element + ": plugin '" + kind +
                            "' (plugins/elements/" + kind + ".py) failed in assemble"),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find(what), std::string::npos) << r.output;
  }
}

TEST_F(PluginsE2ETest, APluginOlderThanTheRequestedFormatVersionIsRefused) {
  fs::path conf = project_->path() / "project.conf";
  std::string text = ReadFile(conf);
  std::string bumped = text;
  bumped.replace(bumped.find("sandbox_echo: 1"), 15, "sandbox_echo: 3");
  WriteFile(conf, bumped);
  auto r = Cf("show echo.bst", nullptr);
  WriteFile(conf, text);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("project.conf:12:5: sandbox_echo: Format version 2 is too old for "
                          "requested version 3"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace crossfarm::e2e
