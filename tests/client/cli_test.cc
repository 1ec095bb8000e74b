// The CLI's habits (issue 21): --version, suggestions for misspelt commands
// and options, the project found from a subdirectory, hints that keep the
// user's options. Drives the real binary; needs no root, bwrap or network.
#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {
namespace {

CommandResult Cf(const std::string& args) { return RunCmd(std::string(CROSSFARM_BIN) + " " + args); }

TEST(CliTest, EveryBinaryPrintsItsVersion) {
  for (const std::string bin : {CROSSFARM_BIN, CROSSFARM_CAS_BIN, CROSSFARM_SCHEDULER_BIN, CROSSFARM_WORKER_BIN}) {
    auto r = RunCmd(bin + " --version");
    EXPECT_EQ(r.exit_code, 0) << bin << ": " << r.output;
    const std::string name = bin.substr(bin.rfind('/') + 1);
    EXPECT_TRUE(r.output.starts_with(name + " 0.")) << r.output;
  }
}

TEST(CliTest, MisspeltCommandAndOptionGetASuggestion) {
  auto r = Cf("biuld hello.bst");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown command 'biuld'; did you mean 'build'?"), std::string::npos) << r.output;
  // A value of a global option is not taken for a command.
  r = Cf("--arch aarch64 shwo x.bst");
  EXPECT_NE(r.output.find("did you mean 'show'?"), std::string::npos) << r.output;
  r = Cf("build --track-al hello.bst");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown option '--track-al'; did you mean '--track-all'?"), std::string::npos)
      << r.output;
  r = Cf("source trakc x.bst");
  EXPECT_NE(r.output.find("did you mean 'track'?"), std::string::npos) << r.output;
}

class CliProjectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(dir_.path() / "project.conf", "name: p\nelement-path: elements\n");
    WriteFile(dir_.path() / "elements/sub/a.bst", "kind: stack\n");
  }
  TempTree dir_{"cli"};
};

TEST_F(CliProjectTest, TheProjectIsFoundFromASubdirectory) {
  auto r = RunCmd("cd " + (dir_.path() / "elements/sub").string() + " && " + CROSSFARM_BIN +
                  " --cache-dir " + (dir_.path() / "cache").string() +
                  " show --deps none --format '%{name}' sub/a.bst");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "sub/a.bst\n");
}

// The user config (docs/building.md): its keys are defaults, an unknown key is
// named with its line and a suggestion, and the command still runs.
TEST_F(CliProjectTest, UserConfigKeysAndTypos) {
  WriteFile(dir_.path() / "xdg/crossfarm/config.yaml",
            "cache-dir: " + (dir_.path() / "from-config").string() + "\nremote-kye: x\n");
  auto r = RunCmd("cd " + dir_.path().string() + " && XDG_CONFIG_HOME=" + (dir_.path() / "xdg").string() + " " +
                  CROSSFARM_BIN + " source track sub/a.bst");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("config.yaml:2: unknown key 'remote-kye' (ignored); did you mean 'remote-key'?"),
            std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "from-config/sources")) << r.output;
}

TEST_F(CliProjectTest, HintsKeepTheUsersOptions) {
  auto r = Cf("-C " + dir_.path().string() + " --cache-dir " + (dir_.path() / "cache").string() +
              " --arch aarch64 checkout sub/a.bst " + (dir_.path() / "out").string());
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("--arch aarch64 --cache-dir " + (dir_.path() / "cache").string() +
                          " build sub/a.bst"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace crossfarm::e2e
