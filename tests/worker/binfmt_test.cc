#include "worker/binfmt.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/worker/test_roots.h"

namespace crossfarm::worker {
namespace {

using testing::WriteFile;

const ArchInfo& Aarch64() { return **LookupArch("aarch64"); }

constexpr const char* kEntry =
    "enabled\n"
    "interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n"
    "flags: POF\n"
    "offset 0\n"
    "magic 7f454c460201010000000000000000000200b700\n"
    "mask ffffffffffffff00fffffffffffffffffeffffff\n";

TEST(ParseBinfmtEntryTest, ReadsEnabledInterpreterAndFlags) {
  BinfmtState st = ParseBinfmtEntry(kEntry);
  EXPECT_TRUE(st.registered);
  EXPECT_TRUE(st.enabled);
  EXPECT_EQ(st.interpreter, "/usr/libexec/qemu-binfmt/aarch64-binfmt-P");
  EXPECT_EQ(st.flags, "POF");
  EXPECT_TRUE(st.fix_binary());
}

TEST(ParseBinfmtEntryTest, DisabledAndFlagsWithoutFAreSeen) {
  BinfmtState st = ParseBinfmtEntry("disabled\ninterpreter /x\nflags: OC\n");
  EXPECT_FALSE(st.enabled);
  EXPECT_FALSE(st.fix_binary());
  st.mounted = true;
  EXPECT_FALSE(st.usable());
}

TEST(BinfmtEntryNameTest, UsesTheQemuNameOfTheArch) {
  EXPECT_EQ(BinfmtEntryName(Aarch64()), "qemu-aarch64");
  EXPECT_EQ(BinfmtEntryName(**LookupArch("armv7")), "qemu-arm");
}

TEST(ProbeBinfmtTest, UnmountedDirMeansNothingIsRegistered) {
  auto dir = TempDir::Create();
  auto st = ProbeBinfmt(Aarch64(), dir->path());
  ASSERT_TRUE(st.has_value());
  EXPECT_FALSE(st->mounted);
  EXPECT_FALSE(st->usable());
}

TEST(ProbeBinfmtTest, ReadsTheEntryOfAMountedDir) {
  auto dir = TempDir::Create();
  WriteFile(dir->path() + "/register", "");
  auto none = ProbeBinfmt(Aarch64(), dir->path());
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->mounted);
  EXPECT_FALSE(none->registered);
  WriteFile(dir->path() + "/qemu-aarch64", kEntry);
  auto st = ProbeBinfmt(Aarch64(), dir->path());
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->usable());
}

TEST(CheckArchRunnableTest, NativeArchNeedsNoHandler) {
  auto dir = TempDir::Create();  // no binfmt_misc at all
  EXPECT_TRUE(CheckArchRunnable(HostArch(), dir->path()).ok());
}

TEST(CheckArchRunnableTest, MissingHandlerNamesTheArchAndTheFix) {
  ASSERT_FALSE(RunsNatively(HostArch(), Aarch64())) << "these tests assume an x86_64 host";
  auto dir = TempDir::Create();
  WriteFile(dir->path() + "/register", "");
  Status s = CheckArchRunnable(Aarch64(), dir->path());
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("aarch64"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("no qemu-user handler qemu-aarch64"), std::string::npos);
  EXPECT_NE(s.message().find("crossfarm setup binfmt"), std::string::npos);
  EXPECT_NE(s.message().find("crossfarm-worker --setup-binfmt"), std::string::npos);
}

TEST(CheckArchRunnableTest, HandlerWithoutFlagFIsNotEnough) {
  auto dir = TempDir::Create();
  WriteFile(dir->path() + "/register", "");
  WriteFile(dir->path() + "/qemu-aarch64", "enabled\ninterpreter /x\nflags: OC\n");
  Status s = CheckArchRunnable(Aarch64(), dir->path());
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("lacks flag F"), std::string::npos) << s.message();
}

TEST(ForeignArchsTest, ListsEveryNonNativeArchOfTheTable) {
  auto foreign = ForeignArchs();
  for (const auto& a : AllArchs()) {
    bool listed = std::find(foreign.begin(), foreign.end(), &a) != foreign.end();
    EXPECT_EQ(listed, !RunsNatively(HostArch(), a)) << a.name;
  }
}

TEST(SetupBinfmtTest, WithoutQemuUserStaticSaysWhatToInstallAndTouchesNothing) {
  auto binfmt = TempDir::Create();
  auto conf = TempDir::Create();  // empty: no qemu-*.conf
  Status s = SetupBinfmt(binfmt->path(), conf->path());
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("qemu-user-static is not installed: apt-get install "
                             "qemu-user-static"),
            std::string::npos)
      << s.message();
  auto st = ProbeBinfmt(Aarch64(), binfmt->path());
  EXPECT_FALSE(st->mounted);  // nothing was mounted on the fake dir
}

}  // namespace
}  // namespace crossfarm::worker
