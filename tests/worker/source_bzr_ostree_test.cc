// bzr and ostree sources against repositories made in the test with Debian's
// `bzr` (brz) and `ostree` CLIs, reached through file:// URLs.
#include "tests/worker/source_test_util.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using testing::MustMake;
using testing::ReadFile;
using testing::ScratchDir;
using testing::Sh;
using testing::WriteFile;

Status MakeError(const std::string& yaml, const SourceContext& ctx) {
  const YAML::Node config = YAML::Load(yaml);
  auto made = MakeSource(config["kind"].as<std::string>(), config, testing::TestWhere(), ctx);
  return made ? Status::Ok() : made.error();
}

// --- bzr ---

// A shared repository upstream/repo with branch `trunk`: revno 1 and 2.
class BzrSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_.project_dir = scratch_.Sub("project");
    ctx_.cache_dir = scratch_.Sub("cache");
    repo_ = scratch_.path() + "/upstream/repo";
    Sh("bzr init-repo -q " + repo_ + " && bzr init -q " + repo_ + "/trunk");
    Commit("VERSION", "1\n");
    Commit("VERSION", "2\n");
  }
  void Commit(const std::string& file, const std::string& text) {
    WriteFile(repo_ + "/trunk/" + file, text);
    Sh("cd " + repo_ + "/trunk && bzr add -q " + file +
       " && BRZ_EMAIL='T <t@example.invalid>' bzr commit -q -m " + file);
  }
  std::unique_ptr<Source> Bzr(const std::string& extra) {
    return MustMake("{kind: bzr, url: 'file://" + repo_ + "', track: trunk" + extra + "}", ctx_);
  }

  ScratchDir scratch_;
  SourceContext ctx_;
  std::string repo_;
};

TEST_F(BzrSourceTest, TrackReturnsTheRevisionNumberOfTheBranch) {
  auto ref = Bzr("")->Track();
  ASSERT_TRUE(ref.has_value()) << ref.error().ToString();
  EXPECT_EQ(ref->as<std::string>(), "2");
  Commit("NEWS", "three\n");
  auto again = Bzr("")->Track();  // pulls into the existing mirror
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(again->as<std::string>(), "3");
}

TEST_F(BzrSourceTest, StageExportsThePinnedRevisionWithoutBzrMetadata) {
  const std::string dest = scratch_.Sub("dest");
  WriteFile(dest + "/sub/other", "earlier source\n");
  const Status st = Bzr(", ref: '1', directory: sub")->Stage(dest);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ReadFile(dest + "/sub/VERSION"), "1\n");
  EXPECT_EQ(ReadFile(dest + "/sub/other"), "earlier source\n");
  EXPECT_FALSE(fs::exists(dest + "/sub/.bzr"));
}

TEST_F(BzrSourceTest, FetchPullsANewRevisionIntoTheMirror) {
  ASSERT_TRUE(Bzr(", ref: '2'")->Fetch().ok());
  Commit("VERSION", "3\n");
  auto source = Bzr(", ref: '3'");
  const Status st = source->Fetch();
  ASSERT_TRUE(st.ok()) << st.ToString();
  const std::string dest = scratch_.Sub("dest");
  ASSERT_TRUE(source->Stage(dest).ok());
  EXPECT_EQ(ReadFile(dest + "/VERSION"), "3\n");
}

TEST_F(BzrSourceTest, MissingRevisionAndBranchAreClearErrors) {
  const Status st = Bzr(", ref: '9'")->Fetch();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("revision 9"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("elements/test.bst:7"), std::string::npos);
  auto other = MustMake("{kind: bzr, url: 'file://" + repo_ + "', track: nope}", ctx_)->Track();
  ASSERT_FALSE(other.has_value());
  EXPECT_NE(other.error().message().find("nope"), std::string::npos) << other.error().message();
}

TEST_F(BzrSourceTest, RefTextNamesBranchAndRevision) {
  auto a = Bzr(", ref: '1'");
  auto b = Bzr(", ref: '2'");
  ASSERT_TRUE(a->Ref() && b->Ref());
  EXPECT_NE(*a->Ref(), *b->Ref());
  EXPECT_NE(a->Ref()->find("track=trunk"), std::string::npos);
}

TEST_F(BzrSourceTest, ConfigErrorsNameTheLine) {
  for (const auto& [yaml, says] : std::vector<std::pair<std::string, std::string>>{
           {"{kind: bzr, url: x}", "track"},
           {"{kind: bzr, url: x, track: trunk, ref: abc}", "revision number"},
           {"{kind: bzr, url: x, track: trunk, branch: b}", "unknown source key 'branch'"},
       }) {
    const Status st = MakeError(yaml, ctx_);
    ASSERT_FALSE(st.ok()) << yaml;
    EXPECT_NE(st.message().find(says), std::string::npos) << yaml << ": " << st.message();
    EXPECT_NE(st.message().find("elements/test.bst:"), std::string::npos);
  }
}

// --- ostree ---

// An archive repository upstream/repo whose branch `main` has two commits.
class OstreeSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_.project_dir = scratch_.Sub("project");
    ctx_.cache_dir = scratch_.Sub("cache");
    repo_ = scratch_.Sub("upstream") + "/repo";
    Sh("ostree init --repo=" + repo_ + " --mode=archive");
    first_ = Commit("1\n");
    second_ = Commit("2\n");
  }
  void TearDown() override {
    if (!gnupg_.empty()) Sh("gpgconf --homedir " + gnupg_ + " --kill gpg-agent");
  }
  std::string Commit(const std::string& version, const std::string& sign_args = "") {
    const std::string tree = scratch_.path() + "/tree";
    fs::remove_all(tree);
    WriteFile(tree + "/VERSION", version);
    WriteFile(tree + "/usr/bin/tool", "#!/bin/sh\n", /*exec=*/true);
    fs::create_symlink("tool", tree + "/usr/bin/tool-link");
    return Sh("ostree commit --repo=" + repo_ + " --branch=main --tree=dir=" + tree +
              " -s update " + sign_args + " 2>" + scratch_.path() + "/commit.err");
  }
  std::unique_ptr<Source> Ostree(const std::string& extra) {
    return MustMake("{kind: ostree, url: 'file://" + repo_ + "', track: main" + extra + "}", ctx_);
  }

  ScratchDir scratch_;
  SourceContext ctx_;
  std::string repo_, first_, second_, gnupg_;
};

TEST_F(OstreeSourceTest, TrackReturnsTheCommitChecksumOfTheBranch) {
  auto ref = Ostree("")->Track();
  ASSERT_TRUE(ref.has_value()) << ref.error().ToString();
  EXPECT_EQ(ref->as<std::string>(), second_);
  const std::string third = Commit("3\n");
  auto again = Ostree("")->Track();
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(again->as<std::string>(), third);
}

TEST_F(OstreeSourceTest, StageChecksOutThePinnedCommitWithModesAndLinks) {
  const std::string dest = scratch_.Sub("dest");
  const Status st = Ostree(", ref: " + first_ + ", directory: root")->Stage(dest);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ReadFile(dest + "/root/VERSION"), "1\n");
  EXPECT_EQ(fs::read_symlink(dest + "/root/usr/bin/tool-link"), "tool");
  struct stat info {};
  ASSERT_EQ(stat((dest + "/root/usr/bin/tool").c_str(), &info), 0);
  EXPECT_NE(info.st_mode & S_IXUSR, 0u);
  EXPECT_EQ(info.st_nlink, 1u);  // a copy, not a hardlink into the mirror
}

TEST_F(OstreeSourceTest, UnknownCommitIsAnErrorNamingTheElement) {
  const std::string missing(64, 'e');
  const Status st = Ostree(", ref: " + missing)->Fetch();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("elements/test.bst:7"), std::string::npos) << st.message();
}

TEST_F(OstreeSourceTest, GpgKeyRequiresCommitsSignedByThatKey) {
  gnupg_ = scratch_.Sub("gnupg");
  fs::permissions(gnupg_, fs::perms::owner_all);
  Sh("gpg --homedir " + gnupg_ + " --batch --quiet --passphrase '' --quick-gen-key "
     "'Test <t@example.invalid>' ed25519 sign never");
  const std::string key_id = Sh("gpg --homedir " + gnupg_ +
                                " --list-keys --with-colons 2>/dev/null | awk -F: '/^fpr/ {print $10; exit}'");
  Sh("gpg --homedir " + gnupg_ + " --export " + key_id + " 2>/dev/null > " + ctx_.project_dir + "/key.gpg");
  const std::string signed_commit =
      Commit("signed\n", "--gpg-sign=" + key_id + " --gpg-homedir=" + gnupg_);
  const Status ok = Ostree(", ref: " + signed_commit + ", gpg-key: key.gpg")->Fetch();
  EXPECT_TRUE(ok.ok()) << ok.ToString();
  // first_ is not signed: with a gpg-key it is refused, even once an unverified
  // pull of the same URL has put it into the mirror.
  ASSERT_TRUE(Ostree(", ref: " + first_)->Fetch().ok());
  const Status refused = Ostree(", ref: " + first_ + ", gpg-key: key.gpg")->Fetch();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("GPG"), std::string::npos) << refused.message();
}

TEST_F(OstreeSourceTest, ConfigErrorsNameTheLine) {
  for (const auto& [yaml, says] : std::vector<std::pair<std::string, std::string>>{
           {"{kind: ostree, url: x}", "ref:` and/or `track:"},
           {"{kind: ostree, url: x, ref: main}", "checksum"},
           {"{kind: ostree, url: x, track: main, gpg-key: missing.gpg}", "gpg-key"},
           {"{kind: ostree, url: x, track: main, remote: r}", "unknown source key 'remote'"},
       }) {
    const Status st = MakeError(yaml, ctx_);
    ASSERT_FALSE(st.ok()) << yaml;
    EXPECT_NE(st.message().find(says), std::string::npos) << yaml << ": " << st.message();
    EXPECT_NE(st.message().find("elements/test.bst:"), std::string::npos);
  }
}

}  // namespace
}  // namespace crossfarm::worker
