// What a sandbox looks like, as data (bubblewrap's model: arguments become a list
// of setup operations). BwrapArgs renders a spec to bwrap's command line; it is
// pure, so unit tests check it without running anything.
//
// The rendered sandbox, in this order:
//   --die-with-parent [--new-session]       (no new session for interactive shells)
//   --unshare-all [--share-net] --unshare-user --uid U --gid G --cap-drop ALL
//   --hostname H
//   --ro-bind ROOT /   (or --bind ROOT / for RootAccess::kReadWrite)
//   --proc /proc --dev /dev --tmpfs /tmp
//   the spec's mounts, in order (build dir, install dir, extra binds)
//   --chdir CWD --clearenv --setenv K V ...   (the exact environment, in order)
// The caller appends "--" and the command argv.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/arch.h"
#include "common/status.h"

namespace crossfarm::worker {

enum class Access { kReadOnly, kReadWrite };
// kShared only if the element asks. kCallerNamespace: keep the network
// namespace of the thread that starts bwrap; for an accelerated job that is a
// private one with only loopback, shared with its distccd (worker/accel.h).
enum class Network { kNone, kShared, kCallerNamespace };
enum class Interaction { kBatch, kInteractive };  // kInteractive: crossfarm shell

enum class MountKind { kBind, kTmpfs };

// One mount after the root, /proc, /dev and /tmp. For kTmpfs, source is unused.
struct MountOp {
  MountKind kind = MountKind::kBind;
  std::string source;  // host path
  std::string dest;    // absolute path inside the sandbox
  Access access = Access::kReadOnly;
  friend bool operator==(const MountOp&, const MountOp&) = default;
};

struct SandboxSpec {
  // Host path of the staged root. Mounted read-only by default: staged files are
  // hard links into the artifact cache (docs/sandbox.md).
  std::string root;
  Access root_access = Access::kReadOnly;
  std::vector<MountOp> mounts;
  std::string cwd = "/";
  std::vector<std::pair<std::string, std::string>> env;  // the whole environment
  Network network = Network::kNone;
  Interaction interaction = Interaction::kBatch;
  std::string hostname = "crossfarm";
  // The uid/gid inside the sandbox (mapped to ours). 0 for builds, as bst;
  // distccd refuses to run as root.
  uint32_t uid = 0, gid = 0;
  // The root's arch; nullptr = detect from the staged executables (Sandbox).
  const ArchInfo* arch = nullptr;

  // Builders for the usual mounts; they append to `mounts` and return *this.
  SandboxSpec& AddBind(std::string source, std::string dest, Access access);
  SandboxSpec& AddTmpfs(std::string dest);
  // The element's writable build dir (e.g. /buildstream/<project>/<element>)
  // and install dir (/buildstream-install); also sets cwd to the build dir.
  SandboxSpec& SetBuildDir(std::string source, std::string dest);
  SandboxSpec& SetInstallDir(std::string source, std::string dest);
  SandboxSpec& SetEnv(std::string key, std::string value);  // replaces an existing key
};

// InvalidArgument when a path is not absolute, a dest is "/" or contains "..",
// an env key is empty or has '=', or the root is empty.
Status ValidateSpec(const SandboxSpec& spec);

// bwrap's arguments for `spec`, without the "bwrap" program name and without
// the trailing "--" and command.
std::vector<std::string> BwrapArgs(const SandboxSpec& spec);

}  // namespace crossfarm::worker
