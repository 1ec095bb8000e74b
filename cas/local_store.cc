// LocalStore: blobs, refs and trees on RocksDB. GC and scrub: local_store_gc.cc.
#include "cas/local_store.h"

#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <filesystem>
#include <thread>

#include "cas/local_store_internal.h"
#include "common/disk_space.h"

namespace crossfarm::cas {

using internal::FromRocks;
using internal::kTagManifest;
using internal::kTagWhole;

std::string BlobKey(const Digest& digest) {
  std::string key(reinterpret_cast<const char*>(digest.hash.data()), digest.hash.size());
  for (int shift = 56; shift >= 0; shift -= 8)
    key.push_back(static_cast<char>((digest.size >> shift) & 0xff));
  return key;
}

Result<Digest> DigestFromKey(std::string_view key) {
  if (key.size() != 40) return Err(Status::Corruption("blob key of " + std::to_string(key.size()) + " bytes"));
  Digest d;
  std::memcpy(d.hash.data(), key.data(), 32);
  for (size_t i = 32; i < 40; ++i) d.size = d.size << 8 | static_cast<uint8_t>(key[i]);
  return d;
}

uint64_t StoredBytes(const Digest& digest) {
  if (digest.size <= kChunkSize) return digest.size;
  return 1 + 32 * ChunkCount(digest.size);
}

LocalStore::LocalStore(std::string dir, LocalStoreOptions options)
    : dir_(std::move(dir)), options_(std::move(options)), cf_(std::make_unique<Columns>()) {
  if (!options_.clock)
    options_.clock = [] {
      return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
          std::chrono::system_clock::now().time_since_epoch()).count());
    };
}

LocalStore::~LocalStore() {
  if (!db_) return;
  if (read_only()) {
    for (auto* h : cf_->handles) db_->DestroyColumnFamilyHandle(h);
    (void)db_->Close();
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(secondary_dir_, ec);  // its own info log and MANIFEST copy
    return;
  }
  // Flush what the memtables hold so the next open does not replay it from
  // the WAL (with avoid_flush_during_recovery nothing else would: an embedded
  // CLI run is short, and every later run replayed and checksummed a WAL of
  // 100+ MiB, 0.2-0.5 s per `crossfarm` command). Not on a (nearly) full
  // disk: RocksDB must never meet ENOSPC, and the WAL keeps everything anyway.
  if (EnsureDiskSpace(0).ok()) {
    rocksdb::FlushOptions flush;
    flush.allow_write_stall = true;
    (void)db_->Flush(flush, cf_->handles);
  }
  for (auto* h : cf_->handles) db_->DestroyColumnFamilyHandle(h);
  (void)db_->Close();
}

int64_t LocalStore::Now() const { return options_.clock(); }

Result<std::unique_ptr<LocalStore>> LocalStore::Open(const std::string& dir,
                                                     LocalStoreOptions options) {
  std::error_code ec;
  std::filesystem::create_directories(dir + "/files", ec);
  if (ec) return Err(Status::IOError("cannot create CAS directory " + dir + ": " + ec.message()));
  const LocalStoreOptions opts = options;
  std::unique_ptr<LocalStore> store(new LocalStore(dir, std::move(options)));
  const auto deadline = std::chrono::steady_clock::now() + opts.lock_wait;
  bool told = false;
  for (;;) {
    if (opts.read_only) {
      CF_TRY(store->OpenSecondary().WithContext("opening CAS " + dir + " read-only"));
      break;
    }
    // Opening for writing writes (OPTIONS, MANIFEST, WAL): on a full disk a
    // reader opens read-only instead, a writer gets "disk full".
    Status room = store->EnsureDiskSpace(0);
    if (!room.ok() && opts.read_only_if_held) {
      CF_TRY(store->OpenSecondary().WithContext("opening CAS " + dir + " read-only on a full disk"));
      break;
    }
    if (!room.ok()) return Err(room.WithContext("opening CAS " + dir + " for writing"));
    Status opened = store->OpenDb();
    if (opened.ok()) break;
    if (!internal::IsHeldByAnother(opened)) return Err(opened.WithContext("opening CAS " + dir));
    const std::string holder = internal::DescribeHolder(dir);
    if (opts.read_only_if_held) {
      CF_TRY(store->OpenSecondary().WithContext("opening CAS " + dir + " read-only beside " + holder));
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline)
      return Err(Status::Unavailable("the cache " + dir + " is in use by " + holder +
                                     "\n  hint: commands that only read (show, log, checkout) run beside it; "
                                     "a build waits for it"));
    if (!told && opts.on_wait) opts.on_wait(holder);
    told = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!store->read_only()) internal::WriteHolder(dir);
  CF_TRY(store->LoadCounters());
  return store;
}

namespace {

// The database options and column families every open uses (read-write and
// secondary alike).
struct DbConfig {
  rocksdb::DBOptions db_options;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
};

DbConfig MakeDbConfig() {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.allow_fallocate = false;  // tiny volumes (tests, full disks) must still work
  // Replaying the WAL into the memtable needs no space: a store on a full disk
  // still opens (and can be read, GCed, or moved).
  db_options.avoid_flush_during_recovery = true;
  // A long-lived store (crossfarm-cas, a worker) flushes before its WAL grows
  // past this, so a restart replays little.
  db_options.max_total_wal_size = 64 << 20;
  rocksdb::ColumnFamilyOptions meta;
  rocksdb::ColumnFamilyOptions blobs;
  // BlobDB: values >= 4 KiB go to blob files written once and never rewritten by
  // compaction; chunks are <= 1 MiB so RocksDB never holds a large blob whole.
  blobs.enable_blob_files = true;
  blobs.min_blob_size = 4096;
  blobs.blob_file_size = 256 << 20;
  // Room for a few hundred MiB of ingest before writers wait for a flush.
  blobs.write_buffer_size = 128 << 20;
  blobs.max_write_buffer_number = 3;
  blobs.compression = rocksdb::kNoCompression;
  blobs.blob_compression_type = rocksdb::kNoCompression;
  // FindMissing is a MultiGet on blob_info: bloom filters in the memtable and the
  // SSTs answer "absent" without a search, a block cache keeps the index hot.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  table.block_cache = rocksdb::NewLRUCache(64 << 20);
  rocksdb::ColumnFamilyOptions info;
  info.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  info.memtable_prefix_bloom_size_ratio = 0.1;
  info.memtable_whole_key_filtering = true;
  blobs.table_factory = info.table_factory;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, meta},
      {"blobs", blobs},
      {"blob_info", info},
      {"refs", meta}};
  return {db_options, cfs};
}

}  // namespace

Status LocalStore::OpenDb() {
  DbConfig config = MakeDbConfig();
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(config.db_options, dir_ + "/db", config.cfs, &cf_->handles, &raw);
  if (!s.ok()) return FromRocks(s, "open");
  db_.reset(raw);
  cf_->meta = cf_->handles[0];
  cf_->blobs = cf_->handles[1];
  cf_->info = cf_->handles[2];
  cf_->refs = cf_->handles[3];
  return internal::CheckFormat(*db_, cf_->meta, dir_);
}

// A RocksDB secondary instance: reads the holder's SSTs, blob files and WAL
// as of this open, never writes the database. It keeps its own info log and
// MANIFEST copy in a private directory, removed on close.
Status LocalStore::OpenSecondary() {
  std::error_code ec;
  std::filesystem::create_directories(dir_ + "/secondary", ec);
  std::string tmpl = dir_ + "/secondary/" + std::to_string(::getpid()) + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return Status::FromErrno("mkdtemp " + tmpl, errno);
  secondary_dir_ = tmpl;
  DbConfig config = MakeDbConfig();
  config.db_options.create_if_missing = false;
  config.db_options.max_open_files = -1;  // required of a secondary
  config.db_options.info_log = internal::DiscardingLogger();  // the only file it would write
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::OpenAsSecondary(config.db_options, dir_ + "/db", secondary_dir_, config.cfs,
                                        &cf_->handles, &raw);
  if (!s.ok()) {
    std::filesystem::remove_all(secondary_dir_, ec);
    secondary_dir_.clear();
    return FromRocks(s, "open read-only");
  }
  db_.reset(raw);
  cf_->meta = cf_->handles[0];
  cf_->blobs = cf_->handles[1];
  cf_->info = cf_->handles[2];
  cf_->refs = cf_->handles[3];
  return Status::Ok();
}

Status LocalStore::LoadCounters() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_->info));
  uint64_t count = 0, bytes = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto d = DigestFromKey(internal::View(it->key()));
    if (!d) continue;  // a bad key: Verify removes it
    ++count;
    bytes += StoredBytes(*d);
  }
  // A corrupt table must not stop the store from opening: `cas verify` is what
  // removes it, and it recounts.
  if (it->status().IsCorruption())
    spdlog::error("cas: the store is damaged, counts are partial; run crossfarm cas verify dir={} error=\"{}\"",
                  dir_, it->status().ToString());
  else if (!it->status().ok())
    return FromRocks(it->status(), "scanning blob_info");
  blob_count_ = count;
  blob_bytes_ = bytes;
  return Status::Ok();
}

Result<std::string> LocalStore::GetValue(const Digest& digest) {
  std::string value;
  rocksdb::ReadOptions options;
  // Every caller re-hashes the value with SHA-256: RocksDB's CRC pass is redundant.
  options.verify_checksums = false;
  auto s = db_->Get(options, cf_->blobs, BlobKey(digest), &value);
  if (s.IsNotFound()) return Err(Status::NotFound("blob " + digest.ToString() + " is not in the CAS"));
  if (!s.ok()) return Err(FromRocks(s, "reading blob " + digest.ToString()));
  return value;
}

Result<std::string> LocalStore::GetSmall(const Digest& digest) {
  CF_ASSIGN_OR_RETURN(std::string value, GetValue(digest));
  if (digest.size > kChunkSize || value.empty() || value[0] != kTagWhole)
    return Err(DropCorrupt(digest, "expected a whole-blob entry"));
  value.erase(0, 1);
  if (Digest::OfBytes(value) != digest)
    return Err(DropCorrupt(digest, "stored bytes do not match the digest"));
  return value;
}

Result<std::string> LocalStore::Get(const Digest& digest) {
  if (digest.size <= kChunkSize) return GetSmall(digest);
  std::string out;
  // The size is the caller's word (a client's digest) until the blob is found.
  out.reserve(std::min<uint64_t>(digest.size, uint64_t{64} << 20));
  CF_TRY(Read(digest, [&](std::string_view piece) {
    out.append(piece);
    return Status::Ok();
  }));
  return out;
}

Status LocalStore::Read(const Digest& digest, const ByteSink& sink) {
  if (digest.size <= kChunkSize) {
    CF_ASSIGN_OR_RETURN(std::string data, GetSmall(digest));
    return sink(data);
  }
  CF_ASSIGN_OR_RETURN(std::string value, GetValue(digest));
  return ReadLarge(digest, value, sink);
}

Status LocalStore::ReadLarge(const Digest& digest, std::string_view manifest,
                             const ByteSink& sink) {
  auto chunks = internal::ParseManifest(digest, manifest);
  if (!chunks) return DropCorrupt(digest, chunks.error().message());
  Sha256 sha;
  for (const Digest& chunk : *chunks) {
    auto data = GetSmall(chunk);
    if (!data) return DropCorrupt(digest, "chunk " + chunk.ToString() + ": " + data.error().message());
    sha.Update(*data);
    CF_TRY(sink(*data));
  }
  if (sha.Finish() != digest.hash) return DropCorrupt(digest, "chunks do not hash to the digest");
  return Status::Ok();
}

Status LocalStore::DropCorrupt(const Digest& digest, const std::string& why) {
  {
    std::lock_guard lock(write_mu_);
    std::string key = BlobKey(digest), time;
    bool had = db_->Get(rocksdb::ReadOptions(), cf_->info, key, &time).ok();
    rocksdb::WriteBatch batch;
    batch.Delete(cf_->blobs, key);
    batch.Delete(cf_->info, key);
    // On a full disk the entry stays (RocksDB must not meet ENOSPC); reads
    // keep refusing it and `cas verify` removes it once there is room.
    if (EnsureDiskSpace(0).ok() && db_->Write(rocksdb::WriteOptions(), &batch).ok() && had) {
      blob_count_ -= 1;
      blob_bytes_ -= StoredBytes(digest);
    }
  }
  RemoveCacheFiles(digest);
  spdlog::error("cas: corrupt blob removed digest={} reason=\"{}\"", digest.ToString(), why);
  return Status::Corruption("blob " + digest.ToString() + " is corrupt (" + why +
                            "); the entry was removed, upload it again");
}

Status LocalStore::Put(const Digest& digest, std::string_view data) {
  if (Digest::OfBytes(data) != digest)
    return Status::InvalidArgument("data does not match digest " + digest.ToString());
  if (data.size() > kChunkSize) return PutChunked(digest, data);
  internal::EntryView entry{digest, data};
  return WriteEntries(std::span(&entry, 1), kTagWhole);
}

Status LocalStore::BatchPut(std::span<const BlobData> blobs) {
  std::vector<internal::EntryView> small;
  for (const auto& b : blobs) {
    if (b.data.size() > kChunkSize) {
      CF_TRY(Put(b.digest, b.data));
      continue;
    }
    if (Digest::OfBytes(b.data) != b.digest)
      return Status::InvalidArgument("data does not match digest " + b.digest.ToString());
    small.push_back({b.digest, b.data});
  }
  return WriteEntries(small, kTagWhole);
}

Status LocalStore::BatchPutHashed(std::span<const BlobData> blobs) {
  std::vector<internal::EntryView> small;
  for (const auto& b : blobs) {
    if (b.data.size() > kChunkSize) CF_TRY(PutChunked(b.digest, b.data));
    else small.push_back({b.digest, b.data});
  }
  return WriteEntries(small, kTagWhole);
}

Status LocalStore::PutChunked(const Digest& digest, std::string_view data) {
  std::string manifest;
  for (uint64_t i = 0; i < ChunkCount(digest.size); ++i) {
    std::string_view piece = data.substr(i * kChunkSize, ChunkLength(digest.size, i));
    internal::EntryView chunk{Digest::OfBytes(piece), piece};
    CF_TRY(WriteEntries(std::span(&chunk, 1), kTagWhole));
    manifest.append(reinterpret_cast<const char*>(chunk.digest.hash.data()), 32);
  }
  internal::EntryView entry{digest, manifest};
  return WriteEntries(std::span(&entry, 1), kTagManifest);
}

Status LocalStore::EnsureDiskSpace(uint64_t bytes) {
  // The bytes land twice (WAL, then blob files at flush) before the WAL is
  // dropped; keep a reserve so RocksDB itself never meets ENOSPC mid-write
  // (Debian's RocksDB aborts on an assertion there, issue 19).
  return CheckDiskSpace(dir_, 2 * bytes + kDiskReserve,
                        bytes ? "storing " + std::to_string(bytes) + " bytes" : "writing to the store");
}

Status LocalStore::EnsureRoom(uint64_t bytes) {
  CF_TRY(EnsureDiskSpace(bytes));
  uint64_t quota = options_.quota_bytes;
  if (quota == 0 || blob_bytes_ + bytes <= quota) return Status::Ok();
  // Collect down to 90% so that a full store does not GC on every write.
  auto report = Gc(quota - quota / 10);
  if (!report) return report.error();
  if (blob_bytes_ + bytes <= quota) return Status::Ok();
  return Status::ResourceExhausted(
      "CAS quota exceeded in " + dir_ + ": storing " + std::to_string(bytes) +
      " more bytes would need " + std::to_string(blob_bytes_ + bytes) + " of " +
      std::to_string(quota) + " bytes even after GC (uploads younger than " +
      std::to_string(options_.grace.count()) + "s are kept); raise the quota or free space");
}

Status LocalStore::WriteEntries(std::span<const internal::EntryView> entries, char tag) {
  if (entries.empty()) return Status::Ok();
  uint64_t incoming = 0;
  for (const auto& e : entries) incoming += StoredBytes(e.digest);
  CF_TRY(EnsureRoom(incoming));
  std::lock_guard lock(write_mu_);
  auto found = internal::MultiGetInfo(*db_, cf_->info, entries);
  // Sized up front: growing by doubling cost a fifth of an import (perf).
  size_t reserve = 64;
  for (const auto& e : entries) reserve += e.data.size() + 128;
  rocksdb::WriteBatch batch(reserve);
  std::string now = internal::EncodeTime(Now());
  std::unordered_set<Digest, DigestHash> queued;
  uint64_t added_bytes = 0, added_count = 0;
  std::vector<std::string> present_keys, present_times;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    std::string key = BlobKey(e.digest);
    if (found[i]) {
      present_keys.push_back(key);
      present_times.push_back(*found[i]);
      continue;
    }
    if (!queued.insert(e.digest).second) continue;
    rocksdb::Slice parts[2] = {rocksdb::Slice(&tag, 1), rocksdb::Slice(e.data.data(), e.data.size())};
    rocksdb::Slice key_slice(key);
    batch.Put(cf_->blobs, rocksdb::SliceParts(&key_slice, 1), rocksdb::SliceParts(parts, 2));
    batch.Put(cf_->info, key, now);
    added_bytes += StoredBytes(e.digest);
    ++added_count;
  }
  internal::AddTouches(batch, cf_->info, present_keys, present_times, Now(), options_.grace, now);
  if (batch.Count() == 0) return Status::Ok();
  auto s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) return FromRocks(s, "writing blobs to " + dir_);
  blob_count_ += added_count;
  blob_bytes_ += added_bytes;
  return Status::Ok();
}

Result<std::vector<Digest>> LocalStore::FindMissing(std::span<const Digest> digests) {
  std::vector<internal::EntryView> unique;
  std::unordered_set<Digest, DigestHash> seen;
  for (const auto& d : digests)
    if (seen.insert(d).second) unique.push_back({d, {}});
  std::lock_guard lock(write_mu_);
  auto found = internal::MultiGetInfo(*db_, cf_->info, unique);
  std::vector<Digest> missing;
  std::vector<std::string> keys, times;
  for (size_t i = 0; i < unique.size(); ++i) {
    if (!found[i]) {
      missing.push_back(unique[i].digest);
      continue;
    }
    keys.push_back(BlobKey(unique[i].digest));
    times.push_back(*found[i]);
  }
  // A blob reported present must survive until the caller's PutRef: refresh it.
  rocksdb::WriteBatch batch;
  internal::AddTouches(batch, cf_->info, keys, times, Now(), options_.grace,
                       internal::EncodeTime(Now()));
  if (batch.Count() > 0) {
    CF_TRY(EnsureDiskSpace(batch.GetDataSize()));
    auto s = db_->Write(rocksdb::WriteOptions(), &batch);
    if (!s.ok()) return Err(FromRocks(s, "refreshing blob times"));
  }
  return missing;
}

Result<Digest> LocalStore::PutFile(const std::string& path) {
  CF_ASSIGN_OR_RETURN(auto file, internal::ChunkReader::Open(path));
  if (file.size() <= kChunkSize) {
    CF_ASSIGN_OR_RETURN(std::string data, file.ReadAll());
    Digest d = Digest::OfBytes(data);
    CF_TRY(Put(d, data));
    return d;
  }
  std::string manifest;
  Sha256 whole;
  uint64_t total = 0;
  // 8 chunks per write: one space check, lookup and RocksDB write per 8 MiB.
  constexpr size_t kChunksPerWrite = 8;
  std::vector<std::string> held;
  std::vector<internal::EntryView> group;
  auto write_group = [&]() -> Status {
    Status s = WriteEntries(group, kTagWhole);
    group.clear(), held.clear();
    return s;
  };
  while (true) {
    CF_ASSIGN_OR_RETURN(std::string_view piece, file.Next());
    if (piece.empty()) break;
    whole.Update(piece);
    total += piece.size();
    if (held.empty()) held.reserve(kChunksPerWrite);  // views into it stay valid
    held.emplace_back(piece);  // Next() reuses its buffer
    group.push_back({Digest::OfBytes(piece), held.back()});
    manifest.append(reinterpret_cast<const char*>(group.back().digest.hash.data()), 32);
    if (group.size() == kChunksPerWrite) CF_TRY(write_group());
  }
  CF_TRY(write_group());
  if (total != file.size()) return Err(Status::IOError(path + " changed size while being stored"));
  Digest d{whole.Finish(), total};
  internal::EntryView entry{d, manifest};
  CF_TRY(WriteEntries(std::span(&entry, 1), kTagManifest));
  return d;
}

Result<bool> LocalStore::Exists(const Digest& digest) {
  std::string time;
  auto s = db_->Get(rocksdb::ReadOptions(), cf_->info, BlobKey(digest), &time);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return Err(FromRocks(s, "looking up " + digest.ToString()));
  return true;
}

Result<std::vector<Digest>> LocalStore::GetManifest(const Digest& digest) {
  if (digest.size <= kChunkSize)
    return Err(Status::FailedPrecondition("blob " + digest.ToString() + " is not chunked"));
  CF_ASSIGN_OR_RETURN(std::string value, GetValue(digest));
  auto chunks = internal::ParseManifest(digest, value);
  if (!chunks) return Err(DropCorrupt(digest, chunks.error().message()));
  return chunks;
}

Status LocalStore::PutLarge(const Digest& digest, std::span<const Digest> chunks) {
  if (digest.size <= kChunkSize || chunks.size() != ChunkCount(digest.size))
    return Status::InvalidArgument("large blob " + digest.ToString() + " needs " +
                                   std::to_string(ChunkCount(digest.size)) + " chunks of " +
                                   std::to_string(kChunkSize) + " bytes");
  CF_ASSIGN_OR_RETURN(auto missing, FindMissing(chunks));  // also refreshes their times
  if (!missing.empty())
    return Status::FailedPrecondition("chunk " + missing[0].ToString() + " of " +
                                      digest.ToString() + " is not stored; upload it first");
  Sha256 sha;
  std::string manifest;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (chunks[i].size != ChunkLength(digest.size, i))
      return Status::InvalidArgument("chunk " + std::to_string(i) + " of " + digest.ToString() +
                                     " has the wrong size");
    CF_ASSIGN_OR_RETURN(std::string data, GetSmall(chunks[i]));
    sha.Update(data);
    manifest.append(reinterpret_cast<const char*>(chunks[i].hash.data()), 32);
  }
  if (sha.Finish() != digest.hash)
    return Status::InvalidArgument("chunks do not hash to " + digest.ToString());
  internal::EntryView entry{digest, manifest};
  return WriteEntries(std::span(&entry, 1), kTagManifest);
}

Result<RefInfo> LocalStore::GetRef(const std::string& name) {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), cf_->refs, name, &value);
  if (s.IsNotFound()) return Err(Status::NotFound("ref '" + name + "' is not in the CAS"));
  if (!s.ok()) return Err(FromRocks(s, "reading ref " + name));
  CF_ASSIGN_OR_RETURN(RefInfo ref, proto::DecodeRef(value));
  ref.last_used_unix = Now();
  if (!EnsureDiskSpace(value.size()).ok()) return ref;  // the touch is for LRU order only
  s = db_->Put(rocksdb::WriteOptions(), cf_->refs, name, proto::EncodeRef(ref));
  if (!s.ok()) return Err(FromRocks(s, "touching ref " + name));
  return ref;
}

Status LocalStore::PutRef(const std::string& name, const RefInfo& ref) {
  if (name.empty()) return Status::InvalidArgument("ref name is empty");
  std::shared_lock gc_lock(gc_mu_);  // GC must not sweep between the check and the write
  CF_ASSIGN_OR_RETURN(bool exists, Exists(ref.root));
  if (!exists)
    return Status::FailedPrecondition("root " + ref.root.ToString() + " of ref '" + name +
                                      "' is not stored; import the tree first");
  CF_TRY(EnsureDiskSpace(name.size() + 256));
  RefInfo stored = ref;
  if (stored.created_unix == 0) stored.created_unix = Now();
  stored.last_used_unix = Now();
  auto s = db_->Put(rocksdb::WriteOptions(), cf_->refs, name, proto::EncodeRef(stored));
  return s.ok() ? Status::Ok() : FromRocks(s, "writing ref " + name);
}

Status LocalStore::DeleteRef(const std::string& name) {
  CF_TRY(EnsureDiskSpace(name.size()));
  auto s = db_->Delete(rocksdb::WriteOptions(), cf_->refs, name);
  return s.ok() ? Status::Ok() : FromRocks(s, "deleting ref " + name);
}

Result<std::vector<NamedRef>> LocalStore::ListRefs(std::string_view prefix) {
  std::vector<NamedRef> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_->refs));
  for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
    std::string_view key = internal::View(it->key());
    if (!key.starts_with(prefix)) break;
    CF_ASSIGN_OR_RETURN(RefInfo ref, proto::DecodeRef(internal::View(it->value())));
    out.push_back({std::string(key), std::move(ref)});
  }
  if (!it->status().ok()) return Err(FromRocks(it->status(), "listing refs"));
  return out;
}

Result<std::vector<TreeNode>> LocalStore::GetTree(const Digest& root) {
  std::vector<TreeNode> out;
  std::unordered_set<Digest, DigestHash> seen{root};
  std::deque<Digest> queue{root};
  while (!queue.empty()) {
    Digest d = queue.front();
    queue.pop_front();
    CF_ASSIGN_OR_RETURN(std::string bytes, Get(d));
    auto dir = proto::DecodeDirectory(bytes);
    if (!dir) return Err(dir.error().WithContext("directory " + d.ToString()));
    for (const auto& child : dir->directories)
      if (seen.insert(child.digest).second) queue.push_back(child.digest);
    out.push_back({d, std::move(*dir)});
  }
  return out;
}

Result<CasStats> LocalStore::Stats() {
  CasStats stats;
  stats.blob_count = blob_count_;
  stats.blob_bytes = blob_bytes_;
  stats.quota_bytes = options_.quota_bytes;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_->refs));
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++stats.ref_count;
  if (!it->status().ok()) return Err(FromRocks(it->status(), "counting refs"));
  return stats;
}

}  // namespace crossfarm::cas
