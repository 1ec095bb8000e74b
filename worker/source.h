// Source plugins: fetch, track and stage the `sources:` of an element, with
// BuildStream 1.6 behaviour for its core kinds (local, tar, zip, remote, patch,
// git, bzr, ostree, pip, deb with `url:`), plus crossfarm's own `deb` (binary
// packages of any arch through the host's apt) and `debian-source`.
// docs/sources.md is the user reference (keys, ref formats, mirror cache layout).
//
// Contract for every kind:
//   - Construction (MakeSource) validates the config: unknown keys and bad values
//     are UserErrors naming the element file:line and the fix.
//   - Ref() is the canonical text that goes into the element's cache key. It covers
//     the pinned ref and every config key that changes the staged files.
//   - Fetch() makes the content available in ctx.cache_dir (downloaded once, verified
//     against the ref, never stored when the verification fails).
//   - Stage() writes into dest (which exists), under the source's `directory:`.
// Sources are not thread-safe; distinct Source objects may run concurrently as long
// as they do not Fetch the same content at the same moment (renames are atomic, so
// the worst case is a duplicate download).
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/arch.h"
#include "common/provenance.h"
#include "common/status.h"

namespace crossfarm::worker {

class PluginHostPool;

struct SourceContext {
  std::string project_dir;  // absolute
  // Project alias expansion ("gnu:hello-2.10.tar.gz" -> "https://..."); empty = identity.
  std::function<std::string(const std::string&)> translate_url;
  std::string cache_dir;  // mirror cache: downloads kept here, reused by later runs
  const ArchInfo* target_arch = nullptr;  // default arch of deb sources
  // Where the source's top-level keys are written (the element file, or
  // project.conf for source overrides). The loader's YAML tree has no marks,
  // so errors about a key or its value take the position from here; empty:
  // the YAML's own marks are used (YAML parsed from text).
  std::map<std::string, Provenance, std::less<>> key_where;
  // A kind of a local Python plugin (docs/plugins.md): its module, and the
  // hosts that run it (with network: fetch and track need it). "" = native.
  std::string python_module;
  std::shared_ptr<PluginHostPool> python_hosts;
};

class Source {
 public:
  virtual ~Source() = default;
  // Canonical ref text (what goes in the cache key); nullopt = no ref yet.
  virtual std::optional<std::string> Ref() const = 0;
  // Computes a new ref from upstream (bst track); the node is what `ref:` becomes.
  virtual Result<YAML::Node> Track() = 0;
  // bst's BST_REQUIRES_PREVIOUS_SOURCES_TRACK (pip's requirements-files): tracking
  // reads files of the sources listed before this one.
  virtual bool TrackNeedsPreviousSources() const { return false; }
  // Track() with those earlier sources staged at `previous` (callers stage them
  // when TrackNeedsPreviousSources()); other kinds ignore the directory.
  virtual Result<YAML::Node> TrackWithPrevious(const std::string& /*previous*/) {
    return Track();
  }
  // Ensures the content is in the mirror cache (download once, verify the ref).
  virtual Status Fetch() = 0;
  // Writes the files into `dest` (must exist), under the `directory:` key if set.
  virtual Status Stage(const std::string& dest) = 0;
};

// Builds a source of `kind` from its YAML mapping (the whole `sources:` item,
// `kind` and `directory` included). `where` is the item's position in the .bst.
// InvalidArgument (UserError) for an unknown kind or a bad config.
Result<std::unique_ptr<Source>> MakeSource(const std::string& kind, const YAML::Node& config,
                                           const Provenance& where, const SourceContext& ctx);

// A source of a local Python plugin (ctx.python_module set), run by the plugin
// host; MakeSource builds one when the context names a module.
Result<std::unique_ptr<Source>> MakePythonSource(const std::string& kind, const YAML::Node& config,
                                                 const Provenance& where, const SourceContext& ctx);

// The kinds MakeSource builds, in table order. The loader's list
// (crossfarm::KnownSourceKinds, common/kind_defaults.cc) must hold the same kinds:
// tests/worker/source_kinds_test.cc checks that they agree.
std::vector<std::string_view> SourceKinds();

// Rewrites the `ref:` of source #source_index (0-based) in the .bst file, keeping
// every other byte of the file (comments, order, quoting) as it was. Inserts a
// `ref:` key when the source had none. NotFound / InvalidArgument on a bad file.
Status WriteRefToElementFile(const std::string& bst_path, size_t source_index,
                             const YAML::Node& new_ref);

// ---------------------------------------------------------------------------
// Helpers shared by the source plugins (worker/source_*.cc). Not for other users.
namespace source_internal {

// Common state every kind keeps: where it was declared, the context, `directory:`.
class SourceBase : public Source {
 public:
  SourceBase(const Provenance& where, const SourceContext& ctx, std::string directory)
      : where_(where), ctx_(ctx), directory_(std::move(directory)) {}

 protected:
  // dest/<directory>, created if missing.
  Result<std::string> StageDir(const std::string& dest) const;
  // UserError at the source's position.
  Status Error(std::string_view what, std::string_view fix = {}) const {
    return UserError(where_, what, fix);
  }
  // `s` with the source's position prefixed and a hint; keeps the code. Ok stays Ok.
  Status AtSource(const Status& s, std::string_view fix = {}) const;
  // "<cache_dir>/<kind>", created if missing.
  Result<std::string> CacheSubdir(std::string_view kind) const;

  Provenance where_;
  SourceContext ctx_;
  std::string directory_;
};

// Position of a YAML node inside the element file of `where`. A node without a
// mark that is a top-level key (or its value) of the config MakeSource is
// building takes that key's position from SourceContext::key_where.
Provenance At(const Provenance& where, const YAML::Node& node);
// UserError for keys of `config` not in `allowed` (kind and directory always are).
Status CheckKeys(const YAML::Node& config, const Provenance& where,
                 std::initializer_list<std::string_view> allowed);
// The scalar at `key`; nullopt when absent; UserError when not a scalar.
Result<std::optional<std::string>> OptionalString(const YAML::Node& config, std::string_view key,
                                                  const Provenance& where);
// The boolean at `key` (YAML true/false/yes/no); `fallback` when absent.
Result<bool> OptionalBool(const YAML::Node& config, std::string_view key, bool fallback,
                          const Provenance& where);
// The project-relative path at `key` (`local`, `patch`), normalised. A UserError
// at the key when it leads outside the project: absolute, "..", or through a
// symlink (any component, the last one too) resolving outside it, as bst 1.6's
// node_get_project_path refuses. `what` names it in the message ("local path").
Result<std::string> ProjectPath(const YAML::Node& config, std::string_view key,
                                const Provenance& where, const SourceContext& ctx,
                                std::string_view what);
// The scalar at `key`; UserError naming the key when missing.
Result<std::string> RequiredString(const YAML::Node& config, std::string_view key,
                                   const Provenance& where);

// Result of a child process run to completion.
struct ProcessResult {
  int exit_code = -1;  // 128+signal when killed by a signal
  std::string output;  // stdout and stderr, interleaved
};
// Runs argv (argv[0] looked up in PATH) in `cwd` ("" = current), stdin from
// /dev/null, with `env_extra` ("K=V") added. Error only when it cannot start.
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv, const std::string& cwd = "",
                                 const std::vector<std::string>& env_extra = {});
// RunProcess that turns a non-zero exit into Status::Unavailable/Internal with
// the command line and the tail of its output.
Result<std::string> RunChecked(const std::vector<std::string>& argv, const std::string& cwd = "",
                               const std::vector<std::string>& env_extra = {});

// A temp directory under `parent`, removed with its contents on destruction.
class TempDir {
 public:
  static Result<TempDir> Make(const std::string& parent, std::string_view prefix = "tmp");
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Moves every entry of `src` into `dst`, merging directories and replacing files.
Status MergeMove(const std::string& src, const std::string& dst);
// Copies a file or directory tree (symlinks as symlinks, modes kept) into dst.
Status CopyTree(const std::string& src, const std::string& dst);
// Debian control-file stanzas (apt-cache show/showsrc output): field -> value, the
// continuation lines of multi-line fields joined with '\n' (leading space dropped).
using ControlStanza = std::vector<std::pair<std::string, std::string>>;
std::vector<ControlStanza> ParseControlStanzas(std::string_view text);
// The value of `field` in the stanza ("" when absent).
std::string FieldOf(const ControlStanza& stanza, std::string_view field);

// A readable, collision-free directory name for a URL in the mirror cache (the
// URL's alphanumerics, the rest as '_', cut to 80, then 12 digits of its sha256).
std::string UrlDirName(const std::string& url);

// Last line of a command's output, trimmed ("" when none).
std::string LastLine(std::string_view output);

// Lowercase hex SHA-256 of a file.
Result<std::string> Sha256OfFile(const std::string& path);

}  // namespace source_internal
}  // namespace crossfarm::worker
