// buildstream-external 0.x's `git_tag` and `git_module` sources (docs/sources.md):
// the git source of worker/source_git.cc with git_tag's tracking (latest tag
// of each branch, `match:`/`exclude:` globs, the newest of `track` and
// `track-extra`), its shallow fetch of an exact tag unless `full-clone`, and
// git_module's tracking from the gitlink of the earlier sources.
#include <filesystem>
#include <regex>

#include "worker/source_git.h"

namespace crossfarm::worker {
namespace git_internal {

namespace fs = std::filesystem;
using namespace source_internal;

namespace {

// One candidate of git_tag's tracking: the ref and its commit time.
struct Candidate {
  std::string ref;
  long long time = 0;
};

// GitTagMirror.latest_commit of bst-external for one branch; nullopt when
// tags are tracked and none (matching) reaches the branch: bst-external then
// offers no candidate for it (not the branch head).
Result<std::optional<Candidate>> LatestCommit(const GitConfig& config, const std::string& mirror,
                               const std::string& branch) {
  std::vector<std::string> patterns;
  for (const auto& m : config.match) patterns.push_back("--match=" + m);
  for (const auto& x : config.exclude) patterns.push_back("--exclude=" + x);
  std::string target = branch;
  if (config.track_tags) {
    std::vector<std::string> args = {"--git-dir", mirror, "describe", "--tags", "--abbrev=0"};
    args.insert(args.end(), patterns.begin(), patterns.end());
    args.push_back(branch);
    CF_ASSIGN_OR_RETURN(ProcessResult tag, GitProcess(args));
    if (tag.exit_code != 0) return std::optional<Candidate>();
    target = Trimmed(tag.output);
  }
  auto sha = Git({"--git-dir", mirror, "rev-parse", "--verify", target + "^{commit}"});
  if (!sha) return Err(Status::NotFound("branch '" + branch + "' not found"));
  Candidate c{Trimmed(*sha)};
  // The closest tag as a prefix makes the ref readable: <tag>-<n>-g<sha>.
  std::vector<std::string> args = {"--git-dir", mirror, "describe", "--tags", "--abbrev=40",
                                   "--long"};
  args.insert(args.end(), patterns.begin(), patterns.end());
  args.push_back(c.ref);
  CF_ASSIGN_OR_RETURN(ProcessResult described, GitProcess(args));
  const std::string commit = c.ref;
  if (described.exit_code == 0) c.ref = Trimmed(described.output);
  CF_ASSIGN_OR_RETURN(std::string time,
                      Git({"--git-dir", mirror, "show", "-s", "--format=%ct", commit}));
  c.time = std::stoll(Trimmed(time));
  return std::optional<Candidate>(std::move(c));
}

Result<std::vector<std::string>> StringList(const YAML::Node& config, std::string_view key,
                                            const Provenance& where) {
  std::vector<std::string> out;
  const YAML::Node node = config[std::string(key)];
  if (!node.IsDefined() || node.IsNull()) return out;
  if (!node.IsSequence()) {
    return Err(UserError(At(where, node), "`" + std::string(key) + ":` must be a list of strings",
                         "e.g. `" + std::string(key) + ": [\"v*\"]`"));
  }
  for (const auto& item : node) {
    if (!item.IsScalar()) {
      return Err(UserError(At(where, node), "`" + std::string(key) + ":` must list strings"));
    }
    out.push_back(item.Scalar());
  }
  return out;
}

}  // namespace

Result<std::optional<std::string>> TrackGitTag(const GitConfig& config, const std::string& mirror_dir) {
  std::vector<std::string> branches = {*config.track};
  branches.insert(branches.end(), config.track_extra.begin(), config.track_extra.end());
  std::optional<Candidate> newest;
  for (const auto& branch : branches) {
    CF_ASSIGN_OR_RETURN(std::optional<Candidate> c, LatestCommit(config, mirror_dir, branch));
    // Python's max(): the first of equal times wins.
    if (c && (!newest || c->time > newest->time)) newest = std::move(c);
  }
  if (!newest) return std::optional<std::string>();
  return std::optional<std::string>(newest->ref);
}

Result<std::string> TrackGitModule(const std::string& previous, const std::string& path) {
  auto status = Git({"submodule", "status", "--", path}, previous);
  if (!status) {
    return Err(Status::NotFound("no git submodule at '" + path +
                                "' in the earlier sources: " + status.error().message()));
  }
  // " <sha> path (describe)", '-' before an uninitialised one, '+' a changed one.
  std::string line = Trimmed(*status);
  while (!line.empty() && (line[0] == ' ' || line[0] == '-' || line[0] == '+' || line[0] == 'U'))
    line.erase(0, 1);
  const std::string commit = line.substr(0, line.find(' '));
  if (commit.size() != 40 || CommitOfRef(commit).empty()) {
    return Err(Status::Internal("unexpected output of `git submodule status " + path +
                                "`: " + *status));
  }
  return commit;
}

Result<bool> FetchExactTagShallow(const std::string& url, const std::string& ref,
                                  const std::string& into) {
  static const std::regex kExact("(.+)-0-g([0-9a-f]{40})");
  std::smatch m;
  if (!std::regex_match(ref, m, kExact)) return false;
  const std::string tag = m[1], commit = m[2];
  std::error_code ec;
  if (fs::exists(into, ec)) return true;
  CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(fs::path(into).parent_path().string(), "tag"));
  const std::string git_dir = tmp.path() + "/mirror.git";
  CF_ASSIGN_OR_RETURN(std::string init, Git({"init", "--quiet", "--bare", git_dir}));
  CF_ASSIGN_OR_RETURN(std::string refs, Git({"ls-remote", url}));
  const bool advertised = refs.find(commit + "\trefs/tags/" + tag + "\n") != std::string::npos ||
                          refs.find(commit + "\trefs/tags/" + tag + "^{}\n") != std::string::npos;
  if (!advertised) return false;
  const std::string refspec = "+refs/tags/" + tag + ":refs/tags/" + tag;
  CF_ASSIGN_OR_RETURN(ProcessResult fetched,
                      GitProcess({"--git-dir", git_dir, "fetch", "--quiet", "--depth=1", url,
                                  refspec}));
  if (fetched.exit_code != 0) return false;  // e.g. a dumb HTTP server: full clone instead
  // A HEAD makes the bare repository clonable.
  CF_ASSIGN_OR_RETURN(std::string head,
                      Git({"--git-dir", git_dir, "update-ref", "HEAD", commit}));
  fs::rename(git_dir, into, ec);
  if (ec && !fs::exists(into)) {
    return Err(Status::IOError("store git mirror " + into + ": " + ec.message()));
  }
  return true;
}

namespace {

// The keys and checks git_tag and git_module share (bst-external
// AbstractGitTagSource.configure; git_module accepts fewer keys).
Result<GitConfig> ParseGitTagConfig(const YAML::Node& config, const Provenance& where,
                                    const std::string& kind) {
  GitConfig git;
  git.kind = kind;
  git.tag_tracking = true;
  CF_TRY(ParseCommonGitKeys(config, where, git));
  CF_ASSIGN_OR_RETURN(git.track_tags, OptionalBool(config, "track-tags", false, where));
  CF_ASSIGN_OR_RETURN(git.track_extra, StringList(config, "track-extra", where));
  CF_ASSIGN_OR_RETURN(git.match, StringList(config, "match", where));
  CF_ASSIGN_OR_RETURN(git.exclude, StringList(config, "exclude", where));
  CF_ASSIGN_OR_RETURN(bool full_clone, OptionalBool(config, "full-clone", false, where));
  git.full_clone = full_clone;
  CF_ASSIGN_OR_RETURN(bool lfs, OptionalBool(config, "use-lfs", false, where));
  if (lfs) {
    return Err(UserError(At(where, config["use-lfs"]),
                         "`use-lfs: true` is not supported by crossfarm's native " + kind,
                         "remove it (LFS files then stage as their pointer files)"));
  }
  return git;
}

}  // namespace
}  // namespace git_internal

Result<std::unique_ptr<Source>> MakeGitTagSource(const YAML::Node& config, const Provenance& where,
                                                 const SourceContext& ctx) {
  using namespace source_internal;
  CF_TRY(CheckKeys(config, where,
                   {"url", "track", "track-tags", "track-extra", "ref", "submodules",
                    "checkout-submodules", "match", "exclude", "full-clone", "use-lfs"}));
  CF_ASSIGN_OR_RETURN(git_internal::GitConfig git,
                      git_internal::ParseGitTagConfig(config, where, "git_tag"));
  if (!git.ref && !git.track) {
    return Err(UserError(where, "git_tag sources require a `ref:` and/or `track:`"));
  }
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return git_internal::MakeGitFamilySource(where, ctx, directory.value_or(""), std::move(git));
}

Result<std::unique_ptr<Source>> MakeGitModuleSource(const YAML::Node& config,
                                                    const Provenance& where,
                                                    const SourceContext& ctx) {
  using namespace source_internal;
  // bst-external's GitModuleSource takes only these (its ref always comes from
  // the superproject's gitlink, so it has no `track` and needs no ref yet).
  CF_TRY(CheckKeys(config, where, {"url", "ref", "full-clone", "use-lfs", "path"}));
  CF_ASSIGN_OR_RETURN(git_internal::GitConfig git,
                      git_internal::ParseGitTagConfig(config, where, "git_module"));
  CF_ASSIGN_OR_RETURN(std::string path, RequiredString(config, "path", where));
  // bst-external: an absolute path is taken relative to /.
  while (path.starts_with("/")) path.erase(0, 1);
  if (path.empty() || path == ".." || path.starts_with("../") ||
      path.find("/../") != std::string::npos) {
    return Err(UserError(At(where, config["path"]), "git_module `path:` must lead into the sources",
                         "give the submodule's path in the superproject, e.g. `path: lib/foo`"));
  }
  git.module_path = path;
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return git_internal::MakeGitFamilySource(where, ctx, directory.value_or(""), std::move(git));
}

}  // namespace crossfarm::worker
