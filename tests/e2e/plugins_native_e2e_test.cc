// End-to-end: buildstream-external's kinds run natively through the real
// `crossfarm` binary, with and without the plugin declared in project.conf:
// git_tag tracked and built against a repository made in the test,
// collect_manifest and collect_integration built and their files compared with
// what bst-external's collect_manifest.py / collect_integration.py write
// (plugins_bst_external_test.cc compares with the real bst-external), and a
// kind of the declared plugin crossfarm cannot run (flatpak_image) shown as
// opaque and refused by `build` with the element's file:line and the plugin.
#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;

class NativePluginsE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = tree_.path() / "repo";
    Sh("git init -q -b main " + repo_.string() + " && cd " + repo_.string() +
       " && git config user.name T && git config user.email t@example.invalid && "
       "echo hello > hello.txt && git add hello.txt && git commit -q -m one && "
       "git tag -a v1.2.3 -m v1.2.3 && echo more > more.txt && git add more.txt && "
       "git commit -q -m two");
    sha_ = Sh("git -C " + repo_.string() + " rev-parse HEAD~1");
    const fs::path p = tree_.path() / "project";
    WriteFile(p / "project.conf",
              "name: native\nformat-version: 18\nelement-path: elements\n"
              "aliases:\n  upstream: file://" + repo_.parent_path().string() + "/\n"
              "plugins:\n- origin: pip\n  package-name: BuildStream-external\n"
              "  elements:\n    collect_manifest: 0\n    collect_integration: 0\n"
              "    flatpak_image: 0\n  sources:\n    git_tag: 1\n");
    WriteFile(p / "files/lib/lib.txt", "lib\n");
    WriteFile(p / "elements/lib.bst",
              "kind: import\nsources:\n- kind: local\n  path: files/lib\npublic:\n  cpe:\n"
              "    product: libfoo\n    version: '2.0'\n    patches:\n    - CVE-1\n"
              "  bst:\n    integration-commands:\n    - echo %{prefix} lib\n");
    WriteFile(p / "elements/app.bst",
              "kind: import\ndepends:\n- lib.bst\nsources:\n- kind: git_tag\n"
              "  url: upstream:repo\n  track: main\n  track-tags: true\n");
    WriteFile(p / "elements/manifest.bst",
              "kind: collect_manifest\nbuild-depends:\n- app.bst\nconfig:\n"
              "  path: '%{datadir}/manifest.json'\n");
    WriteFile(p / "elements/integ.bst",
              "kind: collect_integration\nbuild-depends:\n- app.bst\nconfig:\n"
              "  script-path: /etc/post.sh\n");
    WriteFile(p / "elements/image.bst",
              "kind: flatpak_image\nbuild-depends:\n- app.bst\nconfig:\n  directory: /x\n");
  }

  static std::string Sh(const std::string& cmd) {
    auto r = RunCmd(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
    while (!r.output.empty() && r.output.back() == '\n') r.output.pop_back();
    return r.output;
  }
  CommandResult Cf(const std::string& args) {
    return RunCmd(std::string(CROSSFARM_BIN) + " -C " + (tree_.path() / "project").string() +
                  " --cache-dir " + (tree_.path() / "cache").string() + " --mirror-dir " +
                  (tree_.path() / "mirror").string() + " " + args);
  }

  TempTree tree_{"native-plugins"};
  fs::path repo_;
  std::string sha_;
};

TEST_F(NativePluginsE2ETest, GitTagAndCollectElementsBuildAsBstExternalWritesThem) {
  auto track = Cf("source track --save app.bst");
  ASSERT_EQ(track.exit_code, 0) << track.output;
  const std::string ref = "v1.2.3-0-g" + sha_;
  EXPECT_NE(ReadFile(tree_.path() / "project/elements/app.bst").find("ref: " + ref),
            std::string::npos);

  auto show = Cf("show --deps all --format '%{name} %{kind} %{plugin}' manifest.bst image.bst");
  ASSERT_EQ(show.exit_code, 0) << show.output;
  EXPECT_EQ(show.output,
            "lib.bst import core\napp.bst import core\nmanifest.bst collect_manifest native\n"
            "image.bst flatpak_image opaque\n");

  auto build = Cf("build manifest.bst integ.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output;
  const fs::path out = tree_.path() / "out";
  auto co = Cf("checkout --deps none manifest.bst " + out.string());
  ASSERT_EQ(co.exit_code, 0) << co.output;
  EXPECT_EQ(ReadFile(out / "usr/share/manifest.json"), R"({
  "//NOTE": "This is a generated manifest from buildstream files and not usable by flatpak-builder",
  "modules": [
    {
      "name": "lib.bst",
      "x-cpe": {
        "patches": [
          "CVE-1"
        ],
        "product": "libfoo",
        "version": "2.0"
      },
      "sources": []
    },
    {
      "name": "app.bst",
      "x-cpe": {
        "product": "app",
        "version": "1.2.3"
      },
      "sources": [
        {
          "type": "git",
          "x-bst-kind": "git_tag",
          "url": "file://)" + repo_.string() + R"(",
          "commit": ")" + ref + R"("
        }
      ]
    }
  ]
})");
  const fs::path integ = tree_.path() / "integ";
  auto co2 = Cf("checkout --deps none integ.bst " + integ.string());
  ASSERT_EQ(co2.exit_code, 0) << co2.output;
  EXPECT_EQ(ReadFile(integ / "etc/post.sh"),
            "#!/bin/sh\nset -e\n\n# integration commands from lib.bst\necho /usr lib\n\n");
  EXPECT_TRUE((fs::status(integ / "etc/post.sh").permissions() & fs::perms::owner_exec) !=
              fs::perms::none);
}

TEST_F(NativePluginsE2ETest, AnOpaquePluginKindIsRefusedByBuildNamingFileAndPlugin) {
  auto build = Cf("build image.bst");
  EXPECT_EQ(build.exit_code, 2) << build.output;
  EXPECT_NE(build.output.find("elements/image.bst:1:1: element kind 'flatpak_image' comes from "
                              "a plugin, pip package 'BuildStream-external'"),
            std::string::npos)
      << build.output;
}

TEST_F(NativePluginsE2ETest, NativeKindsLoadWithoutAPluginsDeclaration) {
  const fs::path conf = tree_.path() / "project/project.conf";
  std::string text = ReadFile(conf);
  WriteFile(conf, text.substr(0, text.find("plugins:")));
  fs::remove(tree_.path() / "project/elements/image.bst");
  auto show = Cf("show --deps none --format '%{name} %{plugin}' manifest.bst integ.bst");
  ASSERT_EQ(show.exit_code, 0) << show.output;
  EXPECT_EQ(show.output, "manifest.bst native\ninteg.bst native\n");
}

}  // namespace
}  // namespace crossfarm::e2e
