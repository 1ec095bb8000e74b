// `kind: debian-source` (crossfarm's own): a Debian source package, through the
// host's apt deb-src configuration (no mirror URL in the project). The ref pins
// the .dsc and its tarballs by sha256. With `version:` tracking stays on that
// version; without it, tracking takes apt's candidate (as `deb` does), so a
// project keeps working when a point release replaces the version. Stage unpacks it with
// `dpkg-source -x` (Debian patches applied). Mirror cache: <cache_dir>/debian-source/.
#include <filesystem>
#include <sstream>

#include "worker/source.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using namespace source_internal;

struct PinnedFile {
  std::string file, sha256;
};

constexpr std::string_view kDebSrcHint =
    "the host's apt needs deb-src entries: run scripts/setup, which enables them";

class DebianSourceSource final : public SourceBase {
 public:
  DebianSourceSource(const Provenance& where, const SourceContext& ctx, std::string directory,
                     std::string package, std::string version,
                     std::optional<std::vector<PinnedFile>> ref)
      : SourceBase(where, ctx, std::move(directory)),
        package_(std::move(package)),
        version_(std::move(version)),
        ref_(std::move(ref)) {}

  std::optional<std::string> Ref() const override {
    if (!ref_) return std::nullopt;
    std::string text = "debian-source " + package_ + " " + (version_.empty() ? "-" : version_) + "\n";
    for (const auto& f : *ref_) text += f.file + " " + f.sha256 + "\n";
    return text;
  }

  Result<YAML::Node> Track() override;
  Status Fetch() override;
  Status Stage(const std::string& dest) override;

 private:
  Status DownloadMissing(const std::string& dir);
  std::string DscFile() const {
    for (const auto& f : *ref_) {
      if (f.file.ends_with(".dsc")) return f.file;
    }
    return {};
  }

  std::string package_;
  std::string version_;
  std::optional<std::vector<PinnedFile>> ref_;
};

// Without `version:`: the files of apt's candidate, from `apt-get source
// --print-uris` ("'URL' FILE SIZE SHA256:HEX" per file).
Result<YAML::Node> TrackCandidate(const std::string& package) {
  auto out = RunChecked({"apt-get", "-qq", "source", "--print-uris", "--only-source", package});
  if (!out) return Err(out.error());
  YAML::Node ref(YAML::NodeType::Sequence);
  std::istringstream lines(*out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string url, file, size, sha;
    if (!(fields >> url >> file >> size >> sha) || !sha.starts_with("SHA256:")) continue;
    YAML::Node item;
    item["file"] = file;
    item["sha256"] = sha.substr(7);
    ref.push_back(item);
  }
  if (ref.size() == 0)
    return Err(Status::NotFound("apt knows no source package " + package + " (" + kDebSrcHint.data() + ")"));
  return ref;
}

// The version whose .dsc has `dsc_sha256`, from `apt-cache showsrc`: what
// `apt-get source` must be asked for when the element names no version.
Result<std::string> VersionOfDsc(const std::string& package, const std::string& dsc_sha256) {
  auto out = RunChecked({"apt-cache", "showsrc", "--only-source", package});
  if (!out) return Err(out.error());
  for (const auto& stanza : ParseControlStanzas(*out))
    if (FieldOf(stanza, "Checksums-Sha256").find(dsc_sha256) != std::string::npos)
      return FieldOf(stanza, "Version");
  return Err(Status::NotFound("no version of source package " + package +
                              " has the pinned .dsc any more: run `crossfarm source track` (or "
                              "`crossfarm build --track-all`)"));
}

// "Checksums-Sha256" of the stanza of our version, from `apt-cache showsrc`.
Result<YAML::Node> DebianSourceSource::Track() {
  if (version_.empty()) {
    auto candidate = TrackCandidate(package_);
    if (!candidate) return Err(AtSource(candidate.error(), kDebSrcHint));
    return candidate;
  }
  auto out = RunChecked({"apt-cache", "showsrc", "--only-source", package_});
  if (!out) return Err(AtSource(out.error(), kDebSrcHint));
  std::vector<std::string> seen;
  for (const auto& stanza : ParseControlStanzas(*out)) {
    const std::string version = FieldOf(stanza, "Version");
    if (version != version_) {
      seen.push_back(version);
      continue;
    }
    YAML::Node ref(YAML::NodeType::Sequence);
    std::istringstream lines(FieldOf(stanza, "Checksums-Sha256"));
    std::string sha, size, file;
    while (lines >> sha >> size >> file) {
      YAML::Node item;
      item["file"] = file;
      item["sha256"] = sha;
      ref.push_back(item);
    }
    if (ref.size() > 0) return ref;
  }
  std::string known;
  for (const auto& v : seen) known += (known.empty() ? "" : ", ") + v;
  return Err(Error("apt knows no source package " + package_ + " at version " + version_,
                   known.empty() ? std::string(kDebSrcHint)
                                 : "versions apt knows: " + known + "; fix `version:`"));
}

Status DebianSourceSource::DownloadMissing(const std::string& dir) {
  CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(dir, "download"));
  std::string version = version_;
  if (version.empty()) {
    std::string dsc_sha;
    for (const auto& f : *ref_)
      if (f.file.ends_with(".dsc")) dsc_sha = f.sha256;
    auto found = VersionOfDsc(package_, dsc_sha);
    if (!found) return AtSource(found.error(), kDebSrcHint);
    version = *found;
  }
  auto out = RunChecked({"apt-get", "-q", "-o", "APT::Sandbox::User=root", "source",
                         "--download-only", package_ + "=" + version},
                        tmp.path());
  if (!out) return AtSource(out.error(), kDebSrcHint);
  for (const auto& f : *ref_) {
    const std::string file = tmp.path() + "/" + f.file;
    auto sha = Sha256OfFile(file);
    if (!sha) return AtSource(sha.error(), "apt did not download it: run `crossfarm source track`");
    if (*sha != f.sha256) {
      return AtSource(Status::Corruption(f.file + " has sha256 " + *sha +
                                         ", but the element's ref expects " + f.sha256),
                      "if the new file is trusted, run `crossfarm source track`");
    }
    std::error_code ec;
    fs::rename(file, dir + "/" + f.file, ec);
    if (ec) return Status::IOError("store " + f.file + " in mirror: " + ec.message());
  }
  return Status::Ok();
}

Status DebianSourceSource::Fetch() {
  if (!ref_) {
    return Error("debian-source has no `ref:`",
                 "run `crossfarm source track` on this element to pin the source files");
  }
  CF_ASSIGN_OR_RETURN(std::string dir, CacheSubdir("debian-source"));
  bool complete = true;
  for (const auto& f : *ref_) {
    const std::string cached = dir + "/" + f.file;
    std::error_code ec;
    if (!fs::exists(cached, ec)) {
      complete = false;
      continue;
    }
    CF_ASSIGN_OR_RETURN(std::string sha, Sha256OfFile(cached));
    if (sha != f.sha256) {
      fs::remove(cached, ec);
      complete = false;
    }
  }
  return complete ? Status::Ok() : DownloadMissing(dir);
}

Status DebianSourceSource::Stage(const std::string& dest) {
  CF_TRY(Fetch());
  CF_ASSIGN_OR_RETURN(std::string dir, StageDir(dest));
  CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(dir, "dpkg-source"));
  const std::string out = tmp.path() + "/src";
  // --no-check: every file was just verified against the ref's sha256, which came
  // from apt's signed index; dpkg-source would only warn about the missing keyring.
  auto unpacked =
      RunChecked({"dpkg-source", "--no-check", "--no-copy", "-x",
                  ctx_.cache_dir + "/debian-source/" + DscFile(), out},
                 "", {"DEB_BUILD_OPTIONS=", "LC_ALL=C"});
  if (!unpacked) return AtSource(unpacked.error(), "dpkg-source comes with package dpkg-dev");
  return MergeMove(out, dir);
}

Result<std::optional<std::vector<PinnedFile>>> ParseRef(const YAML::Node& node,
                                                        const Provenance& where) {
  if (!node.IsDefined() || node.IsNull()) return std::optional<std::vector<PinnedFile>>();
  const std::string fix = "run `crossfarm source track` to write the ref";
  if (!node.IsSequence()) {
    return Err(UserError(At(where, node), "debian-source `ref:` must be a list of files", fix));
  }
  std::vector<PinnedFile> files;
  bool has_dsc = false;
  for (const auto& item : node) {
    const YAML::Node file = item.IsMap() ? item["file"] : YAML::Node();
    const YAML::Node sha = item.IsMap() ? item["sha256"] : YAML::Node();
    if (!file.IsDefined() || !file.IsScalar() || !sha.IsDefined() || !sha.IsScalar() ||
        file.Scalar().find('/') != std::string::npos || file.Scalar().starts_with(".")) {
      return Err(UserError(At(where, item), "ref entries need `file:` and `sha256:`", fix));
    }
    files.push_back({file.Scalar(), sha.Scalar()});
    has_dsc = has_dsc || files.back().file.ends_with(".dsc");
  }
  if (!has_dsc) return Err(UserError(At(where, node), "the ref names no .dsc file", fix));
  return std::optional<std::vector<PinnedFile>>(std::move(files));
}

}  // namespace

Result<std::unique_ptr<Source>> MakeDebianSourceSource(const YAML::Node& config,
                                                       const Provenance& where,
                                                       const SourceContext& ctx) {
  CF_TRY(CheckKeys(config, where, {"package", "version", "ref"}));
  CF_ASSIGN_OR_RETURN(std::string package, RequiredString(config, "package", where));
  CF_ASSIGN_OR_RETURN(auto version, OptionalString(config, "version", where));
  CF_ASSIGN_OR_RETURN(auto ref, ParseRef(config["ref"], where));
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return std::make_unique<DebianSourceSource>(where, ctx, directory.value_or(""),
                                              std::move(package), version.value_or(""),
                                              std::move(ref));
}

}  // namespace crossfarm::worker
