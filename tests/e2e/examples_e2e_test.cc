// End-to-end on examples/hello: the README's commands, for real. The README's
// builds run with `--track-all`, so they follow Debian's point releases instead
// of failing when a pinned version leaves the archive; the copy here gets one
// pin that no mirror has, so that case is tested whatever the mirror holds today.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;

class ExamplesE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    project_ = new TempTree("hello");
    cache_ = new TempTree("hello-cache");
    auto cp = RunCmd("cp -a " + std::string(CROSSFARM_SOURCE_DIR) + "/examples/hello/. " +
                     project_->path().string());
    if (cp.exit_code != 0) setup_error_ = "copying the example failed:\n" + cp.output;
    // Debian moved on: libc6's pinned version is gone from every mirror.
    auto stale = RunCmd("sed -i '/package: libc6$/{n;s/version: .*/version: " + std::string(kGoneVersion) +
                        "/}' " + (project_->path() / "elements/base/amd64.bst").string());
    if (stale.exit_code != 0) setup_error_ = "editing the pin failed:\n" + stale.output;
    pristine_ = new TempTree("hello-pristine");
    auto snap = RunCmd("cp -a " + project_->path().string() + "/. " + pristine_->path().string());
    if (snap.exit_code != 0) setup_error_ = "copying the project failed:\n" + snap.output;
  }
  static constexpr const char* kGoneVersion = "2.36-0crossfarm1";
  // The project's files are as they were: tracking keeps refs in the cache.
  static void ExpectProjectUnchanged() {
    auto diff = RunCmd("diff -r " + pristine_->path().string() + " " + project_->path().string());
    EXPECT_EQ(diff.exit_code, 0) << "the build edited the project:\n" << diff.output;
  }
  static void TearDownTestSuite() {
    delete project_;
    delete pristine_;
    delete cache_;
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }
  static CommandResult Cf(const std::string& args) {
    return RunCmd(std::string(CROSSFARM_BIN) + " -C " + project_->path().string() +
                  " --cache-dir " + cache_->path().string() + " --mirror-dir " + TestCache() +
                  "/mirror " + args);
  }
  static fs::path Checkout(const std::string& arch, const std::string& element) {
    std::string flat = element;
    std::replace(flat.begin(), flat.end(), '/', '_');
    fs::path out = cache_->path() / ("out-" + arch + "-" + flat);
    auto co = Cf("--arch " + arch + " checkout " + element + " " + out.string());
    EXPECT_EQ(co.exit_code, 0) << co.output;
    return out;
  }
  // A failed suite setup must fail every test (gtest would report a fatal
  // failure in SetUpTestSuite as skipped tests, which CI counts as passing).
  static std::string setup_error_;
  static TempTree* project_;
  static TempTree* pristine_;
  static TempTree* cache_;
};
TempTree* ExamplesE2ETest::project_ = nullptr;
TempTree* ExamplesE2ETest::pristine_ = nullptr;
std::string ExamplesE2ETest::setup_error_;
TempTree* ExamplesE2ETest::cache_ = nullptr;

TEST_F(ExamplesE2ETest, HelloBuildsForThreeArchsAndRunsUnderQemu) {
  auto build = Cf("--arch x86_64,aarch64,s390x build --track-all hello.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output;
  ExpectProjectUnchanged();
  EXPECT_NE(build.output.find("aarch64 emulated"), std::string::npos) << build.output;
  EXPECT_NE(build.output.find("s390x emulated"), std::string::npos) << build.output;

  fs::path native = Checkout("x86_64", "hello.bst");
  EXPECT_EQ(RunCmd((native / "usr/bin/hello").string()).output, "Hello from crossfarm!\n");

  struct Foreign { const char* arch; const char* base; const char* qemu; const char* file_says; };
  for (const Foreign& f : {Foreign{"aarch64", "base/arm64.bst", "qemu-aarch64-static", "ARM aarch64"},
                           Foreign{"s390x", "base/s390x.bst", "qemu-s390x-static", "IBM S/390"}}) {
    fs::path hello = Checkout(f.arch, "hello.bst") / "usr/bin/hello";
    fs::path sysroot = Checkout(f.arch, f.base);
    EXPECT_NE(RunCmd("file " + hello.string()).output.find(f.file_says), std::string::npos) << f.arch;
    auto run = RunCmd(std::string(f.qemu) + " -L " + sysroot.string() + " " + hello.string());
    EXPECT_EQ(run.exit_code, 0) << f.arch << ": " << run.output;
    EXPECT_EQ(run.output, "Hello from crossfarm!\n") << f.arch;
  }
  auto show = Cf("--arch aarch64 show --format '%{name} %{sandbox}' hello.bst");
  EXPECT_NE(show.output.find("hello.bst emulated"), std::string::npos) << show.output;
}

TEST_F(ExamplesE2ETest, GnuHelloAndZlibBuildFromDebianSources) {
  auto build = Cf("build --track-all gnu-hello.bst zlib.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output;
  ExpectProjectUnchanged();
  fs::path hello = Checkout("x86_64", "gnu-hello.bst");
  auto run = RunCmd((hello / "usr/bin/hello").string());
  EXPECT_EQ(run.output, "Hello, world!\n") << run.output;
  fs::path zlib = Checkout("x86_64", "zlib.bst");
  EXPECT_TRUE(fs::exists(zlib / "usr/include/zlib.h"));
  EXPECT_TRUE(fs::exists(zlib / "usr/lib/libz.so.1.2.13"));
}

// The README's first command on a day when a pin has left Debian's mirror
// (issue 21): a plain build names the fix; `build --track-all` re-pins, says
// what changed, builds, and leaves the project's files alone; later commands
// on the cache use the same refs; `source track --save` writes them into the
// .bst file as bst does.
TEST_F(ExamplesE2ETest, ReadmeBuildWorksAfterDebianDropsAPinnedVersion) {
  auto stale = Cf("build hello.bst");
  EXPECT_NE(stale.exit_code, 0) << stale.output;
  EXPECT_NE(stale.output.find("source track"), std::string::npos) << stale.output;
  EXPECT_LT(stale.output.size(), 6000u) << "an error a screenful long:\n" << stale.output;

  auto build = Cf("build --track-all hello.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output;
  EXPECT_NE(build.output.find(std::string("libc6:amd64 ") + kGoneVersion + " -> "), std::string::npos)
      << build.output;
  ExpectProjectUnchanged();

  auto show = Cf("show --deps none --format '%{name} %{state}' hello.bst");
  EXPECT_EQ(show.exit_code, 0) << show.output;
  EXPECT_NE(show.output.find("hello.bst cached"), std::string::npos) << show.output;
  fs::path native = Checkout("x86_64", "hello.bst");
  EXPECT_EQ(RunCmd((native / "usr/bin/hello").string()).output, "Hello from crossfarm!\n");

  // Tracking again changes nothing.
  auto again = Cf("source track base/amd64.bst");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("base/amd64.bst source 1 (deb): up to date"), std::string::npos)
      << again.output;

  // --save: into the file, and the cache's entry is gone (the file is current).
  auto save = Cf("source track --save base/amd64.bst");
  ASSERT_EQ(save.exit_code, 0) << save.output;
  auto grep = RunCmd("grep -c '" + std::string(kGoneVersion) + "' " +
                     (project_->path() / "elements/base/amd64.bst").string());
  EXPECT_EQ(grep.output, "0\n") << "the stale pin is still in the file";
  auto tracked = RunCmd("cat " + (cache_->path() / "tracked-refs/hello.yaml").string());
  EXPECT_EQ(tracked.output.find("base/amd64.bst"), std::string::npos) << tracked.output;
  auto show_saved = Cf("show --deps none --format '%{name} %{state}' hello.bst");
  EXPECT_NE(show_saved.output.find("hello.bst cached"), std::string::npos) << show_saved.output;
}

}  // namespace
}  // namespace crossfarm::e2e
