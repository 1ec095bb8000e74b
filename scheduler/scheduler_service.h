// SchedulerService: crossfarm-scheduler's ZeroMQ front end over SchedulerState
// (wire format: docs/protocol.md "Scheduler protocol").
//
// One thread owns the ROUTER socket and the state: it reads messages, checks
// the sender's role, feeds SchedulerState, ticks timers, dispatches and sends
// the outbox. With CURVE keys, the ZAP handler (cas/curve_keys.h) admits only
// keys of the client and worker allow lists; each message's authenticated key
// (ZAP User-Id) then decides its role: a worker key cannot submit builds and a
// client key cannot register as a worker. Malformed, oversized or
// wrong-version messages are dropped with a log line (wrong version: answered
// with an error naming both versions).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "proto/scheduler_types.h"

namespace zmq {
class context_t;
}
namespace crossfarm::cas {
class ZapHandler;
}
namespace crossfarm::metrics {
class Registry;
}

namespace crossfarm::scheduler {

class JobStore;

struct SchedulerOptions {
  std::string listen = "tcp://127.0.0.1:*";
  std::string state_dir;  // RocksDB job store; empty: in memory only (tests)
  std::string public_key, secret_key;  // Z85 server pair; empty: plain TCP (dev only)
  std::vector<std::string> client_keys, worker_keys;  // allow lists (CURVE only)
  // Worker name -> the only key that may register it (`name=` in --workers).
  // Other names are bound to the first key that registers them, for the life
  // of the scheduler process (docs/security.md).
  std::map<std::string, std::string> worker_names;
  std::chrono::milliseconds heartbeat_timeout{10000};
  uint32_t max_retries = 3;
  std::string cas_url, cas_public_key;  // told to clients in status replies
  size_t max_frame_bytes = proto::kMaxSchedulerFrameBytes;
  // Metrics (scheduler/scheduler_metrics.h); may be null.
  metrics::Registry* metrics = nullptr;
};

// The allow lists, replaced on SIGHUP (SetAllowLists).
struct AllowLists {
  std::vector<std::string> client_keys, worker_keys;
  std::map<std::string, std::string> worker_names;
};

class SchedulerService {
 public:
  static Result<std::unique_ptr<SchedulerService>> Start(SchedulerOptions options);
  ~SchedulerService();  // Stop()s
  SchedulerService(const SchedulerService&) = delete;
  SchedulerService& operator=(const SchedulerService&) = delete;

  // The bound endpoint with the real port.
  const std::string& endpoint() const { return endpoint_; }
  void Stop();

  // Replaces the allow lists (CURVE only; SIGHUP). A new key connects at
  // once; a removed key is refused at its next connection and its next
  // message. Jobs keep running: a worker removed while running one still
  // cannot report it, and the job is retried elsewhere when it is lost.
  // Thread-safe.
  void SetAllowLists(AllowLists lists);
  // The status page's data (scheduler/status_page.h), refreshed by the
  // scheduler thread about four times a second. Thread-safe.
  std::string StatusJson() const;

  struct Shared;  // between the scheduler thread and the callers above

 private:
  SchedulerService() = default;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<zmq::context_t> context_;
  std::unique_ptr<cas::ZapHandler> zap_;
  std::unique_ptr<JobStore> store_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::string endpoint_;
};

}  // namespace crossfarm::scheduler
