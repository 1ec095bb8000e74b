// End-to-end on examples/hello: the README's commands, for real. The example
// is copied and its Debian refs re-tracked first, so the test follows Debian's
// point releases instead of failing when a pinned version leaves the archive.
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
    auto track = Cf("source track base/amd64.bst base/arm64.bst base/s390x.bst accel/aarch64-debs.bst");
    if (track.exit_code != 0) setup_error_ = "source track failed:\n" + track.output;
  }
  static void TearDownTestSuite() {
    delete project_;
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
  static TempTree* cache_;
};
TempTree* ExamplesE2ETest::project_ = nullptr;
std::string ExamplesE2ETest::setup_error_;
TempTree* ExamplesE2ETest::cache_ = nullptr;

TEST_F(ExamplesE2ETest, HelloBuildsForThreeArchsAndRunsUnderQemu) {
  auto build = Cf("--arch x86_64,aarch64,s390x build hello.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output;
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
  auto build = Cf("build gnu-hello.bst zlib.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output;
  fs::path hello = Checkout("x86_64", "gnu-hello.bst");
  auto run = RunCmd((hello / "usr/bin/hello").string());
  EXPECT_EQ(run.output, "Hello, world!\n") << run.output;
  fs::path zlib = Checkout("x86_64", "zlib.bst");
  EXPECT_TRUE(fs::exists(zlib / "usr/include/zlib.h"));
  EXPECT_TRUE(fs::exists(zlib / "usr/lib/libz.so.1.2.13"));
}

}  // namespace
}  // namespace crossfarm::e2e
