// `kind: bzr` (BuildStream 1.6's bzr.py): revision number `ref` of branch `track`
// of the Bazaar repository at `url` (the branch URL is `<url>/<track>`), through
// the host's `bzr` (Debian's brz). Mirror cache: <cache_dir>/bzr/<url-name>/ is a
// `bzr init-repo --no-trees` shared repository holding one branch per `track`.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>

#include "worker/source.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using namespace source_internal;

// brz writes its log under $HOME; the email only matters for commits (none here).
const std::vector<std::string> kBzrEnv = {"LC_ALL=C", "BRZ_EMAIL=crossfarm <crossfarm@invalid>"};

Result<std::string> Bzr(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"bzr"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunChecked(argv, "", kBzrEnv);
}

bool IsRevno(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// An exclusive flock on <mirror>.lock for the life of the object, as bst's
// _locked(): two sources of one repository never run bzr on it at once.
class MirrorLock {
 public:
  static Result<MirrorLock> Take(const std::string& path) {
    const int fd = open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd < 0) return Err(Status::FromErrno("open " + path, errno));
    while (flock(fd, LOCK_EX) != 0) {
      if (errno != EINTR) {
        const int err = errno;
        close(fd);
        return Err(Status::FromErrno("lock " + path, err));
      }
    }
    return MirrorLock(fd);
  }
  MirrorLock(MirrorLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  MirrorLock& operator=(MirrorLock&&) = delete;
  ~MirrorLock() {
    if (fd_ >= 0) close(fd_);  // closing releases the lock
  }

 private:
  explicit MirrorLock(int fd) : fd_(fd) {}
  int fd_;
};

class BzrSource final : public SourceBase {
 public:
  BzrSource(const Provenance& where, const SourceContext& ctx, std::string directory,
            std::string url, std::string track, std::optional<std::string> ref)
      : SourceBase(where, ctx, std::move(directory)),
        url_(std::move(url)),
        track_(std::move(track)),
        ref_(std::move(ref)) {}

  std::optional<std::string> Ref() const override {
    if (!ref_) return std::nullopt;
    // A revno names a revision only within its branch: the key names both.
    return "bzr url=" + url_ + " track=" + track_ + " revno=" + *ref_;
  }

  Result<YAML::Node> Track() override {
    CF_ASSIGN_OR_RETURN(MirrorLock lock, Lock());
    CF_TRY(UpdateMirror());
    auto revno = Bzr({"version-info", "--custom", "--template={revno}", BranchDir()});
    if (!revno) return Err(AtSource(revno.error()));
    const std::string ref = LastLine(*revno);
    if (!IsRevno(ref)) {
      return Err(Error("cannot read the revision number of " + BranchUrl() + ": " + *revno));
    }
    return YAML::Node(ref);
  }

  Status Fetch() override {
    if (!ref_) {
      return Error("bzr source " + BranchUrl() + " has no `ref:`",
                   "run `crossfarm source track` on this element to pin a revision number");
    }
    CF_ASSIGN_OR_RETURN(MirrorLock lock, Lock());
    if (HasRef()) return Status::Ok();
    CF_TRY(UpdateMirror());
    if (HasRef()) return Status::Ok();
    return Error("revision " + *ref_ + " is not in " + BranchUrl(),
                 "run `crossfarm source track` to pick the current revision of `track:`");
  }

  Status Stage(const std::string& dest) override {
    CF_TRY(Fetch());
    CF_ASSIGN_OR_RETURN(std::string dir, StageDir(dest));
    // bst stages a lightweight checkout whose .bzr points at bst's host mirror;
    // crossfarm exports the tree alone (no .bzr), next to the target, then
    // merges it in (earlier sources may have staged into the same directory).
    CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(dir, "bzr-stage"));
    const std::string work = tmp.path() + "/w";
    auto exported = Bzr({"export", "--quiet", "--revision=revno:" + *ref_, work, BranchDir()});
    if (!exported) return AtSource(exported.error());
    return MergeMove(work, dir);
  }

 private:
  std::string FullUrl() const { return ctx_.translate_url ? ctx_.translate_url(url_) : url_; }
  std::string BranchUrl() const { return FullUrl() + "/" + track_; }
  std::string MirrorDir() const { return ctx_.cache_dir + "/bzr/" + UrlDirName(url_); }
  std::string BranchDir() const { return MirrorDir() + "/" + track_; }

  Result<MirrorLock> Lock() const {
    CF_ASSIGN_OR_RETURN(std::string bzr_cache, CacheSubdir("bzr"));
    return MirrorLock::Take(MirrorDir() + ".lock");
  }

  bool HasRef() const {
    std::error_code ec;
    if (!fs::exists(BranchDir(), ec)) return false;
    auto r = RunProcess({"bzr", "revno", "--revision=revno:" + *ref_, BranchDir()}, "", kBzrEnv);
    return r && r->exit_code == 0;
  }

  // The shared repository, then a branch of <url>/<track> in it (pulled when it
  // exists). Call with the lock held.
  Status UpdateMirror() const {
    std::error_code ec;
    const std::string hint = "check `url:`, `track:` and the project's aliases";
    if (!fs::exists(MirrorDir() + "/.bzr", ec)) {
      auto made = Bzr({"init-repo", "--quiet", "--no-trees", MirrorDir()});
      if (!made) return AtSource(made.error());
    }
    if (!fs::exists(BranchDir(), ec)) {
      auto branched = Bzr({"branch", "--quiet", BranchUrl(), BranchDir()});
      return branched ? Status::Ok() : AtSource(branched.error(), hint);
    }
    auto pulled = Bzr({"pull", "--quiet", "--directory=" + BranchDir(), BranchUrl()});
    return pulled ? Status::Ok() : AtSource(pulled.error(), hint);
  }

  std::string url_;
  std::string track_;
  std::optional<std::string> ref_;
};

}  // namespace

Result<std::unique_ptr<Source>> MakeBzrSource(const YAML::Node& config, const Provenance& where,
                                              const SourceContext& ctx) {
  CF_TRY(CheckKeys(config, where, {"url", "track", "ref"}));
  CF_ASSIGN_OR_RETURN(std::string url, RequiredString(config, "url", where));
  // bst reads `track:` as required: the branch dir of the mirror is named by it.
  CF_ASSIGN_OR_RETURN(std::string track, RequiredString(config, "track", where));
  if (track.find("..") != std::string::npos || track.starts_with("/")) {
    return Err(UserError(At(where, config["track"]), "`track:` must be a branch path in " + url));
  }
  CF_ASSIGN_OR_RETURN(auto ref, OptionalString(config, "ref", where));
  if (ref && !IsRevno(*ref)) {
    return Err(UserError(At(where, config["ref"]),
                         "bzr `ref:` must be a revision number (e.g. 42)",
                         "run `crossfarm source track` to compute it"));
  }
  while (!url.empty() && url.back() == '/') url.pop_back();
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return std::make_unique<BzrSource>(where, ctx, directory.value_or(""), std::move(url),
                                     std::move(track), std::move(ref));
}

}  // namespace crossfarm::worker
