// `kind: deb` (crossfarm's own): Debian binary packages for any arch, with their
// Depends/Pre-Depends closure, through the host's apt configuration (no mirror URL
// in the project). The ref pins every package of the closure by version and sha256.
//
// Track runs apt's own resolver on an empty dpkg status with the package's arch as
// the only architecture, so the answer does not depend on what the host has
// installed. Fetch runs `apt-get download`; Stage unpacks data.tar.* of each .deb
// in ref order (no maintainer scripts). Mirror cache: <cache_dir>/deb/<file>.deb.
// A source with `url:` is bst 1.6's deb source instead (worker/source_deb_url.cc).
#include <filesystem>
#include <sstream>
#include <regex>
#include <set>

#include "worker/archive.h"
#include "worker/source.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using namespace source_internal;

struct PinnedDeb {
  std::string package, version, arch, sha256;
};

// Options that make apt resolve for `arch` alone on an empty system, without
// touching the host's dpkg state or apt caches.
std::vector<std::string> AptArchOptions(const std::string& arch) {
  return {"-o", "APT::Architecture=" + arch,
          "-o", "APT::Architectures::=" + arch,
          "-o", "Dir::State::status=/dev/null",
          "-o", "Dir::Cache::pkgcache=",
          "-o", "Dir::Cache::srcpkgcache=",
          "-o", "Debug::NoLocking=1",
          // apt's download sandbox user (_apt) may not write our cache dir.
          "-o", "APT::Sandbox::User=root"};
}

std::vector<std::string> AptCommand(const std::string& tool, const std::string& arch,
                                    std::initializer_list<std::string> args) {
  std::vector<std::string> argv = {tool};
  for (auto& o : AptArchOptions(arch)) argv.push_back(std::move(o));
  argv.insert(argv.end(), args);
  return argv;
}

// apt names downloaded files <pkg>_<version, ':' as %3a>_<arch>.deb.
std::string DebFileName(const PinnedDeb& d) {
  std::string version;
  for (char c : d.version) version += c == ':' ? std::string("%3a") : std::string(1, c);
  return d.package + "_" + version + "_" + d.arch + ".deb";
}

constexpr std::string_view kAptHint =
    "the host's apt must know this arch: run scripts/setup (dpkg --add-architecture, "
    "apt-get update)";

class DebSource final : public SourceBase {
 public:
  DebSource(const Provenance& where, const SourceContext& ctx, std::string directory,
            std::vector<std::string> packages, std::string arch, bool essential, bool usrmerge,
            std::optional<std::vector<PinnedDeb>> ref)
      : SourceBase(where, ctx, std::move(directory)),
        packages_(std::move(packages)),
        arch_(std::move(arch)),
        essential_(essential),
        usrmerge_(usrmerge),
        ref_(std::move(ref)) {}

  std::optional<std::string> Ref() const override {
    if (!ref_) return std::nullopt;
    std::string text = "deb usrmerge=" + std::string(usrmerge_ ? "1" : "0") + "\n";
    for (const auto& d : *ref_) {
      text += d.package + " " + d.version + " " + d.arch + " " + d.sha256 + "\n";
    }
    return text;
  }

  Result<YAML::Node> Track() override;
  Status Fetch() override;
  Status Stage(const std::string& dest) override;

 private:
  Result<std::vector<std::string>> EssentialPackages() const;
  Result<std::vector<PinnedDeb>> ResolveClosure(const std::vector<std::string>& names) const;
  Status AddSha256s(std::vector<PinnedDeb>& debs) const;
  Status DownloadMissing(const std::vector<const PinnedDeb*>& missing, const std::string& dir);
  Status MakeUsrMergeLinks(const std::string& root) const;

  std::vector<std::string> packages_;
  std::string arch_;
  bool essential_;
  bool usrmerge_;
  std::optional<std::vector<PinnedDeb>> ref_;
};

Result<std::vector<std::string>> DebSource::EssentialPackages() const {
  CF_ASSIGN_OR_RETURN(std::string avail, RunChecked(AptCommand("apt-cache", arch_, {"dumpavail"})));
  std::set<std::string> names;
  for (const auto& stanza : ParseControlStanzas(avail)) {
    if (FieldOf(stanza, "Essential") == "yes") names.insert(FieldOf(stanza, "Package"));
  }
  return std::vector<std::string>(names.begin(), names.end());
}

// apt-get -s prints "Inst <pkg> (<version> <origins> [<arch>])" in unpack order.
Result<std::vector<PinnedDeb>> DebSource::ResolveClosure(
    const std::vector<std::string>& names) const {
  std::vector<std::string> argv =
      AptCommand("apt-get", arch_, {"-s", "-q", "--no-install-recommends", "install"});
  argv.insert(argv.end(), names.begin(), names.end());
  auto out = RunChecked(argv);
  if (!out) return Err(AtSource(out.error(), kAptHint));
  static const std::regex kInst(R"(^Inst (\S+) \((\S+) .*\[([a-z0-9-]+)\]\))");
  std::vector<PinnedDeb> debs;
  std::istringstream lines(*out);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, kInst)) debs.push_back({m[1], m[2], m[3], ""});
  }
  if (debs.empty()) return Err(Error("apt resolved no package for " + arch_, kAptHint));
  return debs;
}

Status DebSource::AddSha256s(std::vector<PinnedDeb>& debs) const {
  std::vector<std::string> argv = AptCommand("apt-cache", arch_, {"show"});
  for (const auto& d : debs) argv.push_back(d.package + "=" + d.version);
  auto out = RunChecked(argv);
  if (!out) return AtSource(out.error(), kAptHint);
  for (const auto& stanza : ParseControlStanzas(*out)) {
    for (auto& d : debs) {
      if (d.sha256.empty() && FieldOf(stanza, "Package") == d.package &&
          FieldOf(stanza, "Version") == d.version) {
        d.sha256 = FieldOf(stanza, "SHA256");
      }
    }
  }
  for (const auto& d : debs) {
    if (d.sha256.empty()) return Error("apt knows no SHA256 for " + d.package + " " + d.version);
  }
  return Status::Ok();
}

Result<YAML::Node> DebSource::Track() {
  std::vector<std::string> names = packages_;
  if (essential_) {
    CF_ASSIGN_OR_RETURN(auto essential, EssentialPackages());
    names.insert(names.end(), essential.begin(), essential.end());
  }
  CF_ASSIGN_OR_RETURN(std::vector<PinnedDeb> debs, ResolveClosure(names));
  CF_TRY(AddSha256s(debs));
  YAML::Node ref(YAML::NodeType::Sequence);
  for (const auto& d : debs) {
    YAML::Node item;
    item["package"] = d.package;
    item["version"] = d.version;
    item["arch"] = d.arch;
    item["sha256"] = d.sha256;
    ref.push_back(item);
  }
  return ref;
}

Status DebSource::DownloadMissing(const std::vector<const PinnedDeb*>& missing,
                                  const std::string& dir) {
  CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(dir, "download"));
  std::vector<std::string> argv = AptCommand("apt-get", arch_, {"-q", "download"});
  for (const auto* d : missing) argv.push_back(d->package + "=" + d->version);
  auto out = RunChecked(argv, tmp.path());
  if (!out) {
    return AtSource(out.error(),
                    "a pinned version may be gone from the configured apt mirror: run "
                    "`crossfarm source track` on this element, or point apt at a snapshot");
  }
  for (const auto* d : missing) {
    const std::string file = tmp.path() + "/" + DebFileName(*d);
    CF_ASSIGN_OR_RETURN(std::string sha, Sha256OfFile(file));
    if (sha != d->sha256) {
      return AtSource(Status::Corruption("package " + d->package + " " + d->version + " (" +
                                         d->arch + ") has sha256 " + sha +
                                         ", but the element's ref expects " + d->sha256),
                      "if the new package is trusted, run `crossfarm source track`");
    }
    std::error_code ec;
    fs::rename(file, dir + "/" + DebFileName(*d), ec);
    if (ec) return Status::IOError("store " + file + " in mirror: " + ec.message());
  }
  return Status::Ok();
}

Status DebSource::Fetch() {
  if (!ref_) {
    return Error("deb source has no `ref:`",
                 "run `crossfarm source track` on this element to pin the package closure");
  }
  CF_ASSIGN_OR_RETURN(std::string dir, CacheSubdir("deb"));
  std::vector<const PinnedDeb*> missing;
  for (const auto& d : *ref_) {
    const std::string cached = dir + "/" + DebFileName(d);
    std::error_code ec;
    if (fs::exists(cached, ec)) {
      CF_ASSIGN_OR_RETURN(std::string sha, Sha256OfFile(cached));
      if (sha == d.sha256) continue;
      fs::remove(cached, ec);  // damaged or different content: download again
    }
    missing.push_back(&d);
  }
  if (missing.empty()) return Status::Ok();
  return DownloadMissing(missing, dir);
}

// A merged-/usr root (Debian 12+) has /bin, /sbin, /lib, /lib64 as links into /usr;
// packages still ship files under /bin etc., which then land in /usr through them.
Status DebSource::MakeUsrMergeLinks(const std::string& root) const {
  for (const char* name : {"bin", "sbin", "lib", "lib64"}) {
    std::error_code ec;
    const fs::path link = fs::path(root) / name;
    fs::create_directories(fs::path(root) / "usr" / name, ec);
    if (ec) return Status::IOError("create usr/" + std::string(name) + ": " + ec.message());
    if (fs::exists(fs::symlink_status(link, ec))) continue;  // already a link or a dir
    fs::create_symlink(std::string("usr/") + name, link, ec);
    if (ec) return Status::IOError("symlink " + link.string() + ": " + ec.message());
  }
  return Status::Ok();
}

Status DebSource::Stage(const std::string& dest) {
  CF_TRY(Fetch());
  CF_ASSIGN_OR_RETURN(std::string root, StageDir(dest));
  if (usrmerge_) CF_TRY(MakeUsrMergeLinks(root));
  for (const auto& d : *ref_) {
    const std::string deb = ctx_.cache_dir + "/deb/" + DebFileName(d);
    CF_TRY(AtSource(ExtractDebData(deb, root, {.follow_dest_symlinks = true})));
  }
  return Status::Ok();
}

Result<std::optional<std::vector<PinnedDeb>>> ParseRef(const YAML::Node& node,
                                                       const Provenance& where) {
  if (!node.IsDefined() || node.IsNull()) return std::optional<std::vector<PinnedDeb>>();
  const std::string fix = "run `crossfarm source track` to write the ref";
  if (!node.IsSequence()) {
    return Err(UserError(At(where, node), "deb `ref:` must be a list of packages", fix));
  }
  std::vector<PinnedDeb> debs;
  for (const auto& item : node) {
    PinnedDeb d;
    for (auto [key, field] : {std::pair{"package", &d.package}, {"version", &d.version},
                              {"arch", &d.arch}, {"sha256", &d.sha256}}) {
      const YAML::Node v = item.IsMap() ? item[key] : YAML::Node();
      if (!v.IsDefined() || !v.IsScalar()) {
        return Err(UserError(At(where, item), std::string("deb ref entry needs `") + key + ":`",
                             fix));
      }
      *field = v.Scalar();
    }
    debs.push_back(std::move(d));
  }
  return std::optional<std::vector<PinnedDeb>>(std::move(debs));
}

Result<std::string> ResolveArch(const YAML::Node& config, const Provenance& where,
                                const SourceContext& ctx) {
  CF_ASSIGN_OR_RETURN(auto arch, OptionalString(config, "arch", where));
  if (!arch || *arch == "target" || *arch == "%{target-debian-arch}") {
    if (ctx.target_arch == nullptr) {
      return Err(UserError(where, "deb source without `arch:` and no target arch is set",
                           "write `arch: arm64` (a Debian arch name) or pass --target-arch"));
    }
    return std::string(ctx.target_arch->debian);
  }
  if (FindArchByDebian(*arch) == nullptr) {
    return Err(UserError(At(where, config["arch"]), "unknown Debian arch '" + *arch + "'",
                         "use a Debian arch name such as amd64, arm64, s390x, or `target`"));
  }
  return *arch;
}

}  // namespace

// bst 1.6's form of `kind: deb` (url:, one .deb file): worker/source_deb_url.cc.
Result<std::unique_ptr<Source>> MakeBstDebSource(const YAML::Node& config,
                                                 const Provenance& where,
                                                 const SourceContext& ctx);

Result<std::unique_ptr<Source>> MakeDebSource(const YAML::Node& config, const Provenance& where,
                                              const SourceContext& ctx) {
  if (config["url"]) return MakeBstDebSource(config, where, ctx);
  CF_TRY(CheckKeys(config, where, {"packages", "arch", "essential", "usrmerge", "ref"}));
  const YAML::Node list = config["packages"];
  if (!list.IsDefined() || !list.IsSequence() || list.size() == 0) {
    return Err(UserError(where, "deb source needs `packages:`, a list of package names",
                         "e.g. `packages: [busybox-static]`"));
  }
  std::vector<std::string> packages;
  for (const auto& p : list) {
    if (!p.IsScalar()) return Err(UserError(At(where, p), "package names must be strings"));
    packages.push_back(p.Scalar());
  }
  CF_ASSIGN_OR_RETURN(std::string arch, ResolveArch(config, where, ctx));
  CF_ASSIGN_OR_RETURN(bool essential, OptionalBool(config, "essential", false, where));
  CF_ASSIGN_OR_RETURN(bool usrmerge, OptionalBool(config, "usrmerge", true, where));
  CF_ASSIGN_OR_RETURN(auto ref, ParseRef(config["ref"], where));
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return std::make_unique<DebSource>(where, ctx, directory.value_or(""), std::move(packages),
                                     std::move(arch), essential, usrmerge, std::move(ref));
}

}  // namespace crossfarm::worker
