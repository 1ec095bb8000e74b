// End-to-end against the real buildstream-external (Debian's
// python3-bst-external, loaded by bst 1.6 with `origin: pip`): the same
// project tracked and built by bst and by crossfarm's native kinds, with git
// repositories made in the test. git_tag's tracked refs for `track-tags`,
// `match`, `exclude`, `track-extra` and plain tracking, git_module's ref from
// the parent's gitlink, and collect_manifest's JSON must be byte for byte what
// bst writes.
#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;

std::string Sh(const std::string& cmd) {
  auto r = RunCmd(cmd);
  EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
  return r.output;
}

// A commit at a fixed time (git_tag's track-extra picks the newest candidate
// by commit time, which must not tie).
std::string Commit(const fs::path& repo, const std::string& file, int time) {
  const std::string date = "@" + std::to_string(1700000000 + time) + " +0000";
  return "cd " + repo.string() + " && echo " + file + " > " + file + " && git add " + file +
         " && GIT_AUTHOR_DATE='" + date + "' GIT_COMMITTER_DATE='" + date + "' git commit -q -m " + file +
         " && ";
}

class BstExternalCompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path up = tree_.path() / "upstream";
    const fs::path repo = up / "repo", sub = up / "sub", parent = up / "parent";
    const std::string init = "git init -q -b main ";
    const std::string id = " && git config user.name T && git config user.email t@example.invalid && ";
    // repo: one (v1.2.3) - two (v1.3.0-rc1 annotated, light-1 lightweight) -
    // three on main; four (v2.0, newer) on the branch other.
    Sh(init + repo.string() + " && cd " + repo.string() + id + Commit(repo, "one", 1) +
       "git tag -a v1.2.3 -m v1.2.3 && " + Commit(repo, "two", 2) +
       "git tag -a v1.3.0-rc1 -m rc && git tag light-1 && " + Commit(repo, "three", 3) +
       "git checkout -q -b other HEAD~1 && " + Commit(repo, "four", 4) +
       "git tag -a v2.0 -m v2.0 && git checkout -q main");
    Sh(init + sub.string() + " && cd " + sub.string() + id + Commit(sub, "s1", 5) + Commit(sub, "s2", 6) + "true");
    Sh(init + parent.string() + " && cd " + parent.string() + id + Commit(parent, "p1", 7) +
       "git -c protocol.file.allow=always submodule -q add " + sub.string() + " sub && " +
       "git -C sub checkout -q HEAD~1 && git add sub && " + Commit(parent, "p2", 8) + "true");
    sub_commit_ = Sh("git -C " + sub.string() + " rev-parse HEAD~1");

    const fs::path p = tree_.path() / "project";
    WriteFile(p / "project.conf",
              "name: external\nformat-version: 18\nelement-path: elements\n"
              "aliases:\n  upstream: file://" + up.string() + "/\n"
              "plugins:\n- origin: pip\n  package-name: BuildStream-external\n"
              "  elements:\n    collect_manifest: 0\n  sources:\n    git_tag: 1\n    git_module: 2\n");
    auto git_tag = [&](const std::string& name, const std::string& extra) {
      WriteFile(p / "elements" / name,
                "kind: import\nsources:\n- kind: git_tag\n  url: upstream:repo\n  track: main\n" + extra);
    };
    git_tag("tags.bst", "  track-tags: true\n");
    git_tag("match.bst", "  track-tags: true\n  match:\n  - v1.2*\npublic:\n  cpe:\n"
                         "    version-match: '(\\d+)\\.(\\d+)'\n");
    git_tag("exclude.bst", "  track-tags: true\n  exclude:\n  - '*rc*'\n");
    git_tag("plain.bst", "");
    git_tag("nomatch.bst", "  track-tags: true\n  match:\n  - nomatch*\n");
    git_tag("extra.bst", "  track-tags: true\n  track-extra:\n  - other\n");
    WriteFile(p / "elements/module.bst",
              "kind: import\nsources:\n- kind: git_tag\n  url: upstream:parent\n  track: main\n"
              "- kind: git_module\n  url: upstream:sub\n  path: sub\n");
    WriteFile(p / "files/lib/lib.txt", "lib\n");
    // cpe keys out of order, nested, and with a version-match.
    WriteFile(p / "elements/lib.bst",
              "kind: import\nsources:\n- kind: local\n  path: files/lib\npublic:\n  cpe:\n"
              "    version: '2.0'\n    product: libfoo\n    vendor: the-vendor\n    patches:\n    - CVE-2\n"
              "    - CVE-1\n    x-extra:\n      z: last\n      a: first\n");
    WriteFile(p / "elements/manifest.bst", "kind: collect_manifest\nbuild-depends:\n- tags.bst\n- lib.bst\n"
                                           "config:\n  path: /usr/share/inner.json\n");
    WriteFile(p / "elements/outer.bst",
              "kind: collect_manifest\nbuild-depends:\n- manifest.bst\n- match.bst\n- extra.bst\n"
              "config:\n  path: '%{datadir}/manifest.json'\n");
    fs::copy(p, tree_.path() / "bst", fs::copy_options::recursive);
  }

  CommandResult Bst(const std::string& args) {
    const std::string h = (tree_.path() / "bst-home").string();
    return RunCmd("cd " + (tree_.path() / "bst").string() + " && XDG_CACHE_HOME=" + h +
                  "/cache XDG_CONFIG_HOME=" + h + "/config bst --no-interactive --no-colors " + args);
  }
  CommandResult Cf(const std::string& args) {
    return RunCmd(std::string(CROSSFARM_BIN) + " -C " + (tree_.path() / "project").string() +
                  " --cache-dir " + (tree_.path() / "cache").string() + " --mirror-dir " +
                  (tree_.path() / "mirror").string() + " " + args);
  }
  std::string Element(const std::string& tree, const std::string& name) {
    return ReadFile(tree_.path() / tree / "elements" / name);
  }

  TempTree tree_{"bst-external"};
  std::string sub_commit_;
};

TEST_F(BstExternalCompareTest, GitTagAndGitModuleTrackTheRefsBstTracks) {
  const std::string elements = "tags.bst match.bst exclude.bst plain.bst extra.bst nomatch.bst module.bst";
  auto bst = Bst("track " + elements);
  ASSERT_EQ(bst.exit_code, 0) << bst.output;
  auto ours = Cf("source track --save " + elements);
  ASSERT_EQ(ours.exit_code, 0) << ours.output;
  for (const char* e :
       {"tags.bst", "match.bst", "exclude.bst", "plain.bst", "extra.bst", "nomatch.bst", "module.bst"})
    EXPECT_EQ(Element("project", e), Element("bst", e)) << e;
  // Not vacuous: each choice is a different ref, and the module's is the gitlink.
  EXPECT_NE(Element("bst", "tags.bst").find("ref: v1.3.0-rc1-0-g"), std::string::npos);
  EXPECT_NE(Element("bst", "match.bst").find("ref: v1.2.3-0-g"), std::string::npos);
  EXPECT_NE(Element("bst", "exclude.bst").find("ref: light-1-0-g"), std::string::npos);
  EXPECT_NE(Element("bst", "plain.bst").find("ref: v1.3.0-rc1-1-g"), std::string::npos);
  EXPECT_NE(Element("bst", "extra.bst").find("ref: v2.0-0-g"), std::string::npos);
  EXPECT_EQ(Element("bst", "nomatch.bst").find("ref:"), std::string::npos);  // no tag: no ref
  EXPECT_NE(ours.output.find("nomatch.bst source 1 (git_tag): no ref found"), std::string::npos) << ours.output;
  EXPECT_NE(Element("bst", "module.bst").find("ref: " + sub_commit_.substr(0, 40)), std::string::npos);
}

TEST_F(BstExternalCompareTest, CollectManifestWritesTheJsonBstExternalWrites) {
  const std::string tracked = "tags.bst match.bst extra.bst";
  ASSERT_EQ(Bst("track " + tracked).exit_code, 0);
  ASSERT_EQ(Cf("source track --save " + tracked).exit_code, 0);
  auto bst = Bst("build outer.bst");
  ASSERT_EQ(bst.exit_code, 0) << bst.output;
  ASSERT_EQ(Bst("checkout outer.bst " + (tree_.path() / "bst-out").string()).exit_code, 0);
  auto ours = Cf("build outer.bst");
  ASSERT_EQ(ours.exit_code, 0) << ours.output;
  ASSERT_EQ(Cf("checkout --deps none outer.bst " + (tree_.path() / "out").string()).exit_code, 0);
  const std::string theirs = ReadFile(tree_.path() / "bst-out/usr/share/manifest.json");
  EXPECT_NE(theirs.find("\"x-extra\""), std::string::npos) << theirs;
  EXPECT_EQ(ReadFile(tree_.path() / "out/usr/share/manifest.json"), theirs);
}

}  // namespace
}  // namespace crossfarm::e2e
