// Refs, LRU garbage collection, the grace period, quota and a full disk.
#include <sys/mount.h>

#include <atomic>
#include <cstring>

#include "cas/cas.h"
#include "tests/cas/test_util.h"

namespace crossfarm::cas {
namespace {

using testing::RandomBytes;
using testing::TempDir;

class GcTest : public ::testing::Test {
 protected:
  std::unique_ptr<Cas> Open(uint64_t quota = 0) {
    CasOptions options;
    options.local.quota_bytes = quota;
    options.local.grace = std::chrono::seconds(3600);
    options.local.clock = [this] { return now_.load(); };
    auto cas = OpenCas(dir_ / "cas", options);
    EXPECT_TRUE(cas) << cas.error().ToString();
    return cas ? std::move(*cas) : nullptr;
  }
  // A tree of `files` random files of `size` bytes each.
  Digest ImportRandomTree(Cas& cas, const std::string& name, int files, size_t size) {
    for (int i = 0; i < files; ++i)
      testing::WriteFile(dir_ / (name + "/f" + std::to_string(i)),
                         RandomBytes(size, static_cast<uint32_t>(std::hash<std::string>{}(name) + i)));
    auto root = cas.ImportTree(dir_ / name);
    EXPECT_TRUE(root) << root.error().ToString();
    return root.value_or(Digest());
  }

  TempDir dir_;
  std::atomic<int64_t> now_{1000};
};

TEST_F(GcTest, RefsCanBePutListedReadAndDeleted) {
  auto cas = Open();
  Digest root = ImportRandomTree(*cas, "t", 1, 10);
  RefInfo ref{.root = root, .element = "zlib.bst", .arch = "aarch64", .worker = "w7",
              .build_seconds = 42};
  ASSERT_OK(cas->PutRef("artifact/zlib/abc", ref));
  ASSERT_OK(cas->PutRef("artifact/hello/def", ref));
  ASSERT_OK(cas->PutRef("source/zlib/123", ref));
  auto listed = cas->ListRefs("artifact/");
  ASSERT_OK(listed);
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].name, "artifact/hello/def");
  now_ = 2000;
  auto got = cas->GetRef("artifact/zlib/abc");
  ASSERT_OK(got);
  EXPECT_EQ(got->element, "zlib.bst");
  EXPECT_EQ(got->arch, "aarch64");
  EXPECT_EQ(got->build_seconds, 42u);
  EXPECT_EQ(got->created_unix, 1000);
  EXPECT_EQ(got->last_used_unix, 2000) << "getting a ref touches its last-used time";
  ASSERT_OK(cas->DeleteRef("artifact/zlib/abc"));
  EXPECT_EQ(cas->GetRef("artifact/zlib/abc").error().code(), StatusCode::kNotFound);
  EXPECT_EQ(cas->Stats()->ref_count, 2u);
}

TEST_F(GcTest, RefToAMissingRootIsRefused) {
  auto cas = Open();
  Status s = cas->PutRef("a", RefInfo{.root = Digest::OfBytes("not stored")});
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
}

TEST_F(GcTest, LeastRecentlyUsedRefsGoFirstUntilUnderQuota) {
  auto cas = Open();
  Digest a = ImportRandomTree(*cas, "a", 4, 50000);
  ASSERT_OK(cas->PutRef("a", {.root = a}));
  now_ = 1010;
  Digest b = ImportRandomTree(*cas, "b", 4, 50000);
  ASSERT_OK(cas->PutRef("b", {.root = b}));
  now_ = 1020;
  Digest c = ImportRandomTree(*cas, "c", 4, 50000);
  ASSERT_OK(cas->PutRef("c", {.root = c}));
  now_ = 1030;
  ASSERT_OK(cas->GetRef("a"));  // a becomes the most recently used
  now_ = 10000;                 // every upload is past its grace period
  auto report = cas->Gc(450000);  // room for two trees of ~200 KB
  ASSERT_OK(report);
  EXPECT_EQ(report->refs_removed, 1u);
  EXPECT_EQ(cas->GetRef("b").error().code(), StatusCode::kNotFound);
  ASSERT_OK(cas->GetRef("a"));
  ASSERT_OK(cas->GetRef("c"));
  EXPECT_EQ(report->blobs_removed, 5u);  // b's four files and its directory
  EXPECT_LE(cas->Stats()->blob_bytes, 450000u);
  ASSERT_OK(cas->ExportTree(a, dir_ / "out-a"));
  ASSERT_OK(cas->ExportTree(c, dir_ / "out-c"));
  EXPECT_FALSE(cas->ExportTree(b, dir_ / "out-b").ok());
}

TEST_F(GcTest, UnreferencedUploadsSurviveTheGracePeriodOnly) {
  auto cas = Open();
  auto d = cas->Put("uploaded, PutRef not yet sent");
  ASSERT_OK(d);
  now_ = 1000 + 3599;
  auto report = cas->Gc();
  ASSERT_OK(report);
  EXPECT_EQ(report->blobs_kept_for_grace, 1u);
  EXPECT_EQ(report->blobs_removed, 0u);
  now_ = 1000 + 3600;
  report = cas->Gc();
  ASSERT_OK(report);
  EXPECT_EQ(report->blobs_removed, 1u);
  EXPECT_EQ(cas->Get(*d).error().code(), StatusCode::kNotFound);
}

TEST_F(GcTest, FindMissingRefreshesTheGracePeriodOfPresentBlobs) {
  auto cas = Open();
  auto d = cas->Put("old but about to be referenced");
  ASSERT_OK(d);
  now_ = 1000 + 3000;
  auto missing = cas->FindMissing(std::span(&*d, 1));
  ASSERT_OK(missing);
  EXPECT_TRUE(missing->empty());
  now_ = 1000 + 3700;  // past the first upload's grace, not the refreshed one
  auto report = cas->Gc();
  ASSERT_OK(report);
  EXPECT_EQ(report->blobs_removed, 0u);
  ASSERT_OK(cas->Get(*d));
}

TEST_F(GcTest, GcKeepsEverythingReachableIncludingTheBuildLog) {
  auto cas = Open();
  Digest root = ImportRandomTree(*cas, "t", 3, 1000);
  auto log = cas->Put("build log text");
  ASSERT_OK(log);
  ASSERT_OK(cas->PutRef("k", {.root = root, .build_log = *log}));
  auto junk = cas->Put("junk");
  now_ = 100000;
  auto report = cas->Gc();
  ASSERT_OK(report);
  EXPECT_EQ(report->blobs_removed, 1u);
  EXPECT_EQ(report->refs_removed, 0u);
  ASSERT_OK(cas->Get(*log));
  EXPECT_FALSE(cas->Get(*junk));
  ASSERT_OK(cas->ExportTree(root, dir_ / "out"));
}

TEST_F(GcTest, QuotaSmallerThanOneArtifactIsResourceExhaustedAndStoreStaysConsistent) {
  auto cas = Open(/*quota=*/1 << 20);
  for (int i = 0; i < 30; ++i)
    testing::WriteFile(dir_ / ("big/f" + std::to_string(i)), RandomBytes(100000, 100 + i));
  auto root = cas->ImportTree(dir_ / "big");
  ASSERT_FALSE(root);
  EXPECT_EQ(root.error().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(root.error().message().find("quota"), std::string::npos) << root.error().ToString();
  EXPECT_LE(cas->Stats()->blob_bytes, 1u << 20);
  auto verify = cas->Verify();
  ASSERT_OK(verify);
  EXPECT_EQ(verify->corrupt_removed, 0u);
  // Once the partial upload's grace has passed, GC reclaims it and small imports work.
  now_ = 100000;
  Digest small = ImportRandomTree(*cas, "small", 2, 1000);
  ASSERT_OK(cas->PutRef("small", {.root = small}));
  EXPECT_LT(cas->Stats()->blob_bytes, 10000u);
}

// A real full disk: a 4 MiB tmpfs (needs root, which CI has).
class TmpfsMount {
 public:
  explicit TmpfsMount(const std::string& path) : path_(path) {
    std::filesystem::create_directories(path);
    ok_ = ::mount("tmpfs", path.c_str(), "tmpfs", 0, "size=4m") == 0;
  }
  ~TmpfsMount() {
    if (ok_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool ok() const { return ok_; }

 private:
  std::string path_;
  bool ok_ = false;
};

TEST(FullDiskTest, WritesFailWithResourceExhaustedAndAcknowledgedBlobsStayReadable) {
  TempDir dir;
  TmpfsMount mount(dir / "small");
  ASSERT_TRUE(mount.ok()) << "mount -t tmpfs failed: " << std::strerror(errno);
  std::vector<std::pair<Digest, std::string>> acked;
  Status failure;
  {
    auto cas = OpenCas(dir / "small/cas");
    ASSERT_OK(cas);
    for (uint32_t i = 0; i < 100 && failure.ok(); ++i) {
      std::string data = RandomBytes(256 << 10, i);
      auto d = (*cas)->Put(data);
      if (d) acked.emplace_back(*d, std::move(data));
      else failure = d.error();
    }
    ASSERT_FALSE(failure.ok()) << "100 x 256 KiB fit in a 4 MiB tmpfs?";
    EXPECT_EQ(failure.code(), StatusCode::kResourceExhausted) << failure.ToString();
    ASSERT_FALSE(acked.empty());
    EXPECT_NE(failure.message().find("disk full"), std::string::npos) << failure.ToString();
    for (const auto& [d, data] : acked) EXPECT_EQ((*cas)->Get(d).value_or(""), data);
  }
  // Reopened on the still-full volume: everything acknowledged is there and sound.
  auto cas = OpenCas(dir / "small/cas");
  ASSERT_OK(cas);
  for (const auto& [d, data] : acked) EXPECT_EQ((*cas)->Get(d).value_or(""), data);
  auto verify = (*cas)->Verify();
  ASSERT_OK(verify);
  EXPECT_EQ(verify->corrupt_removed, 0u);
  EXPECT_EQ((*cas)->Stats()->blob_count, acked.size());
}

// Debian's RocksDB aborts (exit 134) when opening for writing meets ENOSPC
// (issue 19): with no room, a writer gets "disk full", a reader a read-only store.
TEST(FullDiskTest, OpeningAFullStoreIsDiskFullForWritersAndReadOnlyForReaders) {
  TempDir dir;
  TmpfsMount mount(dir / "small");
  ASSERT_TRUE(mount.ok()) << "mount -t tmpfs failed: " << std::strerror(errno);
  const std::string store_dir = dir / "small/cas";
  const std::string data = RandomBytes(100000, 7);
  Digest digest;
  {
    auto store = LocalStore::Open(store_dir);
    ASSERT_OK(store);
    digest = Digest::OfBytes(data);
    ASSERT_OK((*store)->Put(digest, data));
  }
  {  // fill all that is left
    std::ofstream fill(dir / "small/fill", std::ios::binary);
    std::string block(1 << 16, '\0');
    while (fill.write(block.data(), static_cast<std::streamsize>(block.size())) && fill.flush()) {}
  }
  auto writer = LocalStore::Open(store_dir);
  ASSERT_FALSE(writer);
  EXPECT_EQ(writer.error().code(), StatusCode::kResourceExhausted) << writer.error().ToString();
  EXPECT_NE(writer.error().message().find("disk full"), std::string::npos) << writer.error().ToString();
  EXPECT_NE(writer.error().message().find(store_dir), std::string::npos) << writer.error().ToString();
  auto reader = LocalStore::Open(store_dir, {.read_only_if_held = true});
  ASSERT_OK(reader);
  EXPECT_TRUE((*reader)->read_only());
  EXPECT_EQ((*reader)->Get(digest).value_or(""), data);
  reader->reset();
  for (const auto& e : std::filesystem::recursive_directory_iterator(store_dir))
    EXPECT_FALSE(e.path().filename().string().ends_with(".dbtmp")) << e.path();
  // Room again: the store opens for writing and kept its blob.
  std::filesystem::remove(dir / "small/fill");
  auto again = LocalStore::Open(store_dir);
  ASSERT_OK(again);
  EXPECT_EQ((*again)->Get(digest).value_or(""), data);
}

}  // namespace
}  // namespace crossfarm::cas
