// JobStore: the scheduler's persistent queue in RocksDB under --state DIR
// (record format: docs/scheduler.md "Persistence").
//
//   j/<cache key>  -> proto::StoredJob   (spec, state, attempts, result, builds)
//   b/<build id>   -> proto::StoredBuild (its job keys, cancelled flag)
//
// Every state change is written before the scheduler acts on it (WAL, no fsync:
// a SIGKILLed scheduler loses nothing; a power cut may lose the last changes,
// which costs a re-run at most). Not thread-safe: the scheduler thread owns it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "proto/scheduler_types.h"

namespace rocksdb {
class DB;
class WriteBatch;
}

namespace crossfarm::scheduler {

class JobStore {
 public:
  // Opens (creating) the store in `dir`. Unavailable if another process holds it.
  static Result<std::unique_ptr<JobStore>> Open(const std::string& dir);
  ~JobStore();

  Status PutJob(const std::string& key, const proto::StoredJob& job);
  // Writes many jobs in one atomic batch (one WAL write).
  Status PutJobs(const std::vector<const proto::StoredJob*>& jobs);
  Status DeleteJob(const std::string& key);
  Status PutBuild(const proto::StoredBuild& build);
  Status DeleteBuild(const std::string& build_id);

  struct Contents {
    std::vector<proto::StoredJob> jobs;
    std::vector<proto::StoredBuild> builds;
  };
  // Everything stored. Corruption names the bad key.
  Result<Contents> LoadAll();

 private:
  JobStore(std::string dir, std::unique_ptr<rocksdb::DB> db);
  // ResourceExhausted "disk full" unless `bytes` more fit with a reserve:
  // RocksDB should never meet ENOSPC (Debian's aborts on an assertion).
  Status EnsureDiskSpace(uint64_t bytes) const;
  Status Write(rocksdb::WriteBatch& batch, const std::string& what);
  Status Put(const std::string& key, const std::string& value);
  Status Delete(const std::string& key);
  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;  // null after a failed write: reopened by the next one
};

}  // namespace crossfarm::scheduler
