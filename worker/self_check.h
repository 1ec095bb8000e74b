// The start-up self-check of crossfarm-worker (docs/scheduler.md "Faults").
//
// A worker whose sandbox cannot start would still register, take every job it
// is given and fail each one as an infraError: the scheduler retries the job
// and the user's build fails after --max-retries (issue 20: a relative
// --cache). So before it registers, the worker runs one trivial command the
// way a job runs its commands, and refuses to start if that fails.
#pragma once

#include "common/status.h"
#include "worker/job_runner.h"
#include "worker/sandbox.h"

namespace crossfarm::worker {

// Creates the work, checkout and log dirs of `dirs`, then runs `/bin/sh -c` in
// `sandbox` as a job would: a root staged under work_dir mounted read-only, a
// writable build dir from work_dir bound at /buildstream/self-check as the cwd.
// No artifact is at hand before the first job, so the root holds the host's
// /usr, /bin, /sbin and /lib* (read-only) instead of a staged base. The command
// writes a file into the build dir, which must then be there on the host.
// Leaves nothing behind under work_dir.
//
// Errors: the failing step with its path (the Status of the file system call;
// InvalidArgument for a relative dir), or FailedPrecondition when the sandbox
// does not start (bwrap missing) or its command fails (with bwrap's output).
Status SandboxSelfCheck(const Sandbox& sandbox, const JobRunnerOptions& dirs);

}  // namespace crossfarm::worker
