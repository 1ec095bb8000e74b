// The RocksDB-backed store (on-disk format: docs/cas.md, version 1).
//
// DIR/db is a RocksDB database with column families "blobs" (digest key -> tagged
// value), "blob_info" (digest key -> upload time), "refs" (name -> Ref) and the
// default one (format version). DIR/files/ is a cache of immutable, read-only files
// used to hardlink blobs into checkouts; it can be deleted at any time.
//
// Thread-safe. One process at a time writes (RocksDB's LOCK); others may
// wait for it (`lock_wait`) or read beside it (`read_only_if_held`: a RocksDB
// secondary instance, docs/cas.md "Several commands on one cache"). GC marks from refs and sweeps unreachable blobs, sparing blobs
// uploaded less than `grace` ago so an upload followed by PutRef is never broken.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_set>

#include "cas/blob_access.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace crossfarm::cas {

namespace internal {
struct EntryView;
}

inline constexpr uint32_t kLocalFormatVersion = 1;
// Free space kept on the store's filesystem: writes that would eat into it fail
// with ResourceExhausted before RocksDB runs out of space mid-write.
inline constexpr uint64_t kDiskReserve = 1 << 20;

struct LocalStoreOptions {
  uint64_t quota_bytes = 0;                    // 0: unlimited
  std::chrono::seconds grace{3600};            // unreferenced uploads kept this long
  std::function<int64_t()> clock;              // unix seconds; default: system clock
  // When another process holds the store: open it read-only instead of
  // failing (what it had written when this open ran; writes fail with
  // FailedPrecondition). For commands that only read (show, log, checkout).
  bool read_only_if_held = false;
  // Read-only even when nobody holds it, so this process never blocks a
  // writer (a `shell` held open for an hour).
  bool read_only = false;
  // Otherwise wait this long for the holder to close it (0: fail at once with
  // Unavailable naming the holder). `on_wait` is told once who holds it.
  std::chrono::seconds lock_wait{0};
  std::function<void(const std::string& holder)> on_wait;
};

class LocalStore : public Store {
 public:
  // Creates DIR if needed. FailedPrecondition for another format version,
  // Unavailable if another process holds the database.
  static Result<std::unique_ptr<LocalStore>> Open(const std::string& dir,
                                                  LocalStoreOptions options = {});
  ~LocalStore() override;
  LocalStore(const LocalStore&) = delete;
  LocalStore& operator=(const LocalStore&) = delete;

  Result<std::string> Get(const Digest& digest) override;
  Status Read(const Digest& digest, const ByteSink& sink) override;
  Status Put(const Digest& digest, std::string_view data) override;
  Result<Digest> PutFile(const std::string& path) override;
  Result<std::vector<Digest>> FindMissing(std::span<const Digest> digests) override;
  Status BatchPut(std::span<const BlobData> blobs) override;

  Result<RefInfo> GetRef(const std::string& name) override;
  Status PutRef(const std::string& name, const RefInfo& ref) override;
  Status DeleteRef(const std::string& name) override;
  Result<std::vector<NamedRef>> ListRefs(std::string_view prefix) override;
  Result<std::vector<TreeNode>> GetTree(const Digest& root) override;
  Result<std::vector<Digest>> GetManifest(const Digest& digest) override;
  Status PutLarge(const Digest& digest, std::span<const Digest> chunks) override;
  Result<CasStats> Stats() override;
  // Blobs and bytes every GC of this process removed (explicit or quota):
  // the CAS daemon's eviction metrics. Thread-safe.
  uint64_t gc_blobs_removed() const { return gc_blobs_removed_; }
  uint64_t gc_bytes_removed() const { return gc_bytes_removed_; }
  Result<GcReport> Gc(std::optional<uint64_t> quota) override;
  Result<VerifyReport> Verify() override;

  // BatchPut for callers that computed each digest from these very bytes (tree
  // import): skips the second hash. Never for bytes from the network.
  Status BatchPutHashed(std::span<const BlobData> blobs);

  // True when opened read-only beside another process that holds the store.
  bool read_only() const { return !secondary_dir_.empty(); }

  // Path of a read-only file (0444, or 0555 if `executable`) in DIR/files holding
  // the blob, created and verified on first use. Never write through it.
  Result<std::string> CachedFile(const Digest& digest, bool executable);
  // Unlinks the files/ cache copies of `digest` (made again from the store on
  // next use): for a copy that may have been written through a hard link.
  void RemoveCacheFiles(const Digest& digest);
  const std::string& dir() const { return dir_; }

 private:
  struct Columns;
  LocalStore(std::string dir, LocalStoreOptions options);
  Status OpenDb();
  Status OpenSecondary();
  Status LoadCounters();
  int64_t Now() const;

  // Raw entries (local_store.cc).
  Result<std::string> GetValue(const Digest& digest);
  Result<std::string> GetSmall(const Digest& digest);
  Status ReadLarge(const Digest& digest, std::string_view manifest, const ByteSink& sink);
  Status WriteEntries(std::span<const internal::EntryView> entries, char tag);
  Status PutChunked(const Digest& digest, std::string_view data);
  Status EnsureRoom(uint64_t bytes);
  Status EnsureDiskSpace(uint64_t bytes);
  Result<bool> Exists(const Digest& digest);
  void TouchIfOld(std::span<const std::string> keys, std::span<const std::string> times);
  Status DropCorrupt(const Digest& digest, const std::string& why);

  // GC and scrub (local_store_gc.cc).
  Status MarkTree(const Digest& root, std::unordered_set<Digest, DigestHash>& marked,
                  std::vector<Digest>& added);
  void MarkBlob(const Digest& d, std::unordered_set<Digest, DigestHash>& marked,
                std::vector<Digest>& added);
  uint64_t Sweep(const std::unordered_set<Digest, DigestHash>& marked, GcReport& report);
  Status VerifyEntry(const Digest& digest, std::string_view value);
  uint64_t ScrubCacheFiles();
  Result<uint64_t> DropCorruptTables();
  std::vector<std::string> EntryKeys();
  void ScrubEntry(const std::string& key, VerifyReport& report);
  bool ClosureComplete(const RefInfo& ref);
  std::string CachePath(const Digest& digest, bool executable) const;

  std::string dir_;
  std::string secondary_dir_;  // set when opened read-only beside a holder
  LocalStoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<Columns> cf_;
  std::mutex write_mu_;            // check-then-write of blobs and counters
  std::shared_mutex gc_mu_;        // GC exclusive; PutRef shared
  std::atomic<uint64_t> blob_count_{0};
  std::atomic<uint64_t> blob_bytes_{0};
  std::atomic<uint64_t> gc_blobs_removed_{0}, gc_bytes_removed_{0};
};

// Stored bytes of a blob entry (whole blob, or the manifest of a large one).
uint64_t StoredBytes(const Digest& digest);
// 40-byte RocksDB key of a digest: 32 hash bytes + 8-byte big-endian size.
std::string BlobKey(const Digest& digest);
Result<Digest> DigestFromKey(std::string_view key);

}  // namespace crossfarm::cas
