// `kind: git` (BuildStream 1.6's git.py): a commit of a git repository and the
// submodules it pins. The mirror cache holds a `git clone --mirror` per URL
// (<cache_dir>/git/<url-name>); staging clones the mirror and checks the commit
// out (the .git directory is staged, as in bst 1.x, so that builds may run
// `git describe`), then clones each submodule's mirror into its path.
#include <filesystem>
#include <map>

#include "common/digest.h"
#include "worker/source.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using namespace source_internal;

const std::vector<std::string> kGitEnv = {"GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=true",
                                          "LC_ALL=C"};

bool IsHex40(std::string_view s) {
  return s.size() == 40 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// The commit of a ref: a 40-digit sha, or bst's git-describe form
// `<tag>-<n>-g<sha>` (ref-format: git-describe); "" when neither.
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

Result<std::string> Git(const std::vector<std::string>& args, const std::string& cwd = "") {
  std::vector<std::string> argv = {"git"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunChecked(argv, cwd, kGitEnv);
}

std::string Trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

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

// One repository URL and its mirror in the cache.
class GitMirror {
 public:
  GitMirror(std::string url, std::string full_url, std::string cache_dir)
      : url_(std::move(url)),
        full_url_(std::move(full_url)),
        dir_(cache_dir + "/git/" + UrlDirName(url_)) {}

  const std::string& url() const { return url_; }
  const std::string& dir() const { return dir_; }

  bool HasCommit(const std::string& commit) const {
    std::error_code ec;
    if (!fs::exists(dir_, ec)) return false;
    auto r = RunProcess({"git", "--git-dir", dir_, "cat-file", "-e", commit + "^{commit}"}, "",
                        kGitEnv);
    return r && r->exit_code == 0;
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

  // Ensures `commit` is in the mirror, fetching only when it is not.
  Status Ensure(const std::string& commit) const {
    if (HasCommit(commit)) return Status::Ok();
    CF_TRY(Update());
    if (HasCommit(commit)) return Status::Ok();
    return Status::NotFound("commit " + commit + " is not in " + url_);
  }

  // Clones the mirror into `path` (absent or empty) and checks `commit` out.
  Status Checkout(const std::string& commit, const std::string& path) const {
    auto cloned = Git({"clone", "--quiet", "--no-checkout", dir_, path});
    if (!cloned) return cloned.error();
    auto checked_out = Git({"-C", path, "checkout", "--quiet", "--force", commit});
    return checked_out ? Status::Ok() : checked_out.error();
  }

 private:
  std::string url_, full_url_, dir_;
};

// What the source's `submodules:` says about one path.
struct SubmoduleConfig {
  std::optional<std::string> url;
  std::optional<bool> checkout;
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
            std::string url, std::optional<std::string> track, std::optional<std::string> ref,
            bool describe, bool checkout_submodules,
            std::map<std::string, SubmoduleConfig> submodules)
      : SourceBase(where, ctx, std::move(directory)),
        mirror_(url, Translate(url), ctx.cache_dir),
        track_(std::move(track)),
        ref_(std::move(ref)),
        describe_(describe),
        checkout_submodules_(checkout_submodules),
        submodules_(std::move(submodules)) {}

  std::optional<std::string> Ref() const override {
    if (!ref_) return std::nullopt;
    std::string text = "git commit=" + CommitOfRef(*ref_) +
                       " checkout-submodules=" + (checkout_submodules_ ? "1" : "0");
    for (const auto& [path, config] : submodules_) {
      if (config.checkout) text += " submodule " + path + " checkout=" + (*config.checkout ? "1" : "0");
    }
    return text;
  }

  Result<YAML::Node> Track() override;
  Status Fetch() override;
  Status Stage(const std::string& dest) override;

 private:
  std::string Translate(const std::string& url) const {
    return ctx_.translate_url ? ctx_.translate_url(url) : url;
  }
  std::string Commit() const { return CommitOfRef(*ref_); }
  Status RequireRef() const;
  Result<std::vector<Submodule>> Submodules() const;
  Result<std::map<std::string, std::string>> GitmodulesPathsAndUrls() const;

  GitMirror mirror_;
  std::optional<std::string> track_;
  std::optional<std::string> ref_;
  bool describe_;
  bool checkout_submodules_;
  std::map<std::string, SubmoduleConfig> submodules_;
};

Result<YAML::Node> GitSource::Track() {
  CF_ASSIGN_OR_RETURN(std::string git_cache, CacheSubdir("git"));
  if (!track_) {
    return Err(Error("git source " + mirror_.url() + " has no `track:` branch to follow",
                     "add `track: <branch>` or pin `ref:` by hand"));
  }
  if (Status st = mirror_.Update(); !st.ok()) {
    return Err(AtSource(st, "check `url:` and the project's aliases"));
  }
  auto sha = Git({"--git-dir", mirror_.dir(), "rev-parse", "--verify", *track_ + "^{commit}"});
  if (!sha) {
    return Err(Error("branch '" + *track_ + "' not found in " + mirror_.url(), "fix `track:`"));
  }
  std::string ref = Trimmed(*sha);
  if (describe_) {
    // bst: `git describe --tags --abbrev=40 --long`; a commit no tag reaches
    // keeps the plain sha.
    auto described = RunProcess(
        {"git", "--git-dir", mirror_.dir(), "describe", "--tags", "--abbrev=40", "--long", ref},
        "", kGitEnv);
    if (described && described->exit_code == 0) ref = Trimmed(described->output);
  }
  return YAML::Node(ref);
}

Status GitSource::RequireRef() const {
  if (ref_) return Status::Ok();
  return Error("git source " + mirror_.url() + " has no `ref:`",
               "run `crossfarm source track` on this element to pin a commit");
}

Status GitSource::Fetch() {
  CF_TRY(RequireRef());
  CF_ASSIGN_OR_RETURN(std::string git_cache, CacheSubdir("git"));
  if (Status st = mirror_.Ensure(Commit()); !st.ok()) {
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
  CF_TRY(AtSource(mirror_.Checkout(Commit(), work)));
  for (const Submodule& sub : subs) {
    // As bst 1.6: a full clone of the submodule's mirror at its path (git left
    // an empty directory there), not a gitlink into the superproject's .git.
    CF_TRY(AtSource(sub.mirror.Checkout(sub.commit, work + "/" + sub.path)
                        .WithContext("submodule " + sub.path)));
  }
  return MergeMove(work, dir);
}

// path -> url of every submodule in .gitmodules at the pinned commit.
Result<std::map<std::string, std::string>> GitSource::GitmodulesPathsAndUrls() const {
  std::map<std::string, std::string> out;
  auto listed = RunProcess({"git", "--git-dir", mirror_.dir(), "config", "--blob",
                            Commit() + ":.gitmodules", "--get-regexp",
                            R"(^submodule\..*\.(path|url)$)"},
                           "", kGitEnv);
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
    const auto it = submodules_.find(path);
    const SubmoduleConfig config = it == submodules_.end() ? SubmoduleConfig{} : it->second;
    if (!config.checkout.value_or(checkout_submodules_)) continue;
    auto tree = Git({"--git-dir", mirror_.dir(), "ls-tree", Commit(), "--", path});
    if (!tree) return Err(AtSource(tree.error()));
    // "160000 commit <sha>\t<path>" for a submodule.
    const std::string entry = *tree;
    if (entry.size() < 53 || entry.compare(7, 7, "commit ") != 0) continue;
    const std::string commit = entry.substr(14, 40);
    const std::string url = config.url ? *config.url
                                       : ResolveSubmoduleUrl(Translate(mirror_.url()),
                                                             gitmodules_url);
    out.push_back({path, GitMirror(url, Translate(url), ctx_.cache_dir), commit});
  }
  return out;
}

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

}  // namespace

Result<std::unique_ptr<Source>> MakeGitSource(const YAML::Node& config, const Provenance& where,
                                              const SourceContext& ctx) {
  CF_TRY(CheckKeys(config, where,
                   {"url", "track", "ref", "submodules", "checkout-submodules", "ref-format"}));
  CF_ASSIGN_OR_RETURN(std::string url, RequiredString(config, "url", where));
  CF_ASSIGN_OR_RETURN(auto track, OptionalString(config, "track", where));
  CF_ASSIGN_OR_RETURN(auto ref, OptionalString(config, "ref", where));
  if (ref && CommitOfRef(*ref).empty()) {
    return Err(UserError(At(where, config["ref"]),
                         "git `ref:` must be a full 40-digit commit sha, or "
                         "<tag>-<n>-g<sha> (ref-format: git-describe)",
                         "run `crossfarm source track` to compute it"));
  }
  if (!ref && !track) {
    return Err(UserError(where, "git sources require a `ref:` and/or `track:`"));
  }
  CF_ASSIGN_OR_RETURN(auto format, OptionalString(config, "ref-format", where));
  if (format && *format != "sha1" && *format != "git-describe") {
    return Err(UserError(At(where, config["ref-format"]),
                         "unexpected value for ref-format: " + *format,
                         "use `sha1` (the default) or `git-describe`"));
  }
  CF_ASSIGN_OR_RETURN(bool checkout_submodules,
                      OptionalBool(config, "checkout-submodules", true, where));
  CF_ASSIGN_OR_RETURN(auto submodules, ParseSubmodules(config, where));
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return std::make_unique<GitSource>(where, ctx, directory.value_or(""), std::move(url),
                                     std::move(track), std::move(ref),
                                     format && *format == "git-describe", checkout_submodules,
                                     std::move(submodules));
}

}  // namespace crossfarm::worker
