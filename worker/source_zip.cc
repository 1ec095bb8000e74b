// `kind: zip` (BuildStream's zip.py): a zip archive from a URL, pinned by its
// sha256, unpacked below `base-dir` (default '*', '' = everything). As in bst,
// modes are not kept: directories get 0755, files 0644 (symlinks stay links).
// Mirror cache: <cache_dir>/zip/<sha256> (worker/source_download.h).
#include "worker/archive.h"
#include "worker/source_download.h"

namespace crossfarm::worker {
namespace {

using namespace source_internal;

class ZipSource final : public DownloadableSource {
 public:
  ZipSource(const Provenance& where, const SourceContext& ctx, std::string directory,
            DownloadKeys keys, std::string base_dir)
      : DownloadableSource(where, ctx, std::move(directory), std::move(keys), "zip",
                           "zip archive"),
        base_dir_(std::move(base_dir)) {}

  std::optional<std::string> Ref() const override {
    if (!ref_) return std::nullopt;
    return "zip sha256=" + *ref_ + " base-dir=" + base_dir_;
  }

  Status Stage(const std::string& dest) override {
    CF_TRY(Fetch());
    CF_ASSIGN_OR_RETURN(std::string dir, StageDir(dest));
    auto base = FindBaseDir(MirrorFile(), base_dir_);
    if (!base) {
      return AtSource(base.error(), "fix `base-dir:` (use '' to stage the whole archive)");
    }
    return AtSource(
        ExtractArchive(MirrorFile(), dir, {.strip_dir = *base, .modes = ExtractModes::kZip}));
  }

 private:
  std::string base_dir_;
};

}  // namespace

Result<std::unique_ptr<Source>> MakeZipSource(const YAML::Node& config, const Provenance& where,
                                              const SourceContext& ctx) {
  CF_TRY(CheckKeys(config, where, {"url", "ref", "base-dir", "etag"}));
  CF_ASSIGN_OR_RETURN(DownloadKeys keys, ParseDownloadKeys(config, where, "zip"));
  CF_ASSIGN_OR_RETURN(auto base_dir, OptionalString(config, "base-dir", where));
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return std::make_unique<ZipSource>(where, ctx, directory.value_or(""), std::move(keys),
                                     base_dir.value_or("*"));
}

}  // namespace crossfarm::worker
