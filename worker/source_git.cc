// `kind: git` (BuildStream 1.6's git.py): a commit of a git repository and the
// submodules it pins. The mirror cache holds a `git clone --mirror` per URL
// (<cache_dir>/git/<url-name>); staging clones the mirror and checks the commit
// out (the .git directory is staged, as in bst 1.x, so that builds may run
// `git describe`), then clones each submodule's mirror into its path.
// buildstream-external's git_tag and git_module are this source with another
// GitConfig (worker/source_git.h); their tracking is in worker/source_git_tag.cc.
#include "worker/source_git.h"

#include <filesystem>
#include <map>

#include "common/digest.h"

namespace crossfarm::worker {
namespace git_internal {

namespace fs = std::filesystem;
using namespace source_internal;

namespace {

const std::vector<std::string> kGitEnv = {"GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=true",
                                          "LC_ALL=C"};

bool IsHex40(std::string_view s) {
  return s.size() == 40 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

std::string CommitOfRef(const std::string& ref) {
  if (IsHex40(ref)) return ref;
  const size_t g = ref.rfind("-g");
  if (g == std::string::npos || !IsHex40(std::string_view(ref).substr(g + 2))) return {};
  const size_t dash = ref.rfind('-', g - 1);
  if (dash == std::string::npos || dash == 0 || dash + 1 == g) return {};
  const std::string n = ref.substr(dash + 1, g - dash - 1);
  if (n.find_first_not_of("0123456789") != std::string::npos) return {};
  return ref.substr(g + 2);
}

Result<std::string> Git(const std::vector<std::string>& args, const std::string& cwd) {
  std::vector<std::string> argv = {"git"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunChecked(argv, cwd, kGitEnv);
}

Result<ProcessResult> GitProcess(const std::vector<std::string>& args, const std::string& cwd) {
  std::vector<std::string> argv = {"git"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProcess(argv, cwd, kGitEnv);
}

std::string Trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

namespace {

// A submodule URL relative to its superproject ("../lib.git") resolved as git
// does: against the superproject's URL.
std::string ResolveSubmoduleUrl(const std::string& super_url, const std::string& url) {
  if (!url.starts_with("./") && !url.starts_with("../")) return url;
  std::string base = super_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string rest = url;
  for (;;) {
    if (rest.starts_with("./")) {
      rest = rest.substr(2);
    } else if (rest.starts_with("../")) {
      rest = rest.substr(3);
      const size_t slash = base.find_last_of('/');
      base = slash == std::string::npos ? "" : base.substr(0, slash);
    } else {
      break;
    }
  }
  return base + "/" + rest;
}

// One repository URL and its mirrors in the cache: the full `clone --mirror`
// (<cache>/git/<url-name>) and, for git_tag without full-clone, the shallow
// fetch of one exact tag (<cache>/git/<name of url#ref>), as bst-external keeps them.
class GitMirror {
 public:
  GitMirror(std::string url, std::string full_url, std::string cache_dir)
      : url_(std::move(url)),
        full_url_(std::move(full_url)),
        cache_dir_(std::move(cache_dir)),
        dir_(cache_dir_ + "/git/" + UrlDirName(url_)) {}

  const std::string& url() const { return url_; }
  const std::string& dir() const { return dir_; }
  std::string ShallowDir(const std::string& ref) const {
    return cache_dir_ + "/git/" + UrlDirName(url_ + "#" + ref);
  }

  // The mirror that holds `commit`: the full one, else the shallow one of `ref`.
  std::optional<std::string> Holding(const std::string& commit, const std::string& ref) const {
    for (const std::string& dir : {dir_, ShallowDir(ref)}) {
      std::error_code ec;
      if (!fs::exists(dir, ec)) continue;
      auto r = GitProcess({"--git-dir", dir, "cat-file", "-e", commit + "^{commit}"});
      if (r && r->exit_code == 0) return dir;
    }
    return std::nullopt;
  }

  // Clones the mirror (atomically: into a temp dir, then renamed) or fetches into it.
  Status Update() const {
    std::error_code ec;
    if (fs::exists(dir_, ec)) {
      // `--`: a URL (from the project or a repository's .gitmodules) starting
      // with '-' is a repository to git, never an option such as --upload-pack.
      auto fetched = Git({"--git-dir", dir_, "fetch", "--quiet", "--prune", "--", full_url_,
                          "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"});
      return fetched ? Status::Ok() : fetched.error();
    }
    const std::string parent = fs::path(dir_).parent_path().string();
    CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(parent, "clone"));
    const std::string into = tmp.path() + "/mirror.git";
    auto cloned = Git({"clone", "--quiet", "--mirror", "--", full_url_, into});
    if (!cloned) return cloned.error();
    fs::rename(into, dir_, ec);
    if (ec && !fs::exists(dir_)) {
      return Status::IOError("store git mirror " + dir_ + ": " + ec.message());
    }
    return Status::Ok();
  }

  // Ensures the commit of `ref` is in a mirror, fetching only when it is not.
  // `shallow`: try the exact tag alone first (git_tag without full-clone).
  Status Ensure(const std::string& ref, bool shallow = false) const {
    const std::string commit = CommitOfRef(ref);
    if (Holding(commit, ref)) return Status::Ok();
    std::error_code ec;
    if (shallow && !fs::exists(dir_, ec)) {
      CF_ASSIGN_OR_RETURN(bool fetched, FetchExactTagShallow(full_url_, ref, ShallowDir(ref)));
      if (fetched && Holding(commit, ref)) return Status::Ok();
    }
    CF_TRY(Update());
    if (Holding(commit, ref)) return Status::Ok();
    return Status::NotFound("commit " + commit + " is not in " + url_);
  }

  // Clones the mirror holding `ref` into `path` (absent or empty) and checks it out.
  Status Checkout(const std::string& ref, const std::string& path) const {
    const std::string commit = CommitOfRef(ref);
    const std::string from = Holding(commit, ref).value_or(dir_);
    // --no-hardlinks: the build may write into the staged .git.
    auto cloned = Git({"clone", "--quiet", "--no-checkout", "--no-hardlinks", from, path});
    if (!cloned) return cloned.error();
    auto checked_out = Git({"-C", path, "checkout", "--quiet", "--force", commit});
    return checked_out ? Status::Ok() : checked_out.error();
  }

 private:
  std::string url_, full_url_, cache_dir_, dir_;
};

// A submodule to stage: its path, its mirror and the commit the superproject pins.
struct Submodule {
  std::string path;
  GitMirror mirror;
  std::string commit;
};

class GitSource final : public SourceBase {
 public:
  GitSource(const Provenance& where, const SourceContext& ctx, std::string directory,
            GitConfig config)
      : SourceBase(where, ctx, std::move(directory)),
        config_(std::move(config)),
        mirror_(config_.url, Translate(config_.url), ctx.cache_dir) {}

  std::optional<std::string> Ref() const override {
    const auto& ref = config_.ref;
    if (!ref) return std::nullopt;
    // git keys the commit; git_tag/git_module the ref as written, as
    // bst-external's get_unique_key does (a retagged commit is a new key).
    std::string text = config_.kind == "git" ? "git commit=" + CommitOfRef(*ref)
                                             : config_.kind + " ref=" + *ref;
    text += " checkout-submodules=" + std::string(config_.checkout_submodules ? "1" : "0");
    if (!config_.module_path.empty()) text += " path=" + config_.module_path;
    for (const auto& [path, sub] : config_.submodules) {
      if (sub.checkout) text += " submodule " + path + " checkout=" + (*sub.checkout ? "1" : "0");
    }
    return text;
  }

  Result<YAML::Node> Track() override;
  bool TrackNeedsPreviousSources() const override { return !config_.module_path.empty(); }
  Result<YAML::Node> TrackWithPrevious(const std::string& previous) override;
  Status Fetch() override;
  Status Stage(const std::string& dest) override;

 private:
  std::string Translate(const std::string& url) const {
    return ctx_.translate_url ? ctx_.translate_url(url) : url;
  }
  const std::string& PinnedRef() const { return *config_.ref; }
  std::string Commit() const { return CommitOfRef(*config_.ref); }
  std::string MirrorOfCommit() const { return mirror_.Holding(Commit(), PinnedRef()).value_or(""); }
  Status RequireRef() const;
  Result<std::vector<Submodule>> Submodules() const;
  Result<std::map<std::string, std::string>> GitmodulesPathsAndUrls() const;

  GitConfig config_;
  GitMirror mirror_;
};

Result<YAML::Node> GitSource::Track() {
  CF_ASSIGN_OR_RETURN(std::string git_cache, CacheSubdir("git"));
  if (!config_.track) {
    return Err(Error(config_.kind + " source " + mirror_.url() +
                         " has no `track:` branch to follow",
                     "add `track: <branch>` or pin `ref:` by hand"));
  }
  if (Status st = mirror_.Update(); !st.ok()) {
    return Err(AtSource(st, "check `url:` and the project's aliases"));
  }
  if (config_.tag_tracking) {
    auto ref = TrackGitTag(config_, mirror_.dir());
    if (!ref) return Err(AtSource(ref.error(), "fix `track:` / `track-extra:`"));
    // No candidate: bst keeps the ref it has (Source._track), or none (a null
    // node: `source track` leaves the element as it is).
    if (!*ref) return config_.ref ? YAML::Node(*config_.ref) : YAML::Node(YAML::NodeType::Null);
    return YAML::Node(**ref);
  }
  auto sha = Git({"--git-dir", mirror_.dir(), "rev-parse", "--verify", *config_.track + "^{commit}"});
  if (!sha) {
    return Err(Error("branch '" + *config_.track + "' not found in " + mirror_.url(),
                     "fix `track:`"));
  }
  std::string ref = Trimmed(*sha);
  if (config_.describe) {
    // bst: `git describe --tags --abbrev=40 --long`; a commit no tag reaches
    // keeps the plain sha.
    auto described = GitProcess(
        {"--git-dir", mirror_.dir(), "describe", "--tags", "--abbrev=40", "--long", ref});
    if (described && described->exit_code == 0) ref = Trimmed(described->output);
  }
  return YAML::Node(ref);
}

Result<YAML::Node> GitSource::TrackWithPrevious(const std::string& previous) {
  if (config_.module_path.empty()) return Track();
  auto commit = TrackGitModule(previous, config_.module_path);
  if (!commit) {
    return Err(AtSource(commit.error(), "list the superproject (a git or git_tag source with "
                                        "the submodule at `path:`) before this source"));
  }
  return YAML::Node(*commit);
}

Status GitSource::RequireRef() const {
  if (config_.ref) return Status::Ok();
  return Error(config_.kind + " source " + mirror_.url() + " has no `ref:`",
               "run `crossfarm source track` on this element to pin a commit");
}

Status GitSource::Fetch() {
  CF_TRY(RequireRef());
  CF_ASSIGN_OR_RETURN(std::string git_cache, CacheSubdir("git"));
  if (Status st = mirror_.Ensure(PinnedRef(), !config_.full_clone); !st.ok()) {
    return AtSource(st, st.code() == StatusCode::kNotFound
                            ? "run `crossfarm source track` to pick the current commit of `track:`"
                            : "check `url:` and the project's aliases");
  }
  CF_ASSIGN_OR_RETURN(std::vector<Submodule> subs, Submodules());
  for (const Submodule& sub : subs) {
    if (Status st = sub.mirror.Ensure(sub.commit); !st.ok()) {
      return AtSource(st.WithContext("submodule " + sub.path),
                      "set its URL with `submodules: {" + sub.path + ": {url: ...}}`, or "
                      "`checkout: false` to leave it out");
    }
  }
  return Status::Ok();
}

Status GitSource::Stage(const std::string& dest) {
  CF_TRY(Fetch());
  CF_ASSIGN_OR_RETURN(std::string dir, StageDir(dest));
  CF_ASSIGN_OR_RETURN(std::vector<Submodule> subs, Submodules());
  // Clone next to the target (same filesystem) and move the files in, so that a
  // non-empty `directory:` (earlier sources) is merged, not refused by git clone.
  CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(dir, "git-stage"));
  const std::string work = tmp.path() + "/w";
  CF_TRY(AtSource(mirror_.Checkout(PinnedRef(), work)));
  for (const Submodule& sub : subs) {
    // As bst 1.6: a full clone of the submodule's mirror at its path (git left
    // an empty directory there), not a gitlink into the superproject's .git.
    CF_TRY(AtSource(sub.mirror.Checkout(sub.commit, work + "/" + sub.path)
                        .WithContext("submodule " + sub.path)));
  }
  if (config_.module_path.empty()) return MergeMove(work, dir);
  // git_module: the repository is the submodule at `path` of the earlier sources.
  const std::string at = (fs::path(dir) / config_.module_path).string();
  std::error_code ec;
  fs::create_directories(at, ec);
  if (ec) return Status::IOError("create " + at + ": " + ec.message());
  return MergeMove(work, at);
}

// path -> url of every submodule in .gitmodules at the pinned commit.
Result<std::map<std::string, std::string>> GitSource::GitmodulesPathsAndUrls() const {
  std::map<std::string, std::string> out;
  auto listed = GitProcess({"--git-dir", MirrorOfCommit(), "config", "--blob",
                            Commit() + ":.gitmodules", "--get-regexp",
                            R"(^submodule\..*\.(path|url)$)"});
  if (!listed) return Err(listed.error());
  if (listed->exit_code != 0) return out;  // no .gitmodules at that commit
  std::map<std::string, std::string> path_of, url_of;  // by submodule name
  size_t pos = 0;
  const std::string& text = listed->output;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    const size_t space = line.find(' ');
    if (space == std::string::npos) continue;
    const std::string key = line.substr(0, space), value = line.substr(space + 1);
    const size_t dot = key.rfind('.');
    const std::string name = key.substr(10, dot - 10);  // after "submodule."
    (key.substr(dot + 1) == "path" ? path_of : url_of)[name] = value;
  }
  for (const auto& [name, path] : path_of) out[path] = url_of[name];
  return out;
}

// bst 1.6's refresh_submodules: every submodule of .gitmodules that is checked
// out (per-path `checkout:`, else `checkout-submodules:`) and that the commit
// really pins (a gitlink in the tree; others are skipped, bst warns), with the
// URL from `submodules:` when given.
Result<std::vector<Submodule>> GitSource::Submodules() const {
  std::vector<Submodule> out;
  CF_ASSIGN_OR_RETURN(auto listed, GitmodulesPathsAndUrls());
  for (const auto& [path, gitmodules_url] : listed) {
    const auto it = config_.submodules.find(path);
    const SubmoduleConfig sub = it == config_.submodules.end() ? SubmoduleConfig{} : it->second;
    if (!sub.checkout.value_or(config_.checkout_submodules)) continue;
    auto tree = Git({"--git-dir", MirrorOfCommit(), "ls-tree", Commit(), "--", path});
    if (!tree) return Err(AtSource(tree.error()));
    // "160000 commit <sha>\t<path>" for a submodule.
    const std::string entry = *tree;
    if (entry.size() < 53 || entry.compare(7, 7, "commit ") != 0) continue;
    const std::string commit = entry.substr(14, 40);
    const std::string url = sub.url ? *sub.url
                                    : ResolveSubmoduleUrl(Translate(mirror_.url()),
                                                          gitmodules_url);
    out.push_back({path, GitMirror(url, Translate(url), ctx_.cache_dir), commit});
  }
  return out;
}

}  // namespace

Result<std::map<std::string, SubmoduleConfig>> ParseSubmodules(const YAML::Node& config,
                                                               const Provenance& where) {
  std::map<std::string, SubmoduleConfig> out;
  const YAML::Node node = config["submodules"];
  if (!node.IsDefined() || node.IsNull()) return out;
  if (!node.IsMap()) {
    return Err(UserError(At(where, node), "`submodules:` must map paths to {url, checkout}"));
  }
  for (const auto& kv : node) {
    const std::string path = kv.first.Scalar();
    const Provenance at = At(where, kv.first);
    if (!kv.second.IsMap()) {
      return Err(UserError(at, "submodule '" + path + "' must be a mapping",
                           "e.g. `" + path + ": {checkout: false}`"));
    }
    for (const auto& key : kv.second) {
      const std::string k = key.first.Scalar();
      if (k != "url" && k != "checkout") {
        return Err(UserError(At(where, key.first), "unknown submodule key '" + k + "'",
                             "allowed keys: url, checkout"));
      }
    }
    SubmoduleConfig sub;
    CF_ASSIGN_OR_RETURN(sub.url, OptionalString(kv.second, "url", at));
    if (kv.second["checkout"]) {
      CF_ASSIGN_OR_RETURN(bool checkout, OptionalBool(kv.second, "checkout", true, at));
      sub.checkout = checkout;
    }
    out[path] = sub;
  }
  return out;
}

Status ParseCommonGitKeys(const YAML::Node& config, const Provenance& where, GitConfig& out) {
  CF_ASSIGN_OR_RETURN(out.url, RequiredString(config, "url", where));
  CF_ASSIGN_OR_RETURN(out.track, OptionalString(config, "track", where));
  CF_ASSIGN_OR_RETURN(out.ref, OptionalString(config, "ref", where));
  if (out.ref && out.ref->empty()) out.ref.reset();  // bst-external: `ref: ''` is no ref
  if (out.ref && CommitOfRef(*out.ref).empty()) {
    return UserError(At(where, config["ref"]),
                     out.kind + " `ref:` must be a full 40-digit commit sha, or "
                                "<tag>-<n>-g<sha> (git describe --long --abbrev=40)",
                     "run `crossfarm source track` to compute it");
  }
  CF_ASSIGN_OR_RETURN(out.checkout_submodules,
                      OptionalBool(config, "checkout-submodules", true, where));
  CF_ASSIGN_OR_RETURN(out.submodules, ParseSubmodules(config, where));
  return Status::Ok();
}

std::unique_ptr<Source> MakeGitFamilySource(const Provenance& where, const SourceContext& ctx,
                                            std::string directory, GitConfig config) {
  return std::make_unique<GitSource>(where, ctx, std::move(directory), std::move(config));
}

}  // namespace git_internal

Result<std::unique_ptr<Source>> MakeGitSource(const YAML::Node& config, const Provenance& where,
                                              const SourceContext& ctx) {
  using namespace source_internal;
  using git_internal::GitConfig;
  CF_TRY(CheckKeys(config, where,
                   {"url", "track", "ref", "submodules", "checkout-submodules", "ref-format"}));
  GitConfig git;
  CF_TRY(git_internal::ParseCommonGitKeys(config, where, git));
  if (!git.ref && !git.track) {
    return Err(UserError(where, "git sources require a `ref:` and/or `track:`"));
  }
  CF_ASSIGN_OR_RETURN(auto format, OptionalString(config, "ref-format", where));
  if (format && *format != "sha1" && *format != "git-describe") {
    return Err(UserError(At(where, config["ref-format"]),
                         "unexpected value for ref-format: " + *format,
                         "use `sha1` (the default) or `git-describe`"));
  }
  git.describe = format && *format == "git-describe";
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return git_internal::MakeGitFamilySource(where, ctx, directory.value_or(""), std::move(git));
}

}  // namespace crossfarm::worker
