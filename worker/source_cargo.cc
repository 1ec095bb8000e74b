// buildstream-external 0.x's `cargo` source (docs/sources.md): the crates a
// Cargo.lock pins, vendored for an offline `cargo build`.
//   url:        registry download base (default https://static.crates.io/crates);
//               a crate is <url>/<name>/<name>-<version>.crate. http(s), file://
//               or an absolute path (a local mirror directory of that layout).
//   ref:        [{name, version, sha}] (sha256 of the .crate), written by track
//               from the Cargo.lock of the earlier sources (packages with a
//               `source`, sorted by name then version, as bst-external).
//   cargo-lock: the lock file, relative to the earlier sources (Cargo.lock).
//   vendor-dir: where crates are staged (crates), next to .cargo/config.
// Mirror cache: <cache>/cargo/<url-name>/<name>/<version>/<sha256> (bst-external's layout).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include "worker/archive.h"
#include "worker/http_fetch.h"
#include "worker/source.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using namespace source_internal;

constexpr std::string_view kDefaultUrl = "https://static.crates.io/crates";

struct Crate {
  std::string name, version, sha;
};

// The `name = "value"` pairs of each [[package]] of a Cargo.lock (the subset
// of TOML lock files use: tables, quoted strings, arrays). A package without
// `source` is the workspace itself and is skipped, as bst-external does.
Result<std::vector<Crate>> ParseCargoLock(const std::string& text, const std::string& file) {
  std::vector<Crate> out;
  std::optional<std::map<std::string, std::string>> package;
  auto finish = [&] {
    if (package && package->count("source") && package->count("name") && package->count("version"))
      out.push_back({(*package)["name"], (*package)["version"], ""});
    package.reset();
  };
  std::istringstream lines(text);
  int line_no = 0, depth = 0;  // depth: inside a multi-line array
  for (std::string line; std::getline(lines, line);) {
    ++line_no;
    const size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    line = line.substr(first);
    if (depth > 0) {
      depth += static_cast<int>(std::count(line.begin(), line.end(), '[')) -
               static_cast<int>(std::count(line.begin(), line.end(), ']'));
      continue;
    }
    if (line.starts_with("[")) {
      finish();
      if (line.starts_with("[[package]]")) package.emplace();
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string::npos) {
      return Err(Status::InvalidArgument("malformed Cargo.lock file at " + file + ":" +
                                         std::to_string(line_no) + ": expected `key = value`"));
    }
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    value.erase(0, value.find_first_not_of(" \t"));
    while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) value.pop_back();
    if (value.starts_with("[")) {
      depth = static_cast<int>(std::count(value.begin(), value.end(), '[')) -
              static_cast<int>(std::count(value.begin(), value.end(), ']'));
      continue;
    }
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"' && package)
      (*package)[key] = value.substr(1, value.size() - 2);
  }
  finish();
  std::sort(out.begin(), out.end(), [](const Crate& a, const Crate& b) {
    return std::tie(a.name, a.version) < std::tie(b.name, b.version);
  });
  return out;
}

class CargoSource final : public SourceBase {
 public:
  CargoSource(const Provenance& where, const SourceContext& ctx, std::string directory,
              std::string url, std::optional<std::vector<Crate>> ref, std::string cargo_lock,
              std::string vendor_dir)
      : SourceBase(where, ctx, std::move(directory)),
        url_(std::move(url)),
        ref_(std::move(ref)),
        cargo_lock_(std::move(cargo_lock)),
        vendor_dir_(std::move(vendor_dir)) {}

  std::optional<std::string> Ref() const override {
    if (!ref_) return std::nullopt;
    // bst-external's key: url, cargo-lock, vendor-dir and the crates.
    std::string text = "cargo url=" + url_ + " cargo-lock=" + cargo_lock_ +
                       " vendor-dir=" + vendor_dir_;
    for (const Crate& c : *ref_) text += " " + c.name + "=" + c.version + ":" + c.sha;
    return text;
  }

  Result<YAML::Node> Track() override {
    return Err(Error("cargo needs the Cargo.lock of the earlier sources to track",
                     "track the whole element (`crossfarm source track`)"));
  }
  bool TrackNeedsPreviousSources() const override { return true; }
  Result<YAML::Node> TrackWithPrevious(const std::string& previous) override;
  Status Fetch() override;
  Status Stage(const std::string& dest) override;

 private:
  std::string FullUrl() const {
    std::string url = ctx_.translate_url ? ctx_.translate_url(url_) : url_;
    if (url.starts_with("/")) url = "file://" + url;  // a local mirror directory
    while (url.ends_with("/")) url.pop_back();
    return url;
  }
  std::string CrateUrl(const Crate& c) const {
    return FullUrl() + "/" + c.name + "/" + c.name + "-" + c.version + ".crate";
  }
  Result<std::string> MirrorDir(const Crate& c) const {
    CF_ASSIGN_OR_RETURN(std::string cargo, CacheSubdir("cargo"));
    return cargo + "/" + UrlDirName(url_) + "/" + c.name + "/" + c.version;
  }
  Result<std::string> Download(const Crate& c);
  Status StageCrate(const Crate& c, const std::string& vendor);

  std::string url_;
  std::optional<std::vector<Crate>> ref_;
  std::string cargo_lock_, vendor_dir_;
};

// Downloads the crate into its mirror dir under its sha256; returns the sha256.
Result<std::string> CargoSource::Download(const Crate& c) {
  CF_ASSIGN_OR_RETURN(std::string dir, MirrorDir(c));
  CF_ASSIGN_OR_RETURN(TempDir tmp, TempDir::Make(dir, "download"));
  const std::string file = tmp.path() + "/crate";
  auto got = HttpDownload(CrateUrl(c), file);
  if (!got) {
    return Err(AtSource(got.error().WithContext("crate " + c.name + " " + c.version),
                        "check `url:` and the project's aliases"));
  }
  if (!c.sha.empty() && got->sha256 != c.sha) {
    return Err(AtSource(Status::Corruption("crate downloaded from " + CrateUrl(c) +
                                           " has sha256 " + got->sha256 + ", not " + c.sha),
                        "if the new crate is trusted, run `crossfarm source track`"));
  }
  std::error_code ec;
  fs::rename(file, dir + "/" + got->sha256, ec);
  if (ec) return Err(Status::IOError("store " + CrateUrl(c) + ": " + ec.message()));
  return got->sha256;
}

Result<YAML::Node> CargoSource::TrackWithPrevious(const std::string& previous) {
  const std::string lock = previous + "/" + cargo_lock_;
  std::ifstream in(lock);
  if (!in) {
    return Err(Error("no Cargo.lock file at " + cargo_lock_ + " in the earlier sources",
                     "list the source with the crate (and its Cargo.lock) before the cargo "
                     "source, or set `cargo-lock:`"));
  }
  std::stringstream text;
  text << in.rdbuf();
  auto crates = ParseCargoLock(text.str(), cargo_lock_);
  if (!crates) return Err(AtSource(crates.error()));
  YAML::Node ref(YAML::NodeType::Sequence);
  for (Crate& c : *crates) {
    CF_ASSIGN_OR_RETURN(c.sha, Download(c));
    YAML::Node item;
    item["name"] = c.name;
    item["version"] = c.version;
    item["sha"] = c.sha;
    ref.push_back(item);
  }
  return ref;
}

Status CargoSource::Fetch() {
  if (!ref_) {
    return Error("cargo source has no `ref:`",
                 "run `crossfarm source track` on this element to pin the crates of Cargo.lock");
  }
  for (const Crate& c : *ref_) {
    CF_ASSIGN_OR_RETURN(std::string dir, MirrorDir(c));
    std::error_code ec;
    if (fs::exists(dir + "/" + c.sha, ec)) {
      CF_ASSIGN_OR_RETURN(std::string have, Sha256OfFile(dir + "/" + c.sha));
      if (have == c.sha) continue;
      fs::remove(dir + "/" + c.sha, ec);  // a damaged mirror copy is downloaded again
    }
    CF_ASSIGN_OR_RETURN(std::string sha, Download(c));
  }
  return Status::Ok();
}

// Unpacks the crate into the vendor dir and writes the .cargo-checksum.json
// cargo's directory sources want (bst-external: the package sum, no file sums).
Status CargoSource::StageCrate(const Crate& c, const std::string& vendor) {
  CF_ASSIGN_OR_RETURN(std::string dir, MirrorDir(c));
  const std::string file = dir + "/" + c.sha;
  CF_ASSIGN_OR_RETURN(std::vector<std::string> dirs, ListArchiveDirs(file));
  if (dirs.empty()) return Error("crate " + c.name + " " + c.version + " is an empty archive");
  const std::string top = dirs.front().substr(0, dirs.front().find('/'));
  CF_TRY(AtSource(ExtractArchive(file, vendor).WithContext("crate " + c.name)));
  std::ofstream out(vendor + "/" + top + "/.cargo-checksum.json", std::ios::trunc);
  out << "{\"package\": \"" << c.sha << "\", \"files\": {}}";
  if (!out.flush()) return Status::FromErrno("write .cargo-checksum.json of " + c.name, errno);
  return Status::Ok();
}

Status CargoSource::Stage(const std::string& dest) {
  CF_TRY(Fetch());
  CF_ASSIGN_OR_RETURN(std::string dir, StageDir(dest));
  const std::string vendor = dir + "/" + vendor_dir_;
  std::error_code ec;
  fs::create_directories(vendor, ec);
  fs::create_directories(dir + "/.cargo", ec);
  if (ec) return Status::IOError("create " + vendor + ": " + ec.message());
  for (const Crate& c : *ref_) CF_TRY(StageCrate(c, vendor));
  // bst-external's vendor config, with the registry URL alias-expanded. A
  // local mirror directory becomes a file:// URL: cargo refuses a bare path
  // there ("relative URL without a base") and stops even with --offline.
  std::string registry = ctx_.translate_url ? ctx_.translate_url(url_) : url_;
  if (registry.starts_with("/")) registry = "file://" + registry;
  std::ofstream config(dir + "/.cargo/config", std::ios::trunc);
  config << "[source.crates-io]\nregistry = \"" << registry
         << "\"\nreplace-with = \"vendored-sources\"\n[source.vendored-sources]\ndirectory = \""
         << vendor_dir_ << "\"\n";
  if (!config.flush()) return Status::FromErrno("write .cargo/config", errno);
  return Status::Ok();
}

bool IsSha256(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// `ref:` as bst-external writes it: a list of {name, version, sha}.
Result<std::optional<std::vector<Crate>>> ParseRef(const YAML::Node& config,
                                                   const Provenance& where) {
  const YAML::Node ref = config["ref"];
  if (!ref.IsDefined() || ref.IsNull()) return std::optional<std::vector<Crate>>();
  const std::string fix = "run `crossfarm source track` to write it";
  if (!ref.IsSequence()) {
    return Err(UserError(At(where, ref), "cargo `ref:` must be a list of {name, version, sha}",
                         fix));
  }
  std::vector<Crate> crates;
  for (const auto& item : ref) {
    if (!item.IsMap()) {
      return Err(UserError(At(where, ref), "each crate of cargo `ref:` must be a mapping", fix));
    }
    for (const auto& kv : item) {
      const std::string k = kv.first.Scalar();
      if (k != "name" && k != "version" && k != "sha") {
        return Err(UserError(At(where, kv.first), "unknown crate key '" + k + "' in cargo `ref:`",
                             "allowed keys: name, version, sha"));
      }
    }
    Crate c;
    CF_ASSIGN_OR_RETURN(c.name, RequiredString(item, "name", At(where, ref)));
    CF_ASSIGN_OR_RETURN(c.version, RequiredString(item, "version", At(where, ref)));
    CF_ASSIGN_OR_RETURN(c.sha, RequiredString(item, "sha", At(where, ref)));
    if (!IsSha256(c.sha) || c.name.find('/') != std::string::npos || c.name.empty() ||
        c.version.find('/') != std::string::npos) {
      return Err(UserError(At(where, ref),
                           "crate '" + c.name + "' of cargo `ref:` needs a plain name and version "
                           "and a sha256 (64 lowercase hex digits)",
                           fix));
    }
    crates.push_back(std::move(c));
  }
  return std::optional<std::vector<Crate>>(std::move(crates));
}

}  // namespace

Result<std::unique_ptr<Source>> MakeCargoSource(const YAML::Node& config, const Provenance& where,
                                                const SourceContext& ctx) {
  CF_TRY(CheckKeys(config, where, {"url", "ref", "cargo-lock", "vendor-dir"}));
  CF_ASSIGN_OR_RETURN(auto url, OptionalString(config, "url", where));
  CF_ASSIGN_OR_RETURN(auto ref, ParseRef(config, where));
  CF_ASSIGN_OR_RETURN(auto lock, OptionalString(config, "cargo-lock", where));
  CF_ASSIGN_OR_RETURN(auto vendor, OptionalString(config, "vendor-dir", where));
  const std::string vendor_dir = vendor.value_or("crates");
  if (vendor_dir.empty() || vendor_dir.starts_with("/") || vendor_dir.find("..") != std::string::npos) {
    return Err(UserError(At(where, config["vendor-dir"]),
                         "`vendor-dir: " + vendor_dir + "` must be a relative path",
                         "e.g. `vendor-dir: crates`"));
  }
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return std::make_unique<CargoSource>(where, ctx, directory.value_or(""),
                                       url.value_or(std::string(kDefaultUrl)), std::move(ref),
                                       lock.value_or("Cargo.lock"), vendor_dir);
}

}  // namespace crossfarm::worker
