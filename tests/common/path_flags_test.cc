#include "common/path_flags.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

namespace crossfarm {
namespace {

namespace fs = std::filesystem;

// Runs the test body in a fresh temp dir as the cwd, restoring the old cwd.
class PathFlagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    old_cwd_ = fs::current_path();
    char tmpl[] = "/tmp/cf-path-flags-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::current_path(dir_);
  }
  void TearDown() override {
    fs::current_path(old_cwd_);
    fs::remove_all(dir_);
  }
  fs::path old_cwd_, dir_;
};

TEST_F(PathFlagsTest, ARelativePathIsResolvedAgainstTheCurrentDirectory) {
  auto p = AbsolutePathFlag("--cache", "w1");
  ASSERT_TRUE(p) << p.error().ToString();
  EXPECT_EQ(*p, (dir_ / "w1").string());
}

TEST_F(PathFlagsTest, DotsAndTrailingSlashesAreNormalisedAway) {
  EXPECT_EQ(*AbsolutePathFlag("--cache", "./a/../w1/"), (dir_ / "w1").string());
  EXPECT_EQ(*AbsolutePathFlag("--cache", "."), dir_.string());
  EXPECT_EQ(*AbsolutePathFlag("--dir", "/var//lib/./cas/"), "/var/lib/cas");
  EXPECT_EQ(*AbsolutePathFlag("--dir", "/"), "/");
}

TEST_F(PathFlagsTest, AnAbsolutePathDoesNotDependOnTheCurrentDirectory) {
  EXPECT_EQ(*AbsolutePathFlag("--key", "/etc/crossfarm/w1.key"), "/etc/crossfarm/w1.key");
}

TEST_F(PathFlagsTest, AnUnsetOptionalFlagStaysEmpty) {
  EXPECT_EQ(*AbsolutePathFlag("--key", ""), "");
}

TEST_F(PathFlagsTest, EveryFlagIsResolvedInPlace) {
  std::string cache = "w1", key = "keys/w1.key", unset;
  ASSERT_TRUE(MakePathFlagsAbsolute({{"--cache", &cache}, {"--key", &key}, {"--cas-key", &unset}}).ok());
  EXPECT_EQ(cache, (dir_ / "w1").string());
  EXPECT_EQ(key, (dir_ / "keys/w1.key").string());
  EXPECT_EQ(unset, "");
}

TEST_F(PathFlagsTest, ADeletedCurrentDirectoryIsAnErrorNamingTheFlag) {
  fs::create_directory(dir_ / "gone");
  fs::current_path(dir_ / "gone");
  fs::remove(dir_ / "gone");
  std::string cache = "w1";
  Status s = MakePathFlagsAbsolute({{"--cache", &cache}});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("--cache w1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("hint:"), std::string::npos) << s.message();
  EXPECT_EQ(cache, "w1");
}

}  // namespace
}  // namespace crossfarm
