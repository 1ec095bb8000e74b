#include "worker/fs_util.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
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

TEST(TempDirTest, RemovesItselfIncludingReadOnlyContents) {
  std::string path;
  {
    TempDir d = MustTempDir();
    path = d.path();
    WriteFile(path + "/a/b/file", "x", 0444);
    testing::MakeReadOnly(path + "/a");
    ASSERT_TRUE(fs::exists(path + "/a/b/file"));
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(TempDirTest, MovedFromDirIsNotRemovedTwice) {
  TempDir a = MustTempDir();
  std::string path = a.path();
  TempDir b = std::move(a);
  EXPECT_TRUE(a.path().empty());
  EXPECT_EQ(b.path(), path);
  EXPECT_TRUE(fs::exists(path));
}

TEST(RemoveTreeTest, NeverFollowsSymlinksOutOfTheTree) {
  TempDir outside = MustTempDir();
  WriteFile(outside.path() + "/precious/file", "keep");
  TempDir tree = MustTempDir();
  fs::create_directory_symlink(outside.path() + "/precious", tree.path() + "/link");
  fs::create_symlink(outside.path() + "/precious/file", tree.path() + "/filelink");
  ASSERT_TRUE(RemoveTree(tree.path()).ok());
  EXPECT_FALSE(fs::exists(tree.path()));
  EXPECT_EQ(ReadFile(outside.path() + "/precious/file"), "keep");
}

// In a child with its own mount namespace, so a failure cannot leave a mount on
// the host: a tmpfs mounted inside the tree must survive RemoveTree.
TEST(RemoveTreeTest, NeverEmptiesAMountPointInsideTheTree) {
  TempDir tree = MustTempDir();
  fs::create_directories(tree.path() + "/sub/mnt");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0) _exit(10);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(11);
    std::string mnt = tree.path() + "/sub/mnt";
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, nullptr) != 0) _exit(12);
    WriteFile(mnt + "/precious", "keep");
    Status s = RemoveTree(tree.path());
    bool refused = s.code() == StatusCode::kFailedPrecondition &&
                   s.message().find("mount point") != std::string::npos;
    bool kept = ReadFile(mnt + "/precious") == "keep";
    ::umount(mnt.c_str());
    _exit(refused && kept ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(RemoveTreeTest, AMissingPathIsFine) {
  EXPECT_TRUE(RemoveTree("/nonexistent/crossfarm/tree").ok());
}

TEST(RemoveTreeTest, RefusesTheFileSystemRoot) { EXPECT_FALSE(RemoveTree("/").ok()); }

TEST(OpenInRootTest, ResolvesAbsoluteSymlinksInsideTheRoot) {
  TempDir root = MustTempDir();
  WriteFile(root.path() + "/etc/hostname", "inside");
  fs::create_directories(root.path() + "/bin");
  fs::create_symlink("/etc/hostname", root.path() + "/bin/link");  // absolute
  auto fd = OpenInRoot(root.path(), "/bin/link", O_RDONLY);
  ASSERT_TRUE(fd.has_value()) << fd.error().ToString();
  char buf[16] = {};
  ASSERT_EQ(::read(fd->get(), buf, sizeof(buf)), 6);
  EXPECT_EQ(std::string(buf), "inside");
}

TEST(OpenInRootTest, DotDotCannotEscapeTheRoot) {
  TempDir root = MustTempDir();
  WriteFile(root.path() + "/passwd", "fake");
  fs::create_directories(root.path() + "/etc");
  fs::create_symlink("../../../../../../passwd", root.path() + "/etc/passwd");
  auto fd = OpenInRoot(root.path(), "etc/passwd", O_RDONLY);
  ASSERT_TRUE(fd.has_value());
  char buf[8] = {};
  ASSERT_EQ(::read(fd->get(), buf, sizeof(buf)), 4);
  EXPECT_EQ(std::string(buf), "fake");
}

TEST(OpenInRootTest, MissingFileIsNotFound) {
  TempDir root = MustTempDir();
  auto fd = OpenInRoot(root.path(), "bin/sh", O_RDONLY);
  ASSERT_FALSE(fd.has_value());
  EXPECT_TRUE(fd.error().IsNotFound());
}

TEST(MakeDirsInRootTest, FollowsAbsoluteSymlinksInsideTheRootOnly) {
  TempDir root = MustTempDir();
  TempDir host = MustTempDir();
  fs::create_directories(root.path() + "/usr/lib");
  fs::create_symlink("/usr/lib", root.path() + "/lib");
  // A symlink pointing at a real host directory must not be followed on the host.
  fs::create_symlink(host.path(), root.path() + "/escape");
  ASSERT_TRUE(MakeDirsInRoot(root.path(), "/lib/a/b").ok());
  EXPECT_TRUE(fs::is_directory(root.path() + "/usr/lib/a/b"));
  // Inside the root the link dangles, so like `mkdir -p` this fails, and nothing
  // appears on the host.
  EXPECT_FALSE(MakeDirsInRoot(root.path(), "/escape/x").ok());
  EXPECT_FALSE(fs::exists(host.path() + "/x"));
}

TEST(MakeFileInRootTest, CreatesAnEmptyFileOnceAndKeepsAnExistingOne) {
  TempDir root = MustTempDir();
  ASSERT_TRUE(MakeFileInRoot(root.path(), "/etc/resolv.conf").ok());
  EXPECT_EQ(fs::file_size(root.path() + "/etc/resolv.conf"), 0u);
  WriteFile(root.path() + "/etc/resolv.conf", "nameserver 127.0.0.1\n");
  ASSERT_TRUE(MakeFileInRoot(root.path(), "/etc/resolv.conf").ok());
  EXPECT_EQ(ReadFile(root.path() + "/etc/resolv.conf"), "nameserver 127.0.0.1\n");
}

}  // namespace
}  // namespace crossfarm::worker
