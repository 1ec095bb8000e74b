// End-to-end workspaces (docs/workspaces.md) with the real binary and bwrap:
// a small make project built on examples/hello's Debian base, natively and
// emulated for aarch64; open, build, edit, rebuild (only the changed object
// is recompiled, configure runs once), close. Bad input against bst's
// messages. The cluster variant is in workspace_cluster_e2e_test.cc.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMakefile =
    "calc: main.o add.o\n\tgcc -static -o calc main.o add.o\n"
    "%.o: %.c\n\tgcc -c -o $@ $<\n";

class WorkspaceE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    project_ = new TempTree("ws-project");
    cache_ = new TempTree("ws-cache");
    fs::path p = project_->path();
    auto cp = RunCmd("cp -a " + std::string(CROSSFARM_SOURCE_DIR) + "/examples/hello/. " + p.string());
    if (cp.exit_code != 0) setup_error_ = "copying the example failed:\n" + cp.output;
    WriteFile(p / "files/calc/Makefile", kMakefile);
    WriteFile(p / "files/calc/main.c",
              "#include <stdio.h>\nint add(int, int);\nint main(void) { printf(\"%d\\n\", add(1, 2)); return 0; }\n");
    WriteFile(p / "files/calc/add.c", "int add(int a, int b) { return a + b; }\n");
    WriteFile(p / "elements/calc.bst",
              "kind: manual\nbuild-depends:\n- base.bst\nsources:\n- kind: local\n  path: files/calc\n"
              "config:\n  configure-commands:\n  - echo configuring\n  build-commands:\n  - make\n"
              "  install-commands:\n  - install -D -m 0755 calc %{install-root}%{bindir}/calc\n");
  }
  static void TearDownTestSuite() {
    delete project_;
    delete cache_;
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  static CommandResult Cf(const std::string& args) {
    return RunCmd("cd " + project_->path().string() + " && " + std::string(CROSSFARM_BIN) +
                  " --cache-dir " + cache_->path().string() + " --mirror-dir " + TestCache() +
                  "/mirror --no-accel " + args);
  }
  static std::string Key(const std::string& arch) {
    auto r = Cf("--arch " + arch + " show --deps none --format '%{full-key} %{state}' calc.bst");
    return r.output.substr(0, r.output.find('\n'));
  }
  static std::string Log(const std::string& arch) { return Cf("--arch " + arch + " log calc.bst").output; }
  static std::string Run(const std::string& arch, const std::string& tag) {
    fs::path out = cache_->path() / ("out-" + tag);
    auto co = Cf("--arch " + arch + " checkout calc.bst " + out.string());
    EXPECT_EQ(co.exit_code, 0) << co.output;
    std::string qemu = arch == "aarch64" ? "qemu-aarch64-static " : "";
    return RunCmd(qemu + (out / "usr/bin/calc").string()).output;
  }

  // Open, build, edit one file, rebuild, close: for one arch.
  static void EditAndRebuild(const std::string& arch) {
    const std::string ws = (cache_->path() / ("ws-" + arch)).string();
    // The base's pins follow Debian's mirror (kept in the cache, as the README does).
    auto track = Cf("--arch " + arch + " source track --deps all calc.bst");
    ASSERT_EQ(track.exit_code, 0) << track.output;
    auto normal = Cf("--arch " + arch + " build calc.bst");
    ASSERT_EQ(normal.exit_code, 0) << normal.output;
    const std::string normal_key = Key(arch);

    auto open = Cf("--arch " + arch + " workspace open --directory " + ws + " calc.bst");
    ASSERT_EQ(open.exit_code, 0) << open.output;
    EXPECT_TRUE(fs::exists(ws + "/add.c"));
    auto show = Cf("--arch " + arch + " show --deps none calc.bst");
    EXPECT_NE(show.output.find("Workspace: " + ws), std::string::npos) << show.output;
    const std::string first_key = Key(arch);
    EXPECT_NE(first_key, normal_key);

    auto first = Cf("--arch " + arch + " build calc.bst");
    ASSERT_EQ(first.exit_code, 0) << first.output;
    std::string log = Log(arch);
    EXPECT_NE(log.find("gcc -c -o main.o main.c"), std::string::npos) << log;
    EXPECT_NE(log.find("gcc -c -o add.o add.c"), std::string::npos) << log;
    EXPECT_NE(log.find("configuring"), std::string::npos) << log;
    EXPECT_EQ(Run(arch, arch + "-1"), "3\n");
    // Nothing changed: the same key, cached.
    EXPECT_EQ(Key(arch), first_key.substr(0, 64) + " cached");

    WriteFile(ws + "/add.c", "int add(int a, int b) { return 10 * (a + b); }\n");
    const std::string edited_key = Key(arch);
    EXPECT_NE(edited_key.substr(0, 64), first_key.substr(0, 64));
    auto second = Cf("--arch " + arch + " build calc.bst");
    ASSERT_EQ(second.exit_code, 0) << second.output;
    log = Log(arch);
    EXPECT_NE(log.find("gcc -c -o add.o add.c"), std::string::npos) << log;
    EXPECT_EQ(log.find("gcc -c -o main.o main.c"), std::string::npos) << "main.c was recompiled:\n" << log;
    EXPECT_EQ(log.find("configuring"), std::string::npos) << "configure ran again:\n" << log;
    EXPECT_EQ(Run(arch, arch + "-2"), "30\n");

    auto close = Cf("workspace close calc.bst");
    ASSERT_EQ(close.exit_code, 0) << close.output;
    EXPECT_EQ(Key(arch), normal_key.substr(0, 64) + " cached");
    EXPECT_EQ(Run(arch, arch + "-3"), "3\n");
    EXPECT_TRUE(fs::exists(ws + "/add.c")) << "close without --remove-dir keeps the files";
  }

  static std::string setup_error_;
  static TempTree* project_;
  static TempTree* cache_;
};
std::string WorkspaceE2ETest::setup_error_;
TempTree* WorkspaceE2ETest::project_ = nullptr;
TempTree* WorkspaceE2ETest::cache_ = nullptr;

TEST_F(WorkspaceE2ETest, NativeRebuildRecompilesOnlyTheEditedFile) { EditAndRebuild("x86_64"); }

TEST_F(WorkspaceE2ETest, EmulatedAarch64RebuildRecompilesOnlyTheEditedFile) { EditAndRebuild("aarch64"); }

TEST_F(WorkspaceE2ETest, ListResetAndSoftResetAsBst) {
  const std::string ws = (cache_->path() / "ws-list").string();
  ASSERT_EQ(Cf("workspace open calc.bst " + ws).exit_code, 0);  // bst 1.6's form
  auto list = Cf("workspace list");
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.output.find("workspaces:\n- element: calc.bst\n  directory: " + ws + "\n"), std::string::npos)
      << list.output;
  // bst reads the file crossfarm writes (on a project bst 1.6.8 loads:
  // it refuses examples/hello's `min-version: 1.6`).
  TempTree small("ws-bst");
  WriteFile(small.path() / "project.conf", "name: small\nformat-version: 9\nelement-path: elements\n");
  WriteFile(small.path() / "elements/app.bst", "kind: manual\nsources:\n- kind: local\n  path: src\n");
  WriteFile(small.path() / "src/a.c", "int a;\n");
  auto opened = RunCmd(std::string(CROSSFARM_BIN) + " -C " + small.path().string() + " --cache-dir " +
                       cache_->path().string() + " workspace open --directory " + ws + "-bst app.bst");
  ASSERT_EQ(opened.exit_code, 0) << opened.output;
  auto bst = RunCmd("cd " + small.path().string() + " && HOME=" + cache_->path().string() +
                    " bst --no-colors workspace list");
  EXPECT_NE(bst.output.find("- element: app.bst\n  directory: " + ws + "-bst"), std::string::npos) << bst.output;
  auto again = Cf("workspace open --directory " + ws + "-2 calc.bst");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.output.find("Workspace 'calc.bst' is already defined at: " + ws), std::string::npos)
      << again.output;

  WriteFile(ws + "/add.c", "garbage");
  WriteFile(ws + "/new.c", "new");
  auto soft = Cf("workspace reset --soft calc.bst");
  EXPECT_EQ(soft.exit_code, 0) << soft.output;
  EXPECT_EQ(ReadFile(ws + "/add.c"), "garbage");
  auto hard = Cf("workspace reset calc.bst");
  EXPECT_EQ(hard.exit_code, 0) << hard.output;
  EXPECT_EQ(ReadFile(ws + "/add.c"), ReadFile(project_->path() / "files/calc/add.c"));
  EXPECT_FALSE(fs::exists(ws + "/new.c"));
  auto close = Cf("workspace close --remove-dir calc.bst");
  EXPECT_EQ(close.exit_code, 0) << close.output;
  EXPECT_FALSE(fs::exists(ws));
  EXPECT_NE(Cf("workspace list").output.find("workspaces: []"), std::string::npos);
}

TEST_F(WorkspaceE2ETest, BadInputGivesBstLikeErrors) {
  fs::path p = project_->path();
  WriteFile(p / "elements/j.bst", "kind: junction\nsources:\n- kind: local\n  path: files/sub\n");
  WriteFile(p / "files/sub/project.conf", "name: sub\n");
  struct Case {
    std::string args, says;
  };
  const std::string ws = (cache_->path() / "ws-bad").string();
  for (const Case& c : {
           Case{"workspace open --directory " + ws + " j.bst", "j.bst is a junction"},
           Case{"workspace open --directory " + ws + " base.bst",
                "base.bst has no sources\n  hint: open a workspace on one of its build dependencies"},
           Case{"workspace open --directory " + ws + " nosuch.bst", "nosuch.bst"},
           Case{"workspace open --directory " + ws + " calc.bst hello.bst",
                "--directory can only be used with a single element"},
           Case{"workspace close nosuch.bst", "Workspace does not exist:\n  nosuch.bst"},
           Case{"workspace close", "no elements specified"},
           Case{"workspace reset", "No elements specified to reset"},
       }) {
    auto r = Cf(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << ":\n" << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << c.args << ":\n" << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n') < 8, true) << r.output;
  }
  // Not empty: bst's refusal, and --force / --no-checkout as the way out.
  WriteFile(ws + "/keep.txt", "mine");
  auto busy = Cf("workspace open --directory " + ws + " calc.bst");
  EXPECT_EQ(busy.exit_code, 2);
  EXPECT_NE(busy.output.find("Checkout directory is not empty: " + ws), std::string::npos) << busy.output;
  ASSERT_EQ(Cf("workspace open --no-checkout --directory " + ws + " calc.bst").exit_code, 0);
  EXPECT_FALSE(fs::exists(ws + "/add.c"));
  // The directory vanished: builds and show name workspaces.yml:line and the fixes.
  fs::remove_all(ws);
  auto show = Cf("show calc.bst");
  EXPECT_EQ(show.exit_code, 2) << show.output;
  EXPECT_NE(show.output.find(".bst/workspaces.yml:3"), std::string::npos) << show.output;
  EXPECT_NE(show.output.find("workspace reset calc.bst"), std::string::npos) << show.output;
  auto build = Cf("build calc.bst");
  EXPECT_EQ(build.exit_code, 2) << build.output;
  EXPECT_EQ(Cf("workspace close calc.bst").exit_code, 0);
  fs::remove(p / "elements/j.bst");
}

}  // namespace
}  // namespace crossfarm::e2e
