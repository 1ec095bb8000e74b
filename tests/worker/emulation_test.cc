// Emulated sandboxes: a real arm64 busybox under qemu-user via binfmt_misc.
// These tests change the machine-wide handler, so ctest runs them under the
// "binfmt_misc" resource lock.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/worker/test_roots.h"
#include "worker/binfmt.h"
#include "worker/sandbox.h"
#include "worker/staging.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;

const ArchInfo& Aarch64() { return **LookupArch("aarch64"); }

// Disables a binfmt handler for its lifetime; re-enables it whatever happens.
class DisabledHandler {
 public:
  explicit DisabledHandler(const ArchInfo& arch)
      : entry_(std::string(kBinfmtDir) + "/" + BinfmtEntryName(arch)) {
    std::ofstream(entry_) << "0";
  }
  ~DisabledHandler() { std::ofstream(entry_) << "1"; }
  DisabledHandler(const DisabledHandler&) = delete;
  DisabledHandler& operator=(const DisabledHandler&) = delete;

 private:
  std::string entry_;
};

class EmulationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(testing::Arm64Busybox()))
        << testing::Arm64Busybox() << " is missing: run tests/worker/prepare-fixtures.sh";
    ASSERT_TRUE(SetupBinfmt().ok());
    auto art = testing::MakeBusyboxArtifact(testing::Arm64Busybox());
    ASSERT_TRUE(art.has_value()) << art.error().ToString();
    artifact_.emplace(std::move(*art));
    std::vector<std::string> arts = {artifact_->path()};
    auto root = StagedRoot::Create("", arts, StageMode::kHardLink);
    ASSERT_TRUE(root.has_value()) << root.error().ToString();
    root_.emplace(std::move(*root));
    spec_.root = root_->path();
    spec_.SetEnv("PATH", "/bin");
  }

  std::optional<TempDir> artifact_;
  std::optional<StagedRoot> root_;
  SandboxSpec spec_;
  Sandbox sandbox_;
};

TEST(SetupBinfmtTest, IsIdempotentAndLeavesAarch64Usable) {
  Status first = SetupBinfmt();
  ASSERT_TRUE(first.ok()) << first.ToString();
  Status second = SetupBinfmt();
  ASSERT_TRUE(second.ok()) << second.ToString();
  auto st = ProbeBinfmt(Aarch64());
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->usable()) << st->flags;
  EXPECT_TRUE(st->fix_binary());
}

TEST(SetupBinfmtTest, ReenablesADisabledHandler) {
  {
    DisabledHandler off(Aarch64());
    ASSERT_FALSE(ProbeBinfmt(Aarch64())->enabled);
    ASSERT_TRUE(SetupBinfmt().ok());
    EXPECT_TRUE(ProbeBinfmt(Aarch64())->enabled);
  }
  EXPECT_TRUE(ProbeBinfmt(Aarch64())->usable());
}

TEST_F(EmulationTest, Arm64RootIsDetectedAndRunsUnderQemu) {
  auto arch = sandbox_.ResolveArch(spec_);
  ASSERT_TRUE(arch.has_value()) << arch.error().ToString();
  EXPECT_EQ((*arch)->name, "aarch64");
  std::string log;
  auto r = sandbox_.RunCommands(spec_, {"uname -m", "id -u"},
                                LogSink{.path = "", .callback = [&](std::string_view d) {
                                          log += d;
                                        }});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_TRUE(r->ok()) << log;
  EXPECT_NE(log.find("\naarch64\n"), std::string::npos) << log;
  EXPECT_NE(log.find("\n0\n"), std::string::npos) << log;
}

TEST_F(EmulationTest, DisabledHandlerGivesTheClearErrorBeforeBwrapStarts) {
  Result<ExitInfo> r;
  {
    DisabledHandler off(Aarch64());
    r = sandbox_.Run(spec_, {"uname", "-m"}, LogSink{});
  }
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kFailedPrecondition);
  const std::string& m = r.error().message();
  EXPECT_NE(m.find("aarch64"), std::string::npos) << m;
  EXPECT_NE(m.find("qemu-aarch64 is disabled"), std::string::npos) << m;
  EXPECT_NE(m.find("crossfarm setup binfmt"), std::string::npos) << m;
  // Re-enabled by the guard: the same root runs again.
  auto again = sandbox_.Run(spec_, {"uname", "-m"}, LogSink{});
  ASSERT_TRUE(again.has_value()) << again.error().ToString();
  EXPECT_EQ(again->exit_code, 0);
}

}  // namespace
}  // namespace crossfarm::worker
