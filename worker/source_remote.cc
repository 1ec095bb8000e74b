// `kind: remote` (BuildStream's remote.py): one file from a URL, pinned by its
// sha256, staged as `filename` (default: the URL's basename) with mode 0644, or
// 0755 with `executable: true` (a key of bst 2's remote source, accepted here so
// that scripts need no chmod). Mirror cache: <cache_dir>/remote/<sha256>.
#include <sys/stat.h>

#include <filesystem>

#include "worker/source_download.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using namespace source_internal;

class RemoteSource final : public DownloadableSource {
 public:
  RemoteSource(const Provenance& where, const SourceContext& ctx, std::string directory,
               DownloadKeys keys, std::string filename, bool executable)
      : DownloadableSource(where, ctx, std::move(directory), std::move(keys), "remote", "file"),
        filename_(std::move(filename)),
        executable_(executable) {}

  std::optional<std::string> Ref() const override {
    if (!ref_) return std::nullopt;
    return "remote sha256=" + *ref_ + " filename=" + filename_ +
           " executable=" + (executable_ ? "1" : "0");
  }

  Status Stage(const std::string& dest) override {
    CF_TRY(Fetch());
    CF_ASSIGN_OR_RETURN(std::string dir, StageDir(dest));
    const std::string target = dir + "/" + filename_;
    std::error_code ec;
    // Like bst's safe_copy: a copy (never a hardlink into the mirror), replacing
    // what an earlier source staged under that name.
    fs::remove(target, ec);
    fs::copy_file(MirrorFile(), target, ec);
    if (ec) return Status::IOError("stage " + target + ": " + ec.message());
    const mode_t mode = executable_ ? 0755 : 0644;
    if (chmod(target.c_str(), mode) != 0) return Status::FromErrno("chmod " + target, errno);
    return Status::Ok();
  }

 private:
  std::string filename_;
  bool executable_;
};

// The basename of the URL's path (query and fragment dropped).
std::string UrlBasename(std::string url) {
  url = url.substr(0, url.find_first_of("?#"));
  while (!url.empty() && url.back() == '/') url.pop_back();
  const size_t slash = url.find_last_of("/:");
  return slash == std::string::npos ? url : url.substr(slash + 1);
}

}  // namespace

Result<std::unique_ptr<Source>> MakeRemoteSource(const YAML::Node& config,
                                                 const Provenance& where,
                                                 const SourceContext& ctx) {
  CF_TRY(CheckKeys(config, where, {"url", "ref", "filename", "executable", "etag"}));
  CF_ASSIGN_OR_RETURN(DownloadKeys keys, ParseDownloadKeys(config, where, "remote"));
  CF_ASSIGN_OR_RETURN(auto filename, OptionalString(config, "filename", where));
  const std::string name =
      filename ? *filename : UrlBasename(ctx.translate_url ? ctx.translate_url(keys.url) : keys.url);
  if (name.find('/') != std::string::npos) {
    return Err(UserError(At(where, config["filename"]),
                         "`filename: " + name + "` cannot contain directories",
                         "use `directory:` for the folder and `filename:` for the name"));
  }
  if (name.empty() || name == "." || name == "..") {
    return Err(UserError(where, "remote source " + keys.url + " has no file name",
                         "add `filename:`"));
  }
  CF_ASSIGN_OR_RETURN(bool executable, OptionalBool(config, "executable", false, where));
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return std::make_unique<RemoteSource>(where, ctx, directory.value_or(""), std::move(keys), name,
                                        executable);
}

}  // namespace crossfarm::worker
