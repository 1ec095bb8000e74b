// `kind: deb` in bst 1.6's form (url:, one .deb): a real package fetched once with
// `apt-get download` into CROSSFARM_TEST_CACHE/debs (as tests/worker/
// prepare-fixtures.sh does), served by a 127.0.0.1 HTTP server.
#include "common/digest.h"
#include "tests/worker/source_test_util.h"
#include "tests/worker/test_http_server.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using testing::MustMake;
using testing::ReadFile;
using testing::ScratchDir;
using testing::SharedTestCache;
using testing::Sh;
using testing::TestHttpServer;

// The cached .deb of `package` for the host's arch, downloaded when missing.
std::string FixtureDeb(const std::string& package) {
  const std::string dir = SharedTestCache() + "/debs";
  fs::create_directories(dir);
  const std::string arch = Sh("dpkg --print-architecture");
  auto find = [&]() -> std::string {
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string name = e.path().filename().string();
      if (name.starts_with(package + "_") && name.ends_with("_" + arch + ".deb")) {
        return e.path().string();
      }
    }
    return {};
  };
  if (std::string found = find(); !found.empty()) return found;
  // Same command as prepare-fixtures.sh (root; apt's _apt user may not write here).
  Sh("cd " + dir + " && (apt-get download -qq -o APT::Sandbox::User=root " + package +
     " || (apt-get update -qq && apt-get download -qq -o APT::Sandbox::User=root " + package +
     "))");
  return find();
}

// Relative names of the files (not directories) the package ships, by dpkg-deb.
std::vector<std::string> FilesIn(const std::string& deb) {
  std::vector<std::string> out;
  std::istringstream lines(Sh("dpkg-deb --fsys-tarfile " + deb + " | tar -t"));
  for (std::string line; std::getline(lines, line);) {
    if (line.ends_with("/")) continue;
    out.push_back(line.starts_with("./") ? line.substr(2) : line);
  }
  return out;
}

class BstDebSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    deb_ = FixtureDeb("hello");
    ASSERT_FALSE(deb_.empty()) << "apt-get download hello failed";
    body_ = ReadFile(deb_);
    sha_ = Sha256Hex(body_);
    server_.Serve("/pool/hello.deb", body_, "application/vnd.debian.binary-package");
    ctx_.project_dir = scratch_.Sub("project");
    ctx_.cache_dir = scratch_.Sub("cache");
  }
  std::unique_ptr<Source> Deb(const std::string& extra) {
    return MustMake("{kind: deb, url: '" + server_.Url("/pool/hello.deb") + "'" + extra + "}",
                    ctx_);
  }

  ScratchDir scratch_;
  TestHttpServer server_;
  SourceContext ctx_;
  std::string deb_, body_, sha_;
};

TEST_F(BstDebSourceTest, StagesEveryFileOfTheDataTarball) {
  const std::string dest = scratch_.Sub("dest");
  const Status st = Deb(", ref: " + sha_)->Stage(dest);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const auto files = FilesIn(deb_);
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) EXPECT_TRUE(fs::exists(dest + "/" + f)) << f;
  struct stat info {};
  ASSERT_EQ(stat((dest + "/usr/bin/hello").c_str(), &info), 0);
  EXPECT_NE(info.st_mode & S_IXUSR, 0u);
  EXPECT_EQ(server_.requests(), 1);
}

TEST_F(BstDebSourceTest, BaseDirSelectsASubtree) {
  const std::string dest = scratch_.Sub("dest");
  const Status st = Deb(", ref: " + sha_ + ", base-dir: 'usr/bin'")->Stage(dest);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(fs::exists(dest + "/hello"));
  EXPECT_FALSE(fs::exists(dest + "/usr"));
  const Status none = Deb(", ref: " + sha_ + ", base-dir: 'opt/*'")->Stage(scratch_.Sub("d2"));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.message().find("opt/*"), std::string::npos) << none.message();
}

TEST_F(BstDebSourceTest, FilesGoThroughMergedUsrLinksOfEarlierSources) {
  // As bin -> usr/bin in a merged-/usr root: an absolute link an earlier source
  // staged is followed inside the root, and stays a link.
  const std::string dest = scratch_.Sub("dest");
  fs::create_directories(dest + "/opt/share");
  fs::create_directories(dest + "/usr");
  fs::create_symlink("/opt/share", dest + "/usr/share");
  ASSERT_TRUE(Deb(", ref: " + sha_)->Stage(dest).ok());
  EXPECT_TRUE(fs::is_symlink(dest + "/usr/share"));
  EXPECT_TRUE(fs::exists(dest + "/opt/share/doc/hello"));
}

TEST_F(BstDebSourceTest, TrackIsTheSha256OfTheDownload) {
  auto ref = Deb("")->Track();
  ASSERT_TRUE(ref.has_value()) << ref.error().ToString();
  EXPECT_EQ(ref->as<std::string>(), sha_);
}

TEST_F(BstDebSourceTest, WrongShaIsCorruption) {
  const Status st = Deb(", ref: " + std::string(64, 'f'))->Fetch();
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
}

TEST_F(BstDebSourceTest, CrossfarmKeysWithUrlAreAnErrorThatExplainsTheTwoForms) {
  const YAML::Node config = YAML::Load("{kind: deb, url: 'http://x/y.deb', packages: [hello]}");
  auto made = MakeSource("deb", config, testing::TestWhere(), ctx_);
  ASSERT_FALSE(made.has_value());
  EXPECT_NE(made.error().message().find("unknown source key 'packages'"), std::string::npos)
      << made.error().message();
  EXPECT_NE(made.error().message().find("bst's deb source"), std::string::npos);
  EXPECT_NE(made.error().message().find("elements/test.bst:"), std::string::npos);
}

TEST_F(BstDebSourceTest, RefTextDiffersFromTheAptForm) {
  auto source = Deb(", ref: " + sha_);
  ASSERT_TRUE(source->Ref().has_value());
  EXPECT_TRUE(source->Ref()->starts_with("deb-url sha256=" + sha_)) << *source->Ref();
}

}  // namespace
}  // namespace crossfarm::worker
