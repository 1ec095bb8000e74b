// Accelerators of emulated builds, as the project declares them
// (docs/acceleration.md).
//
// An element staged into a foreign-arch root (typically its base) names the
// accelerator in its public data:
//
//   public:
//     crossfarm:
//       accelerator: accel/cross.bst
//
// and the accelerator element (an import of host-arch packages) says what it
// offers:
//
//   public:
//     crossfarm:
//       accelerates:
//         target-arch: aarch64        # the root arch it speeds up
//         host-arch: x86_64           # the arch its executables run on
//         triplet: aarch64-linux-gnu  # what the cross compiler produces
//         cc: /usr/bin/aarch64-linux-gnu-gcc-12
//         c++: /usr/bin/aarch64-linux-gnu-g++-12   # optional
//         distcc: true                # has /usr/bin/distcc and /usr/bin/distccd
//         host-paths: [/usr/lib/x86_64-linux-gnu, /usr/lib/gcc-cross, ...]
//         host-tools: [/usr/bin/dash, /usr/bin/sed, /usr/bin/aarch64-linux-gnu-*]
//
// host-paths are added to the root where it has nothing (host-arch libraries
// and loader, the cross toolchain's own directories, distcc); host-tools
// replace files the root has (a glob matches against the accelerator's files).
// Project::LoadTargets resolves this for every element whose staged root
// declares an accelerator; the accelerator and the mode become part of the
// element's cache key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace crossfarm {

struct Element;

// Part of an accelerated element's key: raised whenever the worker's way of
// accelerating could change an output (e.g. which code the compiler guard
// sends to the root's own compiler), so older accelerated artifacts are not
// reused.
inline constexpr int kAccelVersion = 6;

// `--accel`: which accelerations a build may use.
enum class AccelMode {
  kAuto,       // everything the accelerator offers (default)
  kNone,       // plain emulation (`--no-accel`)
  kDistcc,     // only the distcc pool
  kHostTools,  // only host-arch tools (incl. the cross compiler) in the root
};

Result<AccelMode> ParseAccelMode(std::string_view text);
const char* AccelModeName(AccelMode mode);

// Paths a host-arch tool must never replace: they report the machine, and a
// build must see the sandbox's arch (config.guess, `uname -m`, dpkg).
bool IsMachineReportingTool(std::string_view path);

// The `accelerates:` mapping of an accelerator element.
struct AcceleratorInfo {
  std::string target_arch, host_arch;  // canonical arch names
  std::string triplet;
  std::string cc, cxx;
  bool distcc = false;
  std::vector<std::string> host_tools;  // absolute, machine-reporting ones refused
  std::vector<std::string> host_paths;  // absolute
};

// InvalidArgument with the element's file:line when the mapping is missing or
// malformed (unknown key, relative path, unknown arch, uname listed).
Result<AcceleratorInfo> ParseAcceleratorInfo(const Element& accelerator);

// The `crossfarm: accelerator:` name an element declares, or "".
// InvalidArgument for a malformed `crossfarm:` domain.
Result<std::string> DeclaredAccelerator(const Element& e);

// What an element's build gets: the accelerations both requested and offered,
// e.g. "distcc+host-tools", or "" for none.
std::string EffectiveAccel(AccelMode mode, const AcceleratorInfo& info);

// What `crossfarm show` says of an accelerated element's last build, as the
// worker records it under AccelProbeRef (common/job_spec.h): the compiler
// probe's finding, and why the job ran plainly emulated when it did.
struct AccelRunNote {
  std::string probe;          // "" when no probe ran
  std::string unaccelerated;  // "" when the job was accelerated
};
std::string EncodeAccelRunNote(const AccelRunNote& note);
// Also reads the notes of older workers, which hold the probe's finding only.
AccelRunNote DecodeAccelRunNote(std::string_view text);

// The distcc pool key (docs/acceleration.md, "A pool across machines"): the
// scheduler makes one, hands it to each worker that authenticated to it, and
// a worker's pool gateway lets in only relays that answer its nonce with
// PoolAuth of that key.
Result<std::string> NewPoolKey();  // 32 random bytes
// A key's public name, for heartbeats and logs: hex of the first 8 bytes of its SHA-256.
std::string PoolKeyId(std::string_view key);
// The answer to `nonce` for the request line `header` (no newline): hex HMAC-SHA256.
std::string PoolAuth(std::string_view key, std::string_view nonce, std::string_view header);

}  // namespace crossfarm
