#include "scheduler/job_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <filesystem>

#include "common/disk_space.h"

namespace crossfarm::scheduler {

namespace {
constexpr std::string_view kJobPrefix = "j/";
constexpr std::string_view kBuildPrefix = "b/";
constexpr uint64_t kDiskReserve = 1 << 20;  // as the CAS's (cas/local_store.h)

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNoSpace()) return Status::ResourceExhausted(what + ": disk full: " + s.ToString());
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos)
    return Status::Unavailable(what + ": " + s.ToString() + " (is another scheduler using --state?)");
  return Status::IOError(what + ": " + s.ToString());
}
}  // namespace

JobStore::JobStore(std::unique_ptr<rocksdb::DB> db, std::string dir)
    : db_(std::move(db)), dir_(std::move(dir)) {}

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
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  CF_TRY(FromRocks(rocksdb::DB::Open(options, dir + "/queue", &raw), "opening job store " + dir));
  return std::unique_ptr<JobStore>(new JobStore(std::unique_ptr<rocksdb::DB>(raw), dir));
}

Status JobStore::Put(const std::string& key, const std::string& value) {
  CF_TRY(EnsureDiskSpace(key.size() + value.size()));
  return FromRocks(db_->Put(rocksdb::WriteOptions(), key, value), "job store write " + key);
}

Status JobStore::Delete(const std::string& key) {
  CF_TRY(EnsureDiskSpace(key.size()));
  return FromRocks(db_->Delete(rocksdb::WriteOptions(), key), "job store delete " + key);
}

Status JobStore::PutJob(const std::string& key, const proto::StoredJob& job) {
  return Put(std::string(kJobPrefix) + key, proto::EncodeStoredJob(job));
}

Status JobStore::PutJobs(const std::vector<const proto::StoredJob*>& jobs) {
  rocksdb::WriteBatch batch;
  for (const auto* job : jobs)
    batch.Put(std::string(kJobPrefix) + job->request.spec.cache_key, proto::EncodeStoredJob(*job));
  CF_TRY(EnsureDiskSpace(batch.GetDataSize()));
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch), "job store batch write");
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
