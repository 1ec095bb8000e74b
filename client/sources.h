// Element sources in the CAS: fetched once into the mirror cache, staged in
// declaration order (a patch applies to what the sources before it staged),
// imported as one tree under a ref named by the sources' own refs.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "cas/cas.h"
#include "common/element.h"
#include "common/project.h"
#include "worker/source.h"

namespace crossfarm::client {

// The source plugins of `e`, in order, with downloads under `mirror_dir`.
// UserErrors for bad configs. Needs no CAS (fetch and track don't).
Result<std::vector<std::unique_ptr<worker::Source>>> SourcePlugins(const Project& project,
                                                                   const Element& e,
                                                                   const std::string& mirror_dir);

// Fetches (into `mirror_dir`) and stages the sources of a junction element
// under <stage_root>/junctions/<hash of their refs>, once, and returns that
// directory: the subproject's files for Project (LoadOptions::stage_junction).
Result<std::string> StageJunction(const Element& junction, const std::string& mirror_dir,
                                  const std::string& stage_root);

// Tracks the sources of `elements` (bst's `track`) and prints, per source, what
// changed ("linux-libc-dev 6.1.192-2 -> 6.1.192-3"). New refs go into the
// user's tracked refs (common/tracked_refs.h) unless `save`, which writes them
// into the .bst files as bst does. `local` and `patch` sources are skipped.
// Returns the number of sources whose ref changed.
Result<size_t> TrackSources(const Project& project, const std::vector<Element*>& elements,
                            const std::string& mirror_dir, bool save);

// What changed between two refs of a source, one line each: per package for
// lists of `package:`/`version:` entries (deb, debian-source), else old -> new.
std::vector<std::string> DescribeRefChange(const Node* old_ref, const Node& new_ref);

class SourceCache {
 public:
  // `mirror_dir`: downloads; `work_dir`: scratch for staging.
  SourceCache(const Project& project, cas::Cas& cas, std::string mirror_dir, std::string work_dir);

  // The source plugins of `e`, in order. UserErrors for bad configs.
  Result<std::vector<std::unique_ptr<worker::Source>>> Plugins(const Element& e) const;
  // The CAS tree of the staged sources (nullopt when `e` has none), fetching
  // and staging on first use. Thread-safe for distinct elements.
  Result<std::optional<Digest>> Tree(const Element& e);
  // Fetches every source of `e` into the mirror cache.
  Status Fetch(const Element& e);
  // The arch this project was loaded for ("aarch64").
  std::string arch_name() const { return std::string(project_.arch().host->name); }

 private:
  const Project& project_;
  cas::Cas& cas_;
  std::string mirror_dir_, work_dir_;
};

}  // namespace crossfarm::client
