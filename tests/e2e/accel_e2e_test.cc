// End-to-end acceleration of emulated builds (docs/acceleration.md) on
// examples/hello for aarch64: the example's accelerator (Debian's amd64 cross
// gcc, shell tools and distcc) against plain emulation, with real bwrap,
// qemu-user and distccd. The outputs must be the same code; only the
// compiler's identification (.comment, and so the build-id) may differ.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/e2e/e2e_util.h"
#include "worker/elf_compare.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;

// A small element that exercises what acceleration replaces: a configure-like
// shell loop (sed, grep, the shell), separate compile and link steps (the
// compile goes to distcc), make, and the tools that must keep reporting the
// sandbox's arch.
constexpr const char* kProbeElement = R"(kind: manual
build-depends:
- base.bst
sources:
- kind: local
  path: files/probe
config:
  configure-commands:
  - for i in 1 2 3 4 5; do echo "#define N$i $i" | sed 's/N/VALUE_/' | grep VALUE_ >> config.h; done
  build-commands:
  - gcc -O2 -c hello.c -o hello.o
  - gcc -o hello hello.o
  - gcc -O2 -c vla.c -o vla.o
  - printf 'all:\n\techo $(MAKE_HOST) > make-host\n' > Makefile && make
  install-commands:
  - install -D -m 0755 hello %{install-root}/usr/bin/hello
  - install -D -m 0644 config.h %{install-root}/usr/share/probe/config.h
  - install -D -m 0644 vla.o %{install-root}/usr/share/probe/vla.o
  - uname -m > %{install-root}/usr/share/probe/uname
  - gcc -dumpmachine > %{install-root}/usr/share/probe/dumpmachine
  - cp make-host %{install-root}/usr/share/probe/make-host
)";

class AccelE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    project_ = new TempTree("accel");
    cache_ = new TempTree("accel-cache");
    auto cp = RunCmd("cp -a " + std::string(CROSSFARM_SOURCE_DIR) + "/examples/hello/. " +
                     project_->path().string());
    if (cp.exit_code != 0) setup_error_ = "copying the example failed:\n" + cp.output;
    WriteFile(project_->path() / "elements/probe.bst", kProbeElement);
    // Code with dynamic stack allocation: Debian 12's cross and native gcc
    // differ on it (CVE-2023-4039), so the root's own compiler must build it.
    fs::create_directories(project_->path() / "files/probe");
    fs::copy_file(project_->path() / "files/hello.c", project_->path() / "files/probe/hello.c");
    WriteFile(project_->path() / "files/probe/vla.c",
              "int use(char *p, int n);\nint f(int n) { char buf[n]; buf[0] = 1; return use(buf, n); }\n");
    WriteFile(project_->path() / "elements/protected.bst",
              "kind: manual\nbuild-depends:\n- base.bst\nsources:\n- kind: local\n  path: files/hello.c\n"
              "config:\n  build-commands:\n  - gcc -O2 -fstack-protector-strong -c hello.c -o hello.o\n"
              "  install-commands:\n  - install -D hello.o %{install-root}/hello.o\n");
    auto track = Cf("source track --save base/arm64.bst accel/tools-debs.bst accel/cross-debs/aarch64.bst");
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
  static fs::path Checkout(const std::string& accel, const std::string& element) {
    fs::path out = cache_->path() / ("out-" + accel + "-" + element);
    auto co = Cf("--arch aarch64 --accel " + accel + " checkout " + element + " " + out.string());
    EXPECT_EQ(co.exit_code, 0) << co.output;
    return out;
  }
  static std::string setup_error_;
  static TempTree* project_;
  static TempTree* cache_;
};
TempTree* AccelE2ETest::project_ = nullptr;
TempTree* AccelE2ETest::cache_ = nullptr;
std::string AccelE2ETest::setup_error_;

TEST_F(AccelE2ETest, ShowSaysHowEachJobIsAcceleratedAndTheModeIsPartOfTheKey) {
  auto show = Cf("--arch aarch64 show --format '%{name} %{full-key} %{accel}' probe.bst");
  ASSERT_EQ(show.exit_code, 0) << show.output;
  EXPECT_NE(show.output.find("probe.bst "), std::string::npos) << show.output;
  EXPECT_NE(show.output.find("distcc+host-tools via accel/cross.bst"), std::string::npos) << show.output;
  // The base itself is an import: nothing to accelerate.
  EXPECT_NE(show.output.find("base/arm64.bst "), std::string::npos);
  EXPECT_EQ(show.output.find("base/arm64.bst " + std::string(64, 'x')), std::string::npos);

  auto key = [&](const std::string& accel) {
    auto r = Cf("--arch aarch64 --accel " + accel + " show --deps none --format '%{full-key}' probe.bst");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  };
  std::string none = key("none"), distcc = key("distcc"), tools = key("host-tools"), all = key("auto");
  EXPECT_NE(none, distcc);
  EXPECT_NE(none, tools);
  EXPECT_NE(distcc, all);
  EXPECT_NE(tools, all);
  auto off = Cf("--arch aarch64 --no-accel show --deps none --format '%{accel}' probe.bst");
  EXPECT_EQ(off.output, "off (--accel none)\n");
  // Native x86_64 builds of the same project are untouched.
  auto native = Cf("--arch x86_64 show --deps none --format '%{accel}' probe.bst");
  EXPECT_EQ(native.output, "-\n");
  auto bad = Cf("--arch aarch64 --accel turbo show probe.bst");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("unknown --accel mode 'turbo'"), std::string::npos) << bad.output;
}

TEST_F(AccelE2ETest, AcceleratedOutputsAreTheSameCodeAsPlainEmulation) {
  auto plain = Cf("--arch aarch64 --accel none build probe.bst");
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  auto fast = Cf("--arch aarch64 build probe.bst");
  ASSERT_EQ(fast.exit_code, 0) << fast.output;

  auto log = Cf("--arch aarch64 log probe.bst");
  ASSERT_EQ(log.exit_code, 0) << log.output;
  EXPECT_NE(log.output.find("# crossfarm: compiler probe: same code as the root's gcc"), std::string::npos)
      << log.output;
  EXPECT_NE(log.output.find("host tools replace the root's"), std::string::npos) << log.output;
  // On one machine the native cross compiler needs no distcc hop.
  EXPECT_NE(log.output.find("no distcc (the host tools compile natively"), std::string::npos) << log.output;
  EXPECT_NE(log.output.find("code with alloca or VLAs is compiled by the root's own gcc"), std::string::npos)
      << log.output;
  EXPECT_EQ(log.output.find("not accelerated"), std::string::npos) << log.output;

  fs::path a = Checkout("none", "probe.bst"), b = Checkout("auto", "probe.bst");

  // distcc alone: hello.o goes to the pool; vla.o is refused there (the
  // pool's compiler differs on it) and compiled again locally.
  auto pooled = Cf("--arch aarch64 --accel distcc build probe.bst");
  ASSERT_EQ(pooled.exit_code, 0) << pooled.output;
  auto plog = Cf("--arch aarch64 --accel distcc log probe.bst");
  EXPECT_NE(plog.output.find("distcc pool compiled 1 objects"), std::string::npos) << plog.output;
  EXPECT_NE(plog.output.find("retrying locally"), std::string::npos) << plog.output;
  fs::path c = Checkout("distcc", "probe.bst");
  auto pdiff = worker::CompareTrees(a.string(), c.string());
  ASSERT_TRUE(pdiff) << pdiff.error().ToString();
  EXPECT_TRUE(pdiff->EquivalentModuloIdents());
  EXPECT_NE(std::find(pdiff->identical.begin(), pdiff->identical.end(), "usr/share/probe/vla.o"),
            pdiff->identical.end());

  // What reports the machine still reports the sandbox's arch.
  EXPECT_EQ(ReadFile(b / "usr/share/probe/uname"), "aarch64\n");
  EXPECT_EQ(ReadFile(b / "usr/share/probe/dumpmachine"), "aarch64-linux-gnu\n");
  EXPECT_EQ(ReadFile(b / "usr/share/probe/make-host"), ReadFile(a / "usr/share/probe/make-host"));
  EXPECT_EQ(ReadFile(b / "usr/share/probe/config.h"), ReadFile(a / "usr/share/probe/config.h"));
  auto diff = worker::CompareTrees(a.string(), b.string());
  ASSERT_TRUE(diff) << diff.error().ToString();
  EXPECT_TRUE(diff->different.empty()) << diff->different.front().path << ": " << diff->different.front().detail;
  EXPECT_TRUE(diff->only_in_a.empty() && diff->only_in_b.empty());
  // The cross gcc is one Debian revision behind the native one: .comment.
  // vla.o came from the root's own compiler: identical.
  ASSERT_EQ(diff->equal_modulo_idents.size(), 1u);
  EXPECT_EQ(diff->equal_modulo_idents[0].path, "usr/bin/hello");
  EXPECT_NE(std::find(diff->identical.begin(), diff->identical.end(), "usr/share/probe/vla.o"),
            diff->identical.end());

  auto show = Cf("--arch aarch64 show --deps none --format '%{accel}' probe.bst");
  EXPECT_NE(show.output.find("probe: same code as the root's gcc 12.2.0"), std::string::npos) << show.output;
  EXPECT_NE(show.output.find(".comment differs"), std::string::npos) << show.output;

  // Debian 12's cross gcc lacks the native one's CVE-2023-4039 fix: with
  // -fstack-protector their code differs, so such a job runs unaccelerated
  // (in the same suite run: the base and the accelerator are built already).
  auto guarded = Cf("--arch aarch64 build protected.bst");
  ASSERT_EQ(guarded.exit_code, 0) << guarded.output;
  auto glog = Cf("--arch aarch64 log protected.bst");
  EXPECT_NE(glog.output.find("not accelerated: the job uses a flag the two compilers treat differently"),
            std::string::npos)
      << glog.output;
}

// Issue 23: a standard Debian 12 arm64 root made by mmdebstrap (minbase, gcc,
// make, libc6-dev), which unlike the example's base has no /lib64, with the
// example's accelerator declared as docs/acceleration.md shows. Its host tools
// need the x86_64 loader at /lib64/ld-linux-x86-64.so.2: the worker provides
// the path, or, where the root's /lib64 is unusable, falls back to plain
// emulation and says so. The root is tests/worker/prepare-fixtures.sh's
// cached mmdebstrap tarball, imported with a `tar` source.
class AccelMmdebstrapE2ETest : public ::testing::Test {
 protected:
  static std::string RootTarball() { return TestCache() + "/mmdebstrap-bookworm-arm64.tar"; }

  static void SetUpTestSuite() {
    project_ = new TempTree("accel-mmdebstrap");
    cache_ = new TempTree("accel-mmdebstrap-cache");
    if (!fs::exists(RootTarball())) {
      setup_error_ = RootTarball() + " is missing: run tests/worker/prepare-fixtures.sh (as root) once";
      return;
    }
    auto cp = RunCmd("cp -a " + std::string(CROSSFARM_SOURCE_DIR) + "/examples/hello/. " +
                     project_->path().string());
    if (cp.exit_code != 0) setup_error_ = "copying the example failed:\n" + cp.output;
    // The example's base, arm64 only, replaced by the mmdebstrap root; the
    // accelerator declaration stays the example's.
    WriteFile(project_->path() / "elements/base/arm64.bst",
              "kind: import\n"
              "description: Debian 12 arm64 made by mmdebstrap (no /lib64)\n"
              "public:\n  crossfarm:\n    accelerator: accel/cross.bst\n"
              "sources:\n- kind: tar\n  url: file://" + RootTarball() + "\n  base-dir: ''\n");
    // A root whose /lib64 is a regular file: no loader can be put there.
    WriteFile(project_->path() / "files/lib64", "not a directory\n");
    WriteFile(project_->path() / "elements/lib64-file.bst",
              "kind: import\nsources:\n- kind: local\n  path: files/lib64\n");
    std::string hello = ReadFile(project_->path() / "elements/hello.bst");
    std::string deps = "build-depends:\n- base.bst\n";
    if (hello.find(deps) == std::string::npos) setup_error_ = "hello.bst has no `" + deps + "`";
    hello.replace(hello.find(deps), deps.size(), deps + "- lib64-file.bst\n");
    WriteFile(project_->path() / "elements/hello-lib64-file.bst", hello);
    auto track = Cf("source track --save base/arm64.bst accel/tools-debs.bst accel/cross-debs/aarch64.bst");
    if (track.exit_code != 0) setup_error_ = "source track failed:\n" + track.output;
    auto binfmt = Cf("setup binfmt");
    if (binfmt.exit_code != 0) setup_error_ = "crossfarm setup binfmt failed:\n" + binfmt.output;
    // What an aarch64 hello needs to run under qemu-aarch64-static -L.
    sysroot_ = cache_->path() / "sysroot";
    fs::create_directories(sysroot_);
    auto libs = RunCmd("tar -xf " + RootTarball() + " -C " + sysroot_.string() +
                       " --wildcards ./lib ./usr/lib/ld-linux-aarch64.so.1 "
                       "'./usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so*' './usr/lib/aarch64-linux-gnu/libc.so*'");
    if (libs.exit_code != 0) setup_error_ = "extracting the loader and libc failed:\n" + libs.output;
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
  // Checks the element out and runs its hello under qemu-user.
  static fs::path CheckoutAndRun(const std::string& element) {
    fs::path out = cache_->path() / ("out-" + element);
    auto co = Cf("--arch aarch64 checkout " + element + " " + out.string());
    EXPECT_EQ(co.exit_code, 0) << co.output;
    auto run = RunCmd("qemu-aarch64-static -L " + sysroot_.string() + " " + (out / "usr/bin/hello").string());
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_EQ(run.output, "Hello from crossfarm!\n");
    return out;
  }
  static std::string setup_error_;
  static TempTree* project_;
  static TempTree* cache_;
  static fs::path sysroot_;
};
TempTree* AccelMmdebstrapE2ETest::project_ = nullptr;
TempTree* AccelMmdebstrapE2ETest::cache_ = nullptr;
fs::path AccelMmdebstrapE2ETest::sysroot_;
std::string AccelMmdebstrapE2ETest::setup_error_;

// One test for both roots: they share the imported base and the built
// accelerator, the expensive part.
TEST_F(AccelMmdebstrapE2ETest, AcceleratedWithoutLib64AndPlainWhereLib64IsAFile) {
  // The root as mmdebstrap makes it: the accelerator's /lib64 -> usr/lib64
  // is added, and the build is accelerated.
  auto fast = Cf("--arch aarch64 --accel auto build hello.bst");
  ASSERT_EQ(fast.exit_code, 0) << fast.output;
  EXPECT_EQ(fast.output.find("not accelerated"), std::string::npos) << fast.output;
  auto log = Cf("--arch aarch64 log hello.bst");
  ASSERT_EQ(log.exit_code, 0) << log.output;
  EXPECT_NE(log.output.find("# crossfarm: compiler probe: same code as the root's gcc"), std::string::npos)
      << log.output;
  EXPECT_NE(log.output.find("host tools replace the root's"), std::string::npos) << log.output;
  EXPECT_NE(log.output.find("(for the host tools' loader: /lib64 -> usr/lib64)"), std::string::npos) << log.output;
  EXPECT_EQ(log.output.find("not accelerated"), std::string::npos) << log.output;
  auto show = Cf("--arch aarch64 show --deps none --format '%{accel}' hello.bst");
  EXPECT_NE(show.output.find("distcc+host-tools via accel/cross.bst; probe: same code as the root's gcc"),
            std::string::npos)
      << show.output;
  EXPECT_EQ(show.output.find("ran unaccelerated"), std::string::npos) << show.output;
  fs::path fast_out = CheckoutAndRun("hello.bst");

  // /lib64 a regular file: the loader cannot be provided without replacing
  // it, so the job runs plainly emulated, says why, and still succeeds.
  const std::string why =
      "not accelerated: the host tools' loader /lib64/ld-linux-x86-64.so.2 cannot be provided: "
      "/lib64 in the root is a file, not a directory";
  auto plain = Cf("--arch aarch64 --accel auto build hello-lib64-file.bst");
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_NE(plain.output.find("warning: hello-lib64-file.bst: " + why), std::string::npos) << plain.output;
  auto plog = Cf("--arch aarch64 log hello-lib64-file.bst");
  EXPECT_NE(plog.output.find("# crossfarm: warning: " + why), std::string::npos) << plog.output;
  EXPECT_EQ(plog.output.find("# crossfarm: accelerated by"), std::string::npos) << plog.output;
  auto pshow = Cf("--arch aarch64 show --deps none --format '%{accel}' hello-lib64-file.bst");
  EXPECT_NE(pshow.output.find("; ran unaccelerated: the host tools' loader /lib64/ld-linux-x86-64.so.2 "
                              "cannot be provided: /lib64 in the root is a file, not a directory"),
            std::string::npos)
      << pshow.output;
  fs::path plain_out = CheckoutAndRun("hello-lib64-file.bst");

  // Plain emulation and acceleration built the same code.
  auto diff = worker::CompareTrees(plain_out.string(), fast_out.string());
  ASSERT_TRUE(diff) << diff.error().ToString();
  EXPECT_TRUE(diff->EquivalentModuloIdents());
}

}  // namespace
}  // namespace crossfarm::e2e
