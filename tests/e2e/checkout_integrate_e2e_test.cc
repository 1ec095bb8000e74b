// `crossfarm checkout --integrate` (the default, as bst 1.6's): the
// integration commands of the checked-out elements run in a sandbox over the
// checkout. Compared with BuildStream 1.6 itself on the same project, and run
// on an emulated (aarch64) root through qemu-user.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;

// A base of one static busybox (copied into the project: local sources stay
// inside it), a library whose integration commands write files, a stack.
void WriteProject(const fs::path& p, const fs::path& busybox) {
  WriteFile(p / "project.conf",
            "name: integ\nformat-version: 12\nelement-path: elements\n"
            "environment:\n  PATH: /bin\n");
  fs::create_directories(p / "base/bin");
  fs::copy_file(busybox, p / "base/bin/busybox");
  for (const char* applet : {"sh", "echo", "cat", "ls", "uname"})
    fs::create_symlink("busybox", p / "base/bin" / applet);
  WriteFile(p / "lib/libfoo.txt", "foo\n");
  WriteFile(p / "elements/base.bst", "kind: import\nsources:\n- kind: local\n  path: base\n");
  // Each command sees the element's variables and environment and the files
  // of the earlier ones; uname -m tells which machine ran them.
  WriteFile(p / "elements/lib.bst", R"(kind: import
sources:
- kind: local
  path: lib
config:
  target: /usr/lib
depends:
- base.bst
environment:
  GREETING: hello
public:
  bst:
    integration-commands:
    - echo "integrated prefix=%{prefix} greeting=$GREETING" >> /usr/lib/cache.txt
    - ls /usr/lib > /usr/lib/index.txt
    - uname -m > /usr/lib/machine.txt
)");
  WriteFile(p / "elements/app.bst", "kind: stack\ndepends:\n- lib.bst\n");
  WriteFile(p / "elements/broken.bst", R"(kind: import
sources:
- kind: local
  path: lib
depends:
- base.bst
public:
  bst:
    integration-commands:
    - echo "about to fail"; exit 3
)");
}

// Every path below `dir` (not its mount points: none expected) with the
// content of regular files and the target of symlinks.
std::map<std::string, std::string> TreeOf(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    std::string rel = entry.path().lexically_relative(dir).string();
    if (entry.is_symlink()) out[rel] = "-> " + fs::read_symlink(entry.path()).string();
    else if (entry.is_regular_file()) out[rel] = rel.ends_with("busybox") ? "(busybox)" : ReadFile(entry.path());
    else out[rel] = "(dir)";
  }
  return out;
}

class CheckoutIntegrateE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(busybox_)) << busybox_;
    WriteProject(tree_.path() / "p", busybox_);
  }
  CommandResult Cf(const std::string& args) {
    return RunCmd(std::string(CROSSFARM_BIN) + " -C " + (tree_.path() / "p").string() +
                  " --cache-dir " + (tree_.path() / "cache").string() + " " + args);
  }
  CommandResult Bst(const std::string& args) {
    const std::string h = tree_.path().string();
    return RunCmd("cd " + h + "/p && XDG_CACHE_HOME=" + h + "/bst-cache XDG_CONFIG_HOME=" + h +
                  "/bst-config bst --no-interactive --no-colors " + args);
  }
  fs::path Out(const std::string& name) { return tree_.path() / name; }

  fs::path busybox_ = "/bin/busybox";  // busybox-static (scripts/setup)
  TempTree tree_{"integrate"};
};

TEST_F(CheckoutIntegrateE2ETest, ACheckoutIsIntegratedExactlyAsBstIntegratesIt) {
  auto bst_build = Bst("build app.bst");
  ASSERT_EQ(bst_build.exit_code, 0) << bst_build.output;
  auto bst_co = Bst("checkout app.bst " + Out("bst").string());
  ASSERT_EQ(bst_co.exit_code, 0) << bst_co.output;
  auto build = Cf("build app.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output;
  auto co = Cf("checkout app.bst " + Out("ours").string());
  ASSERT_EQ(co.exit_code, 0) << co.output;

  auto ours = TreeOf(Out("ours")), bst = TreeOf(Out("bst"));
  EXPECT_EQ(ours, bst);
  EXPECT_EQ(ours["usr/lib/cache.txt"], "integrated prefix=/usr greeting=hello\n");
  EXPECT_EQ(ours["usr/lib/index.txt"], "cache.txt\nindex.txt\nlibfoo.txt\n");  // the redirect made it first
  EXPECT_EQ(ours["usr/lib/machine.txt"], "x86_64\n");
  // Integrated files are the user's, as the rest of a copied checkout.
  EXPECT_EQ(::access(Out("ours/usr/lib/cache.txt").c_str(), W_OK), 0);

  // The tarball holds the integrated tree too.
  auto tar = Cf("checkout app.bst --tar " + Out("app.tar").string());
  ASSERT_EQ(tar.exit_code, 0) << tar.output;
  auto listing = RunCmd("tar -tf " + Out("app.tar").string() + " | sort");
  EXPECT_NE(listing.output.find("usr/lib/cache.txt"), std::string::npos) << listing.output;
}

TEST_F(CheckoutIntegrateE2ETest, NoIntegrateChecksOutTheArtifactsAlone) {
  ASSERT_EQ(Cf("build app.bst").exit_code, 0);
  auto co = Cf("checkout --no-integrate app.bst " + Out("plain").string());
  ASSERT_EQ(co.exit_code, 0) << co.output;
  EXPECT_TRUE(fs::exists(Out("plain/usr/lib/libfoo.txt")));
  EXPECT_FALSE(fs::exists(Out("plain/usr/lib/cache.txt")));
  // bst's own --no-integrate agrees.
  ASSERT_EQ(Bst("build app.bst").exit_code, 0);
  ASSERT_EQ(Bst("checkout --no-integrate app.bst " + Out("bst").string()).exit_code, 0);
  EXPECT_EQ(TreeOf(Out("plain")), TreeOf(Out("bst")));
}

// --deps none of an element with integration commands has no shell to run
// them in (bst: "Staged artifacts do not provide command 'sh'"); a failing
// command stops the checkout with its output. Both name the way out.
TEST_F(CheckoutIntegrateE2ETest, IntegrationThatCannotRunOrFailsIsOneClearError) {
  ASSERT_EQ(Cf("build app.bst broken.bst").exit_code, 0);
  auto none = Cf("checkout --deps none lib.bst " + Out("none").string());
  EXPECT_EQ(none.exit_code, 2) << none.output;
  EXPECT_NE(none.output.find("integration commands of lib.bst"), std::string::npos) << none.output;
  EXPECT_NE(none.output.find("--no-integrate"), std::string::npos) << none.output;
  EXPECT_EQ(Cf("checkout --deps none --no-integrate lib.bst " + Out("none2").string()).exit_code, 0);

  auto broken = Cf("checkout broken.bst " + Out("broken").string());
  EXPECT_NE(broken.exit_code, 0) << broken.output;
  EXPECT_NE(broken.output.find("integration commands of broken.bst"), std::string::npos) << broken.output;
  EXPECT_NE(broken.output.find("exit code 3"), std::string::npos) << broken.output;
  EXPECT_NE(broken.output.find("about to fail"), std::string::npos) << broken.output;
  EXPECT_FALSE(fs::exists(Out("broken/usr/lib/libfoo.txt")));
}

// An aarch64 base: the integration commands run under qemu-user, as a build's.
TEST_F(CheckoutIntegrateE2ETest, AnEmulatedCheckoutIsIntegratedUnderQemu) {
  fs::path p = tree_.path() / "p";
  fs::remove(p / "base/bin/busybox");
  fs::copy_file(TestCache() + "/busybox-arm64/bin/busybox", p / "base/bin/busybox");
  auto build = Cf("--arch aarch64 build app.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output;
  auto co = Cf("--arch aarch64 checkout app.bst " + Out("arm").string());
  ASSERT_EQ(co.exit_code, 0) << co.output;
  EXPECT_EQ(ReadFile(Out("arm/usr/lib/machine.txt")), "aarch64\n");
  EXPECT_EQ(ReadFile(Out("arm/usr/lib/cache.txt")), "integrated prefix=/usr greeting=hello\n");
  EXPECT_FALSE(fs::exists(Out("arm/proc")));  // the sandbox's mount points stay out
}

}  // namespace
}  // namespace crossfarm::e2e
