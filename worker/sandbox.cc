#include "worker/sandbox.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "worker/fs_util.h"

namespace crossfarm::worker {

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kArchProbes[] = {"bin/sh", "usr/bin/sh", "bin/busybox", "usr/bin/env",
                                       "bin/bash"};

// Reads the ELF ident of `rel` inside `root`; NotFound if absent or not ELF.
Result<ElfIdent> ReadIdentInRoot(const std::string& root, const char* rel) {
  CF_ASSIGN_OR_RETURN(UniqueFd fd, OpenInRoot(root, rel, O_RDONLY));
  char buf[64];
  ssize_t n;
  do n = ::pread(fd.get(), buf, sizeof(buf), 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return Err(Status::FromErrno(root + " :: /" + rel, errno));
  return ParseElfIdent(std::string_view(buf, static_cast<size_t>(n)));
}

// Appends output to the log file and hands it to the callback.
class LogWriter {
 public:
  static Result<LogWriter> Open(const LogSink& sink) {
    LogWriter w(sink);
    if (!sink.path.empty()) {
      w.fd_.Reset(::open(sink.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
      if (!w.fd_.valid()) return Err(Status::FromErrno("open log " + sink.path, errno));
    }
    return w;
  }

  void Write(std::string_view data) {
    for (size_t off = 0; fd_.valid() && off < data.size();) {
      ssize_t n = ::write(fd_.get(), data.data() + off, data.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;  // a full disk must not kill the build; the status tells
      off += static_cast<size_t>(n);
    }
    if (sink_->callback) sink_->callback(data);
  }

 private:
  explicit LogWriter(const LogSink& sink) : sink_(&sink) {}
  const LogSink* sink_;
  UniqueFd fd_;
};

// Mount point for `dest` inside the root: bwrap cannot mkdir in a read-only root.
Status MakeMountPoint(const std::string& root, const MountOp& m) {
  struct stat st{};
  bool file = m.kind == MountKind::kBind && ::stat(m.source.c_str(), &st) == 0 &&
              !S_ISDIR(st.st_mode);
  return file ? MakeFileInRoot(root, m.dest) : MakeDirsInRoot(root, m.dest);
}

// The working directory must exist: in the writable mount it is under, or in
// the root when it is under no mount.
Status MakeCwd(const SandboxSpec& spec) {
  const MountOp* best = nullptr;
  for (const auto& m : spec.mounts) {
    bool under = spec.cwd == m.dest || spec.cwd.starts_with(m.dest + "/");
    if (under && (!best || m.dest.size() >= best->dest.size())) best = &m;
  }
  if (!best) return MakeDirsInRoot(spec.root, spec.cwd);
  if (best->kind == MountKind::kBind && best->access == Access::kReadWrite)
    return MakeDirsInRoot(best->source, spec.cwd.substr(best->dest.size()));
  return Status::Ok();
}

std::chrono::milliseconds Remaining(const RunControl& c, Clock::time_point start) {
  if (c.timeout.count() == 0) return c.timeout;
  auto left = c.timeout - std::chrono::duration_cast<std::chrono::milliseconds>(
                              Clock::now() - start);
  return std::max(left, std::chrono::milliseconds(1));
}

// Like system(3): while an interactive child owns the terminal, SIGINT and SIGQUIT
// from the keyboard are for it (it is in our process group), not for us.
class IgnoreTerminalSignals {
 public:
  IgnoreTerminalSignals() {
    struct sigaction ignore{};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGINT, &ignore, &old_int_);
    ::sigaction(SIGQUIT, &ignore, &old_quit_);
  }
  ~IgnoreTerminalSignals() {
    ::sigaction(SIGINT, &old_int_, nullptr);
    ::sigaction(SIGQUIT, &old_quit_, nullptr);
  }
  IgnoreTerminalSignals(const IgnoreTerminalSignals&) = delete;
  IgnoreTerminalSignals& operator=(const IgnoreTerminalSignals&) = delete;

 private:
  struct sigaction old_int_{};
  struct sigaction old_quit_{};
};

}  // namespace

Status CommandsResult::ToStatus(size_t total) const {
  if (!failure) return Status::Ok();
  std::string msg = fmt::format("command {} of {} failed with {}: {}", failure->index + 1, total,
                                failure->exit.Describe(), failure->command);
  if (failure->exit.cancelled) return Status::Cancelled(msg);
  return Status::BuildFailed(msg);
}

Result<const ArchInfo*> DetectRootArch(const std::string& root) {
  for (const char* probe : kArchProbes) {
    auto ident = ReadIdentInRoot(root, probe);
    if (!ident) continue;  // absent, a script or unreadable: try the next
    if (ident->arch) return ident->arch;
    return Err(Status::FailedPrecondition(fmt::format(
        "/{} in the sandbox root {} is an ELF file for machine {} (class {}), which "
        "crossfarm does not know\n  hint: set `sandbox: build-arch` on the element",
        probe, root, ident->machine, ident->elf_class)));
  }
  return Err(Status::FailedPrecondition(
      "cannot tell the arch of the sandbox root " + root +
      ": no ELF executable at /bin/sh, /usr/bin/sh, /bin/busybox, /usr/bin/env or /bin/bash"
      "\n  hint: stage a base system, or set `sandbox: build-arch` on the element"));
}

Result<const ArchInfo*> Sandbox::ResolveArch(const SandboxSpec& spec) const {
  if (spec.arch) return spec.arch;
  return DetectRootArch(spec.root);
}

Status Sandbox::Prepare(const SandboxSpec& spec) const {
  CF_TRY(ValidateSpec(spec));
  struct stat st{};
  if (::stat(spec.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::NotFound("sandbox root " + spec.root + " is not a directory");
  CF_ASSIGN_OR_RETURN(const ArchInfo* arch, ResolveArch(spec));
  CF_TRY(CheckArchRunnable(*arch, options_.binfmt_dir));
  for (const char* dir : {"proc", "dev", "tmp"}) CF_TRY(MakeDirsInRoot(spec.root, dir));
  for (const auto& m : spec.mounts) CF_TRY(MakeMountPoint(spec.root, m));
  return MakeCwd(spec);
}

std::vector<std::string> Sandbox::Command(const SandboxSpec& spec,
                                          const std::vector<std::string>& argv) const {
  std::vector<std::string> cmd = {options_.bwrap};
  auto args = BwrapArgs(spec);
  cmd.insert(cmd.end(), args.begin(), args.end());
  cmd.push_back("--");
  cmd.insert(cmd.end(), argv.begin(), argv.end());
  return cmd;
}

Result<ExitInfo> Sandbox::Run(const SandboxSpec& spec, const std::vector<std::string>& argv,
                              const LogSink& log, const RunControl& control) const {
  if (argv.empty()) return Err(Status::InvalidArgument("Sandbox::Run: empty command"));
  CF_TRY(Prepare(spec));
  CF_ASSIGN_OR_RETURN(LogWriter writer, LogWriter::Open(log));
  ProcessOptions p;
  p.argv = Command(spec, argv);
  p.timeout = control.timeout;
  p.cancel = control.cancel;
  p.on_output = [&writer](std::string_view d) { writer.Write(d); };
  return RunProcess(p);
}

Result<CommandsResult> Sandbox::RunCommands(const SandboxSpec& spec,
                                            const std::vector<std::string>& commands,
                                            const LogSink& log, const RunControl& control) const {
  CF_TRY(Prepare(spec));
  CF_ASSIGN_OR_RETURN(LogWriter writer, LogWriter::Open(log));
  const auto start = Clock::now();
  CommandsResult result;
  for (size_t i = 0; i < commands.size(); ++i) {
    writer.Write(fmt::format("# crossfarm: running command {}/{}: {}\n", i + 1, commands.size(),
                             commands[i]));
    ProcessOptions p;
    // BuildStream runs ['sh', '-c', '-e', cmd + '\n'].
    p.argv = Command(spec, {"sh", "-c", "-e", commands[i] + "\n"});
    p.timeout = Remaining(control, start);
    p.cancel = control.cancel;
    p.on_output = [&writer](std::string_view d) { writer.Write(d); };
    CF_ASSIGN_OR_RETURN(ExitInfo exit, RunProcess(p));
    ++result.commands_run;
    if (!exit.ok()) {
      writer.Write(fmt::format("# crossfarm: command {}/{} failed with {}\n", i + 1,
                               commands.size(), exit.Describe()));
      result.failure = CommandFailure{i, commands[i], exit};
      break;
    }
  }
  return result;
}

Result<ExitInfo> Sandbox::RunInteractive(SandboxSpec spec, std::vector<std::string> argv) const {
  spec.interaction = Interaction::kInteractive;
  if (argv.empty()) argv = {"sh", "-i"};
  CF_TRY(Prepare(spec));
  ProcessOptions p;
  p.argv = Command(spec, argv);
  p.stdio = StdioMode::kInherit;
  p.group = ProcessGroup::kInherit;  // the shell must stay the tty's foreground job
  IgnoreTerminalSignals guard;       // the child gets default dispositions back
  return RunProcess(p);
}

}  // namespace crossfarm::worker
