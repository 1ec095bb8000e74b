// examples/bootstrap, the smallest real step CI can afford (the whole
// bootstrap is bench/bootstrap.cc, hours of gcc builds): stage 1's Linux
// headers for riscv64, from Debian's linux source package, in the amd64 base.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(BootstrapE2ETest, RiscvLinuxHeadersFromTheDebianTarball) {
  TempTree cache("bootstrap-e2e");
  std::string cf = std::string(CROSSFARM_BIN) + " -C " + CROSSFARM_SOURCE_DIR +
                   "/examples/bootstrap --cache-dir " + (cache.path() / "cache").string() +
                   " --mirror-dir " + TestCache() + "/mirror --arch riscv64 ";
  auto build = RunCmd(cf + "build stage1/linux-headers.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output;
  // Built in the amd64 base's sandbox, not emulated (the kernel's host tools
  // are x86_64 programs).
  EXPECT_NE(build.output.find("x86_64 native"), std::string::npos) << build.output;

  fs::path out = cache.path() / "out";
  auto co = RunCmd(cf + "checkout stage1/linux-headers.bst " + out.string());
  ASSERT_EQ(co.exit_code, 0) << co.output;
  fs::path inc = out / "opt/cross/sysroot/usr/include";
  // riscv's own UAPI: the syscall only this arch has, and its ptrace registers.
  EXPECT_NE(ReadAll(inc / "asm/unistd.h").find("__NR_riscv_flush_icache"), std::string::npos);
  EXPECT_NE(ReadAll(inc / "asm/ptrace.h").find("struct user_regs_struct"), std::string::npos);
  // Headers only (headers_install strips the kernel-internal parts).
  EXPECT_TRUE(fs::exists(inc / "linux/version.h"));
  auto stray = RunCmd("find " + out.string() + " -type f ! -name '*.h'");
  EXPECT_EQ(stray.output, "") << "files other than headers in the artifact";
}

}  // namespace
}  // namespace crossfarm::e2e
