#include "scheduler/job_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <filesystem>

#include "cas/rocksdb_log.h"
#include "common/disk_space.h"

namespace crossfarm::scheduler {

namespace {
constexpr std::string_view kJobPrefix = "j/";
constexpr std::string_view kBuildPrefix = "b/";
constexpr uint64_t kDiskReserve = 1 << 20;  // as the CAS's (cas/local_store.h)

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNoSpace() || s.ToString().find("No space left") != std::string::npos)
    return Status::ResourceExhausted(what + ": disk full (" + s.ToString() +
                                     "); free space on the --state file system: the scheduler "
                                     "holds its replies and retries");
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos)
    return Status::Unavailable(what + ": " + s.ToString() + " (is another scheduler using --state?)");
  return Status::IOError(what + ": " + s.ToString());
}

Result<std::unique_ptr<rocksdb::DB>> OpenDb(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.info_log = cas::SpdlogRocksLogger("job store");  // no LOG file: see rocksdb_log.h
  rocksdb::DB* raw = nullptr;
  CF_TRY(FromRocks(rocksdb::DB::Open(options, dir + "/queue", &raw), "opening job store " + dir));
  return std::unique_ptr<rocksdb::DB>(raw);
}
}  // namespace

JobStore::JobStore(std::string dir, std::unique_ptr<rocksdb::DB> db)
    : dir_(std::move(dir)), db_(std::move(db)) {}

Status JobStore::EnsureDiskSpace(uint64_t bytes) const {
  return CheckDiskSpace(dir_, 2 * bytes + kDiskReserve, "the scheduler's job state");
}
JobStore::~JobStore() = default;

Result<std::unique_ptr<JobStore>> JobStore::Open(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Err(Status::FromErrno("creating state dir " + dir, ec.value()));
  // Opening writes (OPTIONS, MANIFEST, WAL): refuse on a full disk first.
  CF_TRY(CheckDiskSpace(dir, kDiskReserve, "opening the scheduler's job state"));
  CF_ASSIGN_OR_RETURN(auto db, OpenDb(dir));
  return std::unique_ptr<JobStore>(new JobStore(dir, std::move(db)));
}

// After a failed write (a full disk) RocksDB's WAL writer is in an error state
// in which a second write trips an assertion in Debian's librocksdb (abort, the
// issue of `cas stats` on a full disk): the store is reopened before the next
// write instead, which replays the WAL up to the last complete record.
Status JobStore::Write(rocksdb::WriteBatch& batch, const std::string& what) {
  CF_TRY(EnsureDiskSpace(batch.GetDataSize()));
  if (!db_) {
    auto db = OpenDb(dir_);
    if (!db) return db.error().WithContext(what);
    db_ = std::move(*db);
  }
  Status s = FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), what);
  if (!s.ok()) db_.reset();
  return s;
}

Status JobStore::Put(const std::string& key, const std::string& value) {
  rocksdb::WriteBatch batch;
  batch.Put(key, value);
  return Write(batch, "job store write " + key);
}

Status JobStore::Delete(const std::string& key) {
  rocksdb::WriteBatch batch;
  batch.Delete(key);
  return Write(batch, "job store delete " + key);
}

Status JobStore::PutJob(const std::string& key, const proto::StoredJob& job) {
  return Put(std::string(kJobPrefix) + key, proto::EncodeStoredJob(job));
}

Status JobStore::PutJobs(const std::vector<const proto::StoredJob*>& jobs) {
  rocksdb::WriteBatch batch;
  for (const auto* job : jobs)
    batch.Put(std::string(kJobPrefix) + job->request.spec.cache_key, proto::EncodeStoredJob(*job));
  return Write(batch, "job store batch write");
}

Status JobStore::DeleteJob(const std::string& key) { return Delete(std::string(kJobPrefix) + key); }

Status JobStore::PutBuild(const proto::StoredBuild& build) {
  return Put(std::string(kBuildPrefix) + build.build_id, proto::EncodeStoredBuild(build));
}

Status JobStore::DeleteBuild(const std::string& build_id) {
  return Delete(std::string(kBuildPrefix) + build_id);
}

Result<JobStore::Contents> JobStore::LoadAll() {
  Contents out;
  if (!db_) {
    CF_ASSIGN_OR_RETURN(db_, OpenDb(dir_));
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string key = it->key().ToString();
    std::string_view value(it->value().data(), it->value().size());
    if (key.starts_with(kJobPrefix)) {
      auto job = proto::DecodeStoredJob(value);
      if (!job) return Err(Status::Corruption("job store key " + key + ": " + job.error().message()));
      out.jobs.push_back(std::move(*job));
    } else if (key.starts_with(kBuildPrefix)) {
      auto build = proto::DecodeStoredBuild(value);
      if (!build) return Err(Status::Corruption("job store key " + key + ": " + build.error().message()));
      out.builds.push_back(std::move(*build));
    }
  }
  CF_TRY(FromRocks(it->status(), "reading job store"));
  return out;
}

}  // namespace crossfarm::scheduler
