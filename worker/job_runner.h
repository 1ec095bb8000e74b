// JobRunner: executes one JobSpec on this machine. The same code runs a job in
// the embedded mode (`crossfarm build`) and in `crossfarm-worker`.
//
// For a sandbox job (BuildStream's BuildElement):
//   1. every input artifact is checked out once into the checkout cache
//      (<cache>/checkouts/<root hash>, read-only hard links into the CAS file cache);
//   2. the sandbox root is composed from those checkouts by hard links (no copy:
//      staging a deep tree costs links, not bytes), read-only unless integration
//      commands must write to it (then copied, see docs/sandbox.md);
//   3. sources are exported (copies, writable) into the build dir;
//   4. integration commands, then each phase's commands, run in bubblewrap
//      (qemu-user for a foreign root);
//   5. the install dir is imported into the CAS; the log is stored too.
// The caller records the artifact ref; a crash before that leaves only
// unreferenced blobs, which GC removes: the cache is never corrupted.
//
// Thread-safe: many jobs may run at once on one JobRunner.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "cas/cas.h"
#include "common/job_spec.h"
#include "common/status.h"
#include "worker/accel.h"
#include "worker/fs_util.h"
#include "worker/plugin_host.h"
#include "worker/process.h"
#include "worker/sandbox.h"

namespace crossfarm::worker {

struct JobRunnerOptions {
  std::string work_dir;      // scratch: build dirs, staged roots (same fs as checkouts)
  std::string checkout_dir;  // per-artifact read-only checkouts, reused across jobs
  std::string log_dir;       // <log_dir>/<element>/<key>.log kept for `crossfarm log`
  std::string worker_name = "local";
  Sandbox::Options sandbox;
  // Set by a cluster worker: the foreign archs it offered the scheduler. A job
  // whose staged root turns out to need another foreign arch fails with the
  // fix instead of being emulated by a worker that said it would not.
  std::optional<std::vector<std::string>> emulated_archs;
  // Set by a cluster worker: the key that opens other workers' distcc pool
  // gateways (worker/accel.h). Outlives the runner.
  const PoolKey* pool_key = nullptr;
  // Shared staged roots kept under <work_dir>/roots (hard links: few blocks,
  // many inodes). Past this many, the least recently used ones no job holds
  // are removed (PruneSharedRoots).
  size_t max_shared_roots = 32;
};

// A shared root in use: its shared flock keeps PruneSharedRoots away.
struct RootLease {
  std::string path;
  std::string note;  // what staging it said (overlap warnings, a summary)
  UniqueFd lock;     // LOCK_SH on <path>.lock
};

// Removes the least recently used roots of `roots_dir` beyond the newest
// `keep`, skipping any a job holds (a RootLease); returns how many went.
Result<size_t> PruneSharedRoots(const std::string& roots_dir, size_t keep);

struct JobOutcome {
  bool success = false;
  Status failure;                 // BuildFailed "command 2 of 3 ..." when !success
  std::optional<Digest> artifact; // root of the install tree (success only)
  std::optional<Digest> log;      // the build log in the CAS
  std::string log_path;           // the build log on this machine
  std::string sandbox_arch;       // canonical name of the arch the sandbox ran
  bool emulated = false;
  double seconds = 0;
  // For whoever started the job, beside its log (the CLI prints them): e.g.
  // "not accelerated: ..." when acceleration was turned off for it.
  std::vector<std::string> warnings;
};

// A staged sandbox ready to run: removed with its TempDir.
struct PreparedSandbox {
  TempDir dir;
  SandboxSpec spec;
  std::string install_dir;  // host path of the install root
  UniqueFd root_lease;      // a shared root's lock, while the job runs
};

struct AccelRun;  // job_runner.cc: what an accelerated job holds while it runs

class JobRunner {
 public:
  JobRunner(cas::Cas& cas, JobRunnerOptions options);

  // Runs the job. A Status error means the job could not be attempted (CAS
  // unreachable, binfmt missing, disk full); a failing command is a JobOutcome
  // with success=false. `on_log` receives the live log (may be empty).
  Result<JobOutcome> Run(const JobSpec& spec, std::function<void(std::string_view)> on_log = {},
                         const CancelToken* cancel = nullptr);

  // `crossfarm shell`: the job's sandbox (build deps staged, sources in the
  // build dir) with an interactive shell, or `argv` if not empty.
  Result<ExitInfo> Shell(const JobSpec& spec, const std::vector<std::string>& argv);

  // The read-only checkout of an artifact tree (created on first use).
  Result<std::string> Checkout(const Digest& root);

 private:
  Result<PreparedSandbox> Prepare(const JobSpec& spec, const LogSink& log);
  Result<JobOutcome> RunSandboxJob(const JobSpec& spec, JobOutcome outcome,
                                   const LogSink& log, const CancelToken* cancel);
  Result<Digest> RunImport(const JobSpec& spec);
  Result<Digest> RunFilterOrCompose(const JobSpec& spec, const LogSink& log,
                                    const CancelToken* cancel);
  Status StageSources(const JobSpec& spec, const std::string& build_dir);
  // The read-only root of the job's inputs, staged once per set of input
  // digests under <work_dir>/roots/ and shared by every job (and process)
  // with the same inputs. Mount points the sandbox adds (/buildstream/...)
  // stay in it as empty directories.
  // <work_dir>/roots/<sha256 of id>, filled by `stage` the first time (which
  // returns a note kept beside it) and reused afterwards, leased while held.
  Result<RootLease> StagedOnce(const std::string& id,
                               const std::function<Result<std::string>(const std::string& dir)>& stage);
  Result<RootLease> SharedRoot(const JobSpec& spec, const std::vector<std::string>& checkouts,
                               const std::vector<std::string>& names, const LogSink& log);
  // Sets up acceleration (worker/accel.h) for an emulated job, or says in the
  // log why not (AccelRun::unaccelerated); the job then runs plainly emulated.
  // Either way `crossfarm show` gets the verdict (AccelProbeRef).
  Result<std::unique_ptr<AccelRun>> SetUpAccel(const JobSpec& spec, PreparedSandbox& prepared,
                                               const ArchInfo& arch, const LogSink& log);
  // The compiler probe of (accelerator, staged inputs), once per worker.
  Result<ProbeResult> CachedProbe(const JobSpec& spec, const std::string& root, const ArchInfo& arch,
                                  const std::function<Result<std::string>()>& accel_root,
                                  const std::string& log_path);
  // The job's root with the accelerator staged in (StageAccelerator, and the
  // distcc masquerade links), shared like SharedRoot; the note is a summary,
  // or, for a root the host tools cannot run in, kUnusableRoot and why.
  Result<RootLease> AcceleratedRoot(const JobSpec& spec, const std::string& accel_checkout, bool guard,
                                    const LogSink& log);

  cas::Cas& cas_;
  JobRunnerOptions options_;
  std::mutex checkout_mu_;  // serialises Checkout (see job_runner.cc)
  std::mutex probe_mu_;     // one compiler probe at a time; results in the CAS
  Sandbox sandbox_;
  // Hosts for elements of Python plugins (worker/python_element.h), started
  // on first use and shared by the runner's jobs.
  PluginHostPool python_hosts_{PluginHostOptions{.timeout = DefaultPluginTimeout()}};
};

// BuildStream's glob for split rules: `**` matches across '/', `*` and `?` not.
bool SplitGlobMatch(std::string_view pattern, std::string_view path);

}  // namespace crossfarm::worker
