// `kind: ostree` (BuildStream 1.6's ostree.py): commit `ref` (a checksum) of an
// OSTree repository at `url`, through the host's `ostree` CLI. `track` names the
// branch whose current commit `source track` pins; `gpg-key` (a project-relative
// file) makes pulls verify signatures. Mirror cache: <cache_dir>/ostree/<url-name>,
// an archive-mode repository with one remote per (URL, gpg-key).
#include <filesystem>

#include "common/digest.h"
#include "worker/source.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using namespace source_internal;

const std::vector<std::string> kOstreeEnv = {"LC_ALL=C"};

Result<std::string> Ostree(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ostree"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunChecked(argv, "", kOstreeEnv);
}

bool IsChecksum(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

class OstreeSource final : public SourceBase {
 public:
  OstreeSource(const Provenance& where, const SourceContext& ctx, std::string directory,
               std::string url, std::optional<std::string> track, std::optional<std::string> ref,
               std::optional<std::string> gpg_key)
      : SourceBase(where, ctx, std::move(directory)),
        url_(std::move(url)),
        track_(std::move(track)),
        ref_(std::move(ref)),
        gpg_key_(std::move(gpg_key)) {}

  std::optional<std::string> Ref() const override {
    if (!ref_) return std::nullopt;
    return "ostree commit=" + *ref_;
  }

  Result<YAML::Node> Track() override {
    if (!track_) {
      return Err(Error("ostree source " + url_ + " has no `track:` branch to follow",
                       "add `track: <branch>` or pin `ref:` by hand"));
    }
    CF_TRY(EnsureMirror());
    auto pulled = Ostree({"pull", "--repo", MirrorDir(), RemoteName(), *track_});
    if (!pulled) return Err(AtSource(pulled.error(), "check `url:` and `track:`"));
    auto commit = Ostree({"rev-parse", "--repo", MirrorDir(), RemoteName() + ":" + *track_});
    if (!commit) return Err(AtSource(commit.error()));
    const std::string ref = LastLine(*commit);
    if (!IsChecksum(ref)) return Err(Error("ostree rev-parse gave '" + ref + "'"));
    return YAML::Node(ref);
  }

  Status Fetch() override {
    if (!ref_) {
      return Error("ostree source " + url_ + " has no `ref:`",
                   "run `crossfarm source track` on this element to pin a commit");
    }
    // With a gpg-key every fetch pulls, which checks the signature even when
    // the commit is already in the mirror (an earlier unverified pull of the
    // same URL may have stored it; bst trusts any copy there). Cheap when the
    // objects are present.
    if (!gpg_key_ && HasCommit()) return Status::Ok();
    CF_TRY(EnsureMirror());
    auto pulled = Ostree({"pull", "--repo", MirrorDir(), RemoteName(), *ref_});
    if (!pulled) {
      return AtSource(pulled.error(),
                      "check `url:`; if the commit is gone upstream, run `crossfarm source "
                      "track` to pin the current commit of `track:`");
    }
    return HasCommit() ? Status::Ok() : Error("commit " + *ref_ + " is not in " + url_);
  }

  Status Stage(const std::string& dest) override {
    CF_TRY(Fetch());
    CF_ASSIGN_OR_RETURN(std::string dir, StageDir(dest));
    CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(dir, "ostree-stage"));
    const std::string work = tmp.path() + "/checkout";
    // --force-copy: never hardlinks into the mirror (a build editing a staged
    // file would otherwise edit the cache).
    auto checked_out = Ostree(
        {"checkout", "--repo", MirrorDir(), "--user-mode", "--force-copy", *ref_, work});
    if (!checked_out) return AtSource(checked_out.error());
    return MergeMove(work, dir);
  }

 private:
  std::string FullUrl() const { return ctx_.translate_url ? ctx_.translate_url(url_) : url_; }
  std::string MirrorDir() const { return ctx_.cache_dir + "/ostree/" + UrlDirName(url_); }

  bool HasCommit() const {
    std::error_code ec;
    if (!fs::exists(MirrorDir(), ec)) return false;
    auto r = RunProcess({"ostree", "show", "--repo", MirrorDir(), *ref_}, "", kOstreeEnv);
    return r && r->exit_code == 0;
  }

  // bst's ensure() + ensure_remote(): the archive repository (made in a temp dir
  // and renamed, so a half-made mirror is never seen) and the remote for the URL.
  Status EnsureMirror() const {
    CF_ASSIGN_OR_RETURN(std::string parent, CacheSubdir("ostree"));
    std::error_code ec;
    if (!fs::exists(MirrorDir(), ec)) {
      CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(parent, "init"));
      const std::string repo = tmp.path() + "/repo";
      auto made = Ostree({"init", "--repo", repo, "--mode", "archive-z2"});
      if (!made) return AtSource(made.error());
      auto free = Ostree({"config", "--repo", repo, "set", "core.min-free-space-percent", "0"});
      if (!free) return AtSource(free.error());
      fs::rename(repo, MirrorDir(), ec);
      if (ec && !fs::exists(MirrorDir())) {
        return Status::IOError("store ostree mirror " + MirrorDir() + ": " + ec.message());
      }
    }
    // One remote per (URL, gpg-key), added once, never changed: concurrent
    // pulls of one mirror never see a remote vanish, and a changed alias or key
    // gets a remote of its own (bst names remotes by URL too).
    std::vector<std::string> add = {"remote", "add", "--if-not-exists", "--repo", MirrorDir(),
                                    RemoteName(), FullUrl()};
    if (gpg_key_) {
      add.push_back("--gpg-import=" + ctx_.project_dir + "/" + *gpg_key_);
    } else {
      add.push_back("--no-gpg-verify");
    }
    auto added = Ostree(add);
    return added ? Status::Ok() : AtSource(added.error(), "check `url:` and `gpg-key:`");
  }

  std::string RemoteName() const {
    std::string key_text;
    if (gpg_key_) {
      auto key_sha = Sha256OfFile(ctx_.project_dir + "/" + *gpg_key_);
      key_text = key_sha ? *key_sha : *gpg_key_;
    }
    return "r" + Sha256Hex(FullUrl() + "\n" + key_text).substr(0, 16);
  }

  std::string url_;
  std::optional<std::string> track_;
  std::optional<std::string> ref_;
  std::optional<std::string> gpg_key_;
};

}  // namespace

Result<std::unique_ptr<Source>> MakeOstreeSource(const YAML::Node& config,
                                                 const Provenance& where,
                                                 const SourceContext& ctx) {
  CF_TRY(CheckKeys(config, where, {"url", "ref", "track", "gpg-key"}));
  CF_ASSIGN_OR_RETURN(std::string url, RequiredString(config, "url", where));
  CF_ASSIGN_OR_RETURN(auto track, OptionalString(config, "track", where));
  CF_ASSIGN_OR_RETURN(auto ref, OptionalString(config, "ref", where));
  if (ref && !IsChecksum(*ref)) {
    return Err(UserError(At(where, config["ref"]),
                         "ostree `ref:` must be a commit checksum (64 lowercase hex digits)",
                         "run `crossfarm source track` to compute it"));
  }
  if (!ref && !track) {
    return Err(UserError(where, "ostree sources require a `ref:` and/or `track:`"));
  }
  CF_ASSIGN_OR_RETURN(auto gpg_key, OptionalString(config, "gpg-key", where));
  if (gpg_key) {
    // bst's node_get_project_path(check_is_file=True): inside the project, a file.
    const fs::path rel(*gpg_key);
    std::error_code ec;
    if (rel.is_absolute() || gpg_key->find("..") != std::string::npos ||
        !fs::is_regular_file(fs::path(ctx.project_dir) / rel, ec)) {
      return Err(UserError(At(where, config["gpg-key"]),
                           "`gpg-key: " + *gpg_key + "` is not a file inside the project",
                           "give the path of an exported public key, relative to the project"));
    }
  }
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return std::make_unique<OstreeSource>(where, ctx, directory.value_or(""), std::move(url),
                                        std::move(track), std::move(ref), std::move(gpg_key));
}

}  // namespace crossfarm::worker
