// Issue 23: one accelerator declaration for every target arch
// (examples/hello/elements/accel/cross.bst, docs/acceleration.md). For s390x
// and ppc64le, archs other than the aarch64 of accel_e2e_test.cc, a C build
// accelerated by Debian's x86_64 cross compiler of that arch gives the same
// files and code as plain emulation, and runs under qemu-user. Real bwrap,
// qemu-user and Debian packages (tracked by the test, as the other accel tests).
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/e2e/e2e_util.h"
#include "worker/elf_compare.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;

// Separate compile and link, a dynamic stack allocation (which Debian's cross
// and native gcc compile differently on aarch64 only) and a program to run.
constexpr const char* kCBuild = R"(kind: manual
build-depends:
- base.bst
sources:
- kind: local
  path: files/cbuild
config:
  build-commands:
  - gcc -O2 -c hello.c -o hello.o
  - gcc -O2 -c vla.c -o vla.o
  - gcc -o hello hello.o
  install-commands:
  - install -D -m 0755 hello %{install-root}/usr/bin/hello
  - install -D -m 0644 vla.o %{install-root}/usr/share/cbuild/vla.o
  - gcc -dumpmachine > %{install-root}/usr/share/cbuild/dumpmachine
  - uname -m > %{install-root}/usr/share/cbuild/uname
)";

struct ArchCase {
  const char* arch;      // crossfarm's name (--arch)
  const char* base;      // the example's base element
  const char* triplet;   // what gcc -dumpmachine prints
  const char* uname;     // what the emulated kernel reports
};

class AccelArchE2ETest : public ::testing::TestWithParam<ArchCase> {
 protected:
  static void SetUpTestSuite() {
    project_ = new TempTree("accel-arch");
    cache_ = new TempTree("accel-arch-cache");
    auto cp = RunCmd("cp -a " + std::string(CROSSFARM_SOURCE_DIR) + "/examples/hello/. " +
                     project_->path().string());
    if (cp.exit_code != 0) setup_error_ = "copying the example failed:\n" + cp.output;
    WriteFile(project_->path() / "elements/cbuild.bst", kCBuild);
    fs::create_directories(project_->path() / "files/cbuild");
    fs::copy_file(project_->path() / "files/hello.c", project_->path() / "files/cbuild/hello.c");
    WriteFile(project_->path() / "files/cbuild/vla.c",
              "int use(char *p, int n);\nint f(int n) { char buf[n]; buf[0] = 1; return use(buf, n); }\n");
    // The shared amd64 tools once; each arch's base and cross compiler in its test.
    auto track = Cf("source track --save accel/tools-debs.bst");
    if (track.exit_code != 0) setup_error_ = "source track failed:\n" + track.output;
    auto binfmt = Cf("setup binfmt");
    if (binfmt.exit_code != 0) setup_error_ = "crossfarm setup binfmt failed:\n" + binfmt.output;
  }
  static void TearDownTestSuite() {
    delete project_;
    delete cache_;
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }
  static CommandResult Cf(const std::string& args) {
    return RunCmd(std::string(CROSSFARM_BIN) + " -C " + project_->path().string() + " --cache-dir " +
                  cache_->path().string() + " --mirror-dir " + TestCache() + "/mirror " + args);
  }
  static std::string setup_error_;
  static TempTree* project_;
  static TempTree* cache_;
};
TempTree* AccelArchE2ETest::project_ = nullptr;
TempTree* AccelArchE2ETest::cache_ = nullptr;
std::string AccelArchE2ETest::setup_error_;

TEST_P(AccelArchE2ETest, AcceleratedCBuildIsTheSameCodeAsPlainEmulation) {
  const ArchCase& c = GetParam();
  const std::string arch = std::string("--arch ") + c.arch + " ";
  auto track = Cf(std::string("source track --save ") + c.base + " accel/cross-debs/" + c.arch + ".bst");
  ASSERT_EQ(track.exit_code, 0) << track.output;

  // The generic declaration, resolved for this arch.
  auto show = Cf(arch + "show --deps none --format '%{accel}' cbuild.bst");
  ASSERT_EQ(show.exit_code, 0) << show.output;
  EXPECT_EQ(show.output, "distcc+host-tools via accel/cross.bst\n");

  auto plain = Cf(arch + "--accel none build cbuild.bst");
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  auto fast = Cf(arch + "build cbuild.bst");
  ASSERT_EQ(fast.exit_code, 0) << fast.output;
  EXPECT_EQ(fast.output.find("not accelerated"), std::string::npos) << fast.output;

  // The probe compared this arch's root gcc with the cross gcc of the same
  // version and found the same code: every compile ran natively.
  auto log = Cf(arch + "log cbuild.bst");
  ASSERT_EQ(log.exit_code, 0) << log.output;
  EXPECT_NE(log.output.find(std::string("# crossfarm: compiler probe: same code as the root's gcc 12.2.0 ") +
                            c.triplet),
            std::string::npos)
      << log.output;
  EXPECT_NE(log.output.find("# crossfarm: accelerated by accel/cross.bst"), std::string::npos) << log.output;
  EXPECT_NE(log.output.find("host tools replace the root's"), std::string::npos) << log.output;
  EXPECT_EQ(log.output.find("not accelerated"), std::string::npos) << log.output;
  // Unlike aarch64's (docs/acceleration.md), these cross compilers need no guard.
  EXPECT_EQ(log.output.find("compiled by the root's own gcc"), std::string::npos) << log.output;
  auto after = Cf(arch + "show --deps none --format '%{accel}' cbuild.bst");
  EXPECT_NE(after.output.find(std::string("probe: same code as the root's gcc 12.2.0 ") + c.triplet),
            std::string::npos)
      << after.output;
  EXPECT_EQ(after.output.find("code differs"), std::string::npos) << after.output;

  fs::path a = cache_->path() / (std::string("plain-") + c.arch);
  fs::path b = cache_->path() / (std::string("fast-") + c.arch);
  ASSERT_EQ(Cf(arch + "--accel none checkout cbuild.bst " + a.string()).exit_code, 0);
  ASSERT_EQ(Cf(arch + "checkout cbuild.bst " + b.string()).exit_code, 0);
  // The build saw the sandbox's arch, not the host's.
  EXPECT_EQ(ReadFile(b / "usr/share/cbuild/dumpmachine"), std::string(c.triplet) + "\n");
  EXPECT_EQ(ReadFile(b / "usr/share/cbuild/uname"), std::string(c.uname) + "\n");
  auto diff = worker::CompareTrees(a.string(), b.string());
  ASSERT_TRUE(diff) << diff.error().ToString();
  EXPECT_TRUE(diff->EquivalentModuloIdents());
  for (const auto& d : diff->different) ADD_FAILURE() << d.path << ": " << d.detail;
  // vla.o has the same code: the cross and native compiler agree on this arch.
  EXPECT_TRUE(std::ranges::any_of(diff->equal_modulo_idents,
                                  [](const auto& m) { return m.path == "usr/share/cbuild/vla.o"; }) ||
              std::ranges::find(diff->identical, "usr/share/cbuild/vla.o") != diff->identical.end());

  // The accelerated program runs on the arch: in a chroot of the base, where
  // binfmt_misc's qemu-user handler runs it (`qemu -L` does not follow the
  // absolute /lib64/ld64.so.2 link of ppc64el's libc6).
  fs::path root = cache_->path() / (std::string("root-") + c.arch);
  ASSERT_EQ(Cf(arch + "checkout " + c.base + " " + root.string()).exit_code, 0);
  fs::copy_file(b / "usr/bin/hello", root / "hello");
  auto run = RunCmd("chroot " + root.string() + " /hello");
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output, "Hello from crossfarm!\n");
}

INSTANTIATE_TEST_SUITE_P(
    Archs, AccelArchE2ETest,
    ::testing::Values(ArchCase{"s390x", "base/s390x.bst", "s390x-linux-gnu", "s390x"},
                      ArchCase{"ppc64le", "base/ppc64el.bst", "powerpc64le-linux-gnu", "ppc64le"}),
    [](const auto& param_info) { return std::string(param_info.param.arch); });

}  // namespace
}  // namespace crossfarm::e2e
