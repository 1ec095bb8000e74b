// debian-source with the host's real apt deb-src entries (scripts/setup enables
// them): the small native package `hostname`, downloaded once into the shared cache.
#include "tests/worker/source_test_util.h"

namespace crossfarm::worker {
namespace {

using testing::MustMake;
using testing::ReadFile;
using testing::ScratchDir;

constexpr const char* kHostname = "{kind: debian-source, package: hostname, version: 3.23+nmu1";

class DebianSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_.project_dir = scratch_.Sub("project");
    ctx_.cache_dir = testing::SharedTestCache();
  }
  ScratchDir scratch_;
  SourceContext ctx_;
};

TEST_F(DebianSourceTest, TrackFetchAndStageUnpackTheSourcePackage) {
  auto ref = MustMake(std::string(kHostname) + "}", ctx_)->Track();
  ASSERT_TRUE(ref.has_value()) << ref.error().ToString();
  ASSERT_TRUE(ref->IsSequence());
  bool has_dsc = false;
  for (const auto& item : *ref) {
    has_dsc = has_dsc || item["file"].as<std::string>() == "hostname_3.23+nmu1.dsc";
    EXPECT_EQ(item["sha256"].as<std::string>().size(), 64u);
  }
  EXPECT_TRUE(has_dsc);
  YAML::Emitter out;
  out << YAML::Flow << *ref;
  auto source = MustMake(std::string(kHostname) + ", ref: " + out.c_str() + "}", ctx_);
  const Status fetched = source->Fetch();
  ASSERT_TRUE(fetched.ok()) << fetched.ToString();
  const std::string dest = scratch_.Sub("dest");
  const Status staged = source->Stage(dest);
  ASSERT_TRUE(staged.ok()) << staged.ToString();
  EXPECT_TRUE(std::filesystem::exists(dest + "/hostname.c"));
  EXPECT_NE(ReadFile(dest + "/debian/control").find("Source: hostname"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dest + "/.pc/.quilt_patches"));  // native: no quilt
  for (const auto& e : std::filesystem::directory_iterator(dest)) {
    EXPECT_FALSE(e.path().filename().string().starts_with(".dpkg-source")) << "temp dir left";
  }
  EXPECT_FALSE(std::filesystem::exists(dest + "/hostname-3.23+nmu1"));
}

// Without `version:` tracking takes apt's candidate and fetch finds the
// version of the pinned .dsc itself: a project keeps working when a point
// release replaces the version it was written for.
TEST_F(DebianSourceTest, WithoutAVersionTrackTakesTheCandidateAndFetchFindsItsVersion) {
  ctx_.cache_dir = scratch_.Sub("own-cache");  // nothing cached: fetch must download
  auto ref = MustMake("{kind: debian-source, package: hostname}", ctx_)->Track();
  ASSERT_TRUE(ref.has_value()) << ref.error().ToString();
  std::string dsc;
  for (const auto& item : *ref)
    if (item["file"].as<std::string>().ends_with(".dsc")) dsc = item["file"].as<std::string>();
  EXPECT_TRUE(dsc.starts_with("hostname_")) << dsc;
  YAML::Emitter out;
  out << YAML::Flow << *ref;
  auto source = MustMake("{kind: debian-source, package: hostname, ref: " + std::string(out.c_str()) + "}", ctx_);
  ASSERT_TRUE(source->Ref().has_value());
  EXPECT_TRUE(source->Ref()->starts_with("debian-source hostname -\n")) << *source->Ref();
  const Status fetched = source->Fetch();
  ASSERT_TRUE(fetched.ok()) << fetched.ToString();
  EXPECT_TRUE(std::filesystem::exists(ctx_.cache_dir + "/debian-source/" + dsc));
  const std::string dest = scratch_.Sub("dest");
  ASSERT_TRUE(source->Stage(dest).ok());
  EXPECT_TRUE(std::filesystem::exists(dest + "/hostname.c"));
}

TEST_F(DebianSourceTest, WrongSha256InTheRefIsAClearError) {
  ctx_.cache_dir = scratch_.Sub("cache");
  const std::string wrong(64, 'd');
  auto source = MustMake(std::string(kHostname) +
                             ", ref: [{file: hostname_3.23+nmu1.dsc, sha256: " + wrong + "}]}",
                         ctx_);
  const Status st = source->Fetch();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find(wrong), std::string::npos) << st.message();
  EXPECT_EQ(testing::CountVisibleEntries(ctx_.cache_dir + "/debian-source"), 0);
}

TEST_F(DebianSourceTest, UnknownVersionListsTheKnownOnes) {
  auto ref = MustMake("{kind: debian-source, package: hostname, version: 0.1-1}", ctx_)->Track();
  ASSERT_FALSE(ref.has_value());
  EXPECT_NE(ref.error().message().find("3.23+nmu1"), std::string::npos)
      << ref.error().message();
}

TEST_F(DebianSourceTest, RefWithoutADscIsRejected) {
  const YAML::Node config = YAML::Load(std::string(kHostname) +
                                       ", ref: [{file: a.tar.xz, sha256: abc}]}");
  EXPECT_FALSE(MakeSource("debian-source", config, testing::TestWhere(), ctx_).has_value());
}

}  // namespace
}  // namespace crossfarm::worker
