// Plain C++ values of the scheduler protocol (proto/scheduler.capnp) and their
// codecs. Wire format: docs/protocol.md "Scheduler protocol", version 1; the
// job store's RocksDB values: docs/scheduler.md.
//
// Decode* catch Cap'n Proto exceptions and return InvalidArgument (wire) or
// Corruption (stored) naming what failed; they never throw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/job_spec.h"
#include "common/status.h"

namespace crossfarm::proto {

// Bumped on any incompatible change to Message; peers refuse other versions.
inline constexpr uint32_t kSchedulerProtocolVersion = 1;
// Largest frame a scheduler or worker accepts; bigger ones are dropped.
inline constexpr size_t kMaxSchedulerFrameBytes = 32 << 20;

// Same order as enum JobState in scheduler.capnp.
enum class RemoteJobState : uint8_t {
  kWaiting, kReady, kRunning, kDone, kFailed, kSkipped, kCancelled,
};
const char* RemoteJobStateName(RemoteJobState s);
inline bool IsFinal(RemoteJobState s) {
  return s == RemoteJobState::kDone || s == RemoteJobState::kFailed ||
         s == RemoteJobState::kSkipped || s == RemoteJobState::kCancelled;
}

// One element of a submitted DAG. Inputs built by the same DAG have a zero
// root (Digest{}); the scheduler fills it from the producing job's result.
struct JobRequest {
  JobSpec spec;
  std::vector<std::string> input_keys;  // parallel to spec.inputs
};

struct WorkerInfo {
  std::string name;
  std::vector<std::string> native_archs, emulated_archs;
  uint32_t slots = 1;
  std::vector<std::string> running;      // cache keys
  std::vector<std::string> cache_roots;  // hex hashes of checked-out artifact roots
  bool dry_run = false;
  // A distcc pool member (crossfarm-worker --distcc-slots): where emulated
  // jobs on other workers reach its pool gateway (worker/accel.h).
  std::string distcc_address;
  uint32_t distcc_port = 0;
  uint32_t distcc_slots = 0;
  // Which distcc pool key the worker holds (PoolKeyId, common/accel.h); the
  // scheduler sends its key to a worker whose id differs.
  std::string pool_key_id;
};

struct JobResultMsg {
  std::string cache_key;
  bool success = false;
  bool infra_error = false;
  std::string message;
  std::optional<Digest> artifact, log;
  std::string sandbox_arch;
  bool emulated = false;
  double seconds = 0;
  std::string worker;
};

struct JobUpdate {
  std::string element, cache_key;
  RemoteJobState state = RemoteJobState::kWaiting;
  std::string worker, detail;
  std::optional<Digest> log;
};

struct WorkerStatusEntry {
  std::string name;
  std::vector<std::string> native_archs, emulated_archs;
  uint32_t slots = 0, busy = 0;
  uint64_t heartbeat_age_ms = 0;
  std::vector<std::string> running;
};

struct QueueEntry {
  std::string element, cache_key;
  RemoteJobState state = RemoteJobState::kWaiting;
  std::string reason, worker;
  uint32_t attempts = 0;
};

struct StatusReply {
  std::vector<WorkerStatusEntry> workers;
  std::vector<QueueEntry> jobs;
  uint32_t builds = 0;
  std::string cas_url, cas_public_key;
};

// Same order as the union of Message in scheduler.capnp.
enum class MsgKind : uint16_t {
  kRegister, kAssign, kResult, kResultAck, kLogChunk, kCancelJob, kSubmit, kWatch,
  kUpdates, kCancelBuild, kStatusRequest, kStatusReply, kError, kPoolKey,
  kFollowLog, kLogEnd,
};
const char* MsgKindName(MsgKind k);

// One Message; only the fields of `kind` are meaningful.
struct SchedMessage {
  uint32_t version = kSchedulerProtocolVersion;
  MsgKind kind = MsgKind::kStatusRequest;
  WorkerInfo worker;              // kRegister
  JobSpec spec;                   // kAssign
  uint32_t attempt = 0;           // kAssign
  JobResultMsg result;            // kResult
  std::string key;                // kResultAck, kLogChunk, kCancelJob, kFollowLog: cache key
  std::string data;               // kLogChunk; kPoolKey: the key
  std::string build_id;           // kSubmit, kWatch, kUpdates, kCancelBuild
  std::vector<JobRequest> jobs;   // kSubmit
  bool finished = false;          // kUpdates
  std::vector<JobUpdate> updates; // kUpdates; kLogEnd: the followed job's
  StatusReply status;             // kStatusReply
  Status error;                   // kError
};

std::string EncodeSchedMessage(const SchedMessage& m);
// InvalidArgument for bytes that are not a Message. A message of another
// version decodes (version set, kind kError) so the receiver can answer.
Result<SchedMessage> DecodeSchedMessage(std::string_view bytes);

// Job store records.
struct StoredJob {
  JobRequest request;
  RemoteJobState state = RemoteJobState::kWaiting;
  uint32_t attempts = 0;
  std::optional<Digest> artifact, log;
  std::string message, worker;
  std::vector<std::string> builds;
};
struct StoredBuild {
  std::string build_id;
  std::vector<std::string> job_keys;
  bool cancelled = false;
};

std::string EncodeStoredJob(const StoredJob& j);
Result<StoredJob> DecodeStoredJob(std::string_view bytes);  // Corruption on bad bytes
std::string EncodeStoredBuild(const StoredBuild& b);
Result<StoredBuild> DecodeStoredBuild(std::string_view bytes);

}  // namespace crossfarm::proto
