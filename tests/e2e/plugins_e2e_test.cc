// End-to-end: local BuildStream Python plugins (tests/data/projects/plugins)
// run by the real crossfarm binary through its plugin host with Debian's
// python3-buildstream: `show` as bst shows them, builds natively and for
// aarch64 under emulation, and broken plugins give one clear error.
#include <gtest/gtest.h>

#include "tests/e2e/bst_compare.h"
#include "tests/e2e/e2e_util.h"
#include "tests/e2e/plugins_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;

class PluginsE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    project_ = new TempTree("plugins");
    WritePluginsProject(project_->path());
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

// A Python source plugin with a real ref (plugins/sources/upstream_file.py: the
// sha256 of a file of the project): `source track --save` writes the ref into
// the .bst as bst 1.6 does (the same text), `source fetch` runs the plugin's
// fetch() into the mirror, the build stages that content, and a second track
// finds the ref up to date. A fetch whose upstream changed fails naming the plugin.
TEST_F(PluginsE2ETest, APythonSourceIsTrackedAndFetchedAsBstDoes) {
  const fs::path p = project_->path();
  WriteUpstreamFileElement(p, "upstream v1\n");
  TempTree bst_copy("plugins-bst");
  for (const char* f : {"project.conf", "elements", "plugins", "files"})
    fs::copy(p / f, bst_copy.path() / f, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  const std::string h = bst_copy.path().string();
  auto bst = RunCmd("cd " + h + " && XDG_CACHE_HOME=" + h + "/cache XDG_CONFIG_HOME=" + h +
                    "/config bst --no-interactive --no-colors track upstream.bst");
  ASSERT_EQ(bst.exit_code, 0) << bst.output;

  TempTree mirror("plugins-mirror");
  auto cf = [&](const std::string& args, const fs::path& mirror_dir) {
    return RunCmd(std::string(CROSSFARM_BIN) + " -C " + p.string() + " --mirror-dir " + mirror_dir.string() +
                  " --cache-dir " + cache_->path().string() + " " + args);
  };
  auto track = cf("source track --save upstream.bst", mirror.path());
  ASSERT_EQ(track.exit_code, 0) << track.output;
  const std::string tracked = ReadFile(p / "elements/upstream.bst");
  EXPECT_EQ(tracked, ReadFile(bst_copy.path() / "elements/upstream.bst"));
  auto sum = RunCmd("sha256sum " + (p / "files/upstream.txt").string());
  ASSERT_EQ(sum.exit_code, 0) << sum.output;
  const std::string sha = sum.output.substr(0, 64);
  EXPECT_NE(tracked.find("  ref: " + sha + "\n"), std::string::npos) << tracked;

  auto again = cf("source track upstream.bst", mirror.path());
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("upstream.bst source 1 (upstream_file): up to date"), std::string::npos)
      << again.output;
  EXPECT_EQ(again.output.find("changed"), std::string::npos) << again.output;

  auto fetch = cf("source fetch upstream.bst", mirror.path());
  ASSERT_EQ(fetch.exit_code, 0) << fetch.output;
  EXPECT_EQ(ReadFile(mirror.path() / "upstream_file" / sha), "upstream v1\n");
  ASSERT_EQ(cf("build upstream.bst", mirror.path()).exit_code, 0);
  fs::path out = cache_->path() / "out";
  ASSERT_EQ(cf("checkout upstream.bst " + out.string(), mirror.path()).exit_code, 0);
  EXPECT_EQ(ReadFile(out / "upstream.txt"), "upstream v1\n");

  WriteFile(p / "files/upstream.txt", "upstream v2\n");
  TempTree empty_mirror("plugins-mirror2");
  auto stale = cf("source fetch upstream.bst", empty_mirror.path());
  EXPECT_EQ(stale.exit_code, 2) << stale.output;
  EXPECT_NE(stale.output.find("elements/upstream.bst:4:3: source plugin 'upstream_file'"), std::string::npos)
      << stale.output;
  EXPECT_NE(stale.output.find("upstream_file source at elements/upstream.bst: files/upstream.txt has "
                              "sha256"),
            std::string::npos)
      << stale.output;
  EXPECT_NE(stale.output.find("not the ref " + sha + ": track it again"), std::string::npos) << stale.output;
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

// An element's get_unique_key() is kept in the cache by the module and the
// request (docs/plugins.md "Keys cached"): a second `show` needs no Python (a
// host that cannot start does not matter), a changed module keys again.
TEST_F(PluginsE2ETest, ASecondShowTakesTheKeysFromTheCacheWithoutPython) {
  const std::string show = "show --deps none --format '%{full-key}' echo.bst";
  auto first = Cf(show, cache_.get());
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string no_python = "CROSSFARM_PLUGIN_HOST=/nonexistent/plugin_host.py";
  auto second = Cf(show, cache_.get(), no_python);
  EXPECT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(second.output, first.output);
  fs::path module = project_->path() / "plugins/elements/sandbox_echo.py";
  std::string text = ReadFile(module);
  WriteFile(module, text + "\n# changed\n");
  auto changed = Cf(show, cache_.get(), no_python);
  WriteFile(module, text);
  EXPECT_NE(changed.exit_code, 0) << changed.output;
  EXPECT_NE(changed.output.find("/nonexistent/plugin_host.py"), std::string::npos) << changed.output;
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
