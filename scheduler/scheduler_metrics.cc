#include "scheduler/scheduler_metrics.h"

#include <spdlog/spdlog.h>

#include <map>

namespace crossfarm::scheduler {

void DescribeSchedulerMetrics(metrics::Registry& m) {
  m.DescribeGauge("crossfarm_scheduler_queue_jobs",
                  "Unfinished jobs by sandbox arch and state (waiting: for dependencies; ready: for a "
                  "slot; running)", {"arch", "state"});
  m.DescribeGauge("crossfarm_scheduler_workers", "Connected workers by state (idle, busy, full)", {"state"});
  m.DescribeGauge("crossfarm_scheduler_worker_running_jobs", "Jobs running on each worker", {"worker"});
  m.DescribeGauge("crossfarm_scheduler_worker_slots", "Job slots of each worker", {"worker"});
  m.DescribeGauge("crossfarm_scheduler_builds", "Builds not finished yet");
  m.DescribeGauge("crossfarm_distcc_pool_members", "Workers offering distcc pool slots");
  m.DescribeGauge("crossfarm_distcc_pool_slots", "distcc pool slots offered in the cluster");
  m.DescribeCounter("crossfarm_scheduler_jobs_dispatched_total", "Jobs assigned to a worker",
                    {"arch", "sandbox"});
  m.DescribeCounter("crossfarm_scheduler_jobs_finished_total",
                    "Job attempts finished, by outcome (done, failed, retried)", {"arch", "sandbox", "outcome"});
  m.DescribeHistogram("crossfarm_scheduler_job_duration_seconds",
                      "From assignment to result, per finished attempt", {"arch", "sandbox"},
                      metrics::DurationBuckets());
  m.DescribeHistogram("crossfarm_scheduler_job_wait_seconds",
                      "From ready (dependencies built) to assigned", {"arch", "sandbox"},
                      metrics::DurationBuckets());
  m.DescribeHistogram("crossfarm_scheduler_dispatch_latency_seconds",
                      "One scheduler loop pass that assigned jobs: decode, dispatch, persist, send", {},
                      metrics::LatencyBuckets());
  m.DescribeCounter("crossfarm_scheduler_submitted_jobs_total",
                    "Jobs of accepted builds: hit (built or building already) or miss (added)", {"result"});
  m.DescribeCounter("crossfarm_refusals_total", "Refused connections and messages, by reason", {"reason"});
}

void RecordJobEvent(metrics::Registry* m, const JobEvent& e) {
  std::string arch = e.arch.empty() ? "none" : e.arch;
  if (e.kind == JobEvent::Kind::kDispatched) {
    if (!m) return;
    m->Add("crossfarm_scheduler_jobs_dispatched_total", {arch, e.sandbox});
    m->Observe("crossfarm_scheduler_job_wait_seconds", {arch, e.sandbox}, e.waited_seconds);
    return;
  }
  // The one line per job an operator greps for (docs/operations.md "Logs").
  spdlog::info("scheduler: job finished element={} arch={} worker={} duration={:.1f}s sandbox={} "
               "outcome={} job={}{}", e.element, arch, e.worker, e.ran_seconds, e.sandbox, e.outcome,
               e.cache_key.substr(0, 12), e.message.empty() ? "" : " reason=\"" + e.message + "\"");
  if (!m) return;
  m->Add("crossfarm_scheduler_jobs_finished_total", {arch, e.sandbox, e.outcome});
  m->Observe("crossfarm_scheduler_job_duration_seconds", {arch, e.sandbox}, e.ran_seconds);
}

void UpdateSchedulerGauges(metrics::Registry& m, const SchedulerState& state, const LiveView& live) {
  std::map<std::pair<std::string, std::string>, double> queue;
  for (const auto& job : live.jobs) queue[{job.arch.empty() ? "none" : job.arch, job.state}] += 1;
  m.ClearGauge("crossfarm_scheduler_queue_jobs");
  for (const auto& [labels, n] : queue) m.Set("crossfarm_scheduler_queue_jobs", {labels.first, labels.second}, n);
  std::map<std::string, double> by_state{{"idle", 0}, {"busy", 0}, {"full", 0}};
  double pool_members = 0, pool_slots = 0;
  m.ClearGauge("crossfarm_scheduler_worker_running_jobs");
  m.ClearGauge("crossfarm_scheduler_worker_slots");
  for (const WorkerEntry* w : state.workers().ordered()) {
    auto running = static_cast<double>(w->running.size());
    by_state[running == 0 ? "idle" : running >= w->info.slots ? "full" : "busy"] += 1;
    m.Set("crossfarm_scheduler_worker_running_jobs", {w->info.name}, running);
    m.Set("crossfarm_scheduler_worker_slots", {w->info.name}, w->info.slots);
    if (w->info.distcc_slots > 0) {
      pool_members += 1;
      pool_slots += w->info.distcc_slots;
    }
  }
  for (const auto& [st, n] : by_state) m.Set("crossfarm_scheduler_workers", {st}, n);
  m.Set("crossfarm_distcc_pool_members", {}, pool_members);
  m.Set("crossfarm_distcc_pool_slots", {}, pool_slots);
  double builds = 0;
  for (const auto& b : live.builds) {
    size_t finished = 0;
    for (const char* st : {"done", "failed", "skipped", "cancelled"})
      if (auto it = b.jobs_by_state.find(st); it != b.jobs_by_state.end()) finished += it->second;
    if (!b.cancelled && finished < b.total) builds += 1;
  }
  m.Set("crossfarm_scheduler_builds", {}, builds);
  m.SetCounter("crossfarm_scheduler_submitted_jobs_total", {"hit"}, static_cast<double>(state.submitted_hits()));
  m.SetCounter("crossfarm_scheduler_submitted_jobs_total", {"miss"},
               static_cast<double>(state.submitted_misses()));
}

void ObserveDispatchLatency(metrics::Registry* m, std::chrono::duration<double> took) {
  if (m) m->Observe("crossfarm_scheduler_dispatch_latency_seconds", {}, took.count());
}

void CountSchedulerRefusal(metrics::Registry* m, const char* reason) {
  if (m) m->Add("crossfarm_refusals_total", {reason});
}

}  // namespace crossfarm::scheduler
