// Upload and download progress of the cluster's CAS (docs/building.md
// "Remote builds"): bytes and rate while sources upload and artifacts
// download, so a remote build is never silent for its first half minute.
//
// TransferStats counts the bytes of every CAS request and answer
// (cas::RemoteOptions::on_transfer); a TransferProgress reports one phase of
// them: on a terminal a line redrawn every second, otherwise a line every
// interval (10 s, $CROSSFARM_PROGRESS_INTERVAL), and a summary line at the end
// when anything moved.
//
// Thread-safe: any thread may count; the report thread only reads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "client/progress.h"

namespace crossfarm::client {

struct TransferStats {
  std::atomic<uint64_t> sent{0}, received{0};
  void Add(uint64_t s, uint64_t r) {
    sent.fetch_add(s, std::memory_order_relaxed);
    received.fetch_add(r, std::memory_order_relaxed);
  }
};

// "12.3 MiB" (B, KiB, MiB, GiB).
std::string FormatBytes(uint64_t bytes);

class TransferProgress {
 public:
  // `what` names the phase ("uploading sources"); `stats` may be null (no
  // cluster: nothing to report).
  TransferProgress(std::string what, std::shared_ptr<TransferStats> stats,
                   ProgressMode mode = ProgressMode::kAuto, FILE* out = stderr);
  ~TransferProgress();  // Finish()
  TransferProgress(const TransferProgress&) = delete;
  TransferProgress& operator=(const TransferProgress&) = delete;

  // Stops the report thread; prints "<what>: 12.3 MiB up, 0.1 MiB down in
  // 3.2 s (3.9 MiB/s)" if any byte moved. Idempotent.
  void Finish();
  // The line as it stands now (also what the report thread prints).
  std::string Line() const;

 private:
  using Clock = std::chrono::steady_clock;
  void Loop();

  std::string what_;
  std::shared_ptr<TransferStats> stats_;
  FILE* out_;
  bool terminal_ = false;
  std::chrono::milliseconds interval_{10000};
  uint64_t sent0_ = 0, received0_ = 0;
  Clock::time_point start_ = Clock::now();
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool finished_ = false;
  std::thread thread_;
};

}  // namespace crossfarm::client
