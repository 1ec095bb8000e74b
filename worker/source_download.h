// Shared base of the sources that download one file by URL and pin it by its
// sha256 (BuildStream's DownloadableFileSource): tar, remote, zip and bst's form
// of deb (`url:`). Internal to worker/source_*.cc.
//
// Mirror cache: <cache_dir>/<subdir>/<sha256>, content-addressed, so a file is
// downloaded once whatever URL or alias names it. Downloads land in a hidden temp
// directory, are verified, then renamed into place (docs/sources.md).
#pragma once

#include <optional>
#include <string>

#include "worker/source.h"

namespace crossfarm::worker::source_internal {

// True for 64 lowercase hex digits.
bool IsSha256Hex(const std::string& s);

// The `url:` and `ref:` keys of a downloadable source, validated (ref = sha256).
struct DownloadKeys {
  std::string url;
  std::optional<std::string> ref;
};
// Reads `url` (required) and `ref` (optional, must be a sha256). `what` names the
// kind in messages ("tar", "zip", ...).
Result<DownloadKeys> ParseDownloadKeys(const YAML::Node& config, const Provenance& where,
                                       std::string_view what);

class DownloadableSource : public SourceBase {
 public:
  // `subdir`: the mirror cache folder of this kind; `what`: the file's name in
  // messages ("tarball", "file", "zip archive", "package").
  DownloadableSource(const Provenance& where, const SourceContext& ctx, std::string directory,
                     DownloadKeys keys, std::string subdir, std::string what)
      : SourceBase(where, ctx, std::move(directory)),
        url_(std::move(keys.url)),
        ref_(std::move(keys.ref)),
        subdir_(std::move(subdir)),
        what_(std::move(what)) {}

  // Downloads the current file and returns its sha256 (kept in the mirror).
  Result<YAML::Node> Track() override;
  // Ensures <cache>/<subdir>/<ref> exists with the right sum (re-downloads a
  // damaged copy). Corruption naming both sums when the download differs.
  Status Fetch() override;

 protected:
  // Path of the verified download; call after Fetch() succeeded.
  std::string MirrorFile() const { return ctx_.cache_dir + "/" + subdir_ + "/" + *ref_; }
  // The URL with the project's aliases expanded.
  std::string FullUrl() const { return ctx_.translate_url ? ctx_.translate_url(url_) : url_; }

  std::string url_;
  std::optional<std::string> ref_;

 private:
  Result<std::string> Download(const std::optional<std::string>& expected);

  std::string subdir_;
  std::string what_;
};

}  // namespace crossfarm::worker::source_internal
