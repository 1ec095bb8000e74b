// The libarchive adapter's safety rules, with archives written in the test.
#include <archive.h>
#include <archive_entry.h>

#include "tests/worker/source_test_util.h"
#include "worker/archive.h"

namespace crossfarm::worker {
namespace {

using testing::ReadFile;
using testing::ScratchDir;
using testing::WriteFile;

// Writes a tar with one regular file at `name` (any path, even a hostile one).
void WriteRawTar(const std::string& out, const std::string& name, const std::string& body) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, out.c_str()), ARCHIVE_OK);
  archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, name.c_str());
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_size(e, static_cast<la_int64_t>(body.size()));
  archive_write_header(a, e);
  archive_write_data(a, body.data(), body.size());
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
}

TEST(ArchiveTest, DotDotEntriesAreRefused) {
  ScratchDir scratch;
  const std::string tar = scratch.path() + "/evil.tar";
  WriteRawTar(tar, "top/../../evil", "x");
  const Status st = ExtractArchive(tar, scratch.Sub("dest"));
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
  EXPECT_FALSE(std::filesystem::exists(scratch.path() + "/evil"));
}

TEST(ArchiveTest, AbsoluteEntriesAreRefused) {
  ScratchDir scratch;
  const std::string tar = scratch.path() + "/evil.tar";
  WriteRawTar(tar, scratch.path() + "/abs-evil", "x");
  EXPECT_FALSE(ExtractArchive(tar, scratch.Sub("dest")).ok());
  EXPECT_FALSE(std::filesystem::exists(scratch.path() + "/abs-evil"));
}

TEST(ArchiveTest, SymlinkInDestIsReplacedNotFollowedByDefault) {
  ScratchDir scratch;
  const std::string tar = scratch.path() + "/t.tar";
  WriteRawTar(tar, "bin/x", "x");
  const std::string dest = scratch.Sub("dest");
  const std::string outside = scratch.Sub("outside");
  std::filesystem::create_symlink(outside, dest + "/bin");
  const Status st = ExtractArchive(tar, dest);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_FALSE(std::filesystem::exists(outside + "/x"));
  EXPECT_FALSE(std::filesystem::is_symlink(dest + "/bin"));
  EXPECT_EQ(ReadFile(dest + "/bin/x"), "x");
}

TEST(ArchiveTest, FollowedAbsoluteSymlinkResolvesInsideDest) {
  ScratchDir scratch;
  const std::string tar = scratch.path() + "/t.tar";
  WriteRawTar(tar, "./bin/x", "inside");
  const std::string dest = scratch.Sub("dest");
  const std::string outside = scratch.Sub("outside");
  // An absolute link means "from the root being built", as in a chroot.
  std::filesystem::create_symlink(outside, dest + "/bin");
  const Status st = ExtractArchive(tar, dest, {.follow_dest_symlinks = true});
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_FALSE(std::filesystem::exists(outside + "/x"));
  EXPECT_EQ(ReadFile(dest + outside + "/x"), "inside");
}

TEST(ArchiveTest, FollowedSymlinkClimbingOutOfDestIsAnError) {
  ScratchDir scratch;
  const std::string tar = scratch.path() + "/t.tar";
  WriteRawTar(tar, "lib/x", "x");
  const std::string dest = scratch.Sub("dest");
  std::filesystem::create_symlink("../../..", dest + "/lib");
  EXPECT_EQ(ExtractArchive(tar, dest, {.follow_dest_symlinks = true}).code(),
            StatusCode::kCorruption);
}

TEST(ArchiveTest, ListArchiveDirsIncludesImplicitParents) {
  ScratchDir scratch;
  const std::string tar = scratch.path() + "/t.tar";
  WriteRawTar(tar, "./a/b/c.txt", "x");
  auto dirs = ListArchiveDirs(tar);
  ASSERT_TRUE(dirs.has_value());
  EXPECT_EQ(*dirs, (std::vector<std::string>{"a", "a/b"}));
}

TEST(ArchiveTest, GarbageIsCorruption) {
  ScratchDir scratch;
  WriteFile(scratch.path() + "/junk.deb", "not an archive at all");
  EXPECT_FALSE(ExtractDebData(scratch.path() + "/junk.deb", scratch.Sub("d")).ok());
}

}  // namespace
}  // namespace crossfarm::worker
