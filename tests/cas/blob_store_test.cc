// LocalStore blobs: put/get, dedup, chunked large blobs, corruption handling.
#include <rocksdb/db.h>

#include <fstream>

#include "cas/cas.h"
#include "cas/local_store.h"
#include "tests/cas/test_util.h"

namespace crossfarm::cas {
namespace {

using testing::RandomBytes;
using testing::TempDir;

// Opens the store's RocksDB directly (store closed) to tamper with a value.
void OverwriteBlobValue(const std::string& store_dir, const Digest& digest, std::string value) {
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, {}}, {"blobs", {}}, {"blob_info", {}}, {"refs", {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), store_dir + "/db", cfs, &handles, &db).ok());
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[1], BlobKey(digest), value).ok());
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  delete db;
}

TEST(BlobStoreTest, PutThenGetReturnsTheSameBytes) {
  TempDir dir;
  auto cas = OpenCas(dir.path());
  ASSERT_OK(cas);
  auto d = (*cas)->Put("hello world");
  ASSERT_OK(d);
  EXPECT_EQ(*d, Digest::OfBytes("hello world"));
  auto got = (*cas)->Get(*d);
  ASSERT_OK(got);
  EXPECT_EQ(*got, "hello world");
  auto empty = (*cas)->Put("");
  ASSERT_OK(empty);
  EXPECT_EQ((*cas)->Get(*empty).value_or("x"), "");
}

TEST(BlobStoreTest, MissingBlobIsNotFound) {
  TempDir dir;
  auto cas = OpenCas(dir.path());
  ASSERT_OK(cas);
  auto got = (*cas)->Get(Digest::OfBytes("nope"));
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), StatusCode::kNotFound);
}

// Found by fuzz/cas_server_fuzzer: a GetTree (or read) of a digest claiming
// 2^60 bytes reserved that much before looking the blob up, and the CAS
// server aborted on std::bad_alloc. The size is only a claim until found.
TEST(BlobStoreTest, AMissingBlobWithAHugeClaimedSizeIsNotFoundNotAnAbort) {
  TempDir dir;
  auto cas = OpenCas(dir.path());
  ASSERT_OK(cas);
  Digest huge = Digest::OfBytes("nope");
  huge.size = uint64_t{1} << 60;
  auto got = (*cas)->Get(huge);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), StatusCode::kNotFound) << got.error().ToString();
}

TEST(BlobStoreTest, PutWithAWrongDigestIsRejected) {
  TempDir dir;
  auto store = LocalStore::Open(dir.path());
  ASSERT_OK(store);
  Status s = (*store)->Put(Digest::OfBytes("a"), "b");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*store)->Stats()->blob_count, 0u);
}

TEST(BlobStoreTest, StoringTheSameBytesTwiceKeepsOneBlob) {
  TempDir dir;
  auto cas = OpenCas(dir.path());
  ASSERT_OK(cas);
  ASSERT_OK((*cas)->Put("same"));
  ASSERT_OK((*cas)->Put("same"));
  auto stats = (*cas)->Stats();
  ASSERT_OK(stats);
  EXPECT_EQ(stats->blob_count, 1u);
  EXPECT_EQ(stats->blob_bytes, 4u);
}

TEST(BlobStoreTest, FindMissingReportsOnlyAbsentDigestsOnce) {
  TempDir dir;
  auto cas = OpenCas(dir.path());
  ASSERT_OK(cas);
  ASSERT_OK((*cas)->Put("present"));
  Digest absent = Digest::OfBytes("absent");
  std::vector<Digest> query = {Digest::OfBytes("present"), absent, absent};
  auto missing = (*cas)->FindMissing(query);
  ASSERT_OK(missing);
  EXPECT_EQ(*missing, std::vector<Digest>{absent});
}

TEST(BlobStoreTest, LargeFileIsStoredInChunksAndReadBackStreamed) {
  TempDir dir;
  std::string content = RandomBytes(3 * kChunkSize + 12345, 7);
  testing::WriteFile(dir / "big", content);
  auto cas = OpenCas(dir / "cas");
  ASSERT_OK(cas);
  auto d = (*cas)->PutFile(dir / "big");
  ASSERT_OK(d);
  EXPECT_EQ(*d, Digest::OfBytes(content));
  auto stats = (*cas)->Stats();
  EXPECT_EQ(stats->blob_count, 5u);  // 4 chunks + the manifest
  ASSERT_OK((*cas)->ReadToFile(*d, dir / "out", true));
  EXPECT_EQ(testing::ReadFile(dir / "out"), content);
  EXPECT_TRUE(testing::ModeOf(dir / "out") & S_IXUSR);
  size_t pieces = 0;
  ASSERT_OK((*cas)->blobs().Read(*d, [&](std::string_view p) {
    EXPECT_LE(p.size(), kChunkSize);
    ++pieces;
    return Status::Ok();
  }));
  EXPECT_EQ(pieces, 4u);
  // The same bytes put from memory give the same manifest: no new blobs.
  ASSERT_OK((*cas)->Put(content));
  EXPECT_EQ((*cas)->Stats()->blob_count, 5u);
}

TEST(BlobStoreTest, CorruptBlobIsNeverReturnedAndIsRemoved) {
  TempDir dir;
  Digest d = Digest::OfBytes("precious bytes");
  {
    auto store = LocalStore::Open(dir.path());
    ASSERT_OK(store);
    ASSERT_OK((*store)->Put(d, "precious bytes"));
  }
  OverwriteBlobValue(dir.path(), d, std::string(1, '\0') + "precious bytez");
  auto store = LocalStore::Open(dir.path());
  ASSERT_OK(store);
  auto got = (*store)->Get(d);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), StatusCode::kCorruption);
  auto missing = (*store)->FindMissing(std::span(&d, 1));
  ASSERT_OK(missing);
  EXPECT_EQ(missing->size(), 1u) << "a corrupt entry must be deleted so clients re-upload";
  EXPECT_EQ((*store)->Stats()->blob_count, 0u);
  ASSERT_OK((*store)->Put(d, "precious bytes"));
  EXPECT_EQ((*store)->Get(d).value_or(""), "precious bytes");
}

TEST(BlobStoreTest, VerifyRemovesCorruptEntriesAndKeepsGoodOnes) {
  TempDir dir;
  Digest good = Digest::OfBytes("good"), bad = Digest::OfBytes("bad");
  std::string big = RandomBytes(2 * kChunkSize + 1, 3);
  Digest large = Digest::OfBytes(big);
  Digest second_chunk = Digest::OfBytes(std::string_view(big).substr(kChunkSize, kChunkSize));
  {
    auto store = LocalStore::Open(dir.path());
    ASSERT_OK(store);
    ASSERT_OK((*store)->Put(good, "good"));
    ASSERT_OK((*store)->Put(bad, "bad"));
    ASSERT_OK((*store)->Put(large, big));
  }
  OverwriteBlobValue(dir.path(), bad, std::string(1, '\0') + "bAd");
  OverwriteBlobValue(dir.path(), second_chunk, std::string(1, '\0') + "short");
  auto store = LocalStore::Open(dir.path());
  ASSERT_OK(store);
  auto report = (*store)->Verify();
  ASSERT_OK(report);
  EXPECT_EQ(report->blobs_checked, 6u);  // good, bad, 3 chunks, manifest
  EXPECT_EQ(report->corrupt_removed, 3u);  // bad, the chunk and the manifest using it
  EXPECT_EQ((*store)->Get(good).value_or(""), "good");
  EXPECT_EQ((*store)->Get(bad).error().code(), StatusCode::kNotFound);
  EXPECT_EQ((*store)->Get(large).error().code(), StatusCode::kNotFound);
  auto again = (*store)->Verify();
  EXPECT_EQ(again->corrupt_removed, 0u);
}

TEST(BlobStoreTest, CorruptChunkFailsTheLargeReadWithoutPublishingAFile) {
  TempDir dir;
  std::string big = RandomBytes(2 * kChunkSize + 10, 5);
  Digest large = Digest::OfBytes(big);
  Digest last = Digest::OfBytes(std::string_view(big).substr(2 * kChunkSize));
  {
    auto cas = OpenCas(dir / "cas");
    ASSERT_OK(cas);
    ASSERT_OK((*cas)->Put(big));
  }
  OverwriteBlobValue(dir / "cas", last, std::string(1, '\0') + "0123456789");
  auto cas = OpenCas(dir / "cas");
  ASSERT_OK(cas);
  Status s = (*cas)->ReadToFile(large, dir / "out");
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1)
      << "no partial file left next to the target";
}

TEST(BlobStoreTest, SecondOpenerOfTheSameDirectoryIsUnavailable) {
  TempDir dir;
  auto first = LocalStore::Open(dir.path());
  ASSERT_OK(first);
  auto second = LocalStore::Open(dir.path());
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), StatusCode::kUnavailable) << second.error().ToString();
}

TEST(BlobStoreTest, StoreOfAnotherFormatVersionIsRefused) {
  TempDir dir;
  { ASSERT_OK(LocalStore::Open(dir.path())); }
  {
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {"blobs", {}}, {"blob_info", {}}, {"refs", {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::DBOptions(), dir / "db", cfs, &handles, &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[0], "format", "99").ok());
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    delete db;
  }
  auto store = LocalStore::Open(dir.path());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(store.error().message().find("format version 99"), std::string::npos);
}

TEST(BlobStoreTest, CountersSurviveReopening) {
  TempDir dir;
  {
    auto cas = OpenCas(dir.path());
    ASSERT_OK(cas);
    ASSERT_OK((*cas)->Put("one"));
    ASSERT_OK((*cas)->Put("three"));
  }
  auto cas = OpenCas(dir.path());
  ASSERT_OK(cas);
  auto stats = (*cas)->Stats();
  EXPECT_EQ(stats->blob_count, 2u);
  EXPECT_EQ(stats->blob_bytes, 8u);
}

TEST(ParseByteSizeTest, AcceptsUnitsAndRejectsGarbage) {
  struct Case {
    const char* text;
    uint64_t want;
  };
  for (auto c : {Case{"0", 0}, Case{"1234", 1234}, Case{"2K", 2048}, Case{"10M", 10u << 20},
                 Case{"10G", 10ull << 30}, Case{"1T", 1ull << 40}, Case{"5GiB", 5ull << 30},
                 Case{"3MB", 3u << 20}}) {
    auto got = ParseByteSize(c.text);
    ASSERT_OK(got);
    EXPECT_EQ(*got, c.want) << c.text;
  }
  for (const char* bad : {"", "G", "10X", "-1", "99999999999999999999T"})
    EXPECT_FALSE(ParseByteSize(bad)) << bad;
}

TEST(VerifyingBlobAccessTest, BadBytesFromTheBackendBecomeCorruption) {
  // A backend that returns the wrong bytes: the seam the remote client sits behind.
  class LyingBackend : public BlobAccess {
   public:
    Result<std::string> Get(const Digest&) override { return std::string("evil"); }
    Status Read(const Digest&, const ByteSink& sink) override { return sink("evil"); }
    Status Put(const Digest&, std::string_view) override { return Status::Ok(); }
    Result<Digest> PutFile(const std::string&) override { return Digest(); }
    Result<std::vector<Digest>> FindMissing(std::span<const Digest>) override {
      return std::vector<Digest>{};
    }
  };
  VerifyingBlobAccess verified(std::make_shared<LyingBackend>());
  Digest d = Digest::OfBytes("good");
  EXPECT_EQ(verified.Get(d).error().code(), StatusCode::kCorruption);
  EXPECT_EQ(verified.Read(d, [](std::string_view) { return Status::Ok(); }).code(),
            StatusCode::kCorruption);
  auto batch = verified.BatchGet(std::span(&d, 1));
  ASSERT_OK(batch);
  EXPECT_EQ((*batch)[0].error().code(), StatusCode::kCorruption);
  Digest evil = Digest::OfBytes("evil");
  EXPECT_EQ(verified.Get(evil).value_or(""), "evil");
}

}  // namespace
}  // namespace crossfarm::cas

namespace crossfarm::cas {
namespace {

// Issue 19: real bytes flipped in real RocksDB files of a closed store.
class ScrubTest : public ::testing::Test {
 protected:
  // Blobs of 8 KiB go to blob files (min_blob_size 4 KiB); a one-file tree
  // under a ref, and a second ref to a blob that stays good.
  void SetUp() override {
    auto store = LocalStore::Open(dir_.path());
    ASSERT_OK(store);
    for (int i = 0; i < 4; ++i) {
      auto d = Digest::OfBytes(RandomBytes(8192, 10 + i));
      ASSERT_OK((*store)->Put(d, RandomBytes(8192, 10 + i)));
      blobs_.push_back(d);
    }
    DirectoryData dir;
    dir.files.push_back({"data", blobs_[0], false});
    std::string node = proto::EncodeDirectory(dir);
    root_ = Digest::OfBytes(node);
    ASSERT_OK((*store)->Put(root_, node));
    ASSERT_OK((*store)->PutRef("artifacts/one", {.root = root_}));
    good_ = Digest::OfBytes("small and good");
    ASSERT_OK((*store)->Put(good_, "small and good"));
    ASSERT_OK((*store)->PutRef("artifacts/small", {.root = good_}));
  }
  // Flips the byte at `offset` of `path`.
  static void Flip(const std::filesystem::path& path, std::streamoff offset) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f) << path;
    f.seekg(offset);
    char c = 0;
    f.get(c);
    f.seekp(offset);
    f.put(static_cast<char>(c ^ 0x5a));
  }
  std::vector<std::filesystem::path> FilesEnding(const std::string& ext) {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_ / "db"))
      if (e.path().extension() == ext) out.push_back(e.path());
    return out;
  }
  // The SST files of one column family (store closed).
  std::vector<std::string> TablesOf(const std::string& family) {
    rocksdb::Options options;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {"blobs", {}}, {"blob_info", {}}, {"refs", {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    std::vector<std::string> out;
    EXPECT_TRUE(rocksdb::DB::OpenForReadOnly(options, dir_ / "db", cfs, &handles, &db).ok());
    if (!db) return out;
    std::vector<rocksdb::LiveFileMetaData> files;
    db->GetLiveFilesMetaData(&files);
    for (const auto& f : files)
      if (f.column_family_name == family) out.push_back(f.db_path + f.name);
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    delete db;
    return out;
  }
  TempDir dir_;
  std::vector<Digest> blobs_;
  Digest root_, good_;
};

TEST_F(ScrubTest, AByteFlippedInABlobFileIsRemovedReportedAndTheSecondVerifyPasses) {
  auto files = FilesEnding(".blob");
  ASSERT_EQ(files.size(), 1u);
  // Past the blob file header, inside the first record's value.
  Flip(files[0], 4000);
  auto store = LocalStore::Open(dir_.path());
  ASSERT_OK(store);
  auto report = (*store)->Verify();
  ASSERT_OK(report);
  EXPECT_EQ(report->corrupt_removed, 1u);
  auto again = (*store)->Verify();
  ASSERT_OK(again);
  EXPECT_EQ(again->corrupt_removed, 0u);
  int present = 0;
  for (const auto& d : blobs_) present += (*store)->Get(d).has_value();
  EXPECT_EQ(present, 3);
  EXPECT_EQ((*store)->Get(good_).value_or(""), "small and good");
  bool data_lost = !(*store)->Get(blobs_[0]).has_value();
  EXPECT_EQ(report->damaged_refs, data_lost ? std::vector<std::string>{"artifacts/one"}
                                            : std::vector<std::string>{});
  // A ref that lost data is removed, so the next build builds it again (issue 19).
  EXPECT_EQ((*store)->GetRef("artifacts/one").has_value(), !data_lost);
  EXPECT_TRUE(again->damaged_refs.empty());
}

TEST_F(ScrubTest, AByteFlippedInAnSstIsRemovedWithItsTableAndTheSecondVerifyPasses) {
  auto tables = TablesOf("blob_info");
  ASSERT_EQ(tables.size(), 1u);
  Flip(tables[0], 20);  // the first data block
  auto store = LocalStore::Open(dir_.path());
  ASSERT_OK(store);
  auto report = (*store)->Verify();
  ASSERT_OK(report);
  EXPECT_EQ(report->tables_removed, 1u);
  // Without blob_info the entries are leftovers: removed, both refs lost data.
  EXPECT_EQ(report->damaged_refs, (std::vector<std::string>{"artifacts/one", "artifacts/small"}));
  auto again = (*store)->Verify();
  ASSERT_OK(again);
  EXPECT_EQ(again->tables_removed, 0u);
  EXPECT_EQ(again->corrupt_removed, 0u);
  // Issue 19: the refs that lost data are gone, not handed to the next build.
  EXPECT_TRUE(again->damaged_refs.empty());
  EXPECT_FALSE((*store)->GetRef("artifacts/one").has_value());
  EXPECT_FALSE((*store)->GetRef("artifacts/small").has_value());
  // The store works on: uploads come back.
  ASSERT_OK((*store)->Put(good_, "small and good"));
  EXPECT_EQ((*store)->Get(good_).value_or(""), "small and good");
}

}  // namespace
}  // namespace crossfarm::cas
