#include "worker/source_download.h"

#include <filesystem>

#include "worker/http_fetch.h"

namespace crossfarm::worker::source_internal {

namespace fs = std::filesystem;

bool IsSha256Hex(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

Result<DownloadKeys> ParseDownloadKeys(const YAML::Node& config, const Provenance& where,
                                       std::string_view what) {
  DownloadKeys keys;
  CF_ASSIGN_OR_RETURN(keys.url, RequiredString(config, "url", where));
  CF_ASSIGN_OR_RETURN(keys.ref, OptionalString(config, "ref", where));
  if (keys.ref && !IsSha256Hex(*keys.ref)) {
    return Err(UserError(At(where, config["ref"]),
                         std::string(what) + " `ref:` must be a sha256 (64 lowercase hex digits)",
                         "run `crossfarm source track` to compute it"));
  }
  return keys;
}

Result<YAML::Node> DownloadableSource::Track() {
  CF_ASSIGN_OR_RETURN(std::string sha, Download(std::nullopt));
  return YAML::Node(sha);
}

Status DownloadableSource::Fetch() {
  if (!ref_) {
    return Error(subdir_ + " source " + url_ + " has no `ref:`",
                 "run `crossfarm source track` on this element to pin the " + what_ + "'s sha256");
  }
  CF_ASSIGN_OR_RETURN(std::string dir, CacheSubdir(subdir_));
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

// Downloads to a temp file, checks `expected` when given, then renames the file
// into the mirror under its sha256. Returns the sha256.
Result<std::string> DownloadableSource::Download(const std::optional<std::string>& expected) {
  CF_ASSIGN_OR_RETURN(std::string dir, CacheSubdir(subdir_));
  CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(dir, "download"));
  const std::string url = FullUrl();
  const std::string tmp_file = tmp.path() + "/file";
  auto got = HttpDownload(url, tmp_file);
  if (!got) return Err(AtSource(got.error(), "check `url:` and the project's aliases"));
  if (expected && got->sha256 != *expected) {
    return Err(AtSource(
        Status::Corruption(what_ + " downloaded from " + url + " has sha256 " + got->sha256 +
                           ", but the element's ref expects " + *expected),
        "if the new " + what_ + " is trusted, run `crossfarm source track` to update the ref"));
  }
  std::error_code ec;
  fs::rename(tmp_file, dir + "/" + got->sha256, ec);
  if (ec) return Err(Status::IOError("store " + url + " in mirror: " + ec.message()));
  return got->sha256;
}

}  // namespace crossfarm::worker::source_internal
