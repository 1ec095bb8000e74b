// Helpers shared by local_store.cc and local_store_gc.cc; not a public API.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cas/local_store.h"
#include "common/status.h"

namespace crossfarm::cas {

struct LocalStore::Columns {
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  rocksdb::ColumnFamilyHandle* blobs = nullptr;
  rocksdb::ColumnFamilyHandle* info = nullptr;
  rocksdb::ColumnFamilyHandle* refs = nullptr;
};

namespace internal {

// First byte of a "blobs" value (docs/cas.md).
inline constexpr char kTagWhole = 0x00;
inline constexpr char kTagManifest = 0x01;

struct EntryView {
  Digest digest;
  std::string_view data;
};

inline std::string_view View(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

// A RocksDB info log that writes nothing: a read-only open on a full disk
// must not create one (a failed LOG write aborts Debian's RocksDB).
std::shared_ptr<rocksdb::Logger> DiscardingLogger();

// Maps a RocksDB status: NoSpace -> ResourceExhausted, lock held -> Unavailable.
Status FromRocks(const rocksdb::Status& s, const std::string& context);
// The open failed because another process holds the database's LOCK.
bool IsHeldByAnother(const Status& s);
// "<pid> (<command line>)" of the process that holds `dir`, from the holder
// file it wrote, or "another process" when that is gone or unreadable.
std::string DescribeHolder(const std::string& dir);
// Records this process as the holder of `dir` (best effort: only messages use it).
void WriteHolder(const std::string& dir);

// Writes the format version into a new database; refuses another version.
Status CheckFormat(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* meta, const std::string& dir);

std::string EncodeTime(int64_t unix_seconds);
int64_t DecodeTime(std::string_view bytes);  // 0 when malformed

// blob_info value of each entry, nullopt when absent.
std::vector<std::optional<std::string>> MultiGetInfo(rocksdb::DB& db,
                                                     rocksdb::ColumnFamilyHandle* info,
                                                     std::span<const EntryView> entries);
// Adds a refresh of the upload time for keys older than half the grace period.
void AddTouches(rocksdb::WriteBatch& batch, rocksdb::ColumnFamilyHandle* info,
                std::span<const std::string> keys, std::span<const std::string> times,
                int64_t now, std::chrono::seconds grace, const std::string& now_bytes);

// Chunk digests of a manifest value (tag byte included).
Result<std::vector<Digest>> ParseManifest(const Digest& digest, std::string_view value);

// Reads a file sequentially in kChunkSize pieces through one reused buffer.
class ChunkReader {
 public:
  static Result<ChunkReader> Open(const std::string& path);
  ChunkReader(ChunkReader&& other) noexcept;
  ~ChunkReader();
  uint64_t size() const { return size_; }
  Result<std::string> ReadAll();          // files <= kChunkSize only
  Result<std::string_view> Next();        // empty at end of file

 private:
  ChunkReader(int fd, uint64_t size, std::string path);
  int fd_;
  uint64_t size_;
  std::string path_;
  std::string buffer_;
};

}  // namespace internal
}  // namespace crossfarm::cas
