// qemu-user through the kernel's binfmt_misc: probing whether a foreign arch can
// run, and registering Debian's qemu-user-static handlers.
//
// bwrap runs a foreign root unchanged: the kernel sees a foreign ELF and runs the
// registered interpreter. The handler needs flag F ("fix binary"): the kernel
// opens the interpreter at registration time, so it works inside a sandbox whose
// root has no /usr/libexec/qemu-binfmt. We check this before starting bwrap
// instead of interpreting a failed exec.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/arch.h"
#include "common/status.h"

namespace crossfarm::worker {

inline constexpr std::string_view kBinfmtDir = "/proc/sys/fs/binfmt_misc";
inline constexpr std::string_view kBinfmtConfDir = "/usr/lib/binfmt.d";

struct BinfmtState {
  bool mounted = false;     // binfmt_misc is mounted (its "register" file exists)
  bool registered = false;  // an entry "qemu-<arch>" exists
  bool enabled = false;
  std::string flags;        // e.g. "POF"
  std::string interpreter;  // e.g. /usr/libexec/qemu-binfmt/aarch64-binfmt-P

  bool fix_binary() const { return flags.find('F') != std::string::npos; }
  // Mounted, registered, enabled and with flag F: bwrap can run the arch.
  bool usable() const { return mounted && registered && enabled && fix_binary(); }
};

// Parses a binfmt_misc entry file ("enabled\ninterpreter ...\nflags: POF\n...")
// into the registered/enabled/flags/interpreter fields (mounted stays false).
BinfmtState ParseBinfmtEntry(std::string_view text);

// The name of the entry for `arch`: "qemu-" + ArchInfo::qemu ("qemu-aarch64").
std::string BinfmtEntryName(const ArchInfo& arch);

// Reads `<dir>/qemu-<arch>`. A missing binfmt_misc or entry is not an error (the
// state says so); IOError only if an existing entry cannot be read.
Result<BinfmtState> ProbeBinfmt(const ArchInfo& arch, std::string_view dir = kBinfmtDir);

// OK if the host runs `arch` natively or its handler is usable; otherwise
// FailedPrecondition naming the arch, what is wrong and the fix
// (`crossfarm setup binfmt` or `crossfarm-worker --setup-binfmt`).
Status CheckArchRunnable(const ArchInfo& arch, std::string_view dir = kBinfmtDir);

// The archs of our table this host needs a qemu handler for (not native).
std::vector<const ArchInfo*> ForeignArchs();

// As root: mounts binfmt_misc at `dir` if needed, then for every foreign arch
// registers `<conf_dir>/qemu-<arch>.conf` (adding flag F if the file lacks it),
// enables a registered but disabled entry, and re-registers one without flag F.
// Idempotent. FailedPrecondition "qemu-user-static is not installed: apt-get
// install qemu-user-static" when a conf file or its interpreter is missing;
// PermissionDenied when not root.
Status SetupBinfmt(std::string_view dir = kBinfmtDir, std::string_view conf_dir = kBinfmtConfDir);

}  // namespace crossfarm::worker
