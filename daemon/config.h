// Settings of a daemon: command-line flags over a YAML config file over
// defaults (docs/operations.md "Configuration").
//
// Every option is both a flag (`--slots 4`) and a config key of the same name
// (`slots: 4`). The config file is a YAML mapping; an unknown key, a value of
// the wrong type or out of range is one InvalidArgument naming file:line:col
// and the fix, and the daemon does not start (on SIGHUP: the running settings
// are kept). Relative paths in the file are taken from the file's directory,
// relative path flags from the current directory; both become absolute here,
// so no later code depends on the cwd (common/path_flags.h).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace crossfarm::daemon {

enum class OptionKind {
  kString,
  kPath,       // made absolute
  kUrlOrPath,  // a URL with "://" kept as is, else a path
  kInt,        // within [min, max]
  kBool,       // a flag without value; true/false/yes/no in the file
  kList,       // a YAML sequence, or a comma list (flag)
};

struct OptionSpec {
  std::string name;  // "listen": flag --listen, key `listen:`
  OptionKind kind = OptionKind::kString;
  std::string help;
  std::string default_value;  // "" : unset
  bool required = false;
  int64_t min = 0, max = std::numeric_limits<int32_t>::max();
  // Read again on SIGHUP and applied to the running daemon; a change to any
  // other option is logged as needing a restart.
  bool reloadable = false;
};

class Settings {
 public:
  bool Has(const std::string& name) const { return values_.contains(name); }
  // "" when unset.
  const std::string& Str(const std::string& name) const;
  // Validated when loaded; 0 when unset.
  int64_t Int(const std::string& name) const;
  bool Bool(const std::string& name) const;
  std::vector<std::string> List(const std::string& name) const;
  // Where the value came from, for errors: "--slots", "/etc/crossfarm/worker.yaml:3:8"
  // or "default".
  std::string Where(const std::string& name) const;
  const std::string& config_file() const { return config_file_; }  // "" : none read
  // Names of the options whose value differs from `other`'s.
  std::vector<std::string> ChangedFrom(const Settings& other) const;

 private:
  friend class SettingsLoader;
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> where_;
  std::string config_file_;
};

// One load: `flags` (option name -> value as given, only the flags present on
// the command line) over the file at `config_path` over the defaults.
// `config_required`: the path came from --config, so a missing file is an
// error; the default path may be absent.
struct LoadRequest {
  const std::vector<OptionSpec>* options = nullptr;
  std::map<std::string, std::string> flags;
  std::string config_path;
  bool config_required = false;
};
Result<Settings> LoadSettings(const LoadRequest& request);

}  // namespace crossfarm::daemon
