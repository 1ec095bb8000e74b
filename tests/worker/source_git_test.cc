// git sources against a repository made in the test with the real git binary.
#include "tests/worker/source_test_util.h"

namespace crossfarm::worker {
namespace {

using testing::MustMake;
using testing::ReadFile;
using testing::ScratchDir;
using testing::Sh;
using testing::WriteFile;

class GitSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_.project_dir = scratch_.Sub("project");
    ctx_.cache_dir = scratch_.Sub("cache");
    repo_ = scratch_.Sub("upstream");
    Sh("cd " + repo_ + " && git init -q -b main . && " + Identity());
    first_ = Commit("version 1\n");
  }

  std::string Identity() const {
    return "git config user.name Test && git config user.email test@example.invalid";
  }
  std::string Commit(const std::string& content) {
    WriteFile(repo_ + "/VERSION", content);
    Sh("cd " + repo_ + " && git add VERSION && git commit -q -m update");
    return Sh("cd " + repo_ + " && git rev-parse HEAD");
  }
  std::unique_ptr<Source> Git(const std::string& url, const std::string& extra) {
    return MustMake("{kind: git, url: '" + url + "', track: main" + extra + "}", ctx_);
  }

  ScratchDir scratch_;
  SourceContext ctx_;
  std::string repo_, first_;
};

TEST_F(GitSourceTest, TrackReturnsTheCommitOfTheBranch) {
  auto source = Git(repo_, "");
  EXPECT_FALSE(source->Ref().has_value());
  auto ref = source->Track();
  ASSERT_TRUE(ref.has_value()) << ref.error().ToString();
  EXPECT_EQ(ref->as<std::string>(), first_);
  const std::string second = Commit("version 2\n");
  auto again = Git(repo_, "")->Track();
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(again->as<std::string>(), second);
}

TEST_F(GitSourceTest, StageChecksOutThePinnedCommitNotTheBranchHead) {
  Commit("version 2\n");
  auto source = Git("file://" + repo_, ", ref: " + first_);
  ASSERT_TRUE(source->Fetch().ok());
  const std::string dest = scratch_.Sub("dest");
  const Status st = source->Stage(dest);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ReadFile(dest + "/VERSION"), "version 1\n");
  EXPECT_EQ(Sh("git -C " + dest + " rev-parse HEAD"), first_);
}

TEST_F(GitSourceTest, FetchUpdatesAnExistingMirrorForANewCommit) {
  ASSERT_TRUE(Git(repo_, ", ref: " + first_)->Fetch().ok());
  const std::string second = Commit("version 2\n");
  auto source = Git(repo_, ", ref: " + second);
  const Status st = source->Fetch();
  ASSERT_TRUE(st.ok()) << st.ToString();
  const std::string dest = scratch_.Sub("dest");
  ASSERT_TRUE(source->Stage(dest).ok());
  EXPECT_EQ(ReadFile(dest + "/VERSION"), "version 2\n");
}

TEST_F(GitSourceTest, StagingMergesIntoANonEmptyDirectory) {
  const std::string dest = scratch_.Sub("dest");
  WriteFile(dest + "/sub/other", "from an earlier source\n");
  ASSERT_TRUE(Git(repo_, ", ref: " + first_ + ", directory: sub")->Stage(dest).ok());
  EXPECT_EQ(ReadFile(dest + "/sub/VERSION"), "version 1\n");
  EXPECT_EQ(ReadFile(dest + "/sub/other"), "from an earlier source\n");
}

TEST_F(GitSourceTest, UnknownCommitIsAClearError) {
  const std::string missing(40, 'b');
  const Status st = Git(repo_, ", ref: " + missing)->Fetch();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(missing), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("elements/test.bst:7"), std::string::npos);
}

TEST_F(GitSourceTest, UnreachableRepositoryIsAClearError) {
  const Status st = Git(scratch_.path() + "/no-such-repo", ", ref: " + first_)->Fetch();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no-such-repo"), std::string::npos) << st.message();
}

TEST_F(GitSourceTest, TrackOfAMissingBranchNamesIt) {
  auto source = MustMake("{kind: git, url: '" + repo_ + "', track: nope}", ctx_);
  auto ref = source->Track();
  ASSERT_FALSE(ref.has_value());
  EXPECT_NE(ref.error().message().find("nope"), std::string::npos);
}

TEST_F(GitSourceTest, ShortRefIsRejected) {
  const YAML::Node config = YAML::Load("{kind: git, url: x, ref: abc123}");
  EXPECT_FALSE(MakeSource("git", config, testing::TestWhere(), ctx_).has_value());
}

}  // namespace
}  // namespace crossfarm::worker
