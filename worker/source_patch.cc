// `kind: patch` (BuildStream's patch.py): applies a patch file of the project to the
// files staged so far, with the host's `patch` binary (like bst, which also runs the
// host's patch outside the sandbox at stage time).
#include <filesystem>

#include "worker/source.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using namespace source_internal;

class PatchSource final : public SourceBase {
 public:
  PatchSource(const Provenance& where, const SourceContext& ctx, std::string directory,
              std::string path, int strip_level)
      : SourceBase(where, ctx, std::move(directory)),
        path_(std::move(path)),
        strip_level_(strip_level) {}

  std::optional<std::string> Ref() const override {
    auto sha = Sha256OfFile(FullPath());
    if (!sha) return std::nullopt;
    return "patch sha256=" + *sha + " strip-level=" + std::to_string(strip_level_);
  }
  Result<YAML::Node> Track() override { return YAML::Node(); }  // the content is the ref
  Status Fetch() override {
    std::error_code ec;
    if (!fs::is_regular_file(FullPath(), ec)) {
      return Error("patch file '" + path_ + "' does not exist",
                   "fix `path:` (relative to the project directory)");
    }
    return Status::Ok();
  }
  Status Stage(const std::string& dest) override {
    CF_TRY(Fetch());
    CF_ASSIGN_OR_RETURN(std::string dir, StageDir(dest));
    std::error_code ec;
    if (fs::is_empty(dir, ec)) {
      return Error("nothing to patch in '" + (directory_.empty() ? "." : directory_) + "'",
                   "list the patch after the sources it applies to");
    }
    auto applied = RunChecked({"patch", "-p" + std::to_string(strip_level_), "--batch",
                               "--forward", "--no-backup-if-mismatch", "-i", FullPath(), "-d",
                               dir});
    if (!applied) {
      return AtSource(applied.error(), "the patch does not apply to the staged sources: "
                                       "refresh it, or check `strip-level:`");
    }
    return Status::Ok();
  }

 private:
  std::string FullPath() const { return ctx_.project_dir + "/" + path_; }
  std::string path_;
  int strip_level_;
};

}  // namespace

Result<std::unique_ptr<Source>> MakePatchSource(const YAML::Node& config,
                                                const Provenance& where,
                                                const SourceContext& ctx) {
  CF_TRY(CheckKeys(config, where, {"path", "strip-level"}));
  CF_ASSIGN_OR_RETURN(std::string path, ProjectPath(config, "path", where, ctx, "patch path"));
  int strip = 1;
  if (const YAML::Node n = config["strip-level"]; n.IsDefined()) {
    try {
      strip = n.as<int>();
    } catch (const YAML::Exception&) {
      strip = -1;
    }
    if (strip < 0) {
      return Err(UserError(At(where, n), "`strip-level:` must be a non-negative integer"));
    }
  }
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return std::make_unique<PatchSource>(where, ctx, directory.value_or(""), path, strip);
}

}  // namespace crossfarm::worker
