// Workspaces, as bst 1.6 has them (`bst workspace open/close/reset/list`): an
// element whose sources are replaced by a directory the user edits.
// docs/workspaces.md describes the behaviour; this header has the two pieces
// the loader needs.
//
// 1. The list of open workspaces is bst 1.6's own file,
//    <project>/.bst/workspaces.yml (format-version 3; 0-3 are read), so a
//    workspace opened with bst is open for crossfarm and the other way round:
//
//      format-version: 3
//      workspaces:
//        hello.bst:
//          path: ws/hello          # relative to the project directory when inside it
//          prepared: false         # bst's own build state, kept as read
//          running_files: {}
//
// 2. ScanWorkspace: the workspace's content as a sorted list of entries and a
//    key (a SHA-256 over them), which replaces the sources' refs in the cache
//    key. File digests are reused from a stat cache while a file's size,
//    mtime, ctime and inode are unchanged, so an unchanged tree is stat()ed,
//    not re-read.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/node.h"
#include "common/provenance.h"
#include "common/status.h"

namespace crossfarm {

inline constexpr int kWorkspaceFormatVersion = 3;  // bst 1.6's BST_WORKSPACE_FORMAT_VERSION

struct WorkspaceEntry {
  std::string element;  // full name ("j.bst:x.bst" for a subproject's element)
  std::string path;     // as stored: relative to the project directory when inside it
  bool prepared = false;  // bst's: its configure-commands ran in the directory
  NodePtr extra;          // bst's other keys (last_successful, running_files), kept as read
  Provenance where;       // the entry in workspaces.yml
};

class Workspaces {
 public:
  Workspaces() = default;
  // Reads <project_dir>/.bst/workspaces.yml; a missing file is no workspace.
  // Errors name file:line.
  static Result<Workspaces> Load(const std::string& project_dir);

  const std::vector<WorkspaceEntry>& entries() const { return entries_; }
  const WorkspaceEntry* Find(std::string_view element) const;
  // The entry's directory, absolute.
  std::string AbsolutePath(const WorkspaceEntry& w) const;
  std::string file() const { return project_dir_ + "/.bst/workspaces.yml"; }

  // Adds or replaces the entry of `element` at `directory` (absolute).
  void Open(const std::string& element, const std::string& directory);
  // False when `element` has no workspace.
  bool Close(std::string_view element);
  void SetPrepared(std::string_view element, bool prepared);
  // Writes the file (atomically replaced), creating .bst/ as bst does.
  Status Save() const;

 private:
  std::string project_dir_;
  std::vector<WorkspaceEntry> entries_;
};

// One path of a scanned workspace.
struct WorkspaceItem {
  enum class Type : char { kDirectory = 'd', kFile = 'f', kExecutable = 'x', kSymlink = 'l' };
  std::string path;    // relative, '/'-separated
  Type type = Type::kFile;
  Digest digest;       // files
  std::string target;  // symlinks
  int64_t mtime_ns = 0;
};

struct WorkspaceScan {
  std::vector<WorkspaceItem> items;  // sorted by path, directories before their content
  std::string key;                   // "sha256:HEX" over the items
  size_t files_hashed = 0;           // read and hashed this time
  size_t files_reused = 0;           // digest from the stat cache
};

// Scans `dir`. `stat_cache` is the file of the stat cache ("" = none; read if
// present, rewritten). InvalidArgument for a fifo, socket or device in the tree.
Result<WorkspaceScan> ScanWorkspace(const std::string& dir, const std::string& stat_cache);

// Where the stat cache of workspace `dir` lives under `cache_dir`
// (<cache_dir>/<sha256 of dir>.stat); "" when cache_dir is "".
std::string WorkspaceStatCache(const std::string& cache_dir, const std::string& dir);

// bst's normal name of an element: ".bst" dropped, '/' and ':' as '-'
// ("base/gcc.bst" -> "base-gcc"): the default workspace directory's name.
std::string ElementNormalName(std::string_view element);

}  // namespace crossfarm
