// LocalStore maintenance: LRU + mark & sweep GC, full scrub, the files/ cache.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <unordered_set>

#include <rocksdb/options.h>
#include <rocksdb/sst_file_reader.h>

#include "cas/local_store_internal.h"

namespace crossfarm::cas {

using internal::FromRocks;

void LocalStore::MarkBlob(const Digest& d, std::unordered_set<Digest, DigestHash>& marked,
                          std::vector<Digest>& added) {
  if (!marked.insert(d).second) return;
  added.push_back(d);
  if (d.size <= kChunkSize) return;
  auto value = GetValue(d);
  if (!value) return;
  auto chunks = internal::ParseManifest(d, *value);
  if (!chunks) return;
  for (const auto& c : *chunks)
    if (marked.insert(c).second) added.push_back(c);
}

Status LocalStore::MarkTree(const Digest& root, std::unordered_set<Digest, DigestHash>& marked,
                            std::vector<Digest>& added) {
  std::vector<Digest> stack{root};
  while (!stack.empty()) {
    Digest d = stack.back();
    stack.pop_back();
    if (marked.contains(d)) continue;
    MarkBlob(d, marked, added);
    auto bytes = Get(d);
    if (!bytes) {
      spdlog::warn("cas: gc found a broken tree node digest={} error=\"{}\"", d.ToString(),
                   bytes.error().ToString());
      continue;
    }
    auto dir = proto::DecodeDirectory(*bytes);
    if (!dir) continue;
    for (const auto& f : dir->files) MarkBlob(f.digest, marked, added);
    for (const auto& child : dir->directories) stack.push_back(child.digest);
  }
  return Status::Ok();
}

Result<GcReport> LocalStore::Gc(std::optional<uint64_t> quota) {
  CF_TRY(EnsureDiskSpace(0));  // deleting writes too (WAL, compaction)
  std::unique_lock gc_lock(gc_mu_);
  uint64_t target = quota.value_or(options_.quota_bytes);
  int64_t now = Now();
  GcReport report;
  std::unordered_set<Digest, DigestHash> marked;
  std::vector<Digest> added;
  // Recent uploads are roots: a client may be between upload and PutRef.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_->info));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (internal::DecodeTime(internal::View(it->value())) + options_.grace.count() <= now) continue;
    CF_ASSIGN_OR_RETURN(Digest d, DigestFromKey(internal::View(it->key())));
    MarkBlob(d, marked, added);
    ++report.blobs_kept_for_grace;
  }
  if (!it->status().ok()) return Err(FromRocks(it->status(), "scanning blob_info"));
  uint64_t used = 0;
  for (const auto& d : added) used += StoredBytes(d);

  CF_ASSIGN_OR_RETURN(auto refs, ListRefs(""));
  std::stable_sort(refs.begin(), refs.end(), [](const NamedRef& a, const NamedRef& b) {
    return a.ref.last_used_unix > b.ref.last_used_unix;
  });
  bool dropping = false;
  for (const auto& named : refs) {
    added.clear();
    if (!dropping) {
      CF_TRY(MarkTree(named.ref.root, marked, added));
      if (named.ref.build_log) MarkBlob(*named.ref.build_log, marked, added);
      uint64_t add = 0;
      for (const auto& d : added) add += StoredBytes(d);
      dropping = target != 0 && used + add > target;
      if (!dropping) {
        used += add;
        continue;
      }
      for (const auto& d : added) marked.erase(d);
    }
    // Least recently used first: this ref and every older one go.
    CF_TRY(DeleteRef(named.name));
    ++report.refs_removed;
    spdlog::info("cas: gc dropped ref name={} last_used={}", named.name, named.ref.last_used_unix);
  }
  Sweep(marked, report);
  gc_blobs_removed_ += report.blobs_removed;  // for /metrics (quota GC included)
  gc_bytes_removed_ += report.bytes_removed;
  return report;
}

uint64_t LocalStore::Sweep(const std::unordered_set<Digest, DigestHash>& marked,
                           GcReport& report) {
  std::vector<Digest> candidates;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_->info));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto d = DigestFromKey(internal::View(it->key()));
    if (d && !marked.contains(*d)) candidates.push_back(*d);
  }
  int64_t grace_start = Now() - options_.grace.count();
  std::lock_guard lock(write_mu_);
  rocksdb::WriteBatch batch;
  std::vector<Digest> removed;
  for (const auto& d : candidates) {
    std::string key = BlobKey(d), time;
    if (!db_->Get(rocksdb::ReadOptions(), cf_->info, key, &time).ok()) continue;
    // Uploaded or refreshed (FindMissing) since the mark phase: keep.
    if (internal::DecodeTime(time) > grace_start) continue;
    batch.Delete(cf_->blobs, key);
    batch.Delete(cf_->info, key);
    removed.push_back(d);
  }
  auto s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok()) {
    spdlog::error("cas: gc sweep failed error=\"{}\"", s.ToString());
    return 0;
  }
  for (const auto& d : removed) {
    blob_count_ -= 1;
    blob_bytes_ -= StoredBytes(d);
    report.bytes_removed += StoredBytes(d);
    RemoveCacheFiles(d);
  }
  report.blobs_removed = removed.size();
  return removed.size();
}

Status LocalStore::VerifyEntry(const Digest& digest, std::string_view value) {
  if (value.empty()) return Status::Corruption("empty entry");
  if (digest.size <= kChunkSize) {
    if (value[0] != internal::kTagWhole) return Status::Corruption("expected a whole-blob entry");
    if (Digest::OfBytes(value.substr(1)) != digest)
      return Status::Corruption("stored bytes do not match the digest");
    return Status::Ok();
  }
  return ReadLarge(digest, value, [](std::string_view) { return Status::Ok(); });
}

// An SST file failing its block checksums cannot be read past its bad block,
// so it is removed whole (DB::DeleteFile): the entries in it are lost, and the
// scrub below reports the refs that lost data. RocksDB only deletes a file with
// no older data beneath it (tombstones must not be lost); otherwise verify fails
// naming the file.
Result<uint64_t> LocalStore::DropCorruptTables() {
  std::vector<rocksdb::LiveFileMetaData> files;
  db_->GetLiveFilesMetaData(&files);
  uint64_t removed = 0;
  for (const auto& f : files) {
    std::string path = f.db_path + f.name;
    rocksdb::SstFileReader reader{rocksdb::Options()};
    rocksdb::Status s = reader.Open(path);
    if (s.ok()) s = reader.VerifyChecksum();
    if (s.ok() || s.IsPathNotFound() || s.IsNotFound()) continue;  // compacted away meanwhile
    spdlog::error("cas: verify removes a corrupt table file={} family={} error=\"{}\"", path,
                  f.column_family_name, s.ToString());
    if (rocksdb::Status d = db_->DeleteFile(f.name); !d.ok())
      return Err(Status::Corruption("table " + path + " is corrupt (" + s.ToString() +
                                    ") and cannot be removed: " + d.ToString()));
    ++removed;
  }
  return removed;
}

// Keys of the blobs family and of blob_info (same keys, small values in SSTs):
// read without RocksDB's checksums, so a bad blob file stops neither scan.
std::vector<std::string> LocalStore::EntryKeys() {
  std::set<std::string> keys;
  rocksdb::ReadOptions ro;
  ro.verify_checksums = false;
  for (auto* cf : {cf_->info, cf_->blobs}) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf));
    for (it->SeekToFirst(); it->Valid(); it->Next()) keys.insert(it->key().ToString());
    if (!it->status().ok())
      spdlog::warn("cas: verify scan stopped early error=\"{}\"", it->status().ToString());
  }
  return {keys.begin(), keys.end()};
}

void LocalStore::ScrubEntry(const std::string& key, VerifyReport& report) {
  ++report.blobs_checked;
  auto d = DigestFromKey(key);
  if (!d) {
    (void)db_->Delete(rocksdb::WriteOptions(), cf_->blobs, key);
    (void)db_->Delete(rocksdb::WriteOptions(), cf_->info, key);
    ++report.corrupt_removed;
    return;
  }
  rocksdb::ReadOptions ro;
  ro.verify_checksums = false;  // VerifyEntry re-hashes; a bad record still fails here
  std::string value;
  rocksdb::Status s = db_->Get(ro, cf_->blobs, key, &value);
  if (s.IsNotFound()) {  // blob_info without its blob: drop the leftover
    (void)DropCorrupt(*d, "missing entry");
    return;
  }
  Status bad = s.ok() ? VerifyEntry(*d, value) : FromRocks(s, "reading " + d->ToString());
  if (bad.ok()) return;
  (void)DropCorrupt(*d, bad.message());
  ++report.corrupt_removed;
}

// Every node, file, chunk and the build log of `ref` is stored.
bool LocalStore::ClosureComplete(const RefInfo& ref) {
  std::unordered_set<Digest, DigestHash> marked;
  std::vector<Digest> all;
  if (!MarkTree(ref.root, marked, all).ok()) return false;
  if (ref.build_log) MarkBlob(*ref.build_log, marked, all);
  for (const auto& d : all) {
    std::string ignored;
    if (!db_->Get(rocksdb::ReadOptions(), cf_->info, BlobKey(d), &ignored).ok()) return false;
  }
  return true;
}

Result<VerifyReport> LocalStore::Verify() {
  CF_TRY(EnsureDiskSpace(0));  // removing what is corrupt writes
  VerifyReport report;
  CF_ASSIGN_OR_RETURN(report.tables_removed, DropCorruptTables());
  for (const auto& key : EntryKeys()) ScrubEntry(key, report);
  report.cache_files_removed = ScrubCacheFiles();
  {
    std::lock_guard lock(write_mu_);
    CF_TRY(LoadCounters());
  }
  // A ref whose closure lost data is removed: kept, it would be taken as built
  // (or as staged sources) and hand its dependents a tree that cannot be
  // checked out. Without it the next build builds (or stages) it again and
  // writes a new, signed ref (issue 19).
  CF_ASSIGN_OR_RETURN(auto refs, ListRefs(""));
  for (const auto& named : refs)
    if (!ClosureComplete(named.ref)) {
      spdlog::error("cas: verify removed a ref that lost data ref={}", named.name);
      CF_TRY(DeleteRef(named.name));
      report.damaged_refs.push_back(named.name);
    }
  return report;
}

std::string LocalStore::CachePath(const Digest& digest, bool executable) const {
  std::string hex = digest.Hex();
  return dir_ + "/files/" + hex.substr(0, 2) + "/" + hex + "-" + std::to_string(digest.size) +
         (executable ? ".x" : "");
}

void LocalStore::RemoveCacheFiles(const Digest& digest) {
  ::unlink(CachePath(digest, false).c_str());
  ::unlink(CachePath(digest, true).c_str());
}

uint64_t LocalStore::ScrubCacheFiles() {
  namespace fs = std::filesystem;
  uint64_t removed = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir_ + "/files", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string name = it->path().filename().string();
    if (name.starts_with(".tmp-")) continue;  // being written by CachedFile
    bool exec = name.ends_with(".x");
    if (exec) name.resize(name.size() - 2);
    auto dash = name.find('-');
    auto expected = dash == std::string::npos
                        ? Result<Digest>(Err(Status::Corruption("name")))
                        : Digest::Parse(name.substr(0, dash) + "/" + name.substr(dash + 1));
    auto actual = Digest::OfFile(it->path().string());
    bool good = expected && actual && *expected == *actual &&
                ((it->status(ec).permissions() & fs::perms::owner_exec) != fs::perms::none) == exec;
    if (good) continue;
    fs::remove(it->path(), ec);
    ++removed;
    spdlog::error("cas: corrupt cache file removed path={}", it->path().string());
  }
  return removed;
}

Result<std::string> LocalStore::CachedFile(const Digest& digest, bool executable) {
  std::string path = CachePath(digest, executable);
  if (::access(path.c_str(), F_OK) == 0) return path;
  std::string parent = path.substr(0, path.rfind('/'));
  if (::mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST)
    return Err(Status::FromErrno("creating " + parent, errno));
  std::string tmp = parent + "/.tmp-XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Err(Status::FromErrno("creating a file in " + parent, errno));
  Status s = Read(digest, [&](std::string_view piece) {
    while (!piece.empty()) {
      ssize_t n = ::write(fd, piece.data(), piece.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return errno == ENOSPC ? Status::ResourceExhausted("disk full writing " + tmp)
                                        : Status::FromErrno("writing " + tmp, errno);
      piece.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  });
  if (s.ok() && ::fchmod(fd, executable ? 0555 : 0444) != 0) s = Status::FromErrno("chmod " + tmp, errno);
  ::close(fd);
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) s = Status::FromErrno("rename " + tmp, errno);
  if (!s.ok()) {
    ::unlink(tmp.c_str());
    return Err(s);
  }
  return path;
}

}  // namespace crossfarm::cas
