// Runs commands in a bubblewrap sandbox described by a SandboxSpec, natively or,
// for a foreign root, through qemu-user registered with binfmt_misc (bwrap's
// arguments are the same either way; the kernel picks the interpreter).
//
// Before starting bwrap, Run: validates the spec, resolves the root's arch
// (spec.arch or the ELF header of the staged /bin/sh, symlinks resolved inside
// the root), checks the binfmt handler for a foreign arch (FailedPrecondition with
// the fix if missing), and creates the mount points inside the read-only root.
//
// Thread-safety: a Sandbox is immutable; Run may be called from many threads.
// bwrap's --die-with-parent is tied to the calling *thread*: keep the thread alive
// while Run blocks (it always does).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/arch.h"
#include "common/status.h"
#include "worker/binfmt.h"
#include "worker/process.h"
#include "worker/sandbox_spec.h"

namespace crossfarm::worker {

// Where the combined stdout+stderr of a sandboxed command goes. Both optional.
struct LogSink {
  std::string path;                                 // appended to, created 0644
  std::function<void(std::string_view)> callback;   // live streaming, calling thread
};

struct RunControl {
  std::chrono::milliseconds timeout{0};  // whole Run/RunCommands; 0 = none
  const CancelToken* cancel = nullptr;   // Cancel() kills the sandbox's process tree
};

struct CommandFailure {
  size_t index = 0;  // 0-based position in the command list
  std::string command;
  ExitInfo exit;
};

struct CommandsResult {
  size_t commands_run = 0;                // including the failed one
  std::optional<CommandFailure> failure;  // the first command that failed

  bool ok() const { return !failure.has_value(); }
  // OK, or BuildFailed "command 2 of 3 failed with exit code 3: make install"
  // (Cancelled for a cancelled run).
  Status ToStatus(size_t total) const;
};

// The arch of a staged root: the first ELF executable among /bin/sh,
// /usr/bin/sh, /bin/busybox, /usr/bin/env, /bin/bash, resolved inside `root`.
// FailedPrecondition if none is found or its e_machine is not in our table.
Result<const ArchInfo*> DetectRootArch(const std::string& root);

class Sandbox {
 public:
  struct Options {
    std::string bwrap = "bwrap";                        // path or PATH name
    std::string binfmt_dir = std::string(kBinfmtDir);   // for ProbeBinfmt
  };
  Sandbox() = default;
  explicit Sandbox(Options options) : options_(std::move(options)) {}

  // spec.arch, or DetectRootArch(spec.root).
  Result<const ArchInfo*> ResolveArch(const SandboxSpec& spec) const;

  // Runs `argv` (inside the sandbox) to completion. Errors are about the
  // sandbox (bad spec, no binfmt handler, bwrap missing); how the command ended
  // is in ExitInfo (bwrap's own setup failures exit 1 with a message in the log).
  Result<ExitInfo> Run(const SandboxSpec& spec, const std::vector<std::string>& argv,
                       const LogSink& log, const RunControl& control = {}) const;

  // BuildStream's way: each command as `sh -c -e '<cmd>'`, in order, stopping at
  // the first that fails. The log gets a "# crossfarm: running command i/n" line
  // before each command.
  Result<CommandsResult> RunCommands(const SandboxSpec& spec,
                                     const std::vector<std::string>& commands,
                                     const LogSink& log, const RunControl& control = {}) const;

  // `crossfarm shell`: inherits our stdin/stdout/stderr (a tty), no new session,
  // stays in our process group; runs `sh -i` if `argv` is empty. Like system(3),
  // this process ignores SIGINT/SIGQUIT while the shell runs (process-wide).
  Result<ExitInfo> RunInteractive(SandboxSpec spec, std::vector<std::string> argv = {}) const;

 private:
  Status Prepare(const SandboxSpec& spec) const;
  std::vector<std::string> Command(const SandboxSpec& spec,
                                   const std::vector<std::string>& argv) const;
  Options options_;
};

}  // namespace crossfarm::worker
