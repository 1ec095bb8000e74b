// The worker's start-up self-check with real bubblewrap (worker/self_check.h).
#include "worker/self_check.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;

class SelfCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::Create("", "self-check-test-");
    ASSERT_TRUE(d.has_value()) << d.error().ToString();
    dir_.emplace(std::move(*d));
  }
  JobRunnerOptions Dirs(const std::string& cache) {
    return JobRunnerOptions{.work_dir = cache + "/tmp", .checkout_dir = cache + "/checkouts",
                            .log_dir = cache + "/logs"};
  }
  std::optional<TempDir> dir_;
};

TEST_F(SelfCheckTest, AUsableCacheDirPassesAndIsLeftWithOnlyTheEmptyWorkDirs) {
  std::string cache = dir_->path() + "/w1";
  Status s = SandboxSelfCheck(Sandbox{}, Dirs(cache));
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (const char* sub : {"/tmp", "/checkouts", "/logs"}) {
    EXPECT_TRUE(fs::is_directory(cache + sub)) << sub;
    EXPECT_TRUE(fs::is_empty(cache + sub)) << sub;
  }
}

TEST_F(SelfCheckTest, ACacheDirThatCannotBeCreatedFailsNamingThePath) {
  // Under a regular file: fails for root too (permission bits would not).
  std::ofstream(dir_->path() + "/file") << "not a directory";
  std::string cache = dir_->path() + "/file/w1";
  Status s = SandboxSelfCheck(Sandbox{}, Dirs(cache));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find(cache + "/tmp"), std::string::npos) << s.message();
}

TEST_F(SelfCheckTest, ARelativeCacheDirIsRefusedBeforeAnythingIsCreated) {
  Status s = SandboxSelfCheck(Sandbox{}, Dirs("w1"));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("'w1/tmp' is not an absolute path"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists("w1"));
}

TEST_F(SelfCheckTest, ASandboxThatDoesNotRunIsAFailedPreconditionWithItsOutput) {
  // A "bwrap" that fails the way a host without user namespaces does.
  std::string fake = dir_->path() + "/bwrap";
  std::ofstream(fake) << "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n";
  fs::permissions(fake, fs::perms::owner_all);
  Sandbox::Options options;
  options.bwrap = fake;
  Status s = SandboxSelfCheck(Sandbox(options), Dirs(dir_->path() + "/w1"));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("exit code 1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("No permissions to creating new namespace"), std::string::npos) << s.message();
  EXPECT_TRUE(fs::is_empty(dir_->path() + "/w1/tmp"));
}

TEST_F(SelfCheckTest, AMissingBwrapIsAFailedPreconditionNotACacheDirProblem) {
  Sandbox::Options options;
  options.bwrap = dir_->path() + "/no-such-bwrap";
  Status s = SandboxSelfCheck(Sandbox(options), Dirs(dir_->path() + "/w1"));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("no-such-bwrap"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace crossfarm::worker
