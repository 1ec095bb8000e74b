// `crossfarm log -f`: the live log of a running job, as it is written.
//
// Locally the job's log file (<cache>/logs/<element>/<key>.log) is followed
// while the build that writes it, in this or another process, holds its lock
// (worker/job_runner.cc). With --remote the scheduler forwards the job's log
// chunks from its worker (docs/protocol.md "Following a job's log").
#pragma once

#include <string>

#include "client/command.h"
#include "common/status.h"
#include "proto/scheduler_types.h"

namespace crossfarm::client {

// Prints the log at `path` to stdout and keeps printing what is appended
// until no job holds it any more. False: there is no such file.
Result<bool> FollowLocalLog(const std::string& path);

// How a followed remote job ended.
struct FollowedJob {
  bool printed = false;  // false: it had ended (or never ran) before any log came
  proto::JobUpdate end;  // its state, worker and log in the CAS
};

// Asks the scheduler of g.remote for the live log of the job `cache_key` and
// prints it to stdout until the job ends (a waiting job is waited for).
// NotFound: the scheduler has no such job.
Result<FollowedJob> FollowRemoteLog(const GlobalOptions& g, const std::string& element,
                                    const std::string& cache_key);

}  // namespace crossfarm::client
