// local and patch sources, and the factory's config checks.
#include "tests/worker/source_test_util.h"

namespace crossfarm::worker {
namespace {

using testing::MustMake;
using testing::ReadFile;
using testing::ScratchDir;
using testing::WriteFile;

class LocalPatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_.project_dir = scratch_.Sub("project");
    ctx_.cache_dir = scratch_.Sub("cache");
    WriteFile(ctx_.project_dir + "/files/hello.c",
              "#include <stdio.h>\nint main(void) {\n  puts(\"hello\");\n  return 0;\n}\n");
    WriteFile(ctx_.project_dir + "/files/run.sh", "#!/bin/sh\n", /*exec=*/true);
  }
  std::string Ref(const std::string& yaml) {
    auto ref = MustMake(yaml, ctx_)->Ref();
    EXPECT_TRUE(ref.has_value());
    return ref.value_or("");
  }

  ScratchDir scratch_;
  SourceContext ctx_;
};

constexpr const char* kPatch =
    "--- a/hello.c\n"
    "+++ b/hello.c\n"
    "@@ -1,5 +1,5 @@\n"
    " #include <stdio.h>\n"
    " int main(void) {\n"
    "-  puts(\"hello\");\n"
    "+  puts(\"hello, patched\");\n"
    "   return 0;\n"
    " }\n";

TEST_F(LocalPatchTest, LocalDirectoryIsCopiedWithModes) {
  auto source = MustMake("{kind: local, path: files}", ctx_);
  ASSERT_TRUE(source->Fetch().ok());
  const std::string dest = scratch_.Sub("dest");
  ASSERT_TRUE(source->Stage(dest).ok());
  EXPECT_EQ(ReadFile(dest + "/hello.c"), ReadFile(ctx_.project_dir + "/files/hello.c"));
  EXPECT_EQ(access((dest + "/run.sh").c_str(), X_OK), 0);
}

TEST_F(LocalPatchTest, LocalFileIsStagedUnderDirectory) {
  auto source = MustMake("{kind: local, path: files/hello.c, directory: src/app}", ctx_);
  const std::string dest = scratch_.Sub("dest");
  ASSERT_TRUE(source->Stage(dest).ok());
  EXPECT_TRUE(std::filesystem::exists(dest + "/src/app/hello.c"));
}

TEST_F(LocalPatchTest, LocalRefChangesWithContentNameAndExecBit) {
  const std::string yaml = "{kind: local, path: files}";
  const std::string before = Ref(yaml);
  EXPECT_EQ(before, Ref(yaml));
  chmod((ctx_.project_dir + "/files/run.sh").c_str(), 0644);
  const std::string no_exec = Ref(yaml);
  EXPECT_NE(before, no_exec);
  WriteFile(ctx_.project_dir + "/files/run.sh", "#!/bin/sh\necho\n");
  const std::string new_content = Ref(yaml);
  EXPECT_NE(no_exec, new_content);
  std::filesystem::rename(ctx_.project_dir + "/files/run.sh", ctx_.project_dir + "/files/go.sh");
  EXPECT_NE(new_content, Ref(yaml));
}

TEST_F(LocalPatchTest, MissingLocalPathNamesTheElement) {
  const Status st = MustMake("{kind: local, path: nope}", ctx_)->Fetch();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("elements/test.bst:7:3"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("nope"), std::string::npos);
}

TEST_F(LocalPatchTest, LocalPathOutsideTheProjectIsRejected) {
  const YAML::Node config = YAML::Load("{kind: local, path: ../../etc}");
  EXPECT_FALSE(MakeSource("local", config, testing::TestWhere(), ctx_).has_value());
}

// Issue 19 point 7: a symlink inside the project must not carry a `local` or
// `patch` path out of it (bst 1.6: "must not lead outside of the project
// directory"); a link that stays inside is fine.
TEST_F(LocalPatchTest, SymlinkLeadingOutOfTheProjectIsRejected) {
  const std::string outside = scratch_.Sub("outside");
  WriteFile(outside + "/secret", "not the project's\n");
  std::filesystem::create_directory_symlink(outside, ctx_.project_dir + "/out");
  std::filesystem::create_symlink(outside + "/secret", ctx_.project_dir + "/secret-link");
  std::filesystem::create_directory_symlink("files", ctx_.project_dir + "/in");
  for (const char* yaml : {"{kind: local, path: out/secret}", "{kind: local, path: out}",
                           "{kind: local, path: secret-link}", "{kind: patch, path: out/secret}"}) {
    const YAML::Node config = YAML::Load(yaml);
    auto made = MakeSource(config["kind"].as<std::string>(), config, testing::TestWhere(), ctx_);
    ASSERT_FALSE(made.has_value()) << yaml;
    EXPECT_NE(made.error().message().find("is outside the project"), std::string::npos)
        << made.error().message();
  }
  const std::string dest = scratch_.Sub("dest");
  ASSERT_TRUE(MustMake("{kind: local, path: in}", ctx_)->Stage(dest).ok());
}

TEST_F(LocalPatchTest, PatchAppliesToTheStagedFiles) {
  WriteFile(ctx_.project_dir + "/patches/fix.patch", kPatch);
  const std::string dest = scratch_.Sub("dest");
  ASSERT_TRUE(MustMake("{kind: local, path: files}", ctx_)->Stage(dest).ok());
  auto patch = MustMake("{kind: patch, path: patches/fix.patch}", ctx_);
  ASSERT_TRUE(patch->Fetch().ok());
  const Status st = patch->Stage(dest);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_NE(ReadFile(dest + "/hello.c").find("hello, patched"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dest + "/hello.c.orig"));
}

TEST_F(LocalPatchTest, PatchHonoursStripLevelAndDirectory) {
  std::string p0 = kPatch;
  p0.replace(p0.find("a/hello.c"), 9, "hello.c");
  p0.replace(p0.find("b/hello.c"), 9, "hello.c");
  WriteFile(ctx_.project_dir + "/p0.patch", p0);
  const std::string dest = scratch_.Sub("dest");
  ASSERT_TRUE(MustMake("{kind: local, path: files, directory: src}", ctx_)->Stage(dest).ok());
  const Status st =
      MustMake("{kind: patch, path: p0.patch, strip-level: 0, directory: src}", ctx_)->Stage(dest);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_NE(ReadFile(dest + "/src/hello.c").find("hello, patched"), std::string::npos);
}

TEST_F(LocalPatchTest, PatchThatDoesNotApplyIsAClearError) {
  WriteFile(ctx_.project_dir + "/fix.patch", kPatch);
  const std::string dest = scratch_.Sub("dest");
  WriteFile(dest + "/hello.c", "something else entirely\n");
  const Status st = MustMake("{kind: patch, path: fix.patch}", ctx_)->Stage(dest);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("elements/test.bst:7"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("does not apply"), std::string::npos);
}

TEST_F(LocalPatchTest, PatchIntoAnEmptyDirectoryIsRefused) {
  WriteFile(ctx_.project_dir + "/fix.patch", kPatch);
  const Status st = MustMake("{kind: patch, path: fix.patch}", ctx_)->Stage(scratch_.Sub("e"));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("nothing to patch"), std::string::npos) << st.message();
}

TEST_F(LocalPatchTest, PatchRefFollowsThePatchContent) {
  WriteFile(ctx_.project_dir + "/fix.patch", kPatch);
  const std::string before = Ref("{kind: patch, path: fix.patch}");
  WriteFile(ctx_.project_dir + "/fix.patch", std::string(kPatch) + "\n");
  EXPECT_NE(before, Ref("{kind: patch, path: fix.patch}"));
}

TEST_F(LocalPatchTest, UnknownKeyIsAUserErrorWithItsPosition) {
  const YAML::Node config = YAML::Load("kind: local\npath: files\npaht: typo\n");
  auto source = MakeSource("local", config, testing::TestWhere(), ctx_);
  ASSERT_FALSE(source.has_value());
  EXPECT_EQ(source.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(source.error().message().find("elements/test.bst:3:1"), std::string::npos)
      << source.error().message();
  EXPECT_NE(source.error().message().find("paht"), std::string::npos);
}

TEST_F(LocalPatchTest, UnknownKindListsTheKnownOnes) {
  auto source = MakeSource("cvs", YAML::Load("{kind: cvs}"), testing::TestWhere(), ctx_);
  ASSERT_FALSE(source.has_value());
  EXPECT_NE(source.error().message().find("debian-source"), std::string::npos);
}

TEST_F(LocalPatchTest, DirectoryMayNotLeaveTheStagingRoot) {
  const Status st =
      MustMake("{kind: local, path: files, directory: ../up}", ctx_)->Stage(scratch_.Sub("d"));
  EXPECT_FALSE(st.ok());
}

}  // namespace
}  // namespace crossfarm::worker
