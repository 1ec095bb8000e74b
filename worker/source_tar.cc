// `kind: tar` (BuildStream's tar.py): a tarball from a URL (aliases allowed),
// pinned by the sha256 of the tarball, unpacked below `base-dir` (default '*').
// Mirror cache layout: <cache_dir>/tar/<sha256> (worker/source_download.h).
#include "worker/archive.h"
#include "worker/source_download.h"

namespace crossfarm::worker {
namespace {

using namespace source_internal;

class TarSource final : public DownloadableSource {
 public:
  TarSource(const Provenance& where, const SourceContext& ctx, std::string directory,
            DownloadKeys keys, std::string base_dir)
      : DownloadableSource(where, ctx, std::move(directory), std::move(keys), "tar", "tarball"),
        base_dir_(std::move(base_dir)) {}

  std::optional<std::string> Ref() const override {
    if (!ref_) return std::nullopt;
    return "tar sha256=" + *ref_ + " base-dir=" + base_dir_;
  }

  Status Stage(const std::string& dest) override {
    CF_TRY(Fetch());
    CF_ASSIGN_OR_RETURN(std::string dir, StageDir(dest));
    auto base = FindBaseDir(MirrorFile(), base_dir_);
    if (!base) {
      return AtSource(base.error(), "fix `base-dir:` (use '' to stage the whole tarball)");
    }
    return AtSource(ExtractArchive(MirrorFile(), dir, {.strip_dir = *base}));
  }

 private:
  std::string base_dir_;
};

}  // namespace

Result<std::unique_ptr<Source>> MakeTarSource(const YAML::Node& config, const Provenance& where,
                                              const SourceContext& ctx) {
  CF_TRY(CheckKeys(config, where, {"url", "ref", "base-dir", "etag"}));
  CF_ASSIGN_OR_RETURN(DownloadKeys keys, ParseDownloadKeys(config, where, "tar"));
  CF_ASSIGN_OR_RETURN(auto base_dir, OptionalString(config, "base-dir", where));
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return std::make_unique<TarSource>(where, ctx, directory.value_or(""), std::move(keys),
                                     base_dir.value_or("*"));
}

}  // namespace crossfarm::worker
