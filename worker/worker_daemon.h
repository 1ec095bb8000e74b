// WorkerDaemon: crossfarm-worker, one build host of the cluster
// (docs/protocol.md "Scheduler protocol", docs/scheduler.md "Faults").
//
// The daemon thread owns the DEALER socket to the scheduler. It registers
// (name, native and emulated archs, slots, running jobs, checkout cache
// summary) and repeats that as its heartbeat, so a restarted scheduler learns
// it again within one interval. Each assigned job runs on its own thread with
// JobRunner against the remote CAS; the job thread streams log chunks and its
// result back over an inproc PUSH socket. On success the worker writes the
// artifact ref (`artifacts/<cache key>`) to the CAS before reporting. Results
// are resent with every heartbeat until the scheduler acknowledges them, so
// none is lost to a scheduler restart.
//
// --dry-run-jobs (benchmark mode only): assigned jobs complete at once with a
// made-up artifact digest, without running anything or touching the CAS.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cas/cas.h"
#include "common/status.h"
#include "proto/scheduler_types.h"
#include "worker/accel.h"
#include "worker/job_runner.h"

namespace crossfarm::metrics {
class Registry;
}
namespace zmq {
class context_t;
class socket_t;
class message_t;
}  // namespace zmq

namespace crossfarm::worker {

struct WorkerDaemonOptions {
  std::string name;
  std::string scheduler;             // tcp://HOST:PORT
  std::string scheduler_public_key;  // Z85; empty: plain TCP (dev only)
  std::string public_key, secret_key;  // this worker's pair (in the scheduler's --workers list)
  std::string cas;                   // tcp://HOST:PORT (or a directory, for tests)
  std::string cas_public_key;
  uint32_t slots = 1;
  std::string cache_dir;             // checkouts, scratch, logs; absolute (bwrap binds from it)
  std::chrono::milliseconds heartbeat_interval{1000};
  bool dry_run = false;              // --dry-run-jobs: benchmark mode
  // Empty: probed (NativeArchsOf(HostArch()); foreign archs with a usable binfmt handler).
  std::vector<std::string> native_archs, emulated_archs;
  // False (`--emulate none`): offer no emulated arch even where binfmt works,
  // e.g. a fast native builder that should never take slow emulated jobs.
  bool probe_emulated = true;
  // A distcc pool member (docs/acceleration.md): cross-compile slots offered
  // to emulated jobs on other workers, through a gateway on `distcc_address`.
  uint32_t distcc_slots = 0;
  std::string distcc_address;
  uint16_t distcc_port = 3700;
  std::vector<std::string> distcc_allow;  // worker addresses the gateway accepts
  // Job counts and durations, running jobs, pool gateway use
  // (docs/operations.md "Metrics"); may be null.
  metrics::Registry* metrics = nullptr;
};

class WorkerDaemon {
 public:
  // Opens the CAS (not contacted yet), probes the archs and, unless dry_run,
  // runs SandboxSelfCheck (worker/self_check.h) in cache_dir: a worker that
  // would fail every job is an error here (InvalidArgument naming --cache for a
  // cache dir it cannot use, FailedPrecondition when bwrap does not run).
  static Result<std::unique_ptr<WorkerDaemon>> Create(WorkerDaemonOptions options);
  ~WorkerDaemon();

  // Serves until `stop` becomes true, then cancels and joins running jobs.
  Status Run(const std::atomic<bool>& stop);

 private:
  struct RunningJob {
    std::thread thread;
    std::unique_ptr<CancelToken> cancel;
  };
  explicit WorkerDaemon(WorkerDaemonOptions options);
  proto::WorkerInfo Info();
  void StartJob(const JobSpec& spec);
  Result<std::unique_ptr<zmq::socket_t>> Connect();
  void OnScheduler(const zmq::message_t& frame);
  void OnJobThread(const zmq::message_t& frame);
  void Heartbeat();
  void RunJob(JobSpec spec, CancelToken* cancel);
  proto::JobResultMsg Execute(const JobSpec& spec, CancelToken* cancel,
                              const std::function<void(std::string_view)>& on_log);

  WorkerDaemonOptions options_;
  std::unique_ptr<cas::Cas> cas_;
  PoolKey pool_key_;  // from the scheduler; before the runner and gateway that read it
  std::unique_ptr<JobRunner> runner_;
  Sandbox sandbox_;                       // for the pool gateway's distccd
  std::unique_ptr<PoolGateway> gateway_;  // with --distcc-slots
  std::string inproc_;  // job threads -> daemon thread
  std::map<std::string, RunningJob> running_;  // by cache key; daemon thread only
  std::map<std::string, proto::SchedMessage> unacked_;  // results awaiting resultAck
  std::unique_ptr<zmq::context_t> context_;
  zmq::socket_t* dealer_ = nullptr;  // to the scheduler, during Run()
  std::atomic<int> running_jobs_{0};  // job threads in Execute (read by /metrics)
};

}  // namespace crossfarm::worker
