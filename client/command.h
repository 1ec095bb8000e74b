// The CLI's subcommand table (ninja's "subtools come from one table").
//
// Each subcommand lives in its own client/<name>_command.cc and exposes one
// Add<Name>Command function that declares its options on a CLI11 subcommand and
// returns the action to run when that subcommand is chosen. main.cc only lists them.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace CLI {
class App;
}

namespace crossfarm::client {

// Exit codes: only main() maps Status to these (STYLE.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitBuildFailed = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitInterrupted = 130;

// Options accepted by every command (before or after the subcommand name).
struct GlobalOptions {
  std::string directory = ".";  // -C: project directory (where project.conf is)
  std::string arch;             // --arch: host and target
  std::string host_arch;        // --host-arch
  std::string target_arch;      // --target-arch
  std::vector<std::pair<std::string, std::string>> options;  // -o NAME VALUE
  std::string cache_dir;        // --cache-dir; default $XDG_CACHE_HOME/crossfarm
  std::string mirror_dir;       // --mirror-dir: source downloads; default <cache-dir>/sources
  std::string remote;           // --remote tcp://HOST:PORT (cluster mode)
  std::string remote_key;       // --remote-key sched.pub
  std::string key;              // --key client.key
  bool verbose = false;
  std::string accel = "auto";   // --accel auto|none|distcc|host-tools (--no-accel = none)

  // --cache-dir, else $XDG_CACHE_HOME/crossfarm, else ~/.cache/crossfarm.
  std::string CacheDir() const;
};

using Action = std::function<int()>;  // returns the process exit code

// Declares a subcommand on `app`; the returned action runs it (reads `g` then).
using AddCommandFn = Action (*)(CLI::App& app, const GlobalOptions& g);

// Prints a Status-like user error to stderr as "crossfarm: error: ...".
void PrintError(const std::string& message);

}  // namespace crossfarm::client
