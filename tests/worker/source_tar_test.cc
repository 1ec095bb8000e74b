// tar sources against a real HTTP server on 127.0.0.1 (cpp-httplib) and file:// URLs.
#include "common/digest.h"
#include "tests/worker/source_test_util.h"
#include "tests/worker/test_http_server.h"
#include "worker/archive.h"

namespace crossfarm::worker {
namespace {

using testing::CountVisibleEntries;
using testing::MustMake;
using testing::ReadFile;
using testing::ScratchDir;
using testing::TestHttpServer;
using testing::WriteFile;

class TarSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string src = scratch_.Sub("src");
    WriteFile(src + "/README", "hello tarball\n");
    WriteFile(src + "/bin/tool", "#!/bin/sh\necho tool\n", /*exec=*/true);
    std::filesystem::create_symlink("README", src + "/README.link");
    tarball_ = scratch_.path() + "/hello-1.0.tar.gz";
    ASSERT_TRUE(WriteTarball(src, "hello-1.0", tarball_, Compression::kGzip).ok());
    body_ = ReadFile(tarball_);
    sha_ = Sha256Hex(body_);
    server_ = std::make_unique<TestHttpServer>();
    server_->Serve("/hello-1.0.tar.gz", body_, "application/gzip");
    ctx_.project_dir = scratch_.Sub("project");
    ctx_.cache_dir = scratch_.Sub("cache");
  }

  std::unique_ptr<Source> Tar(const std::string& url, const std::string& extra = "") {
    return MustMake("{kind: tar, url: '" + url + "'" + extra + "}", ctx_);
  }

  ScratchDir scratch_;
  std::string tarball_, body_, sha_;
  std::unique_ptr<TestHttpServer> server_;
  SourceContext ctx_;
};

TEST_F(TarSourceTest, FetchThenStageStripsTheSingleTopDirectory) {
  auto source = Tar(server_->Url("/hello-1.0.tar.gz"), ", ref: " + sha_);
  ASSERT_TRUE(source->Fetch().ok());
  const std::string dest = scratch_.Sub("dest");
  const Status staged = source->Stage(dest);
  ASSERT_TRUE(staged.ok()) << staged.ToString();
  EXPECT_EQ(ReadFile(dest + "/README"), "hello tarball\n");
  EXPECT_EQ(std::filesystem::read_symlink(dest + "/README.link"), "README");
  struct stat st;
  ASSERT_EQ(stat((dest + "/bin/tool").c_str(), &st), 0);
  EXPECT_NE(st.st_mode & S_IXUSR, 0u);
  EXPECT_FALSE(std::filesystem::exists(dest + "/hello-1.0"));
}

TEST_F(TarSourceTest, SecondFetchIsServedFromTheMirrorCacheWithoutHttp) {
  ASSERT_TRUE(Tar(server_->Url("/hello-1.0.tar.gz"), ", ref: " + sha_)->Fetch().ok());
  EXPECT_EQ(server_->requests(), 1);
  auto again = Tar(server_->Url("/hello-1.0.tar.gz"), ", ref: " + sha_);
  ASSERT_TRUE(again->Fetch().ok());
  ASSERT_TRUE(again->Stage(scratch_.Sub("dest")).ok());
  EXPECT_EQ(server_->requests(), 1);
}

TEST_F(TarSourceTest, WrongSha256NamesElementAndBothSumsAndStoresNothing) {
  const std::string wrong(64, 'a');
  const Status st = Tar(server_->Url("/hello-1.0.tar.gz"), ", ref: " + wrong)->Fetch();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("elements/test.bst:7:3"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(wrong), std::string::npos);
  EXPECT_NE(st.message().find(sha_), std::string::npos);
  EXPECT_EQ(CountVisibleEntries(ctx_.cache_dir + "/tar"), 0);
  EXPECT_TRUE(std::filesystem::is_empty(ctx_.cache_dir + "/tar"));
}

TEST_F(TarSourceTest, FileUrlsAreFetchedThroughLibcurlToo) {
  auto source = Tar("file://" + tarball_, ", ref: " + sha_);
  ASSERT_TRUE(source->Fetch().ok());
  const std::string dest = scratch_.Sub("dest");
  ASSERT_TRUE(source->Stage(dest).ok());
  EXPECT_EQ(ReadFile(dest + "/README"), "hello tarball\n");
  EXPECT_EQ(server_->requests(), 0);
}

TEST_F(TarSourceTest, Http404IsAClearErrorWithTheUrlAndTheElement) {
  const std::string url = server_->Url("/missing-2.0.tar.gz");
  const Status st = Tar(url, ", ref: " + sha_)->Fetch();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_NE(st.message().find("404"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(url), std::string::npos);
  EXPECT_NE(st.message().find("elements/test.bst:7"), std::string::npos);
}

TEST_F(TarSourceTest, MissingFileUrlIsNotFound) {
  const Status st = Tar("file://" + scratch_.path() + "/nope.tar.gz", ", ref: " + sha_)->Fetch();
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
}

TEST_F(TarSourceTest, TrackDownloadsAndReturnsTheSha256) {
  auto source = Tar(server_->Url("/hello-1.0.tar.gz"));
  EXPECT_FALSE(source->Ref().has_value());
  auto ref = source->Track();
  ASSERT_TRUE(ref.has_value()) << ref.error().ToString();
  EXPECT_EQ(ref->as<std::string>(), sha_);
  // Track left the tarball in the mirror: fetching the new ref needs no request.
  ASSERT_TRUE(Tar(server_->Url("/hello-1.0.tar.gz"), ", ref: " + sha_)->Fetch().ok());
  EXPECT_EQ(server_->requests(), 1);
}

TEST_F(TarSourceTest, FetchWithoutRefAsksForTrack) {
  const Status st = Tar(server_->Url("/hello-1.0.tar.gz"))->Fetch();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("source track"), std::string::npos) << st.message();
}

TEST_F(TarSourceTest, EmptyBaseDirStagesTheTopDirectoryToo) {
  auto source = Tar("file://" + tarball_, ", ref: " + sha_ + ", base-dir: ''");
  const std::string dest = scratch_.Sub("dest");
  ASSERT_TRUE(source->Stage(dest).ok());
  EXPECT_EQ(ReadFile(dest + "/hello-1.0/README"), "hello tarball\n");
}

TEST_F(TarSourceTest, BaseDirAndDirectorySelectASubtreeAndTarget) {
  auto source = Tar("file://" + tarball_, ", ref: " + sha_ + ", base-dir: '*/bin', directory: x");
  const std::string dest = scratch_.Sub("dest");
  ASSERT_TRUE(source->Stage(dest).ok());
  EXPECT_TRUE(std::filesystem::exists(dest + "/x/tool"));
  EXPECT_FALSE(std::filesystem::exists(dest + "/x/README"));
}

TEST_F(TarSourceTest, BaseDirMatchingNothingIsAUserError) {
  auto source = Tar("file://" + tarball_, ", ref: " + sha_ + ", base-dir: 'nothing-*'");
  const Status st = source->Stage(scratch_.Sub("dest"));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("nothing-*"), std::string::npos) << st.message();
}

TEST_F(TarSourceTest, AliasesAreExpandedThroughTheContext) {
  ctx_.translate_url = [this](const std::string& url) {
    return url.starts_with("local:") ? server_->Url("/" + url.substr(6)) : url;
  };
  ASSERT_TRUE(Tar("local:hello-1.0.tar.gz", ", ref: " + sha_)->Fetch().ok());
  EXPECT_EQ(server_->requests(), 1);
}

TEST_F(TarSourceTest, RefCoversShaAndBaseDir) {
  auto a = Tar("file://" + tarball_, ", ref: " + sha_);
  auto b = Tar("file://" + tarball_, ", ref: " + sha_ + ", base-dir: ''");
  ASSERT_TRUE(a->Ref() && b->Ref());
  EXPECT_NE(*a->Ref(), *b->Ref());
  EXPECT_NE(a->Ref()->find(sha_), std::string::npos);
}

TEST_F(TarSourceTest, BadRefIsRejectedAtConstruction) {
  const YAML::Node config = YAML::Load("{kind: tar, url: x, ref: not-a-sha}");
  auto source = MakeSource("tar", config, testing::TestWhere(), ctx_);
  ASSERT_FALSE(source.has_value());
  EXPECT_NE(source.error().message().find("sha256"), std::string::npos);
}

class TarCompressionTest : public ::testing::TestWithParam<Compression> {};

TEST_P(TarCompressionTest, EveryCompressionUnpacks) {
  ScratchDir scratch;
  WriteFile(scratch.Sub("src") + "/f.txt", "compressed\n");
  const std::string tarball = scratch.path() + "/t.tar";
  ASSERT_TRUE(WriteTarball(scratch.path() + "/src", "top", tarball, GetParam()).ok());
  SourceContext ctx{scratch.Sub("project"), {}, scratch.Sub("cache"), nullptr};
  auto sha = Digest::OfFile(tarball);
  ASSERT_TRUE(sha.has_value());
  auto source = MustMake("{kind: tar, url: 'file://" + tarball + "', ref: " + sha->Hex() + "}", ctx);
  const std::string dest = scratch.Sub("dest");
  const Status st = source->Stage(dest);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ReadFile(dest + "/f.txt"), "compressed\n");
}

std::string CompressionName(const ::testing::TestParamInfo<Compression>& param) {
  constexpr const char* kNames[] = {"none", "gzip", "xz", "bzip2", "zstd"};
  return kNames[static_cast<int>(param.param)];
}

INSTANTIATE_TEST_SUITE_P(All, TarCompressionTest,
                         ::testing::Values(Compression::kNone, Compression::kGzip,
                                           Compression::kXz, Compression::kBzip2,
                                           Compression::kZstd),
                         CompressionName);

TEST(GlobMatchTest, StarStopsAtSlashAndDoubleStarDoesNot) {
  struct Case {
    const char* pattern;
    const char* path;
    bool match;
  };
  for (const Case& c : {Case{"*", "hello-1.0", true}, Case{"*", "a/b", false},
                        Case{"**", "a/b", true}, Case{"*/bin", "hello/bin", true},
                        Case{"hello-?.0", "hello-1.0", true}, Case{"?", "/", false},
                        Case{"src", "src", true}, Case{"src", "src2", false}}) {
    EXPECT_EQ(GlobMatch(c.pattern, c.path), c.match) << c.pattern << " vs " << c.path;
  }
}

}  // namespace
}  // namespace crossfarm::worker
