// `kind: deb` in BuildStream 1.6's form (its deb.py, a tar source reading the
// data.tar.* of one .deb): `url`, `ref` = sha256 of the .deb, `base-dir`
// (default: none, the whole data tarball). MakeDebSource (source_deb.cc) builds
// this form when the source has a `url:` key, crossfarm's own otherwise.
// Mirror cache: <cache_dir>/deb-url/<sha256> (worker/source_download.h).
#include "worker/archive.h"
#include "worker/source_download.h"

namespace crossfarm::worker {
namespace {

using namespace source_internal;

class BstDebSource final : public DownloadableSource {
 public:
  BstDebSource(const Provenance& where, const SourceContext& ctx, std::string directory,
               DownloadKeys keys, std::string base_dir)
      : DownloadableSource(where, ctx, std::move(directory), std::move(keys), "deb-url",
                           "package"),
        base_dir_(std::move(base_dir)) {}

  std::optional<std::string> Ref() const override {
    if (!ref_) return std::nullopt;
    return "deb-url sha256=" + *ref_ + " base-dir=" + base_dir_;
  }

  Status Stage(const std::string& dest) override {
    CF_TRY(Fetch());
    CF_ASSIGN_OR_RETURN(std::string dir, StageDir(dest));
    auto base = FindDebBaseDir(MirrorFile(), base_dir_);
    if (!base) return AtSource(base.error(), "fix `base-dir:` (omit it to stage every file)");
    // Like Python's tarfile in bst, files are written through links already in
    // the root (bin -> usr/bin of a merged-/usr base), here safely: resolved
    // inside the root, never out of it.
    return AtSource(ExtractDebData(MirrorFile(), dir,
                                   {.strip_dir = *base, .follow_dest_symlinks = true}));
  }

 private:
  std::string base_dir_;
};

}  // namespace

Result<std::unique_ptr<Source>> MakeBstDebSource(const YAML::Node& config,
                                                 const Provenance& where,
                                                 const SourceContext& ctx) {
  const Status keys_ok = CheckKeys(config, where, {"url", "ref", "base-dir", "etag"});
  if (!keys_ok.ok()) {
    return Err(Status(keys_ok.code(),
                      keys_ok.message() +
                          "\n  note: with `url:` this is bst's deb source (one .deb file); "
                          "crossfarm's apt form takes `packages:` and no `url:`"));
  }
  CF_ASSIGN_OR_RETURN(DownloadKeys keys, ParseDownloadKeys(config, where, "deb"));
  CF_ASSIGN_OR_RETURN(auto base_dir, OptionalString(config, "base-dir", where));
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return std::make_unique<BstDebSource>(where, ctx, directory.value_or(""), std::move(keys),
                                        base_dir.value_or(""));
}

}  // namespace crossfarm::worker
