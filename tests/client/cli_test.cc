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


// Issue 19 point 7: `cas export` of a tree whose data turns out corrupt fails
// and leaves nothing at the target (before: the files read so far stayed there).
TEST_F(CliProjectTest, FailedCasExportLeavesNoPartialDirectory) {
  const auto cache = dir_.path() / "cache";
  WriteFile(dir_.path() / "tree/a-small", "small\n");
  WriteFile(dir_.path() / "tree/z-large", std::string(64 * 1024, 'z'));  // a RocksDB blob file record
  auto imported = Cf("--cache-dir " + cache.string() + " cas import " + (dir_.path() / "tree").string());
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  const std::string root = imported.output.substr(0, imported.output.find('\n'));
  auto good = Cf("--cache-dir " + cache.string() + " cas export " + root + " " + (dir_.path() / "good").string());
  ASSERT_EQ(good.exit_code, 0) << good.output;
  EXPECT_EQ(ReadFile(dir_.path() / "good/a-small"), "small\n");
  // The store's files closed and flushed before they are corrupted.
  ASSERT_TRUE(StopCacheService(cache / "cas"));
  int flipped = 0;
  for (const auto& e : std::filesystem::directory_iterator(cache / "cas/db")) {
    if (e.path().extension() != ".blob") continue;
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(e.file_size() / 2));
    f.put('!');
    ++flipped;
  }
  ASSERT_GT(flipped, 0) << "no blob file to corrupt";
  for (const std::string target : {"out", "empty"}) {
    if (target == "empty") std::filesystem::create_directory(dir_.path() / target);
    auto r = Cf("--cache-dir " + cache.string() + " cas export " + root + " " + (dir_.path() / target).string());
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_EQ(std::filesystem::exists(dir_.path() / target / "a-small"), false) << r.output;
    EXPECT_EQ(std::filesystem::exists(dir_.path() / "out"), false) << r.output;
  }
  for (const auto& e : std::filesystem::directory_iterator(dir_.path()))
    EXPECT_EQ(e.path().filename().string().find("cf-partial"), std::string::npos) << e.path();
}

}  // namespace
}  // namespace crossfarm::e2e
