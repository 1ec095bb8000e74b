#include "client/progress.h"

#include <unistd.h>

#include <cstdlib>

namespace crossfarm::client {

Progress::Progress(ProgressMode mode, FILE* out) : out_(out) {
  terminal_ = mode == ProgressMode::kTerminal ||
              (mode == ProgressMode::kAuto && isatty(fileno(out)) && std::getenv("CI") == nullptr);
  // Without a terminal a status line every interval shows a long job is alive
  // (GNU hello's configure ran 1 min 48 s in silence in a CI log).
  if (!terminal_) {
    plain_interval_ = std::chrono::seconds(10);
    if (const char* env = std::getenv("CROSSFARM_PROGRESS_INTERVAL"))
      if (int v = std::atoi(env); v > 0) plain_interval_ = std::chrono::seconds(v);
  }
  thread_ = std::thread([this] { Loop(); });
}

Progress::~Progress() {
  Finish();
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string Progress::Elapsed(Clock::time_point since) const {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - since).count();
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02lld:%02lld", static_cast<long long>(s / 60),
                static_cast<long long>(s % 60));
  return buf;
}

void Progress::SetTotals(size_t total, size_t cached) {
  std::lock_guard lock(mu_);
  counts_.total = total;
  counts_.cached = cached;
  counts_.queued = total - cached;
  if (!terminal_)
    std::fprintf(out_, "[%s] %zu elements: %zu cached, %zu to build\n", Elapsed(start_).c_str(),
                 total, cached, total - cached);
}

void Progress::JobStarted(const std::string& element, const std::string& where) {
  std::lock_guard lock(mu_);
  running_[element] = {where, Clock::now()};
  if (counts_.queued > 0) --counts_.queued;
  ++counts_.running;
  if (!terminal_)
    std::fprintf(out_, "[%s] START  %s (%s)\n", Elapsed(start_).c_str(), element.c_str(),
                 where.c_str());
}

void Progress::JobFinished(const std::string& element, bool success, const std::string& detail) {
  std::lock_guard lock(mu_);
  auto it = running_.find(element);
  std::string took = it != running_.end() ? Elapsed(it->second.start) : "";
  if (it != running_.end()) running_.erase(it);
  if (counts_.running > 0) --counts_.running;
  ++(success ? counts_.done : counts_.failed);
  if (terminal_) ClearLocked();
  std::fprintf(out_, "[%s] %s %s %s%s%s\n", Elapsed(start_).c_str(), success ? "DONE  " : "FAILED",
               element.c_str(), took.c_str(), detail.empty() ? "" : " ", detail.c_str());
  if (terminal_) RedrawLocked();
}

void Progress::JobLog(const std::string& element, std::string_view data) {
  static constexpr std::string_view kPhase = "# crossfarm: phase ";
  std::lock_guard lock(mu_);
  auto it = running_.find(element);
  if (it == running_.end()) return;
  Running& r = it->second;
  r.partial.append(data);
  size_t start = 0;
  for (size_t nl; (nl = r.partial.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string_view line(r.partial.data() + start, nl - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.starts_with(kPhase)) {
      r.phase = line.substr(kPhase.size());
      if (r.phase.ends_with("-commands")) r.phase.resize(r.phase.size() - 9);  // bst's list names
      r.last_line.clear();
    } else if (!line.empty() && !line.starts_with("# crossfarm: ")) {
      r.last_line = line;
    }
  }
  r.partial.erase(0, start);
  if (r.partial.size() > 4096) r.partial.erase(0, r.partial.size() - 4096);  // no newline for long
}

std::string Progress::ActivityOf(const Running& r) {
  constexpr size_t kMaxLine = 100;
  std::string line = r.last_line.size() > kMaxLine ? r.last_line.substr(0, kMaxLine) + "..." : r.last_line;
  if (r.phase.empty()) return line;
  return line.empty() ? r.phase : r.phase + ": " + line;
}

std::string Progress::JobActivity(const std::string& element) const {
  std::lock_guard lock(mu_);
  auto it = running_.find(element);
  return it == running_.end() ? "" : ActivityOf(it->second);
}

void Progress::JobSkipped(const std::string& element) {
  std::lock_guard lock(mu_);
  if (counts_.queued > 0) --counts_.queued;
  ++counts_.skipped;
  if (!terminal_)
    std::fprintf(out_, "[%s] SKIP   %s (a dependency failed)\n", Elapsed(start_).c_str(),
                 element.c_str());
}

void Progress::Message(const std::string& text) {
  std::lock_guard lock(mu_);
  if (terminal_) ClearLocked();
  std::fprintf(out_, "%s\n", text.c_str());
  if (terminal_) RedrawLocked();
}

ProgressCounts Progress::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

void Progress::Finish() {
  std::lock_guard lock(mu_);
  if (finished_) return;
  finished_ = true;
  if (terminal_) ClearLocked();
  if (counts_.total == 0) return;
  // The parts add up to the element count: what neither ran nor was skipped
  // for a failed dependency was not started (--on-error quit, an interrupt).
  const size_t accounted = counts_.done + counts_.cached + counts_.failed + counts_.skipped;
  const size_t not_started = counts_.total > accounted ? counts_.total - accounted : 0;
  std::fprintf(out_, "[%s] finished: %zu built, %zu cached, %zu failed, %zu skipped%s\n",
               Elapsed(start_).c_str(), counts_.done, counts_.cached, counts_.failed,
               counts_.skipped,
               not_started ? (", " + std::to_string(not_started) + " not started").c_str() : "");
}

void Progress::ClearLocked() {
  for (size_t i = 0; i < drawn_lines_; ++i) std::fputs("\033[1A\033[2K", out_);
  drawn_lines_ = 0;
}

void Progress::RedrawLocked() {
  if (finished_) return;
  ClearLocked();
  std::fprintf(out_, "[%s] queued %zu  running %zu  done %zu  cached %zu  failed %zu\n",
               Elapsed(start_).c_str(), counts_.queued, counts_.running, counts_.done,
               counts_.cached, counts_.failed);
  ++drawn_lines_;
  for (const auto& [element, r] : running_) {
    std::fprintf(out_, "  %-40s %-32s %s %s\n", element.c_str(), r.where.c_str(),
                 Elapsed(r.start).c_str(), r.phase.c_str());
    ++drawn_lines_;
    if (r.last_line.empty()) continue;
    std::fprintf(out_, "    > %.100s\n", r.last_line.c_str());
    ++drawn_lines_;
  }
  std::fflush(out_);
}

void Progress::StatusLineLocked() {
  if (finished_ || running_.empty()) return;
  std::string jobs;
  for (const auto& [element, r] : running_) {
    std::string activity = ActivityOf(r);
    jobs += (jobs.empty() ? "" : "; ") + element + " " + Elapsed(r.start) +
            (activity.empty() ? "" : " " + activity);
  }
  std::fprintf(out_, "[%s] running %zu (%s)  queued %zu  done %zu  cached %zu  failed %zu\n",
               Elapsed(start_).c_str(), counts_.running, jobs.c_str(), counts_.queued, counts_.done,
               counts_.cached, counts_.failed);
  std::fflush(out_);
}

void Progress::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (terminal_) {
      RedrawLocked();
      cv_.wait_for(lock, std::chrono::milliseconds(250));
    } else if (!cv_.wait_for(lock, plain_interval_, [this] { return stop_; })) {
      StatusLineLocked();
    }
  }
}

}  // namespace crossfarm::client
