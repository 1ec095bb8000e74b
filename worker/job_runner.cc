#include "worker/job_runner.h"

#include "worker/python_element.h"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "common/accel.h"
#include "common/disk_space.h"
#include "worker/accel.h"
#include "worker/collect_elements.h"
#include "worker/checkout_stamp.h"
#include "worker/fs_util.h"
#include "worker/staging.h"

namespace crossfarm::worker {

// What an accelerated job holds while it runs (SetUpAccel).
struct AccelRun {
  std::optional<StagedRoot> accel_root;     // the accelerator, for distccd and the probe
  std::optional<PrivateNetwork> network;    // set when a distcc pool serves the job
  std::unique_ptr<DistccPool> pool;         // declared after network: stopped first
  std::unique_ptr<PoolRelay> relay;         // to pool members on other workers
  UniqueFd root_lease;                      // the accelerated shared root's lock
  std::string unaccelerated;                // why the job runs plainly emulated ("" if it does not)
};


namespace fs = std::filesystem;

namespace {

// The note of an accelerated root StageAccelerator could not use (why
// follows); the root itself is then kept empty.
constexpr std::string_view kUnusableRoot = "unusable: ";

std::string RandomSuffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(rng());
}

// "dir/sub.bst" -> "dir_sub.bst": one path component for log file names.
std::string FlatName(std::string name) {
  for (char& c : name)
    if (c == '/') c = '_';
  return name;
}

Status MakeDirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return Status::FromErrno("create " + path, ec.value());
  return Status::Ok();
}

void AppendLog(const LogSink& log, const std::string& line) {
  if (!log.path.empty()) {
    int fd = ::open(log.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      [[maybe_unused]] auto n = ::write(fd, line.data(), line.size());
      ::close(fd);
    }
  }
  if (log.callback) log.callback(line);
}

// Which artifact staged each path (later wins), as "/usr/bin/x" -> index.
Status IndexArtifactFiles(const std::vector<std::string>& checkouts,
                          std::map<std::string, size_t>& owner) {
  for (size_t i = 0; i < checkouts.size(); ++i) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(checkouts[i], ec), end; it != end; it.increment(ec)) {
      if (ec) return Status::IOError("walk " + checkouts[i] + ": " + ec.message());
      if (it->is_directory(ec) && !it->is_symlink(ec)) continue;
      owner["/" + it->path().lexically_relative(checkouts[i]).string()] = i;
    }
    if (ec) return Status::IOError("walk " + checkouts[i] + ": " + ec.message());
  }
  return Status::Ok();
}

bool InDomains(const std::string& path, const std::vector<std::string>& domains,
               const std::map<std::string, std::vector<std::string>>& rules) {
  for (const auto& d : domains) {
    auto it = rules.find(d);
    if (it == rules.end()) continue;
    for (const auto& pattern : it->second)
      if (SplitGlobMatch(pattern, path)) return true;
  }
  return false;
}

bool MatchesAnyDomain(const std::string& path,
                      const std::map<std::string, std::vector<std::string>>& rules) {
  for (const auto& [name, patterns] : rules)
    for (const auto& p : patterns)
      if (SplitGlobMatch(p, path)) return true;
  return false;
}

// Copies (hard links where possible) one file or symlink of `from_root` to `to_root`.
Status CopyEntry(const std::string& from_root, const std::string& rel, const std::string& to_root) {
  // `rel` is lexical (never through a symlink of the root): no way out of to_root.
  for (const auto& part : fs::path(rel))
    if (part == "..") return Status::Internal("refusing to copy " + rel + ": it leaves the tree");
  fs::path src = fs::path(from_root) / rel.substr(1), dst = fs::path(to_root) / rel.substr(1);
  std::error_code ec;
  fs::create_directories(dst.parent_path(), ec);
  if (ec) return Status::IOError("create " + dst.parent_path().string() + ": " + ec.message());
  if (fs::is_symlink(src, ec)) {
    fs::copy_symlink(src, dst, ec);
  } else if (::link(src.c_str(), dst.c_str()) != 0) {
    fs::copy_file(src, dst, ec);
  }
  if (ec) return Status::IOError("copy " + rel + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

// Elapsed time between laps, for the build log ("1.23 s").
class Stopwatch {
 public:
  std::string Lap() {
    auto now = std::chrono::steady_clock::now();
    double s = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.2f s", s);
    return buf;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

bool SplitGlobMatch(std::string_view pattern, std::string_view path) {
  size_t p = 0, s = 0, star_p = std::string_view::npos, star_s = 0;
  bool star_crosses = false;
  while (s < path.size()) {
    if (p + 1 < pattern.size() && pattern[p] == '*' && pattern[p + 1] == '*') {
      star_p = p + 2, star_s = s, star_crosses = true, p += 2;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star_p = p + 1, star_s = s, star_crosses = false, ++p;
    } else if (p < pattern.size() && (pattern[p] == path[s] || (pattern[p] == '?' && path[s] != '/'))) {
      ++p, ++s;
    } else if (star_p != std::string_view::npos && (star_crosses || path[star_s] != '/')) {
      p = star_p, s = ++star_s;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

JobRunner::JobRunner(cas::Cas& cas, JobRunnerOptions options)
    : cas_(cas), options_(std::move(options)), sandbox_(options_.sandbox) {}

Result<std::string> JobRunner::Checkout(const Digest& root) {
  std::string path = options_.checkout_dir + "/" + root.Hex();
  // One checkout at a time in this process: two jobs staging the same base at
  // once exported it twice into the same file cache and one of them lost a
  // link (ENOENT) half way; a hard-link checkout takes well under a second.
  std::lock_guard lock(checkout_mu_);
  if (::access(path.c_str(), F_OK) == 0) {
    // Never stage a checkout edited since it was made (checkout_stamp.h).
    Status fresh = CheckCheckoutStamp(options_.checkout_dir, root.Hex());
    if (fresh.ok()) return path;
    spdlog::warn("worker: checkout re-made dir={} reason=\"{}\"", path, fresh.message());
    CF_TRY(RemoveCheckout(options_.checkout_dir, root.Hex()));
    // The edit went through a hard link into the CAS files cache: drop those
    // copies so the new checkout links fresh ones made from the verified store.
    CF_ASSIGN_OR_RETURN(auto nodes, cas_.GetTree(root));
    for (const auto& node : nodes)
      for (const auto& f : node.directory.files) cas_.ForgetCachedFiles(f.digest);
  }
  CF_TRY(MakeDirs(options_.checkout_dir));
  // Export next to the final place, then rename: a checkout is either complete
  // or absent, even if we are killed half way or race another job.
  std::string tmp = options_.checkout_dir + "/.tmp-" + root.Hex() + "-" + RandomSuffix();
  Status s = cas_.ExportTree(root, tmp, cas::LinkMode::kHardlink);
  if (!s.ok()) {
    (void)RemoveTree(tmp);
    return Err(s.WithContext("checkout of " + root.ToString()));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    (void)RemoveTree(tmp);
    if (err != EEXIST && err != ENOTEMPTY) return Err(Status::FromErrno("rename to " + path, err));
  }
  CF_TRY(WriteCheckoutStamp(options_.checkout_dir, root));
  return path;
}

namespace {

// A writable copy of `from` at `to` (created): directories 0755, files with
// the owner's write bit added, symlinks as they are.
Status CopyTreeWritable(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::create_directories(to, ec);
  if (ec) return Status::IOError("mkdir " + to + ": " + ec.message());
  fs::permissions(to, fs::perms(0755), ec);
  for (auto it = fs::recursive_directory_iterator(from, ec); !ec && it != fs::end(it); it.increment(ec)) {
    fs::path target = fs::path(to) / it->path().lexically_relative(from);
    auto status = it->symlink_status(ec);
    if (ec) break;
    if (fs::is_symlink(status)) {
      fs::copy_symlink(it->path(), target, ec);
    } else if (fs::is_directory(status)) {
      fs::create_directory(target, ec);
      if (!ec) fs::permissions(target, fs::perms(0755), ec);
    } else if (fs::is_regular_file(status)) {
      fs::copy_file(it->path(), target, ec);
      if (!ec) fs::permissions(target, status.permissions() | fs::perms::owner_write, ec);
    }
    if (ec) return Status::IOError("copy " + it->path().string() + " -> " + target.string() + ": " + ec.message());
  }
  if (ec) return Status::IOError("copy " + from + " -> " + to + ": " + ec.message());
  return Status::Ok();
}

}  // namespace

Status JobRunner::StageSources(const JobSpec& spec, const std::string& build_dir) {
  // Sources are the build's working copy: fresh, writable files (never links
  // into the cache, which configure scripts would try to rewrite).
  for (const auto& src : spec.sources) {
    std::string dest = build_dir;
    if (!src.directory.empty()) dest += "/" + src.directory;
    std::error_code ec;
    bool empty = !fs::exists(dest, ec) || fs::is_empty(dest, ec);
    if (empty) {
      // Copied from the source tree's read-only checkout (kept like an
      // artifact's): a local file copy, not a read of every blob from the CAS.
      CF_ASSIGN_OR_RETURN(std::string checkout, Checkout(src.root));
      CF_TRY(CopyTreeWritable(checkout, dest).WithContext("staging sources of " + spec.element));
      continue;
    }
    CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Create(options_.work_dir, "src-"));
    std::string copy = tmp.path() + "/tree";
    CF_TRY(cas_.ExportTree(src.root, copy, cas::LinkMode::kCopy));
    std::vector<std::string> one{copy};
    auto staged = StageArtifacts(dest, one, StageMode::kHardLink);
    if (!staged) return staged.error().WithContext("staging sources of " + spec.element);
  }
  if (!spec.sources.empty()) CF_TRY(SetDeterministicMtimes(build_dir));
  return Status::Ok();
}

Result<JobOutcome> JobRunner::Run(const JobSpec& spec, std::function<void(std::string_view)> on_log,
                                  const CancelToken* cancel) {
  auto start = std::chrono::steady_clock::now();
  JobOutcome outcome;
  std::string log_dir = options_.log_dir + "/" + FlatName(spec.element);
  CF_TRY(MakeDirs(log_dir));
  CF_TRY(MakeDirs(options_.work_dir));
  outcome.log_path = log_dir + "/" + spec.cache_key + ".log";
  ::unlink(outcome.log_path.c_str());
  // Held while the job runs: `crossfarm log -f` in another process follows
  // the file until the lock is free (docs/building.md "Logs").
  UniqueFd log_lock(::open(outcome.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log_lock.valid() || ::flock(log_lock.get(), LOCK_EX) != 0)
    return Err(Status::FromErrno("create the log " + outcome.log_path, errno));
  LogSink log{outcome.log_path, std::move(on_log)};
  AppendLog(log, "# crossfarm: " + std::string(JobKindName(spec.kind)) + " job for " +
                     spec.element + " key " + spec.cache_key + " on " + options_.worker_name +
                     "\n");
  Result<Digest> artifact = Err(Status::Internal("unset"));
  switch (spec.kind) {
    case JobKind::kSandbox: {
      CF_ASSIGN_OR_RETURN(outcome, RunSandboxJob(spec, std::move(outcome), log, cancel));
      break;
    }
    case JobKind::kStack: {
      CF_ASSIGN_OR_RETURN(TempDir empty, TempDir::Create(options_.work_dir, "stack-"));
      artifact = cas_.ImportTree(empty.path());
      break;
    }
    case JobKind::kImport:
      artifact = RunImport(spec);
      break;
    case JobKind::kCompose:
    case JobKind::kFilter:
      artifact = RunFilterOrCompose(spec, log, cancel);
      break;
    case JobKind::kCollect:  // worker/collect_elements.h
      artifact = RunCollectJob(spec, cas_, options_.work_dir);
      break;
  }
  if (spec.kind != JobKind::kSandbox) {
    if (!artifact && artifact.error().code() != StatusCode::kBuildFailed) return Err(artifact.error());
    outcome.success = artifact.has_value();
    if (artifact) outcome.artifact = *artifact;
    else outcome.failure = artifact.error();
  }
  AppendLog(log, outcome.success ? "# crossfarm: success\n"
                                 : "# crossfarm: FAILED: " + outcome.failure.message() + "\n");
  auto log_digest = cas_.PutFile(outcome.log_path);
  if (log_digest) outcome.log = *log_digest;
  outcome.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return outcome;
}

namespace {

// BuildStream's "overlaps" warnings, one line each.
std::string OverlapWarnings(const StageReport& report, const std::vector<std::string>& names) {
  std::string out;
  for (const auto& o : report.overlaps)
    out += "# crossfarm: warning: /" + o.path + " of " + names[o.later] + " overwrites the one of " +
           names[o.earlier] + "\n";
  return out;
}

// <root>.lock, flocked: shared by each job using the root, exclusive by the pruner.
Result<UniqueFd> LockRoot(const std::string& path, int how) {
  UniqueFd fd(::open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return Err(Status::FromErrno("open " + path + ".lock", errno));
  while (::flock(fd.get(), how) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return UniqueFd();
    return Err(Status::FromErrno("flock " + path + ".lock", errno));
  }
  return fd;
}

bool IsRootName(const std::string& name) {
  return name.size() == 64 && std::ranges::all_of(name, [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

}  // namespace

Result<size_t> PruneSharedRoots(const std::string& roots_dir, size_t keep) {
  std::vector<std::pair<int64_t, std::string>> roots;  // (last use, name)
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(roots_dir, ec)) {
    std::string name = e.path().filename().string();
    struct stat st{};
    if (!IsRootName(name) || ::lstat(e.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    roots.emplace_back(int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec, name);
  }
  if (ec) return Err(Status::IOError("list " + roots_dir + ": " + ec.message()));
  if (roots.size() <= keep) return size_t{0};
  std::ranges::sort(roots, std::greater<>());
  size_t removed = 0;
  for (size_t i = keep; i < roots.size(); ++i) {
    std::string path = roots_dir + "/" + roots[i].second;
    CF_ASSIGN_OR_RETURN(UniqueFd lock, LockRoot(path, LOCK_EX | LOCK_NB));
    if (!lock.valid()) continue;  // a job runs in it
    // Out of the way first (a new lease then finds nothing and stages anew),
    // then removed at leisure; the lock file goes last, still locked.
    std::string trash = roots_dir + "/trash-" + roots[i].second + "-" + RandomSuffix();
    if (::rename(path.c_str(), trash.c_str()) != 0) continue;
    fs::remove_all(trash, ec);
    ::unlink((path + ".note").c_str());
    ::unlink((path + ".lock").c_str());
    ++removed;
  }
  return removed;
}

Result<RootLease> JobRunner::StagedOnce(
    const std::string& id, const std::function<Result<std::string>(const std::string& dir)>& stage) {
  std::string dir = options_.work_dir + "/roots", path = dir + "/" + Sha256Hex(id);
  std::string note_path = path + ".note";
  CF_TRY(MakeDirs(dir));
  // The lease before the look: a pruner that got the root first has moved it away.
  CF_ASSIGN_OR_RETURN(UniqueFd lease, LockRoot(path, LOCK_SH));
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);  // its last use, for the pruner
    std::ifstream in(note_path);
    std::stringstream note;
    note << in.rdbuf();
    return RootLease{path, note.str(), std::move(lease)};
  }
  // Staged under a temporary name and renamed into place, so a concurrent job
  // (or process) sees either nothing or the whole tree.
  CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Create(dir, "staging-"));
  CF_ASSIGN_OR_RETURN(std::string note, stage(tmp.path()));
  std::ofstream(note_path) << note;
  if (::rename(tmp.path().c_str(), path.c_str()) != 0 && errno != EEXIST && errno != ENOTEMPTY)
    return Err(Status::FromErrno("rename " + tmp.path() + " -> " + path, errno));
  ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
  // A new root: the time to keep their number bounded.
  auto pruned = PruneSharedRoots(dir, options_.max_shared_roots);
  if (!pruned) return Err(pruned.error().WithContext("pruning " + dir));
  return RootLease{path, note, std::move(lease)};
}

Result<RootLease> JobRunner::SharedRoot(const JobSpec& spec, const std::vector<std::string>& checkouts,
                                        const std::vector<std::string>& names, const LogSink& log) {
  std::string id;
  for (const auto& in : spec.inputs)
    if (!in.accelerator) id += in.root.ToString() + "\n";
  // The note is the overlap warnings, repeated in every job's log.
  CF_ASSIGN_OR_RETURN(auto root, StagedOnce(id, [&](const std::string& dir) -> Result<std::string> {
    CF_ASSIGN_OR_RETURN(StageReport report, StageArtifacts(dir, checkouts, StageMode::kHardLink));
    return OverlapWarnings(report, names);
  }));
  AppendLog(log, root.note);
  return root;
}

Result<PreparedSandbox> JobRunner::Prepare(const JobSpec& spec, const LogSink& log) {
  CF_ASSIGN_OR_RETURN(TempDir job_dir, TempDir::Create(options_.work_dir, "job-"));
  std::vector<std::string> checkouts, names;
  bool needs_integration = false;
  for (const auto& in : spec.inputs) {
    if (in.accelerator) continue;  // staged by SetUpAccel, only for an emulated root
    CF_ASSIGN_OR_RETURN(std::string c, Checkout(in.root));
    checkouts.push_back(std::move(c));
    names.push_back(in.element);
    needs_integration |= spec.integrate && !in.integration_commands.empty();
  }
  // Integration commands (ldconfig, caches) write into the root: such a root is
  // a private copy; otherwise it is hard links mounted read-only.
  // A Python plugin writes into the root (sandbox.get_directory()): its own copy.
  StageMode mode = needs_integration || spec.python ? StageMode::kCopy : StageMode::kHardLink;
  std::string root = job_dir.path() + "/root", build = job_dir.path() + "/build",
              install = job_dir.path() + "/install";
  if (!spec.persistent_build_dir.empty()) build = spec.persistent_build_dir;
  CF_TRY(MakeDirs(build));
  CF_TRY(MakeDirs(install));
  // A read-only root of the same artifacts is the same tree for every job:
  // staged once and shared. A writable one (integration) is the job's own.
  UniqueFd lease;
  if (mode == StageMode::kHardLink) {
    CF_ASSIGN_OR_RETURN(RootLease shared, SharedRoot(spec, checkouts, names, log));
    root = shared.path;
    lease = std::move(shared.lock);
  } else {
    CF_TRY(MakeDirs(root));
    CF_ASSIGN_OR_RETURN(StageReport report, StageArtifacts(root, checkouts, mode));
    AppendLog(log, OverlapWarnings(report, names));
  }
  if (spec.python) {  // the plugin sees one tree: build and install dirs inside the root
    build = root + spec.build_root;
    install = root + spec.install_root;
    CF_TRY(MakeDirs(build));
    CF_TRY(MakeDirs(install));
  }
  if (spec.persistent_build_dir.empty()) CF_TRY(StageSources(spec, build));

  SandboxSpec sb;
  sb.root = root;
  sb.root_access = mode == StageMode::kCopy ? Access::kReadWrite : Access::kReadOnly;
  sb.SetBuildDir(build, spec.build_root);
  sb.SetInstallDir(install, spec.install_root);
  sb.cwd = spec.command_subdir.empty() ? spec.build_root
                                       : spec.build_root + "/" + spec.command_subdir;
  for (const auto& [k, v] : spec.environment) sb.SetEnv(k, v);
  sb.network = spec.network ? Network::kShared : Network::kNone;
  if (!spec.sandbox_arch.empty()) {
    CF_ASSIGN_OR_RETURN(sb.arch, LookupArch(spec.sandbox_arch));
  }
  Result<const ArchInfo*> arch = sandbox_.ResolveArch(sb);
  // A Python plugin may never run a command (collect_* kinds need no base).
  if (!arch && spec.python && !sb.arch) arch = &HostArch();
  if (!arch) return Err(arch.error());
  sb.arch = *arch;
  return PreparedSandbox{std::move(job_dir), std::move(sb), install, std::move(lease)};
}

Result<ExitInfo> JobRunner::Shell(const JobSpec& spec, const std::vector<std::string>& argv) {
  CF_ASSIGN_OR_RETURN(PreparedSandbox p, Prepare(spec, LogSink{}));
  p.spec.interaction = Interaction::kInteractive;
  return sandbox_.RunInteractive(p.spec, argv);
}

Result<JobOutcome> JobRunner::RunSandboxJob(const JobSpec& spec, JobOutcome outcome,
                                            const LogSink& log, const CancelToken* cancel) {
  Stopwatch watch;
  CF_ASSIGN_OR_RETURN(PreparedSandbox prepared, Prepare(spec, log));
  AppendLog(log, "# crossfarm: staged " + std::to_string(spec.inputs.size()) +
                     " artifacts and the sources in " + watch.Lap() + "\n");
  SandboxSpec& sb = prepared.spec;
  const ArchInfo* arch = sb.arch;
  outcome.sandbox_arch = std::string(arch->name);
  outcome.emulated = !RunsNatively(HostArch(), *arch);
  if (outcome.emulated && options_.emulated_archs &&
      std::ranges::find(*options_.emulated_archs, outcome.sandbox_arch) == options_.emulated_archs->end())
    return Err(Status::FailedPrecondition(
        "worker " + options_.worker_name + " does not emulate " + outcome.sandbox_arch +
        " (crossfarm-worker --emulate), but the staged root of " + spec.element + " is " +
        outcome.sandbox_arch + ": declare `sandbox: build-arch: " + outcome.sandbox_arch +
        "` in the element so the scheduler routes it to a worker that does"));
  AppendLog(log, "# crossfarm: sandbox " + outcome.sandbox_arch +
                     (outcome.emulated ? " (emulated by qemu-user)\n" : " (native)\n"));
  std::unique_ptr<AccelRun> accel;
  if (spec.accel && outcome.emulated) {
    CF_ASSIGN_OR_RETURN(accel, SetUpAccel(spec, prepared, *arch, log));
    AppendLog(log, "# crossfarm: acceleration set up in " + watch.Lap() + "\n");
    if (!accel->unaccelerated.empty()) outcome.warnings.push_back("not accelerated: " + accel->unaccelerated);
  }

  RunControl control{.timeout = std::chrono::milliseconds(0), .cancel = cancel};
  auto run_phase = [&](const std::string& phase, const std::vector<std::string>& cmds,
                       const std::string& cwd) -> Result<bool> {
    if (cmds.empty()) return true;
    AppendLog(log, "# crossfarm: phase " + phase + "\n");
    SandboxSpec phase_spec = sb;
    phase_spec.cwd = cwd;
    // With a distcc pool the sandbox starts in the job's private network.
    std::optional<NetnsScope> scope;
    if (accel && accel->network) {
      CF_ASSIGN_OR_RETURN(NetnsScope entered, NetnsScope::Enter(accel->network->fd()));
      scope.emplace(std::move(entered));
    }
    CF_ASSIGN_OR_RETURN(CommandsResult r, sandbox_.RunCommands(phase_spec, cmds, log, control));
    AppendLog(log, "# crossfarm: phase " + phase + " took " + watch.Lap() + "\n");
    if (r.ok()) return true;
    // ENOSPC inside the sandbox is "disk full" (the job could not run), not a
    // failed build: a command that failed on a file system left nearly full.
    CF_TRY(CheckDiskSpace(prepared.dir.path(), 1 << 20, "the failed command of " + spec.element + " " + phase));
    outcome.failure = r.ToStatus(cmds.size()).WithContext(spec.element + " " + phase);
    return false;
  };
  for (const auto& in : spec.inputs) {
    if (!spec.integrate || in.integration_commands.empty()) continue;
    CF_ASSIGN_OR_RETURN(bool ok, run_phase("integration of " + in.element,
                                           in.integration_commands, "/"));
    if (!ok) return outcome;
  }
  for (const auto& [phase, cmds] : spec.phases) {
    CF_ASSIGN_OR_RETURN(bool ok, run_phase(phase, cmds, sb.cwd));
    if (!ok) return outcome;
  }
  if (accel && accel->pool)
    AppendLog(log, "# crossfarm: distcc pool compiled " + std::to_string(accel->pool->compiles()) +
                       " objects\n");
  if (accel && accel->relay)
    AppendLog(log, "# crossfarm: relayed " + std::to_string(accel->relay->relayed()) +
                       " compiles to pool members on other workers\n");
  std::string collect = prepared.install_dir;
  if (spec.python) {
    CF_ASSIGN_OR_RETURN(PythonAssembly py, RunPythonElement(python_hosts_, sandbox_, spec, sb,
                                                            options_.work_dir, log, control));
    if (!py.ok) {
      outcome.failure = py.failure;
      return outcome;
    }
    collect = py.collect_dir;
  }
  CF_ASSIGN_OR_RETURN(Digest artifact, cas_.ImportTree(collect));
  AppendLog(log, "# crossfarm: stored the artifact in " + watch.Lap() + "\n");
  outcome.artifact = artifact;
  outcome.success = true;
  return outcome;
}

// --- acceleration (worker/accel.h, docs/acceleration.md) ---


Result<ProbeResult> JobRunner::CachedProbe(const JobSpec& spec, const std::string& root,
                                           const ArchInfo& arch,
                                           const std::function<Result<std::string>()>& accel_root,
                                           const std::string& log_path) {
  // The probe depends on the compilers only: the accelerator and the staged
  // inputs. Its result is a small blob under a ref, shared by every job (and
  // every worker of a cluster) with the same ones.
  std::string id = kProbeVersion;
  for (const auto& in : spec.inputs) id += in.root.Hex() + (in.accelerator ? "+" : " ");
  std::string ref = "accel-probe-cache/" + Sha256Hex(id);
  std::lock_guard lock(probe_mu_);
  if (auto known = cas_.GetRef(ref))
    if (auto text = cas_.Get(known->root)) return DecodeProbe(*text);
  CF_ASSIGN_OR_RETURN(std::string accel, accel_root());
  CF_ASSIGN_OR_RETURN(ProbeResult probe,
                      ProbeCompilers(sandbox_, options_.work_dir, root, arch, accel, *spec.accel, log_path));
  CF_ASSIGN_OR_RETURN(Digest blob, cas_.Put(EncodeProbe(probe)));
  proto::RefInfo info;
  info.root = blob;
  info.element = spec.element;
  info.worker = options_.worker_name;
  CF_TRY(cas_.PutRef(ref, info));
  return probe;
}

Result<RootLease> JobRunner::AcceleratedRoot(const JobSpec& spec, const std::string& accel_checkout,
                                             bool guard, const LogSink& log) {
  const AccelSpec& a = *spec.accel;
  // "loaders": roots staged before StageAccelerator provided the host tools'
  // loader lack it; they must not be found again.
  std::string id = "accelerated root " + std::to_string(crossfarm::kAccelVersion) + " loaders" + (guard ? " guard" : "") +
                   (a.substitute_tools ? " tools" : "") + (a.distcc ? " distcc" : "") + "\n";
  for (const auto& in : spec.inputs) id += in.root.ToString() + (in.accelerator ? " accelerator\n" : "\n");
  for (const auto& t : a.host_tools) id += "tool " + t + "\n";
  for (const auto& p : a.host_paths) id += "path " + p + "\n";
  id += a.cc + " " + a.cxx + " " + a.triplet + "\n";
  bool staged_now = false;
  // The note is the summary for the job's log.
  CF_ASSIGN_OR_RETURN(auto root, StagedOnce(id, [&](const std::string& dir) -> Result<std::string> {
    staged_now = true;
    std::vector<std::string> checkouts;
    for (const auto& in : spec.inputs) {
      if (in.accelerator) continue;
      CF_ASSIGN_OR_RETURN(std::string c, Checkout(in.root));
      checkouts.push_back(std::move(c));
    }
    // Its overlaps were reported for the plain root already.
    CF_TRY(StageArtifacts(dir, checkouts, StageMode::kHardLink));
    CF_ASSIGN_OR_RETURN(AccelStageReport staged, StageAccelerator(dir, accel_checkout, a, guard));
    if (!staged.unusable.empty()) {
      // Nothing of it is built in: only the verdict is kept (the note), so
      // the next job with these inputs learns it without staging again.
      CF_TRY(RemoveTree(dir));
      CF_TRY(MakeDirs(dir));
      return std::string(kUnusableRoot) + staged.unusable;
    }
    std::string summary = std::to_string(staged.added) + " host paths added";
    if (!staged.loader_paths.empty()) {
      summary += " (for the host tools' loader:";
      for (const auto& p : staged.loader_paths) summary += " " + p;
      summary += ")";
    }
    if (a.substitute_tools)
      summary += ", " + std::to_string(staged.replaced.size()) + " host tools replace the root's";
    for (const auto& r : staged.refused)
      AppendLog(log, "# crossfarm: warning: host tool " + r + " reports the machine: kept the root's\n");
    if (a.distcc) {
      CF_ASSIGN_OR_RETURN(std::string masq, InstallDistccMasquerade(dir, DistccCompilerNames(a)));
      if (!masq.empty()) summary += ", distcc masquerade links";
    }
    return summary;
  }));
  if (!staged_now && !root.note.starts_with(kUnusableRoot)) root.note += " (staged root reused)";
  return root;
}

Result<std::unique_ptr<AccelRun>> JobRunner::SetUpAccel(const JobSpec& spec, PreparedSandbox& prepared,
                                                        const ArchInfo& arch, const LogSink& log) {
  const AccelSpec& a = *spec.accel;
  // What `crossfarm show` reports of this run (docs/acceleration.md).
  AccelRunNote show_note;
  auto record = [&] {
    if (auto blob = cas_.Put(EncodeAccelRunNote(show_note))) {
      proto::RefInfo info;
      info.root = *blob;
      info.element = spec.element;
      info.worker = options_.worker_name;  // signed with it: a pinned name must match
      (void)cas_.PutRef(AccelProbeRef(spec.cache_key), info);
    }
  };
  auto off = [&](const std::string& why) -> Result<std::unique_ptr<AccelRun>> {
    AppendLog(log, "# crossfarm: warning: not accelerated: " + why + "\n");
    show_note.unaccelerated = why;
    record();
    auto plain = std::make_unique<AccelRun>();
    plain->unaccelerated = why;
    return plain;
  };
  auto input = std::ranges::find_if(spec.inputs, [](const StagedArtifact& in) { return in.accelerator; });
  if (input == spec.inputs.end()) return off("the job names no accelerator artifact");
  CF_ASSIGN_OR_RETURN(const ArchInfo* host, LookupArch(a.host_arch));
  if (!RunsNatively(HostArch(), *host))
    return off(input->element + " holds " + a.host_arch + " programs, this worker is " +
               std::string(HostArch().name));
  if (arch.name != a.target_arch)
    return off(input->element + " is for " + a.target_arch + " roots, this root is " +
               std::string(arch.name));
  if (spec.network && a.distcc)
    return off("the element asks for the network; a distcc pool needs the private one");
  if (prepared.spec.root_access != Access::kReadOnly)
    return off("the root is writable (integration commands): it is not shared, acceleration is not set up");
  auto run = std::make_unique<AccelRun>();
  CF_ASSIGN_OR_RETURN(std::string checkout, Checkout(input->root));
  // The accelerator's own sandbox root (probe, distccd), staged when needed.
  auto accel_root = [&]() -> Result<std::string> {
    if (!run->accel_root) {
      std::vector<std::string> one = {checkout};
      CF_ASSIGN_OR_RETURN(StagedRoot staged, StagedRoot::Create(prepared.dir.path(), one, StageMode::kHardLink));
      run->accel_root.emplace(std::move(staged));
    }
    return run->accel_root->path();
  };
  SandboxSpec& sb = prepared.spec;
  CF_ASSIGN_OR_RETURN(ProbeResult probe, CachedProbe(spec, sb.root, arch, accel_root, log.path));
  const std::string& note = probe.note;
  const bool guard = probe.dynamic_stack_differs;
  show_note.probe = note;
  record();
  AppendLog(log, "# crossfarm: compiler probe: " + note + "\n");
  if (!probe.same_code) return off(note);
  if (UsesGuardedFlag(spec, probe.guarded_flags)) {
    std::string flags;
    for (const auto& f : probe.guarded_flags) flags += f + " ";
    return off("the job uses a flag the two compilers treat differently (" + flags + ")");
  }

  CF_ASSIGN_OR_RETURN(auto accelerated, AcceleratedRoot(spec, checkout, guard, log));
  if (accelerated.note.starts_with(kUnusableRoot)) return off(accelerated.note.substr(kUnusableRoot.size()));
  sb.root = accelerated.path;
  run->root_lease = std::move(accelerated.lock);
  std::string summary = accelerated.note;
  if (a.substitute_tools)
    for (auto& [k, v] : MachineEnvironment(arch)) sb.SetEnv(k, v);
  // On one machine, with the cross compiler already native in the root,
  // distcc only adds a hop (and its split preprocessing changes debug info
  // columns): the pool is used where it adds cores, on other workers.
  bool use_distcc = a.distcc && (!a.substitute_tools || !a.remote_pool.empty());
  if (a.distcc && !use_distcc)
    summary += ", no distcc (the host tools compile natively; no pool members on other workers)";
  if (use_distcc) {
    auto net = PrivateNetwork::Create();
    if (!net) {
      AppendLog(log, "# crossfarm: warning: no distcc pool: " + net.error().ToString() + "\n");
    } else {
      run->network.emplace(std::move(*net));
      int jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
      CF_ASSIGN_OR_RETURN(std::string pool_root, accel_root());
      CF_ASSIGN_OR_RETURN(run->pool, DistccPool::Start(sandbox_, run->network->fd(), pool_root, a, jobs,
                                                       prepared.dir.path() + "/distccd.log", guard));
      // AcceleratedRoot installed the masquerade links where the root has the names.
      const std::string masq = "/usr/lib/crossfarm-distcc";
      std::error_code ec;
      if (!fs::is_directory(sb.root + masq, ec)) {
        AppendLog(log, "# crossfarm: warning: no distcc pool: the root has neither distcc nor a "
                       "compiler by the pool's names\n");
        run->pool.reset();
        run->network.reset();
      } else {
        std::string distcc_dir = prepared.dir.path() + "/distcc";
        CF_TRY(MakeDirs(distcc_dir));
        sb.AddBind(distcc_dir, "/crossfarm-distcc", Access::kReadWrite);
        for (auto& [k, v] : DistccEnvironment(*run->pool, "/crossfarm-distcc", guard)) sb.SetEnv(k, v);
        // Pool members on other workers come first: they add cores, the
        // local pool shares this machine's with the emulated build.
        std::string pool_key = options_.pool_key ? options_.pool_key->Get() : "";
        if (!a.remote_pool.empty() && pool_key.empty()) {
          AppendLog(log, "# crossfarm: warning: no pool members on other workers: this worker has "
                         "no distcc pool key from the scheduler yet\n");
        } else if (!a.remote_pool.empty()) {
          CF_ASSIGN_OR_RETURN(run->relay, PoolRelay::Start(run->network->fd(), a.remote_pool,
                                                           PoolHeader(input->root, a, guard), pool_key,
                                                           DistccPool::kPort + 1));
          sb.SetEnv("DISTCC_HOSTS", run->relay->hosts() + " " + run->pool->hosts());
          std::string names;
          for (const auto& m : a.remote_pool) names += (names.empty() ? "" : ", ") + m.worker + " (" + m.address + ")";
          summary += ", remote pool members " + names;
        }
        std::string path = "/usr/bin:/bin";
        for (const auto& [k, v] : sb.env)
          if (k == "PATH") path = v;
        sb.SetEnv("PATH", masq + ":" + path);
        // More jobs than cores: emulated preprocessing waits on the pool.
        sb.SetEnv("MAKEFLAGS", "-j" + std::to_string(std::max<uint32_t>(spec.max_jobs, 2u * jobs)));
        sb.network = Network::kCallerNamespace;
        summary += ", distcc pool of " + std::to_string(jobs) + " (" + run->pool->hosts() + ")";
      }
    }
  }
  AppendLog(log, "# crossfarm: accelerated by " + input->element + ": " + summary + "\n");
  return run;
}

Result<Digest> JobRunner::RunImport(const JobSpec& spec) {
  CF_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create(options_.work_dir, "import-"));
  std::string staged = dir.path() + "/sources", out = dir.path() + "/out";
  CF_TRY(MakeDirs(staged));
  CF_TRY(MakeDirs(out));
  CF_TRY(StageSources(spec, staged));
  fs::path from = fs::path(staged) / fs::path(spec.import_source).relative_path();
  fs::path to = fs::path(out) / fs::path(spec.import_target).relative_path();
  std::error_code ec;
  if (!fs::is_directory(from, ec))
    return Err(Status::BuildFailed(spec.element + ": import source directory '" +
                                   spec.import_source + "' does not exist in the sources"));
  fs::create_directories(to.parent_path(), ec);
  fs::remove(to, ec);  // an empty leaf from create_directories, if target is "/"
  if (::rename(from.c_str(), to.c_str()) != 0)
    return Err(Status::FromErrno("import " + spec.element, errno));
  return cas_.ImportTree(out);
}

Result<Digest> JobRunner::RunFilterOrCompose(const JobSpec& spec, const LogSink& log,
                                             const CancelToken* cancel) {
  CF_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create(options_.work_dir, "compose-"));
  std::vector<std::string> checkouts;
  for (const auto& in : spec.inputs) {
    CF_ASSIGN_OR_RETURN(std::string c, Checkout(in.root));
    checkouts.push_back(std::move(c));
  }
  std::string root = dir.path() + "/root", out = dir.path() + "/out";
  CF_TRY(MakeDirs(root));
  CF_TRY(MakeDirs(out));
  bool integrate = spec.kind == JobKind::kCompose && spec.integrate;
  CF_TRY(StageArtifacts(root, checkouts, integrate ? StageMode::kCopy : StageMode::kHardLink));
  if (integrate) {
    SandboxSpec sb;
    sb.root = root;
    sb.root_access = Access::kReadWrite;
    for (const auto& [k, v] : spec.environment) sb.SetEnv(k, v);
    for (const auto& in : spec.inputs) {
      if (in.integration_commands.empty()) continue;
      CF_ASSIGN_OR_RETURN(CommandsResult r,
                          sandbox_.RunCommands(sb, in.integration_commands, log,
                                               RunControl{.cancel = cancel}));
      if (!r.ok())
        return Err(r.ToStatus(in.integration_commands.size())
                       .WithContext(spec.element + " integration of " + in.element));
    }
  }
  std::map<std::string, size_t> owner;
  CF_TRY(IndexArtifactFiles(checkouts, owner));
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root, ec), end; it != end; it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) continue;
    std::string rel = "/" + it->path().lexically_relative(root).string();
    auto o = owner.find(rel);
    bool selected;
    if (o == owner.end() || !MatchesAnyDomain(rel, spec.inputs[o->second].split_rules)) {
      selected = spec.include_orphans;  // in no domain (or made by integration)
    } else {
      const auto& rules = spec.inputs[o->second].split_rules;
      selected = (spec.include_domains.empty() || InDomains(rel, spec.include_domains, rules)) &&
                 !InDomains(rel, spec.exclude_domains, rules);
    }
    if (selected) CF_TRY(CopyEntry(root, rel, out));
  }
  if (ec) return Err(Status::IOError("walk " + root + ": " + ec.message()));
  return cas_.ImportTree(out);
}

}  // namespace crossfarm::worker
