// Merkle trees: import/export round trips, dedup, hardlinks, unsafe names.
#include "cas/cas.h"
#include "tests/cas/test_util.h"

namespace crossfarm::cas {
namespace {

using testing::ModeOf;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

void MakeSampleTree(const std::string& root) {
  WriteFile(root + "/bin/tool", "#!/bin/sh\necho hi\n", 0755);
  WriteFile(root + "/lib/libz.so.1.2", "not really an ELF");
  WriteFile(root + "/share/doc/README", "read me");
  WriteFile(root + "/share/doc/COPY", "read me");  // same content, one blob
  std::filesystem::create_directories(root + "/var/empty");
  std::filesystem::create_symlink("libz.so.1.2", root + "/lib/libz.so.1");
  std::filesystem::create_symlink("/etc/passwd", root + "/lib/absolute");
  WriteFile(root + "/big.bin", testing::RandomBytes(kChunkSize * 2 + 99, 11));
}

void ExpectSampleTree(const std::string& root) {
  EXPECT_EQ(ReadFile(root + "/bin/tool"), "#!/bin/sh\necho hi\n");
  EXPECT_TRUE(ModeOf(root + "/bin/tool") & S_IXUSR);
  EXPECT_FALSE(ModeOf(root + "/lib/libz.so.1.2") & S_IXUSR);
  EXPECT_EQ(ReadFile(root + "/share/doc/COPY"), "read me");
  EXPECT_TRUE(std::filesystem::is_directory(root + "/var/empty"));
  EXPECT_TRUE(std::filesystem::is_empty(root + "/var/empty"));
  EXPECT_EQ(std::filesystem::read_symlink(root + "/lib/libz.so.1"), "libz.so.1.2");
  EXPECT_EQ(std::filesystem::read_symlink(root + "/lib/absolute"), "/etc/passwd");
  EXPECT_EQ(ReadFile(root + "/big.bin"), testing::RandomBytes(kChunkSize * 2 + 99, 11));
}

TEST(TreeTest, ExportReproducesExecBitsSymlinksAndEmptyDirectories) {
  TempDir dir;
  MakeSampleTree(dir / "in");
  auto cas = OpenCas(dir / "cas");
  ASSERT_OK(cas);
  auto root = (*cas)->ImportTree(dir / "in");
  ASSERT_OK(root);
  ASSERT_OK((*cas)->ExportTree(*root, dir / "out"));
  ExpectSampleTree(dir / "out");
  EXPECT_EQ(ModeOf(dir / "out/lib/libz.so.1.2") & 0777, 0644u);
  EXPECT_EQ(ModeOf(dir / "out/bin/tool") & 0777, 0755u);
}

TEST(TreeTest, SameTreeGivesTheSameDigestAndStoresNothingNew) {
  TempDir dir;
  MakeSampleTree(dir / "one");
  MakeSampleTree(dir / "two");
  auto cas = OpenCas(dir / "cas");
  ASSERT_OK(cas);
  auto first = (*cas)->ImportTree(dir / "one");
  ASSERT_OK(first);
  auto count = (*cas)->Stats()->blob_count;
  auto second = (*cas)->ImportTree(dir / "two");
  ASSERT_OK(second);
  EXPECT_EQ(*first, *second);
  EXPECT_EQ((*cas)->Stats()->blob_count, count);
  // files: tool, libz, README(=COPY), big (3 chunks + manifest); dirs: 7.
  EXPECT_EQ(count, 3u + 4u + 7u);
}

TEST(TreeTest, ExecBitAndSymlinkTargetChangeTheDigest) {
  TempDir dir;
  MakeSampleTree(dir / "a");
  auto cas = OpenCas(dir / "cas");
  ASSERT_OK(cas);
  auto before = (*cas)->ImportTree(dir / "a");
  ::chmod((dir / "a/lib/libz.so.1.2").c_str(), 0755);
  auto after_chmod = (*cas)->ImportTree(dir / "a");
  std::filesystem::remove(dir / "a/lib/absolute");
  std::filesystem::create_symlink("/etc/group", dir / "a/lib/absolute");
  auto after_link = (*cas)->ImportTree(dir / "a");
  ASSERT_OK(before);
  ASSERT_OK(after_chmod);
  ASSERT_OK(after_link);
  EXPECT_NE(*before, *after_chmod);
  EXPECT_NE(*after_chmod, *after_link);
}

TEST(TreeTest, HardlinkExportSharesReadOnlyCacheFiles) {
  TempDir dir;
  MakeSampleTree(dir / "in");
  auto cas = OpenCas(dir / "cas");
  ASSERT_OK(cas);
  auto root = (*cas)->ImportTree(dir / "in");
  ASSERT_OK(root);
  ASSERT_OK((*cas)->ExportTree(*root, dir / "out1", LinkMode::kHardlink));
  ASSERT_OK((*cas)->ExportTree(*root, dir / "out2", LinkMode::kHardlink));
  ExpectSampleTree(dir / "out1");
  struct stat a {}, b {};
  ::stat((dir / "out1/big.bin").c_str(), &a);
  ::stat((dir / "out2/big.bin").c_str(), &b);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_GE(a.st_nlink, 3u);  // cache + two checkouts
  EXPECT_EQ(a.st_mode & 0777, 0444u);
  EXPECT_EQ(ModeOf(dir / "out2/bin/tool") & 0777, 0555u);
  auto report = (*cas)->Verify();
  ASSERT_OK(report);
  EXPECT_EQ(report->cache_files_removed, 0u);
}

TEST(TreeTest, VerifyRemovesATamperedCacheFile) {
  TempDir dir;
  WriteFile(dir / "in/f", "original");
  auto cas = OpenCas(dir / "cas");
  ASSERT_OK(cas);
  auto root = (*cas)->ImportTree(dir / "in");
  ASSERT_OK(root);
  ASSERT_OK((*cas)->ExportTree(*root, dir / "out", LinkMode::kHardlink));
  WriteFile(dir / "out/f", "tampered", 0444);  // writes through the hardlink
  auto report = (*cas)->Verify();
  ASSERT_OK(report);
  EXPECT_EQ(report->cache_files_removed, 1u);
  ASSERT_OK((*cas)->ExportTree(*root, dir / "out2", LinkMode::kHardlink));
  EXPECT_EQ(ReadFile(dir / "out2/f"), "original");
}

TEST(TreeTest, ExportIntoANonEmptyDirectoryIsRefused) {
  TempDir dir;
  WriteFile(dir / "in/f", "x");
  WriteFile(dir / "out/existing", "y");
  auto cas = OpenCas(dir / "cas");
  ASSERT_OK(cas);
  auto root = (*cas)->ImportTree(dir / "in");
  ASSERT_OK(root);
  EXPECT_EQ((*cas)->ExportTree(*root, dir / "out").code(), StatusCode::kFailedPrecondition);
}

TEST(TreeTest, UnsupportedFileTypesAreRejectedOnImport) {
  TempDir dir;
  std::filesystem::create_directories(dir / "in");
  ASSERT_EQ(::mkfifo((dir / "in/pipe").c_str(), 0644), 0);
  auto cas = OpenCas(dir / "cas");
  ASSERT_OK(cas);
  auto root = (*cas)->ImportTree(dir / "in");
  ASSERT_FALSE(root);
  EXPECT_EQ(root.error().code(), StatusCode::kInvalidArgument);
}

TEST(ValidateNameTest, RejectsEverythingThatIsNotOnePathComponent) {
  for (std::string_view good : {"a", "..a", "a..", ".hidden", "with space", "ü"})
    EXPECT_TRUE(ValidateName(good).ok()) << good;
  for (std::string_view bad : {std::string_view(""), std::string_view("."), std::string_view(".."),
                               std::string_view("a/b"), std::string_view("/"),
                               std::string_view("a\0b", 3)})
    EXPECT_EQ(ValidateName(bad).code(), StatusCode::kInvalidArgument) << bad;
}

// Stores a hand-made (hostile) Directory and tries to check it out.
Status ExportHandMade(Cas& cas, const DirectoryData& node, const std::string& target) {
  std::string bytes = proto::EncodeDirectory(node);
  auto d = cas.Put(bytes);
  if (!d) return d.error();
  return cas.ExportTree(*d, target);
}

TEST(TreeTest, HostileTreesAreRejectedBeforeAnythingIsWrittenOutside) {
  TempDir dir;
  auto cas = OpenCas(dir / "cas");
  ASSERT_OK(cas);
  Digest blob = *(*cas)->Put("payload");
  std::vector<DirectoryData> hostile = {
      {.files = {{"..", blob, false}}},
      {.files = {{"../escape", blob, false}}},
      {.files = {{"", blob, false}}},
      {.files = {{std::string("a\0b", 3), blob, false}}},
      {.symlinks = {{".", "/tmp"}}},
      // A symlink and a directory of the same name: writing into "x/" would follow it.
      {.directories = {{"x", Digest::OfBytes(proto::EncodeDirectory({}))}},
       .symlinks = {{"x", dir / "outside"}}},
      {.files = {{"b", blob, false}, {"a", blob, false}}},  // unsorted
      {.symlinks = {{"empty-target", ""}}},
  };
  ASSERT_OK((*cas)->Put(proto::EncodeDirectory({})));
  for (size_t i = 0; i < hostile.size(); ++i) {
    Status s = ExportHandMade(**cas, hostile[i], dir / ("out" + std::to_string(i)));
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << i << ": " << s.ToString();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "escape"));
  EXPECT_FALSE(std::filesystem::exists(dir / "outside"));
}

TEST(TreeTest, DirectoryEncodingIsCanonicalAndStable) {
  DirectoryData node;
  node.files = {{"a", Digest::OfBytes("x"), true}};
  node.symlinks = {{"l", "a"}};
  std::string bytes = proto::EncodeDirectory(node);
  auto back = proto::DecodeDirectory(bytes);
  ASSERT_OK(back);
  EXPECT_EQ(*back, node);
  EXPECT_EQ(proto::EncodeDirectory(*back), bytes);
  // Pinned: changing the schema or encoding changes every tree digest (docs/cas.md).
  EXPECT_EQ(Digest::OfBytes(proto::EncodeDirectory({})).ToString(), "02409b8eb1452679728c65f7561f3ac5cdfbea37e61a01f31ce9a520c572596f/56");
  EXPECT_FALSE(proto::DecodeDirectory("garbage!"));
}

// Found by fuzz/cas_codec_fuzzer: a canonical message of another struct (here a
// Ref) passed for a Directory, so one directory had more than one digest.
TEST(TreeTest, OnlyADirectorysOwnEncodingDecodesAsADirectory) {
  std::string ref = proto::EncodeRef({.root = Digest::OfBytes("r"), .element = "hello.bst", .arch = "x86_64"});
  for (const std::string& bytes : {ref, ref.substr(8)}) {  // with and without the segment table
    auto dir = proto::DecodeDirectory(bytes);
    ASSERT_FALSE(dir) << "decoded as " << proto::EncodeDirectory(*dir).size() << " bytes of Directory";
    EXPECT_EQ(dir.error().code(), StatusCode::kCorruption);
  }
  // A Directory with a trailing word: canonical in no sense, refused too.
  DirectoryData node;
  node.files = {{"a", Digest::OfBytes("x"), false}};
  EXPECT_FALSE(proto::DecodeDirectory(proto::EncodeDirectory(node) + std::string(8, '\0')));
}

}  // namespace
}  // namespace crossfarm::cas
