// The one git implementation of the source plugins: bst 1.6's `git` and
// buildstream-external's `git_tag` and `git_module` are the same GitSource
// with a GitConfig each (docs/sources.md). Mirrors, submodules, staging and
// refs live in worker/source_git.cc; tag tracking, the shallow fetch of an
// exact tag and the factories of git_tag/git_module in worker/source_git_tag.cc.
// Internal to the source plugins (worker/source_*.cc).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "worker/source.h"

namespace crossfarm::worker::git_internal {

// What the source's `submodules:` says about one path.
struct SubmoduleConfig {
  std::optional<std::string> url;
  std::optional<bool> checkout;
};

// The configuration of one git-family source, after validation.
struct GitConfig {
  std::string kind = "git";  // "git", "git_tag" or "git_module": messages and the key
  std::string url;
  std::optional<std::string> track, ref;
  bool describe = false;  // git's `ref-format: git-describe`
  bool checkout_submodules = true;
  std::map<std::string, SubmoduleConfig> submodules;
  // git_tag and git_module (buildstream-external 0.x):
  bool tag_tracking = false;  // track the git_tag way (describe, newest of the branches)
  bool track_tags = false;    // follow the latest tag of each branch, not its head
  std::vector<std::string> track_extra, match, exclude;
  bool full_clone = true;  // false: an exact tag ref (<tag>-0-g<sha>) is fetched shallow
  std::string module_path;  // git_module: staged at <directory>/<path>, tracked from
                            // the gitlink at that path of the earlier sources
};

// The commit of a ref: a 40-digit sha, or the git-describe form
// `<tag>-<n>-g<sha>`; "" when neither.
std::string CommitOfRef(const std::string& ref);
// `git ARGS` with a non-interactive environment; the output, or an error with its tail.
Result<std::string> Git(const std::vector<std::string>& args, const std::string& cwd = "");
// RunProcess of `git ARGS` (for commands whose failure is an answer).
Result<source_internal::ProcessResult> GitProcess(const std::vector<std::string>& args,
                                                  const std::string& cwd = "");
std::string Trimmed(std::string s);

// `submodules:` of a git-family source. UserError at the offending key.
Result<std::map<std::string, SubmoduleConfig>> ParseSubmodules(const YAML::Node& config,
                                                               const Provenance& where);
// The keys every git-family kind shares (url, track, ref, submodules,
// checkout-submodules) read into `out`; `kind` names the source in messages.
Status ParseCommonGitKeys(const YAML::Node& config, const Provenance& where, GitConfig& out);

// git_tag's tracking (bst-external GitTagMirror.latest_commit for each of
// [track] + track-extra, the newest commit wins): the new ref, described as
// `<tag>-<n>-g<sha>` when a tag reaches it; nullopt when `track-tags` finds no
// (matching) tag on any branch. `mirror_dir` is an up-to-date mirror.
Result<std::optional<std::string>> TrackGitTag(const GitConfig& config, const std::string& mirror_dir);
// git_module's tracking: the commit the gitlink at `path` pins in the git
// checkout `previous` (the earlier sources of the element).
Result<std::string> TrackGitModule(const std::string& previous, const std::string& path);
// Fetches just the tag of `ref` (exact form <tag>-0-g<sha>) from `url` with
// depth 1 into `into` (created atomically). False (no error) when the ref is
// not of that form or the remote does not advertise the tag at that commit:
// the caller falls back to a full mirror, as bst-external does.
Result<bool> FetchExactTagShallow(const std::string& url, const std::string& ref,
                                  const std::string& into);

// Builds a GitSource (worker/source_git.cc) from a validated config.
std::unique_ptr<Source> MakeGitFamilySource(const Provenance& where, const SourceContext& ctx,
                                            std::string directory, GitConfig config);

}  // namespace crossfarm::worker::git_internal
