// The scheduler's Prometheus metrics and per-job log line
// (docs/operations.md "Metrics", "Logs"). Called on the scheduler thread.
#pragma once

#include <chrono>

#include "metrics/registry.h"
#include "scheduler/scheduler_state.h"

namespace crossfarm::scheduler {

void DescribeSchedulerMetrics(metrics::Registry& m);
// Logs a finished job (one line: element, arch, worker, duration, sandbox,
// outcome) and counts a dispatched or finished one. `m` may be null.
void RecordJobEvent(metrics::Registry* m, const JobEvent& e);
// Gauges recomputed from the state: queue depth per arch and state, workers
// by state, running jobs and slots per worker, distcc pool members, builds.
void UpdateSchedulerGauges(metrics::Registry& m, const SchedulerState& state, const LiveView& live);
// One pass of the loop that dispatched jobs: from its start to the assign
// messages sent.
void ObserveDispatchLatency(metrics::Registry* m, std::chrono::duration<double> took);
void CountSchedulerRefusal(metrics::Registry* m, const char* reason);

}  // namespace crossfarm::scheduler
