// File-system helpers for staged sandbox roots: a self-removing TempDir, a
// RemoveTree that never leaves the tree, and lookups that resolve symlinks inside
// a root (as the sandbox will see them) rather than on the host.
#pragma once

#include <ctime>
#include <string>
#include <string_view>

#include "common/status.h"
#include "worker/process.h"

namespace crossfarm::worker {

// Deletes `path` and everything below it. Never follows a symlink (a symlink is
// removed, not its target), never descends into another file system (a mount
// point below `path` is an error, left in place), and makes read-only
// directories writable first, so trees of 0555 dirs from the artifact cache go
// too. A missing `path` is OK.
Status RemoveTree(const std::string& path);

// BuildStream's deterministic mtime for staged sources (2011-11-11 11:11:11 UTC):
// every file gets the same time, so make never sees a generated file (aclocal.m4,
// configure) as older than its input just because of checkout order.
inline constexpr time_t kSourceMtime = 1321009871;

// Sets the mtime of `dir` and everything below it (symlinks themselves) to kSourceMtime.
Status SetDeterministicMtimes(const std::string& dir);

// A fresh directory (mkdtemp) removed with RemoveTree on destruction. Move-only.
class TempDir {
 public:
  // Creates "<parent>/<prefix>XXXXXX"; parent "" means $TMPDIR or /tmp.
  static Result<TempDir> Create(const std::string& parent = "",
                                std::string_view prefix = "crossfarm-");
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  // Removes the directory now; the destructor then does nothing.
  Status Remove();

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Opens `relative` (e.g. "bin/sh" or "/bin/sh") below `root` with
// openat2(RESOLVE_IN_ROOT): absolute symlinks and ".." resolve inside `root`, as
// they will inside the sandbox. `flags` are open(2) flags (O_CLOEXEC is added).
Result<UniqueFd> OpenInRoot(const std::string& root, std::string_view relative, int flags);

// mkdir -p of `relative` inside `root`, every component resolved inside `root`
// (an existing symlink /lib -> /usr/lib is followed to root/usr/lib).
// New directories get mode 0755. Fails if a component exists and is no directory.
Status MakeDirsInRoot(const std::string& root, std::string_view relative);

// Creates an empty regular file at `relative` inside `root` (parents included)
// unless something already exists there: a mount point for a file bind mount.
Status MakeFileInRoot(const std::string& root, std::string_view relative);

}  // namespace crossfarm::worker
