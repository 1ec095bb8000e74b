#include "client/transfer_progress.h"

#include <unistd.h>

#include <cstdlib>

namespace crossfarm::client {

std::string FormatBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

TransferProgress::TransferProgress(std::string what, std::shared_ptr<TransferStats> stats,
                                   ProgressMode mode, FILE* out)
    : what_(std::move(what)), stats_(std::move(stats)), out_(out) {
  if (!stats_) return;
  sent0_ = stats_->sent.load();
  received0_ = stats_->received.load();
  terminal_ = mode == ProgressMode::kTerminal ||
              (mode == ProgressMode::kAuto && isatty(fileno(out)) && std::getenv("CI") == nullptr);
  if (terminal_) interval_ = std::chrono::milliseconds(1000);
  else if (const char* env = std::getenv("CROSSFARM_PROGRESS_INTERVAL"))
    if (int v = std::atoi(env); v > 0) interval_ = std::chrono::seconds(v);
  thread_ = std::thread([this] { Loop(); });
}

TransferProgress::~TransferProgress() { Finish(); }

std::string TransferProgress::Line() const {
  if (!stats_) return "";
  const uint64_t up = stats_->sent.load() - sent0_, down = stats_->received.load() - received0_;
  const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = secs > 0 ? static_cast<double>(up + down) / secs : 0;
  char took[32];
  std::snprintf(took, sizeof(took), "%.1f s", secs);
  return what_ + ": " + FormatBytes(up) + " up, " + FormatBytes(down) + " down in " + took + " (" +
         FormatBytes(static_cast<uint64_t>(rate)) + "/s)";
}

void TransferProgress::Loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stop_; })) {
    // A terminal line is redrawn in place; a log gets one line per interval.
    if (terminal_) std::fprintf(out_, "\r\033[2K%s", Line().c_str());
    else std::fprintf(out_, "%s\n", Line().c_str());
    std::fflush(out_);
  }
}

void TransferProgress::Finish() {
  {
    std::lock_guard lock(mu_);
    if (finished_ || !stats_) return;
    finished_ = true;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (terminal_) std::fputs("\r\033[2K", out_);
  if (stats_->sent.load() != sent0_ || stats_->received.load() != received0_)
    std::fprintf(out_, "%s\n", Line().c_str());
  std::fflush(out_);
}

}  // namespace crossfarm::client
