#include "worker/staging.h"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/worker/test_roots.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::WriteFile;

TempDir MustTempDir() {
  auto d = TempDir::Create();
  EXPECT_TRUE(d.has_value());
  return std::move(*d);
}

struct StagingTest : ::testing::Test {
  // Artifact trees `a` (base) and `b` (later), read-only like the cache's.
  void SetUp() override {
    WriteFile(a.path() + "/usr/bin/tool", "#!/bin/sh\necho a\n", 0755);
    WriteFile(a.path() + "/usr/lib/libx.so.1", "libx v1", 0644);
    WriteFile(a.path() + "/etc/conf", "from a", 0644);
    fs::create_symlink("libx.so.1", a.path() + "/usr/lib/libx.so");
    fs::create_symlink("usr/bin", a.path() + "/bin");
    WriteFile(b.path() + "/etc/conf", "from b", 0600);
    WriteFile(b.path() + "/usr/share/doc/b", "doc", 0644);
    WriteFile(b.path() + "/bin/extra", "#!/bin/sh\n", 0700);  // lands in usr/bin
    testing::MakeReadOnly(a.path());
    testing::MakeReadOnly(b.path());
  }

  Result<StageReport> Stage(StageMode mode = StageMode::kHardLink) {
    std::vector<std::string> arts = {a.path(), b.path()};
    return StageArtifacts(root.path(), arts, mode);
  }

  TempDir a = MustTempDir();
  TempDir b = MustTempDir();
  TempDir root = MustTempDir();
};

TEST_F(StagingTest, LaterArtifactsOverwriteEarlierOnesAndOverlapsAreReported) {
  auto r = Stage();
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(ReadFile(root.path() + "/etc/conf"), "from b");
  ASSERT_EQ(r->overlaps.size(), 1u);
  EXPECT_EQ(r->overlaps[0].path, "etc/conf");
  EXPECT_EQ(r->overlaps[0].earlier, 0u);
  EXPECT_EQ(r->overlaps[0].later, 1u);
}

TEST_F(StagingTest, SymlinksAreRecreatedNotFollowed) {
  ASSERT_TRUE(Stage().has_value());
  EXPECT_TRUE(fs::is_symlink(root.path() + "/usr/lib/libx.so"));
  EXPECT_EQ(fs::read_symlink(root.path() + "/usr/lib/libx.so"), "libx.so.1");
  EXPECT_EQ(fs::read_symlink(root.path() + "/bin"), "usr/bin");
}

TEST_F(StagingTest, ADirectoryOverASymlinkMergesIntoItsTargetInsideTheRoot) {
  auto r = Stage();
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(fs::is_symlink(root.path() + "/bin"));
  EXPECT_TRUE(fs::is_regular_file(root.path() + "/usr/bin/extra"));
}

TEST_F(StagingTest, ExecBitsAndModesAreKept) {
  for (StageMode mode : {StageMode::kHardLink, StageMode::kCopy}) {
    TempDir r = MustTempDir();
    std::vector<std::string> arts = {a.path(), b.path()};
    ASSERT_TRUE(StageArtifacts(r.path(), arts, mode).has_value());
    struct stat st{};
    ASSERT_EQ(::stat((r.path() + "/usr/bin/tool").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0555u);  // 0755 made read-only by the cache
    ASSERT_EQ(::stat((r.path() + "/etc/conf").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0400u);
  }
}

TEST_F(StagingTest, HardLinkModeSharesInodesCopyModeDoesNot) {
  struct stat src{}, linked{}, copied{};
  ASSERT_EQ(::stat((a.path() + "/usr/lib/libx.so.1").c_str(), &src), 0);
  auto r = Stage(StageMode::kHardLink);
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(::stat((root.path() + "/usr/lib/libx.so.1").c_str(), &linked), 0);
  EXPECT_EQ(src.st_ino, linked.st_ino);
  EXPECT_EQ(r->copied, 0u);
  TempDir other = MustTempDir();
  std::vector<std::string> arts = {a.path()};
  auto c = StageArtifacts(other.path(), arts, StageMode::kCopy);
  ASSERT_TRUE(c.has_value());
  ASSERT_EQ(::stat((other.path() + "/usr/lib/libx.so.1").c_str(), &copied), 0);
  EXPECT_NE(src.st_ino, copied.st_ino);
  EXPECT_EQ(c->copied, c->files);
  EXPECT_EQ(ReadFile(other.path() + "/usr/lib/libx.so.1"), "libx v1");
}

TEST_F(StagingTest, AFileCannotReplaceANonEmptyDirectory) {
  TempDir c = MustTempDir();
  WriteFile(c.path() + "/usr", "a file where a dir is");
  std::vector<std::string> arts = {a.path(), c.path()};
  auto r = StageArtifacts(root.path(), arts, StageMode::kHardLink);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(fs::is_directory(root.path() + "/usr"));
  ASSERT_EQ(r->ignored.size(), 1u);
  EXPECT_EQ(r->ignored[0], "usr");
}

TEST_F(StagingTest, AMissingArtifactIsNotFound) {
  std::vector<std::string> arts = {a.path(), "/nonexistent/artifact"};
  auto r = StageArtifacts(root.path(), arts, StageMode::kHardLink);
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error().IsNotFound()) << r.error().ToString();
}

TEST(StagedRootTest, RemovesItselfButNotTheArtifacts) {
  auto art = testing::MakeBusyboxArtifact();
  ASSERT_TRUE(art.has_value());
  std::string root_path;
  {
    std::vector<std::string> arts = {art->path()};
    auto root = StagedRoot::Create("", arts, StageMode::kHardLink);
    ASSERT_TRUE(root.has_value()) << root.error().ToString();
    root_path = root->path();
    EXPECT_TRUE(fs::is_regular_file(root_path + "/bin/busybox"));
    EXPECT_GT(root->report().symlinks, 10u);
  }
  EXPECT_FALSE(fs::exists(root_path));
  EXPECT_TRUE(fs::is_regular_file(art->path() + "/bin/busybox"));
}

TEST(StagingScaleTest, TwentyThousandFilesFromThreeArtifactsAreAllStaged) {
  TempDir arts[3] = {MustTempDir(), MustTempDir(), MustTempDir()};
  for (int a = 0; a < 3; ++a) {
    // Hard links of one read-only seed: creating 20,000 inodes is slow on a busy
    // disk, and staging does not care whether the names share an inode.
    std::string seed = arts[a].path() + "/etc/seed";
    WriteFile(seed, "x", 0444);
    for (int d = 0; d < 100; ++d) {
      std::string dir = arts[a].path() + "/usr/share/a" + std::to_string(a) + "/d" +
                        std::to_string(d);
      fs::create_directories(dir);
      for (int f = 0; f < 67; ++f) fs::create_hard_link(seed, dir + "/f" + std::to_string(f));
      ::chmod(dir.c_str(), 0555);
    }
    WriteFile(arts[a].path() + "/etc/shared", std::to_string(a), 0444);
  }
  TempDir root = MustTempDir();
  std::vector<std::string> list = {arts[0].path(), arts[1].path(), arts[2].path()};
  auto r = StageArtifacts(root.path(), list, StageMode::kHardLink);
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->files, 3u * (100 * 67 + 2));
  ASSERT_EQ(r->overlaps.size(), 4u);  // etc/seed and etc/shared, twice each
  EXPECT_EQ(r->overlaps[0].earlier, 0u);
  EXPECT_EQ(r->overlaps[2].earlier, 1u);
  EXPECT_EQ(r->overlaps[2].later, 2u);
  EXPECT_EQ(ReadFile(root.path() + "/etc/shared"), "2");
  EXPECT_TRUE(fs::exists(root.path() + "/usr/share/a1/d99/f66"));
  EXPECT_TRUE(fs::exists(root.path() + "/usr/share/a2/d0/f0"));
}

}  // namespace
}  // namespace crossfarm::worker
