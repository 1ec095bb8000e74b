// `kind: git` (BuildStream's git.py): a commit of a git repository. The mirror cache
// holds a `git clone --mirror` per URL (<cache_dir>/git/<url-name>); staging clones
// the mirror and checks the commit out (the .git directory is staged, as in bst 1.x,
// so that builds may run `git describe`).
#include <filesystem>

#include "common/digest.h"
#include "worker/source.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using namespace source_internal;

const std::vector<std::string> kGitEnv = {"GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=true",
                                          "LC_ALL=C"};

bool IsCommitSha(const std::string& s) {
  return s.size() == 40 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// A readable, collision-free directory name for a URL.
std::string UrlDirName(const std::string& url) {
  std::string name;
  for (char c : url) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (name.size() > 80) name = name.substr(name.size() - 80);
  return name + "-" + Sha256Hex(url).substr(0, 12);
}

Result<std::string> Git(const std::vector<std::string>& args, const std::string& cwd = "") {
  std::vector<std::string> argv = {"git"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunChecked(argv, cwd, kGitEnv);
}

class GitSource final : public SourceBase {
 public:
  GitSource(const Provenance& where, const SourceContext& ctx, std::string directory,
            std::string url, std::optional<std::string> track, std::optional<std::string> ref)
      : SourceBase(where, ctx, std::move(directory)),
        url_(std::move(url)),
        track_(std::move(track)),
        ref_(std::move(ref)) {}

  std::optional<std::string> Ref() const override {
    if (!ref_) return std::nullopt;
    return "git commit=" + *ref_;
  }

  Result<YAML::Node> Track() override {
    if (!track_) {
      return Err(Error("git source " + url_ + " has no `track:` branch to follow",
                       "add `track: <branch>` or pin `ref:` by hand"));
    }
    CF_TRY(UpdateMirror());
    auto sha = Git({"--git-dir", MirrorDir(), "rev-parse", "--verify", *track_ + "^{commit}"});
    if (!sha) {
      return Err(Error("branch '" + *track_ + "' not found in " + url_, "fix `track:`"));
    }
    while (!sha->empty() && std::isspace(static_cast<unsigned char>(sha->back()))) sha->pop_back();
    return YAML::Node(*sha);
  }

  Status Fetch() override {
    if (!ref_) {
      return Error("git source " + url_ + " has no `ref:`",
                   "run `crossfarm source track` on this element to pin a commit");
    }
    if (HasCommit()) return Status::Ok();
    CF_TRY(UpdateMirror());
    if (HasCommit()) return Status::Ok();
    return Error("commit " + *ref_ + " is not in " + url_,
                 "run `crossfarm source track` to pick the current commit of `track:`");
  }

  Status Stage(const std::string& dest) override {
    CF_TRY(Fetch());
    CF_ASSIGN_OR_RETURN(std::string dir, StageDir(dest));
    // Clone next to the target (same filesystem) and move the files in, so that a
    // non-empty `directory:` (earlier sources) is merged, not refused by git clone.
    CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(dir, "git-stage"));
    const std::string work = tmp.path() + "/w";
    auto cloned = Git({"clone", "--quiet", "--no-checkout", MirrorDir(), work});
    if (!cloned) return AtSource(cloned.error());
    auto checked_out = Git({"-C", work, "checkout", "--quiet", "--force", *ref_});
    if (!checked_out) return AtSource(checked_out.error());
    return MergeMove(work, dir);
  }

 private:
  std::string FullUrl() const { return ctx_.translate_url ? ctx_.translate_url(url_) : url_; }
  std::string MirrorDir() const { return ctx_.cache_dir + "/git/" + UrlDirName(url_); }

  bool HasCommit() const {
    std::error_code ec;
    if (!fs::exists(MirrorDir(), ec)) return false;
    auto r = RunProcess({"git", "--git-dir", MirrorDir(), "cat-file", "-e", *ref_ + "^{commit}"},
                        "", kGitEnv);
    return r && r->exit_code == 0;
  }

  // Clones the mirror (atomically: into a temp dir, then renamed) or fetches into it.
  Status UpdateMirror() {
    CF_ASSIGN_OR_RETURN(std::string git_dir, CacheSubdir("git"));
    std::error_code ec;
    const std::string hint = "check `url:` and the project's aliases";
    if (fs::exists(MirrorDir(), ec)) {
      auto fetched = Git({"--git-dir", MirrorDir(), "fetch", "--quiet", "--prune", FullUrl(),
                          "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"});
      return fetched ? Status::Ok() : AtSource(fetched.error(), hint);
    }
    CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(git_dir, "clone"));
    const std::string into = tmp.path() + "/mirror.git";
    auto cloned = Git({"clone", "--quiet", "--mirror", FullUrl(), into});
    if (!cloned) return AtSource(cloned.error(), hint);
    fs::rename(into, MirrorDir(), ec);
    if (ec && !fs::exists(MirrorDir())) {
      return Status::IOError("store git mirror " + MirrorDir() + ": " + ec.message());
    }
    return Status::Ok();
  }

  std::string url_;
  std::optional<std::string> track_;
  std::optional<std::string> ref_;
};

}  // namespace

Result<std::unique_ptr<Source>> MakeGitSource(const YAML::Node& config, const Provenance& where,
                                              const SourceContext& ctx) {
  CF_TRY(CheckKeys(config, where, {"url", "track", "ref"}));
  CF_ASSIGN_OR_RETURN(std::string url, RequiredString(config, "url", where));
  CF_ASSIGN_OR_RETURN(auto track, OptionalString(config, "track", where));
  CF_ASSIGN_OR_RETURN(auto ref, OptionalString(config, "ref", where));
  if (ref && !IsCommitSha(*ref)) {
    return Err(UserError(At(where, config["ref"]), "git `ref:` must be a full 40-digit commit sha",
                         "run `crossfarm source track` to compute it"));
  }
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return std::make_unique<GitSource>(where, ctx, directory.value_or(""), std::move(url),
                                     std::move(track), std::move(ref));
}

}  // namespace crossfarm::worker
