// buildstream-external's git_tag and git_module, natively, against git
// repositories made in the test with the real git binary (expected refs are
// what bst-external's commands -- git describe, rev-parse, submodule status --
// give on the same repositories, computed here with git itself).
#include "tests/worker/source_test_util.h"

namespace crossfarm::worker {
namespace {

using testing::MustMake;
using testing::ReadFile;
using testing::ScratchDir;
using testing::Sh;
using testing::WriteFile;

class GitTagSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_.project_dir = scratch_.Sub("project");
    ctx_.cache_dir = scratch_.Sub("cache");
    repo_ = scratch_.Sub("upstream");
    Sh("cd " + repo_ + " && git init -q -b main . && git config user.name T && "
       "git config user.email t@example.invalid");
    c1_ = Commit("1\n", 1000);
    Sh("cd " + repo_ + " && git tag -a v1.0 -m v1.0");
    c2_ = Commit("2\n", 2000);
    Sh("cd " + repo_ + " && git tag v1.1");  // lightweight
    c3_ = Commit("3\n", 3000);
  }

  // A commit at a fixed time, so that "newest" is deterministic.
  std::string Commit(const std::string& content, int time) {
    WriteFile(repo_ + "/VERSION", content);
    const std::string date = "@" + std::to_string(1700000000 + time) + " +0000";
    Sh("cd " + repo_ + " && git add VERSION && GIT_COMMITTER_DATE='" + date +
       "' GIT_AUTHOR_DATE='" + date + "' git commit -q -m c" + std::to_string(time));
    return Sh("cd " + repo_ + " && git rev-parse HEAD");
  }
  std::string TrackOf(const std::string& extra) {
    auto source = MustMake("{kind: git_tag, url: 'file://" + repo_ + "', track: main" + extra +
                               "}",
                           ctx_);
    auto ref = source->Track();
    EXPECT_TRUE(ref.has_value()) << ref.error().ToString();
    return ref ? ref->as<std::string>() : "";
  }
  std::string FullMirror() const {
    return ctx_.cache_dir + "/git/" + source_internal::UrlDirName("file://" + repo_);
  }
  std::string ShallowMirror(const std::string& ref) const {
    return ctx_.cache_dir + "/git/" + source_internal::UrlDirName("file://" + repo_ + "#" + ref);
  }

  ScratchDir scratch_;
  SourceContext ctx_;
  std::string repo_, c1_, c2_, c3_;
};

TEST_F(GitTagSourceTest, TrackWithoutTrackTagsDescribesTheBranchHead) {
  EXPECT_EQ(TrackOf(""), "v1.1-1-g" + c3_);
}

TEST_F(GitTagSourceTest, TrackTagsFollowsTheLatestTagOfTheBranch) {
  EXPECT_EQ(TrackOf(", track-tags: true"), "v1.1-0-g" + c2_);
}

TEST_F(GitTagSourceTest, MatchAndExcludeChooseAmongTheTags) {
  EXPECT_EQ(TrackOf(", track-tags: true, match: ['v1.0*']"), "v1.0-0-g" + c1_);
  EXPECT_EQ(TrackOf(", track-tags: true, exclude: ['v1.1']"), "v1.0-0-g" + c1_);
  // No tag matches: bst-external offers no candidate (not the branch head:
  // plugins_bst_external_test checks this against bst), so the source keeps
  // the ref it has, or gets none.
  EXPECT_EQ(TrackOf(", track-tags: true, match: ['release-*']"), "null");
  EXPECT_EQ(TrackOf(", track-tags: true, match: ['release-*'], ref: v1.0-0-g" + c1_), "v1.0-0-g" + c1_);
}

TEST_F(GitTagSourceTest, TrackExtraTakesTheNewestCommitOfAllBranches) {
  Sh("cd " + repo_ + " && git checkout -q -b other " + c1_);
  const std::string newer = Commit("other\n", 5000);
  Sh("cd " + repo_ + " && git tag v2.0 && git checkout -q main");
  EXPECT_EQ(TrackOf(", track-extra: [other]"), "v2.0-0-g" + newer);
  // An older extra branch loses against main.
  Sh("cd " + repo_ + " && git branch old " + c1_);
  EXPECT_EQ(TrackOf(", track-extra: [old]"), "v1.1-1-g" + c3_);
}

TEST_F(GitTagSourceTest, AnExactTagIsFetchedShallowUnlessFullClone) {
  const std::string ref = "v1.0-0-g" + c1_;
  auto source = MustMake("{kind: git_tag, url: 'file://" + repo_ + "', ref: " + ref + "}", ctx_);
  const std::string dest = scratch_.Sub("dest");
  const Status st = source->Stage(dest);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ReadFile(dest + "/VERSION"), "1\n");
  EXPECT_EQ(Sh("git -C " + dest + " rev-parse HEAD"), c1_);
  EXPECT_FALSE(std::filesystem::exists(FullMirror()));
  EXPECT_EQ(Sh("git --git-dir " + ShallowMirror(ref) + " rev-parse --is-shallow-repository"),
            "true");

  // full-clone: a mirror of everything (in a fresh cache: like bst-external,
  // an existing mirror of the ref is used as it is).
  ctx_.cache_dir = scratch_.Sub("cache2");
  auto full = MustMake("{kind: git_tag, url: 'file://" + repo_ + "', ref: " + ref +
                           ", full-clone: true}",
                       ctx_);
  ASSERT_TRUE(full->Fetch().ok());
  EXPECT_EQ(Sh("git --git-dir " + FullMirror() + " rev-parse --is-shallow-repository"), "false");
}

TEST_F(GitTagSourceTest, ARefPastTheTagNeedsTheFullMirror) {
  const std::string ref = "v1.1-1-g" + c3_;
  auto source = MustMake("{kind: git_tag, url: 'file://" + repo_ + "', ref: " + ref + "}", ctx_);
  const std::string dest = scratch_.Sub("dest");
  ASSERT_TRUE(source->Stage(dest).ok());
  EXPECT_EQ(ReadFile(dest + "/VERSION"), "3\n");
  EXPECT_TRUE(std::filesystem::exists(FullMirror()));
  EXPECT_FALSE(std::filesystem::exists(ShallowMirror(ref)));
}

TEST_F(GitTagSourceTest, TheRefAsWrittenIsInTheKey) {
  auto a = MustMake("{kind: git_tag, url: x, ref: v1.0-0-g" + c1_ + "}", ctx_);
  auto b = MustMake("{kind: git_tag, url: x, ref: " + c1_ + "}", ctx_);
  ASSERT_TRUE(a->Ref() && b->Ref());
  EXPECT_NE(*a->Ref(), *b->Ref());
  EXPECT_NE(a->Ref()->find("git_tag ref=v1.0-0-g" + c1_), std::string::npos) << *a->Ref();
}

// Config errors name the key's line of the element file.
TEST_F(GitTagSourceTest, ConfigErrorsNameTheirLine) {
  const std::string text = "kind: git_tag\nurl: x\ntrack: main\ntrack-tag: true\n";
  const YAML::Node config = YAML::Load(text);
  auto made = MakeSource("git_tag", config, testing::TestWhere(), ctx_);
  ASSERT_FALSE(made.has_value());
  EXPECT_NE(made.error().message().find("elements/test.bst:4:1: unknown source key 'track-tag'"),
            std::string::npos)
      << made.error().message();
  EXPECT_NE(made.error().message().find("track-tags"), std::string::npos);

  const YAML::Node lfs = YAML::Load("kind: git_tag\nurl: x\ntrack: main\nuse-lfs: true\n");
  auto no_lfs = MakeSource("git_tag", lfs, testing::TestWhere(), ctx_);
  ASSERT_FALSE(no_lfs.has_value());
  EXPECT_NE(no_lfs.error().message().find("test.bst:4:10: `use-lfs: true`"), std::string::npos)
      << no_lfs.error().message();

  const YAML::Node bad = YAML::Load("kind: git_tag\nurl: x\nmatch: v1*\ntrack: main\n");
  auto not_list = MakeSource("git_tag", bad, testing::TestWhere(), ctx_);
  ASSERT_FALSE(not_list.has_value());
  EXPECT_NE(not_list.error().message().find("test.bst:3:8: `match:` must be a list"),
            std::string::npos)
      << not_list.error().message();

  auto neither = MakeSource("git_tag", YAML::Load("{kind: git_tag, url: x}"),
                            testing::TestWhere(), ctx_);
  ASSERT_FALSE(neither.has_value());
  EXPECT_NE(neither.error().message().find("require a `ref:` and/or `track:`"),
            std::string::npos);
}

class GitModuleSourceTest : public GitTagSourceTest {
 protected:
  void SetUp() override {
    GitTagSourceTest::SetUp();
    super_ = scratch_.Sub("super");
    Sh("cd " + super_ + " && git init -q -b main . && git config user.name T && "
       "git config user.email t@example.invalid && echo top > TOP && git add TOP && "
       "git -c protocol.file.allow=always submodule add -q file://" + repo_ + " lib/dep && "
       "git -C lib/dep checkout -q " + c2_ + " && git add lib/dep && git commit -q -m super");
  }
  std::string super_;
};

TEST_F(GitModuleSourceTest, TracksTheGitlinkOfTheEarlierSourcesAndStagesAtPath) {
  // The superproject without its submodules, as freedesktop-sdk declares it.
  auto top = MustMake("{kind: git_tag, url: 'file://" + super_ +
                          "', track: main, checkout-submodules: false}",
                      ctx_);
  auto top_ref = top->Track();
  ASSERT_TRUE(top_ref.has_value()) << top_ref.error().ToString();
  auto pinned = MustMake("{kind: git_tag, url: 'file://" + super_ + "', ref: " +
                             top_ref->as<std::string>() + ", checkout-submodules: false}",
                         ctx_);
  const std::string previous = scratch_.Sub("previous");
  ASSERT_TRUE(pinned->Stage(previous).ok());
  EXPECT_FALSE(std::filesystem::exists(previous + "/lib/dep/VERSION"));

  auto module = MustMake("{kind: git_module, url: 'file://" + repo_ + "', path: lib/dep}", ctx_);
  ASSERT_TRUE(module->TrackNeedsPreviousSources());
  auto ref = module->TrackWithPrevious(previous);
  ASSERT_TRUE(ref.has_value()) << ref.error().ToString();
  EXPECT_EQ(ref->as<std::string>(), c2_);  // the gitlink, not the branch head

  auto staged = MustMake("{kind: git_module, url: 'file://" + repo_ + "', path: /lib/dep, ref: " +
                             c2_ + "}",
                         ctx_);
  const Status st = staged->Stage(previous);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ReadFile(previous + "/lib/dep/VERSION"), "2\n");
  EXPECT_EQ(ReadFile(previous + "/TOP"), "top\n");
}

TEST_F(GitModuleSourceTest, WithoutTheSubmoduleInTheEarlierSourcesTrackSaysWhy) {
  auto module = MustMake("{kind: git_module, url: 'file://" + repo_ + "', path: nope}", ctx_);
  auto ref = module->TrackWithPrevious(scratch_.Sub("empty"));
  ASSERT_FALSE(ref.has_value());
  EXPECT_NE(ref.error().message().find("no git submodule at 'nope'"), std::string::npos)
      << ref.error().message();
  EXPECT_NE(ref.error().message().find("elements/test.bst:7"), std::string::npos);
}

TEST_F(GitModuleSourceTest, PathIsRequiredAndStaysInside) {
  auto missing = MakeSource("git_module", YAML::Load("{kind: git_module, url: x}"),
                            testing::TestWhere(), ctx_);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message().find("path"), std::string::npos);
  auto outside = MakeSource("git_module",
                            YAML::Load("kind: git_module\nurl: x\npath: ../up\n"),
                            testing::TestWhere(), ctx_);
  ASSERT_FALSE(outside.has_value());
  EXPECT_NE(outside.error().message().find("test.bst:3:7: git_module `path:`"),
            std::string::npos)
      << outside.error().message();
}

// As bst-external's GitModuleSource: no `track` (nor git_tag's tracking keys),
// the ref comes from the gitlink; one is refused naming the key.
TEST_F(GitModuleSourceTest, TrackingKeysAreRefusedAsBstExternalDoes) {
  for (const char* key : {"track: main", "track-tags: true", "match: [v*]"}) {
    auto r = MakeSource("git_module",
                        YAML::Load(std::string("kind: git_module\nurl: x\npath: lib\n") + key + "\n"),
                        testing::TestWhere(), ctx_);
    ASSERT_FALSE(r.has_value()) << key;
    const std::string name = std::string(key).substr(0, std::string(key).find(':'));
    EXPECT_NE(r.error().message().find(name), std::string::npos) << r.error().message();
  }
}

}  // namespace
}  // namespace crossfarm::worker
