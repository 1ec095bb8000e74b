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

// Issue 19 point 7: the URL goes after `--`, so git takes one starting with '-'
// as a repository (and fails on it), never as an option it would obey.
TEST_F(GitSourceTest, UrlStartingWithADashIsNeverAGitOption) {
  const std::string marker = scratch_.Sub("marker") + "/ran";
  auto source = Git("--upload-pack=touch " + marker, "");
  auto fetched = source->Track();
  ASSERT_FALSE(fetched.has_value());
  EXPECT_NE(fetched.error().message().find("repository '--upload-pack=touch"), std::string::npos)
      << fetched.error().message();
  EXPECT_FALSE(std::filesystem::exists(marker));
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

// --- submodules and ref-format (bst 1.6's git.py keys) ---

namespace crossfarm::worker {
namespace {

using testing::MustMake;
using testing::ReadFile;
using testing::ScratchDir;
using testing::Sh;
using testing::WriteFile;

// upstream/lib (two commits; the superproject pins the first) and upstream/super
// with lib as a submodule at `lib`, its .gitmodules URL as given.
class GitSubmoduleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_.project_dir = scratch_.Sub("project");
    ctx_.cache_dir = scratch_.Sub("cache");
    lib_ = scratch_.Sub("upstream/lib");
    super_ = scratch_.Sub("upstream/super");
    lib_first_ = Commit(lib_, "LIB", "lib 1\n");
    Sh("cd " + super_ + " && git init -q -b main . && " + kIdentity);
    Commit(super_, "README", "super\n");
  }

  static constexpr const char* kIdentity =
      "git config user.name Test && git config user.email test@example.invalid";

  std::string Commit(const std::string& repo, const std::string& file, const std::string& text) {
    if (!std::filesystem::exists(repo + "/.git")) {
      Sh("cd " + repo + " && git init -q -b main . && " + kIdentity);
    }
    WriteFile(repo + "/" + file, text);
    Sh("cd " + repo + " && git add " + file + " && git commit -q -m " + file);
    return Sh("git -C " + repo + " rev-parse HEAD");
  }

  // Adds lib (at lib_first_) as submodule `lib` whose .gitmodules url is `url`;
  // then lib moves on, so its branch head is not what the superproject pins.
  std::string AddLibSubmodule(const std::string& url) {
    Sh("cd " + super_ + " && git -c protocol.file.allow=always submodule add -q " + lib_ +
       " lib && git config -f .gitmodules submodule.lib.url '" + url +
       "' && git add .gitmodules && git commit -q -m submodule");
    Commit(lib_, "LIB", "lib 2\n");
    return Sh("git -C " + super_ + " rev-parse HEAD");
  }

  Result<std::string> Stage(const std::string& extra) {
    auto source = MustMake("{kind: git, url: '" + super_ + "', track: main" + extra + "}", ctx_);
    const std::string dest = scratch_.path() + "/dest-" + std::to_string(++stages_);
    std::filesystem::create_directories(dest);
    const Status st = source->Stage(dest);
    if (!st.ok()) return Err(st);
    return dest;
  }

  ScratchDir scratch_;
  SourceContext ctx_;
  std::string lib_, super_, lib_first_;
  int stages_ = 0;
};

TEST_F(GitSubmoduleTest, SubmodulesAreCheckedOutAtThePinnedCommitByDefault) {
  const std::string ref = AddLibSubmodule(lib_);
  auto dest = Stage(", ref: " + ref);
  ASSERT_TRUE(dest.has_value()) << dest.error().ToString();
  EXPECT_EQ(ReadFile(*dest + "/README"), "super\n");
  EXPECT_EQ(ReadFile(*dest + "/lib/LIB"), "lib 1\n");
  EXPECT_EQ(Sh("git -C " + *dest + "/lib rev-parse HEAD"), lib_first_);
}

TEST_F(GitSubmoduleTest, CheckoutSubmodulesFalseAndPerPathOverrides) {
  const std::string ref = AddLibSubmodule(lib_);
  auto off = Stage(", ref: " + ref + ", checkout-submodules: false");
  ASSERT_TRUE(off.has_value()) << off.error().ToString();
  EXPECT_FALSE(std::filesystem::exists(*off + "/lib/LIB"));
  auto path_on = Stage(", ref: " + ref +
                       ", checkout-submodules: false, submodules: {lib: {checkout: true}}");
  ASSERT_TRUE(path_on.has_value()) << path_on.error().ToString();
  EXPECT_EQ(ReadFile(*path_on + "/lib/LIB"), "lib 1\n");
  auto path_off = Stage(", ref: " + ref + ", submodules: {lib: {checkout: false}}");
  ASSERT_TRUE(path_off.has_value()) << path_off.error().ToString();
  EXPECT_FALSE(std::filesystem::exists(*path_off + "/lib/LIB"));
}

TEST_F(GitSubmoduleTest, UrlOverrideReplacesTheGitmodulesUrl) {
  const std::string ref = AddLibSubmodule(scratch_.path() + "/gone/lib");
  auto broken = Stage(", ref: " + ref);
  ASSERT_FALSE(broken.has_value());
  EXPECT_NE(broken.error().message().find("submodule lib"), std::string::npos)
      << broken.error().message();
  EXPECT_NE(broken.error().message().find("elements/test.bst:7"), std::string::npos);
  auto fixed = Stage(", ref: " + ref + ", submodules: {lib: {url: '" + lib_ + "'}}");
  ASSERT_TRUE(fixed.has_value()) << fixed.error().ToString();
  EXPECT_EQ(ReadFile(*fixed + "/lib/LIB"), "lib 1\n");
}

TEST_F(GitSubmoduleTest, RelativeGitmodulesUrlIsResolvedAgainstTheSuperproject) {
  const std::string ref = AddLibSubmodule("../lib");
  auto dest = Stage(", ref: " + ref);
  ASSERT_TRUE(dest.has_value()) << dest.error().ToString();
  EXPECT_EQ(ReadFile(*dest + "/lib/LIB"), "lib 1\n");
}

TEST_F(GitSubmoduleTest, RefTextCoversSubmoduleCheckoutChoices) {
  const std::string sha(40, 'a');
  auto make = [&](const std::string& extra) {
    return MustMake("{kind: git, url: x, ref: " + sha + extra + "}", ctx_)->Ref().value_or("");
  };
  const std::string plain = make("");
  EXPECT_NE(plain, make(", checkout-submodules: false"));
  EXPECT_NE(plain, make(", submodules: {lib: {checkout: false}}"));
  EXPECT_EQ(plain, make(", submodules: {lib: {url: 'elsewhere'}}"));  // URLs are not content
}

TEST_F(GitSubmoduleTest, GitDescribeRefFormatTracksTagCountAndSha) {
  Sh("git -C " + super_ + " tag -a -m v1 v1.0");
  const std::string head = Commit(super_, "NEWS", "after the tag\n");
  auto source = MustMake("{kind: git, url: '" + super_ + "', track: main, ref-format: git-describe}",
                         ctx_);
  auto ref = source->Track();
  ASSERT_TRUE(ref.has_value()) << ref.error().ToString();
  EXPECT_EQ(ref->as<std::string>(), "v1.0-1-g" + head);
  auto dest = Stage(", ref: v1.0-1-g" + head);
  ASSERT_TRUE(dest.has_value()) << dest.error().ToString();
  EXPECT_EQ(ReadFile(*dest + "/NEWS"), "after the tag\n");
  // The cache key text names the commit, whichever form the ref has.
  auto sha_form = MustMake("{kind: git, url: x, ref: " + head + "}", ctx_);
  auto describe_form = MustMake("{kind: git, url: x, ref: v1.0-1-g" + head + "}", ctx_);
  EXPECT_EQ(sha_form->Ref(), describe_form->Ref());
}

TEST_F(GitSubmoduleTest, BadConfigIsAnErrorAtItsLine) {
  struct Case {
    const char* yaml;
    const char* says;
  };
  for (const Case& c : {
           Case{"{kind: git, url: x, track: main, ref-format: sha256}", "ref-format"},
           Case{"{kind: git, url: x, track: main, submodules: {lib: {branch: x}}}",
                "unknown submodule key 'branch'"},
           Case{"{kind: git, url: x, track: main, submodules: [lib]}", "submodules"},
           Case{"{kind: git, url: x, track: main, checkout-submodules: sometimes}",
                "true or false"},
           Case{"{kind: git, url: x, track: main, track-tags: true}", "unknown source key"},
           Case{"{kind: git, url: x}", "ref:` and/or `track:"},
           Case{"{kind: git, url: x, ref: v1-x-gabc}", "40-digit"},
       }) {
    const YAML::Node config = YAML::Load(c.yaml);
    auto made = MakeSource("git", config, testing::TestWhere(), ctx_);
    ASSERT_FALSE(made.has_value()) << c.yaml;
    EXPECT_NE(made.error().message().find(c.says), std::string::npos)
        << c.yaml << ": " << made.error().message();
    EXPECT_NE(made.error().message().find("elements/test.bst:"), std::string::npos);
  }
}

}  // namespace
}  // namespace crossfarm::worker
