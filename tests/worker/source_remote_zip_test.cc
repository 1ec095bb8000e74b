// remote and zip sources against a real HTTP server on 127.0.0.1 (cpp-httplib).
// The zip archives are written by Python's zipfile, as bst's zip.py reads them.
#include "common/digest.h"
#include "tests/worker/source_test_util.h"
#include "tests/worker/test_http_server.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using testing::CountVisibleEntries;
using testing::MustMake;
using testing::ReadFile;
using testing::ScratchDir;
using testing::Sh;
using testing::TestHttpServer;
using testing::WriteFile;

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

class DownloadSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_.project_dir = scratch_.Sub("project");
    ctx_.cache_dir = scratch_.Sub("cache");
  }
  // Serves `body` at `path` and returns its sha256.
  std::string Serve(const std::string& path, const std::string& body) {
    server_.Serve(path, body);
    return Sha256Hex(body);
  }
  std::unique_ptr<Source> Make(const std::string& yaml) { return MustMake(yaml, ctx_); }
  Status MakeError(const std::string& yaml) {
    const YAML::Node config = YAML::Load(yaml);
    auto made = MakeSource(config["kind"].as<std::string>(), config, testing::TestWhere(), ctx_);
    return made ? Status::Ok() : made.error();
  }

  ScratchDir scratch_;
  TestHttpServer server_;
  SourceContext ctx_;
};

// --- remote ---

TEST_F(DownloadSourceTest, RemoteStagesTheFileUnderItsUrlBasenameWithMode0644) {
  const std::string sha = Serve("/dl/tool.sh", "#!/bin/sh\necho hi\n");
  auto source = Make("{kind: remote, url: '" + server_.Url("/dl/tool.sh") + "', ref: " + sha + "}");
  const std::string dest = scratch_.Sub("dest");
  const Status st = source->Stage(dest);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ReadFile(dest + "/tool.sh"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(ModeOf(dest + "/tool.sh"), 0644u);
  EXPECT_EQ(CountVisibleEntries(dest), 1);
}

TEST_F(DownloadSourceTest, RemoteFilenameDirectoryAndExecutable) {
  const std::string sha = Serve("/dl/tool.sh", "#!/bin/sh\n");
  auto source = Make("{kind: remote, url: '" + server_.Url("/dl/tool.sh") + "', ref: " + sha +
                     ", filename: run, executable: true, directory: usr/bin}");
  const std::string dest = scratch_.Sub("dest");
  ASSERT_TRUE(source->Stage(dest).ok());
  EXPECT_EQ(ReadFile(dest + "/usr/bin/run"), "#!/bin/sh\n");
  EXPECT_EQ(ModeOf(dest + "/usr/bin/run"), 0755u);
}

TEST_F(DownloadSourceTest, RemoteTrackReturnsTheSha256AndKeepsTheFile) {
  const std::string sha = Serve("/f.txt", "version 1\n");
  auto source = Make("{kind: remote, url: '" + server_.Url("/f.txt") + "'}");
  EXPECT_FALSE(source->Ref().has_value());
  auto ref = source->Track();
  ASSERT_TRUE(ref.has_value()) << ref.error().ToString();
  EXPECT_EQ(ref->as<std::string>(), sha);
  const std::string sha2 = Serve("/f.txt", "version 2\n");
  auto again = Make("{kind: remote, url: '" + server_.Url("/f.txt") + "'}")->Track();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->as<std::string>(), sha2);
  EXPECT_NE(sha, sha2);
  // Both downloads are in the mirror: fetching either needs no request.
  const int before = server_.requests();
  ASSERT_TRUE(Make("{kind: remote, url: '" + server_.Url("/f.txt") + "', ref: " + sha + "}")
                  ->Fetch().ok());
  EXPECT_EQ(server_.requests(), before);
}

TEST_F(DownloadSourceTest, RemoteWrongShaIsCorruptionAndStoresNothing) {
  Serve("/f.txt", "content\n");
  const std::string wrong(64, 'c');
  const Status st =
      Make("{kind: remote, url: '" + server_.Url("/f.txt") + "', ref: " + wrong + "}")->Fetch();
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
  EXPECT_NE(st.message().find(wrong), std::string::npos);
  EXPECT_NE(st.message().find("elements/test.bst:7:3"), std::string::npos);
  EXPECT_EQ(CountVisibleEntries(ctx_.cache_dir + "/remote"), 0);
}

TEST_F(DownloadSourceTest, RemoteRefCoversFilenameAndExecutable) {
  const std::string sha(64, 'a');
  const std::string url = server_.Url("/f");
  auto a = Make("{kind: remote, url: '" + url + "', ref: " + sha + "}");
  auto b = Make("{kind: remote, url: '" + url + "', ref: " + sha + ", filename: g}");
  auto c = Make("{kind: remote, url: '" + url + "', ref: " + sha + ", executable: true}");
  ASSERT_TRUE(a->Ref() && b->Ref() && c->Ref());
  EXPECT_NE(*a->Ref(), *b->Ref());
  EXPECT_NE(*a->Ref(), *c->Ref());
}

TEST_F(DownloadSourceTest, RemoteConfigErrorsNameTheLine) {
  struct Case {
    const char* yaml;
    const char* says;
  };
  for (const Case& c : {
           Case{"{kind: remote, url: 'http://x/f', filename: a/b}", "cannot contain directories"},
           Case{"{kind: remote, url: 'http://x/f', executable: maybe}", "true or false"},
           Case{"{kind: remote, url: 'http://x/f', ref: abc}", "sha256"},
           Case{"{kind: remote, url: 'http://x/f', sha: abc}", "unknown source key 'sha'"},
           Case{"{kind: remote}", "url"},
       }) {
    const Status st = MakeError(c.yaml);
    ASSERT_FALSE(st.ok()) << c.yaml;
    EXPECT_NE(st.message().find(c.says), std::string::npos) << c.yaml << ": " << st.message();
    EXPECT_NE(st.message().find("elements/test.bst:"), std::string::npos) << st.message();
  }
}

// --- zip ---

class ZipSourceTest : public DownloadSourceTest {
 protected:
  // hello-1.0/README (mode 0600 in the zip), hello-1.0/bin/tool (0755),
  // hello-1.0/share/ (explicit directory entry, 0700); no entry for hello-1.0/.
  void SetUp() override {
    DownloadSourceTest::SetUp();
    zip_ = scratch_.path() + "/hello.zip";
    Sh("python3 - '" + zip_ + "' <<'PY'\n"
       "import sys, zipfile\n"
       "def add(z, name, mode, data=b''):\n"
       "    info = zipfile.ZipInfo(name)\n"
       "    info.external_attr = mode << 16\n"
       "    z.writestr(info, data)\n"
       "with zipfile.ZipFile(sys.argv[1], 'w') as z:\n"
       "    add(z, 'hello-1.0/README', 0o100600, b'hello zip\\n')\n"
       "    add(z, 'hello-1.0/bin/tool', 0o100755, b'#!/bin/sh\\n')\n"
       "    add(z, 'hello-1.0/share/', 0o40700)\n"
       "PY");
    sha_ = Serve("/hello.zip", ReadFile(zip_));
  }
  std::unique_ptr<Source> Zip(const std::string& extra = "") {
    return Make("{kind: zip, url: '" + server_.Url("/hello.zip") + "', ref: " + sha_ + extra +
                "}");
  }

  std::string zip_, sha_;
};

TEST_F(ZipSourceTest, StagesBelowTheSingleTopDirectoryWithBstModes) {
  const std::string dest = scratch_.Sub("dest");
  const Status st = Zip()->Stage(dest);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(ReadFile(dest + "/README"), "hello zip\n");
  EXPECT_FALSE(fs::exists(dest + "/hello-1.0"));
  // bst's zip.py: directories 0755, every file 0644 (the archive's modes are dropped).
  EXPECT_EQ(ModeOf(dest + "/README"), 0644u);
  EXPECT_EQ(ModeOf(dest + "/bin/tool"), 0644u);
  EXPECT_EQ(ModeOf(dest + "/share"), 0755u);
  EXPECT_EQ(ModeOf(dest + "/bin"), 0755u);
}

TEST_F(ZipSourceTest, EmptyBaseDirStagesEverythingAndGlobSelectsASubtree) {
  const std::string all = scratch_.Sub("all");
  ASSERT_TRUE(Zip(", base-dir: ''")->Stage(all).ok());
  EXPECT_EQ(ReadFile(all + "/hello-1.0/README"), "hello zip\n");
  const std::string bin = scratch_.Sub("bin");
  ASSERT_TRUE(Zip(", base-dir: '*/bin', directory: x")->Stage(bin).ok());
  EXPECT_TRUE(fs::exists(bin + "/x/tool"));
  EXPECT_FALSE(fs::exists(bin + "/x/README"));
}

TEST_F(ZipSourceTest, BaseDirMatchingNothingNamesThePattern) {
  const Status st = Zip(", base-dir: 'nothing-*'")->Stage(scratch_.Sub("dest"));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("nothing-*"), std::string::npos) << st.message();
}

TEST_F(ZipSourceTest, TrackThenFetchFromTheMirror) {
  auto tracked = Make("{kind: zip, url: '" + server_.Url("/hello.zip") + "'}")->Track();
  ASSERT_TRUE(tracked.has_value()) << tracked.error().ToString();
  EXPECT_EQ(tracked->as<std::string>(), sha_);
  ASSERT_TRUE(Zip()->Fetch().ok());
  EXPECT_EQ(server_.requests(), 1);
}

TEST_F(ZipSourceTest, NotAZipIsAnErrorAtStage) {
  const std::string sha = Serve("/bad.zip", "this is not a zip archive\n");
  auto source = Make("{kind: zip, url: '" + server_.Url("/bad.zip") + "', ref: " + sha +
                     ", base-dir: ''}");
  const Status st = source->Stage(scratch_.Sub("dest"));
  EXPECT_FALSE(st.ok());
}

TEST_F(ZipSourceTest, WrongShaAndUnknownKeysAreErrors) {
  const std::string wrong(64, 'd');
  const Status st =
      Make("{kind: zip, url: '" + server_.Url("/hello.zip") + "', ref: " + wrong + "}")->Fetch();
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  const Status keys = MakeError("{kind: zip, url: x, strip: 1}");
  EXPECT_NE(keys.message().find("unknown source key 'strip'"), std::string::npos);
}

}  // namespace
}  // namespace crossfarm::worker
