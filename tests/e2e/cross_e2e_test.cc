// End-to-end cross builds with the real binary: foreign-arch busybox bases from
// Debian run emulated (bwrap + qemu-user via binfmt_misc), chosen from the
// staged ELF files, never by the user.
#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;

class CrossE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    project_ = new TempTree("cross");
    fs::path p = project_->path();
    WriteFile(p / "project.conf",
              "name: cross\nelement-path: elements\nvariables:\n  strip-binaries: ''\n"
              "environment:\n  PATH: /usr/bin:/bin\n");
    // One element per arch; which one is staged follows %{target-debian-arch}.
    for (const char* deb : {"arm64", "s390x"})
      WriteFile(p / "elements" / (std::string("busybox-") + deb + ".bst"),
                std::string("kind: import\nsources:\n- kind: deb\n  arch: ") + deb +
                    "\n  packages: [busybox-static]\n");
    // The shell is a symlink to the staged busybox, whatever its arch.
    fs::create_directories(p / "files/links/usr/bin");
    fs::create_symlink("busybox", p / "files/links/usr/bin/sh");
    WriteFile(p / "elements/links.bst", "kind: import\nsources:\n- kind: local\n  path: files/links\n");
    WriteFile(p / "elements/uname.bst",
              "kind: manual\n"
              "build-depends: [links.bst]\n"
              "(?):\n"
              "- arch == \"aarch64\":\n    build-depends:\n      (>): [busybox-arm64.bst]\n"
              "- arch == \"s390x\":\n    build-depends:\n      (>): [busybox-s390x.bst]\n"
              "config:\n  build-commands:\n"
              "  - /bin/busybox mkdir -p %{install-root}/out\n"
              "  - /bin/busybox uname -m > %{install-root}/out/machine\n");
    WriteFile(p / "project.conf",
              ReadFile(p / "project.conf") +
                  "options:\n  arch:\n    type: arch\n    description: target\n"
                  "    values: [x86_64, aarch64, s390x]\n");
    auto track = Cf("source track --save busybox-arm64.bst busybox-s390x.bst", nullptr);
    if (track.exit_code != 0) setup_error_ = "source track failed:\n" + track.output;
  }
  static void TearDownTestSuite() { delete project_; }
  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    cache_ = std::make_unique<TempTree>("cross-cache");
  }

  static CommandResult Cf(const std::string& args, const TempTree* cache) {
    std::string cmd = std::string(CROSSFARM_BIN) + " -C " + project_->path().string() +
                      " --mirror-dir " + TestCache() + "/mirror ";
    if (cache) cmd += "--cache-dir " + cache->path().string() + " ";
    return RunCmd(cmd + args);
  }
  // A failed suite setup must fail every test (gtest would report a fatal
  // failure in SetUpTestSuite as skipped tests, which CI counts as passing).
  static std::string setup_error_;
  static TempTree* project_;
  std::unique_ptr<TempTree> cache_;
};
TempTree* CrossE2ETest::project_ = nullptr;
std::string CrossE2ETest::setup_error_;

TEST_F(CrossE2ETest, ForeignBasesBuildEmulatedInOneInvocation) {
  auto build = Cf("--arch aarch64,s390x build uname.bst", cache_.get());
  ASSERT_EQ(build.exit_code, 0) << build.output;
  for (const char* arch : {"aarch64", "s390x"}) {
    fs::path out = cache_->path() / (std::string("out-") + arch);
    auto co = Cf(std::string("--arch ") + arch + " checkout uname.bst " + out.string(), cache_.get());
    ASSERT_EQ(co.exit_code, 0) << co.output;
    EXPECT_EQ(ReadFile(out / "out/machine"), std::string(arch) + "\n");
  }
  // The checked-out busybox itself is the foreign ELF and runs through qemu-user.
  fs::path bb = cache_->path() / "bb";
  ASSERT_EQ(Cf("--arch aarch64 checkout busybox-arm64.bst " + bb.string(), cache_.get()).exit_code, 0);
  auto run = RunCmd("qemu-aarch64-static " + (bb / "bin/busybox").string() + " echo hello-arm64");
  EXPECT_EQ(run.output, "hello-arm64\n");
  // One checkout for every arch a release needs: DIR/<arch>/ (issue 21).
  fs::path multi = cache_->path() / "multi";
  auto co = Cf("--arch aarch64,s390x checkout --deps none uname.bst " + multi.string(), cache_.get());
  ASSERT_EQ(co.exit_code, 0) << co.output;
  EXPECT_EQ(ReadFile(multi / "aarch64/out/machine"), "aarch64\n");
  EXPECT_EQ(ReadFile(multi / "s390x/out/machine"), "s390x\n");
}

TEST_F(CrossE2ETest, MissingBinfmtHandlerIsAClearErrorNotAHang) {
  const std::string handler = "/proc/sys/fs/binfmt_misc/qemu-s390x";
  ASSERT_TRUE(fs::exists(handler)) << "scripts/test registers the handlers";
  WriteFile(handler, "0");
  struct ReEnable {
    std::string path;
    ~ReEnable() { WriteFile(path, "1"); }
  } guard{handler};
  auto build = Cf("--arch s390x build uname.bst", cache_.get());
  EXPECT_NE(build.exit_code, 0);
  EXPECT_NE(build.output.find("s390x"), std::string::npos) << build.output;
  EXPECT_NE(build.output.find("setup binfmt"), std::string::npos) << build.output;
}

}  // namespace
}  // namespace crossfarm::e2e
