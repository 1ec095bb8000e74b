// Refs that `crossfarm source track` found newer than a project's own, kept in
// the user's cache instead of editing the project (docs/sources.md, "Tracking").
//
// Why: a project pins Debian packages by version, and Debian's mirror drops old
// versions at every point release. A user who follows a README on a fresh clone
// must be able to re-pin and build without a diff in their checkout; `--save`
// writes into the .bst files as bst's `track` does.
//
// An entry names an element, a source index and the ref it was tracked from
// (`base`, a digest of the element's own ref text). It applies only while the
// element's own ref is still that one: once the project is updated (a git pull
// with new pins, a hand edit), the project's ref wins again and the stale entry
// is ignored. So an entry can never override a ref it did not replace, and two
// copies of one project may share a cache.
//
// File: <cache-dir>/tracked-refs/<project-name>.yaml, replaced atomically
// under an flock so concurrent `source track` runs do not lose entries.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "common/node.h"
#include "common/status.h"

namespace crossfarm {

class TrackedRefs {
 public:
  struct Entry {
    std::string base;  // TrackedRefBase() of the element's own ref when tracked
    NodePtr ref;       // the ref to use instead (as `ref:` would hold it)
  };

  // Reads `path`; a missing file is an empty set. Errors name file:line.
  static Result<TrackedRefs> Load(const std::string& path);

  // The entry for source `index` (0-based) of `element` when it was tracked from
  // `base`; nullptr otherwise.
  const Entry* Find(const std::string& element, size_t index, const std::string& base) const;

  bool empty() const { return entries_.empty(); }
  const std::string& path() const { return path_; }

  // Read-modify-write of the file at `path` under an exclusive lock: `fn` gets
  // the current contents and edits them through Set/Erase.
  static Status Update(const std::string& path, const std::function<Status(TrackedRefs&)>& fn);

  void Set(const std::string& element, size_t index, std::string base, NodePtr ref);
  void Erase(const std::string& element, size_t index);

 private:
  using Key = std::pair<std::string, size_t>;
  Status Save() const;

  std::string path_;
  std::map<Key, Entry> entries_;
};

// The `base` of an element's own ref: a digest of its canonical text, or
// "none" when the element has no ref.
std::string TrackedRefBase(const std::optional<std::string>& ref_text);

}  // namespace crossfarm
