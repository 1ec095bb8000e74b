// `kind: pip` (BuildStream 1.6's pip.py): source distributions of Python packages
// from a "simple" package index, downloaded with the host's `python3 -m pip
// download --no-binary :all:` and staged under .bst_pip_downloads/ for a later
// `pip install --no-index --find-links`. The ref pins `name==version` lines.
// Mirror cache: <cache_dir>/pip/<index-url-name>/<sha256 of the ref>/.
#include <algorithm>
#include <filesystem>

#include "common/digest.h"
#include "worker/source.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using namespace source_internal;

constexpr std::string_view kPypiIndex = "https://pypi.org/simple/";
constexpr std::string_view kStagedDir = ".bst_pip_downloads";
const std::vector<std::string> kPipEnv = {"PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_INPUT=1",
                                          "LC_ALL=C.UTF-8"};

// "name==version" of an sdist file name ("foo_bar-1.2.tar.gz"); "" if it is none.
// Sdist names are <name>-<version>.<ext> with '-' in neither part.
std::string PinOfSdist(const std::string& file) {
  for (std::string_view ext : {".tar.gz", ".tar.bz2", ".tar.xz", ".tar.Z", ".tar", ".zip"}) {
    if (!file.ends_with(ext)) continue;
    const std::string stem = file.substr(0, file.size() - ext.size());
    const size_t dash = stem.rfind('-');
    if (dash == std::string::npos || dash == 0 || dash + 1 == stem.size()) return {};
    return stem.substr(0, dash) + "==" + stem.substr(dash + 1);
  }
  return {};
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (!line.empty()) out.push_back(line);
    pos = end + 1;
  }
  return out;
}

class PipSource final : public SourceBase {
 public:
  PipSource(const Provenance& where, const SourceContext& ctx, std::string directory,
            std::string url, std::vector<std::string> packages,
            std::vector<std::string> requirements_files, std::optional<std::string> ref)
      : SourceBase(where, ctx, std::move(directory)),
        url_(std::move(url)),
        packages_(std::move(packages)),
        requirements_files_(std::move(requirements_files)),
        ref_(std::move(ref)) {}

  std::optional<std::string> Ref() const override {
    if (!ref_) return std::nullopt;
    // The ref pins versions, not bytes: the index is part of what is pinned.
    std::string text = "pip url=" + url_;
    for (const auto& pin : SplitLines(*ref_)) text += " " + pin;
    return text;
  }

  bool TrackNeedsPreviousSources() const override { return !requirements_files_.empty(); }
  Result<YAML::Node> Track() override { return TrackWithPrevious(""); }
  Result<YAML::Node> TrackWithPrevious(const std::string& previous) override;
  Status Fetch() override;
  Status Stage(const std::string& dest) override;

 private:
  std::string FullUrl() const { return ctx_.translate_url ? ctx_.translate_url(url_) : url_; }
  std::string MirrorDir() const {
    return ctx_.cache_dir + "/pip/" + UrlDirName(url_) + "/" + Sha256Hex(*ref_);
  }
  // `python3 -m pip download` of `args` into `dest`.
  Status PipDownload(const std::vector<std::string>& args, const std::string& dest) const {
    std::vector<std::string> argv = {"python3", "-m",       "pip",       "download",
                                     "--no-binary", ":all:", "--index-url", FullUrl(),
                                     "--dest",      dest};
    argv.insert(argv.end(), args.begin(), args.end());
    auto ran = RunChecked(argv, "", kPipEnv);
    return ran ? Status::Ok() : AtSource(ran.error(), "check `url:` (a simple index) and the "
                                                      "package names");
  }

  std::string url_;
  std::vector<std::string> packages_;
  std::vector<std::string> requirements_files_;
  std::optional<std::string> ref_;
};

Result<YAML::Node> PipSource::TrackWithPrevious(const std::string& previous) {
  std::vector<std::string> args;
  for (const auto& file : requirements_files_) {
    if (previous.empty()) {
      return Err(Error("`requirements-files:` are read from the sources before this one",
                       "track the whole element (`crossfarm source track`), not this source "
                       "alone"));
    }
    args.push_back("-r");
    args.push_back(previous + "/" + file);
  }
  args.insert(args.end(), packages_.begin(), packages_.end());
  CF_ASSIGN_OR_RETURN(std::string pip_cache, CacheSubdir("pip"));
  CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(pip_cache, "track"));
  CF_TRY(PipDownload(args, tmp.path()));
  std::vector<std::string> pins;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(tmp.path(), ec)) {
    const std::string pin = PinOfSdist(entry.path().filename().string());
    if (!pin.empty()) pins.push_back(pin);
  }
  if (ec) return Err(Status::IOError("list " + tmp.path() + ": " + ec.message()));
  std::sort(pins.begin(), pins.end());
  std::string ref;
  for (const auto& pin : pins) ref += (ref.empty() ? "" : "\n") + pin;
  return YAML::Node(ref);
}

Status PipSource::Fetch() {
  if (!ref_) {
    return Error("pip source has no `ref:`",
                 "run `crossfarm source track` on this element to pin the versions");
  }
  std::error_code ec;
  if (fs::is_directory(MirrorDir(), ec) && !fs::is_empty(MirrorDir(), ec)) return Status::Ok();
  CF_ASSIGN_OR_RETURN(std::string pip_cache, CacheSubdir("pip"));
  CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(pip_cache, "fetch"));
  const std::string packages = tmp.path() + "/packages";
  CF_TRY(PipDownload(SplitLines(*ref_), packages));
  fs::create_directories(fs::path(MirrorDir()).parent_path(), ec);
  fs::rename(packages, MirrorDir(), ec);
  if (ec && !fs::is_directory(MirrorDir())) {
    return Status::IOError("store pip downloads in " + MirrorDir() + ": " + ec.message());
  }
  return Status::Ok();
}

Status PipSource::Stage(const std::string& dest) {
  CF_TRY(Fetch());
  CF_ASSIGN_OR_RETURN(std::string dir, StageDir(dest));
  const std::string target = dir + "/" + std::string(kStagedDir);
  std::error_code ec;
  fs::create_directories(target, ec);
  if (ec) return Status::IOError("create " + target + ": " + ec.message());
  return CopyTree(MirrorDir(), target);
}

Result<std::vector<std::string>> StringList(const YAML::Node& config, std::string_view key,
                                            const Provenance& where) {
  std::vector<std::string> out;
  const YAML::Node node = config[std::string(key)];
  if (!node.IsDefined() || node.IsNull()) return out;
  if (!node.IsSequence()) {
    return Err(UserError(At(where, node), "`" + std::string(key) + ":` must be a list"));
  }
  for (const auto& item : node) {
    if (!item.IsScalar()) return Err(UserError(At(where, item), "list items must be strings"));
    out.push_back(item.Scalar());
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Source>> MakePipSource(const YAML::Node& config, const Provenance& where,
                                              const SourceContext& ctx) {
  CF_TRY(CheckKeys(config, where, {"url", "packages", "ref", "requirements-files"}));
  CF_ASSIGN_OR_RETURN(auto url, OptionalString(config, "url", where));
  CF_ASSIGN_OR_RETURN(auto packages, StringList(config, "packages", where));
  CF_ASSIGN_OR_RETURN(auto requirements, StringList(config, "requirements-files", where));
  if (packages.empty() && requirements.empty()) {
    return Err(UserError(where, "either `packages:` or `requirements-files:` must be specified"));
  }
  for (const auto& file : requirements) {
    if (file.starts_with("/") || file.find("..") != std::string::npos) {
      return Err(UserError(At(where, config["requirements-files"]),
                           "requirements file '" + file + "' must be relative to the sources",
                           "give its path inside what the earlier sources stage"));
    }
  }
  CF_ASSIGN_OR_RETURN(auto ref, OptionalString(config, "ref", where));
  if (ref) {
    for (const auto& line : SplitLines(*ref)) {
      if (line.find("==") == std::string::npos) {
        return Err(UserError(At(where, config["ref"]),
                             "pip `ref:` lines must be name==version, not '" + line + "'",
                             "run `crossfarm source track` to compute it"));
      }
    }
  }
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return std::make_unique<PipSource>(where, ctx, directory.value_or(""),
                                     url.value_or(std::string(kPypiIndex)), std::move(packages),
                                     std::move(requirements), std::move(ref));
}

}  // namespace crossfarm::worker
