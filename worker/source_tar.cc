// `kind: tar` (BuildStream's tar.py): a tarball from a URL (aliases allowed),
// pinned by the sha256 of the tarball, unpacked below `base-dir` (default '*').
// Mirror cache layout: <cache_dir>/tar/<sha256>, content-addressed, so a tarball is
// downloaded once whatever URL or alias names it.
#include <filesystem>

#include "worker/archive.h"
#include "worker/http_fetch.h"
#include "worker/source.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using namespace source_internal;

bool IsSha256Hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

class TarSource final : public SourceBase {
 public:
  TarSource(const Provenance& where, const SourceContext& ctx, std::string directory,
            std::string url, std::optional<std::string> ref, std::string base_dir)
      : SourceBase(where, ctx, std::move(directory)),
        url_(std::move(url)),
        ref_(std::move(ref)),
        base_dir_(std::move(base_dir)) {}

  std::optional<std::string> Ref() const override {
    if (!ref_) return std::nullopt;
    return "tar sha256=" + *ref_ + " base-dir=" + base_dir_;
  }

  Result<YAML::Node> Track() override {
    CF_ASSIGN_OR_RETURN(std::string sha, Download(std::nullopt));
    return YAML::Node(sha);
  }

  Status Fetch() override {
    if (!ref_) {
      return Error("tar source " + url_ + " has no `ref:`",
                   "run `crossfarm source track` on this element to pin the tarball's sha256");
    }
    CF_ASSIGN_OR_RETURN(std::string dir, CacheSubdir("tar"));
    const std::string cached = dir + "/" + *ref_;
    std::error_code ec;
    if (fs::exists(cached, ec)) {
      CF_ASSIGN_OR_RETURN(std::string have, Sha256OfFile(cached));
      if (have == *ref_) return Status::Ok();
      fs::remove(cached, ec);  // a damaged mirror copy is downloaded again
    }
    auto downloaded = Download(*ref_);
    return downloaded ? Status::Ok() : downloaded.error();
  }

  Status Stage(const std::string& dest) override {
    CF_TRY(Fetch());
    CF_ASSIGN_OR_RETURN(std::string dir, StageDir(dest));
    const std::string cached = ctx_.cache_dir + "/tar/" + *ref_;
    auto base = FindBaseDir(cached, base_dir_);
    if (!base) {
      return AtSource(base.error(), "fix `base-dir:` (use '' to stage the whole tarball)");
    }
    return AtSource(ExtractArchive(cached, dir, {.strip_dir = *base}));
  }

 private:
  std::string FullUrl() const { return ctx_.translate_url ? ctx_.translate_url(url_) : url_; }

  // Downloads to a temp file, checks `expected` when given, then renames the file
  // into the mirror under its sha256. Returns the sha256.
  Result<std::string> Download(const std::optional<std::string>& expected) {
    CF_ASSIGN_OR_RETURN(std::string dir, CacheSubdir("tar"));
    CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(dir, "download"));
    const std::string url = FullUrl();
    const std::string tmp_file = tmp.path() + "/tarball";
    auto got = HttpDownload(url, tmp_file);
    if (!got) return Err(AtSource(got.error(), "check `url:` and the project's aliases"));
    if (expected && got->sha256 != *expected) {
      return Err(AtSource(
          Status::Corruption("tarball downloaded from " + url + " has sha256 " + got->sha256 +
                             ", but the element's ref expects " + *expected),
          "if the new tarball is trusted, run `crossfarm source track` to update the ref"));
    }
    std::error_code ec;
    fs::rename(tmp_file, dir + "/" + got->sha256, ec);
    if (ec) return Err(Status::IOError("store " + url + " in mirror: " + ec.message()));
    return got->sha256;
  }

  std::string url_;
  std::optional<std::string> ref_;
  std::string base_dir_;
};

}  // namespace

Result<std::unique_ptr<Source>> MakeTarSource(const YAML::Node& config, const Provenance& where,
                                              const SourceContext& ctx) {
  CF_TRY(CheckKeys(config, where, {"url", "ref", "base-dir"}));
  CF_ASSIGN_OR_RETURN(std::string url, RequiredString(config, "url", where));
  CF_ASSIGN_OR_RETURN(auto ref, OptionalString(config, "ref", where));
  if (ref && !IsSha256Hex(*ref)) {
    return Err(UserError(At(where, config["ref"]), "tar `ref:` must be a sha256 (64 lowercase hex digits)",
                         "run `crossfarm source track` to compute it"));
  }
  CF_ASSIGN_OR_RETURN(auto base_dir, OptionalString(config, "base-dir", where));
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return std::make_unique<TarSource>(where, ctx, directory.value_or(""), std::move(url),
                                     std::move(ref), base_dir.value_or("*"));
}

}  // namespace crossfarm::worker
