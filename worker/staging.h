// Composes a sandbox root from checked-out artifact trees (BuildStream's
// "stage dependency artifacts").
//
// Directories and symlinks are recreated; regular files are hard-linked from the
// artifact tree (StageMode::kHardLink, falling back to a copy across file systems)
// or copied (StageMode::kCopy). Later artifacts overwrite earlier ones and every
// such overlap is reported, so the caller can warn like BuildStream's
// "overlaps" warning. A directory in a later artifact whose path is a symlink to
// a directory in the root (merged /usr: /lib -> usr/lib) is merged into the
// symlink's target, resolved inside the root, never on the host.
//
// Integrity (docs/sandbox.md): a hard-linked file shares its inode with the
// immutable artifact cache. Such a root must only ever be mounted read-only
// (SandboxSpec's default RootAccess::kReadOnly). Stage with kCopy for a root the
// sandbox may write (integration commands).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "worker/fs_util.h"

namespace crossfarm::worker {

enum class StageMode { kHardLink, kCopy };

// A path staged by more than one artifact: artifact `later` replaced what
// artifact `earlier` put there (indexes into the artifact list).
struct Overlap {
  std::string path;  // relative to the root, e.g. "usr/bin/sh"
  size_t earlier = 0;
  size_t later = 0;
};

struct StageReport {
  std::vector<Overlap> overlaps;
  // Paths of a later artifact that could not be staged because the root holds
  // a non-empty directory there (BuildStream ignores these too).
  std::vector<std::string> ignored;
  size_t files = 0;    // regular files staged (linked or copied)
  size_t copied = 0;   // of which copied
  size_t symlinks = 0;
  size_t dirs = 0;     // directories created
};

// Stages `artifacts` (directories, in order) into the existing directory `dest`.
// Errors: NotFound for a missing artifact dir, IOError with the path otherwise.
// Device nodes, fifos and sockets in an artifact are ignored (reported).
Result<StageReport> StageArtifacts(const std::string& dest,
                                   std::span<const std::string> artifacts, StageMode mode);

// A staged root in a TempDir: removed (chmod u+w, never following symlinks) when
// destroyed. Move-only.
class StagedRoot {
 public:
  // Creates a fresh directory below `parent` ("" = $TMPDIR) and stages into it.
  static Result<StagedRoot> Create(const std::string& parent,
                                   std::span<const std::string> artifacts, StageMode mode);

  const std::string& path() const { return dir_.path(); }
  const StageReport& report() const { return report_; }
  StageMode mode() const { return mode_; }

 private:
  StagedRoot(TempDir dir, StageReport report, StageMode mode)
      : dir_(std::move(dir)), report_(std::move(report)), mode_(mode) {}
  TempDir dir_;
  StageReport report_;
  StageMode mode_;
};

}  // namespace crossfarm::worker
