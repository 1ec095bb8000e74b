#include "client/cas_command.h"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "cas/cas.h"
#include "cas/curve_keys.h"
#include "client/cache_service.h"
#include "worker/checkout_stamp.h"
#include "worker/fs_util.h"

namespace crossfarm::client {
namespace {

struct CasArgs {
  std::string cas;         // --cas
  std::string server_key;  // --server-key
  std::string dir;
  std::string digest;
  std::string quota;
  bool hardlink = false;
  int64_t linger_ms = CacheServiceOptions{}.linger.count();
  std::string sub;         // chosen sub-subcommand
};

int Report(const Status& s) {
  PrintError(s.code() == StatusCode::kInvalidArgument ? s.message() : s.ToString());
  return s.code() == StatusCode::kInvalidArgument ? kExitBadInput : kExitBuildFailed;
}

Result<std::unique_ptr<cas::Cas>> Open(const CasArgs& a, const GlobalOptions& g) {
  cas::CasOptions options;
  std::string spec = a.cas.empty() ? g.CacheDir() + "/cas" : a.cas;
  if (!a.server_key.empty()) {
    CF_ASSIGN_OR_RETURN(options.remote.server_public_key, cas::LoadPublicKey(a.server_key));
    if (!g.key.empty()) {
      CF_ASSIGN_OR_RETURN(auto pair, cas::LoadSecretKey(g.key));
      options.remote.client_public_key = pair.public_key;
      options.remote.client_secret_key = pair.secret_key;
    }
  }
  if (spec.find("://") != std::string::npos) return cas::OpenCas(spec, options);
  // A local store is shared through its cache service, like every command's.
  std::error_code ec;
  std::string dir = std::filesystem::absolute(spec, ec).string();
  if (ec) return Err(Status::FromErrno("CAS directory " + spec, ec.value()));
  return ConnectCacheService(dir);
}

Status RunImport(cas::Cas& c, const CasArgs& a) {
  CF_ASSIGN_OR_RETURN(Digest root, c.ImportTree(a.dir));
  std::printf("%s\n", root.ToString().c_str());
  return Status::Ok();
}

// Into a temp dir beside DIR, renamed onto it at the end: a failed export (a
// corrupt blob, a full disk, Ctrl-C) leaves no partial tree that looks like a
// good one. rename(2) replaces DIR when it is an empty directory.
Status RunExport(cas::Cas& c, const CasArgs& a) {
  CF_ASSIGN_OR_RETURN(Digest root, Digest::Parse(a.digest));
  namespace fs = std::filesystem;
  const fs::path target = fs::absolute(a.dir).lexically_normal();
  std::error_code ec;
  if (fs::exists(fs::symlink_status(target, ec)) && !(fs::is_directory(target, ec) && fs::is_empty(target, ec)))
    return Status::FailedPrecondition("export target " + target.string() + " is not an empty directory");
  CF_ASSIGN_OR_RETURN(worker::TempDir tmp,
                      worker::TempDir::Create(target.parent_path().string(),
                                              "." + target.filename().string() + ".cf-partial-"));
  const std::string staged = tmp.path() + "/tree";
  CF_TRY(c.ExportTree(root, staged, a.hardlink ? cas::LinkMode::kHardlink : cas::LinkMode::kCopy));
  if (::rename(staged.c_str(), target.c_str()) != 0)
    return Status::FromErrno("renaming the exported tree to " + target.string(), errno);
  return Status::Ok();  // `tmp` (now empty) goes with its destructor
}

Status RunStats(cas::Cas& c) {
  CF_ASSIGN_OR_RETURN(auto s, c.Stats());
  std::printf("blobs: %llu\nbytes: %llu\nrefs: %llu\nquota: %llu\n",
              static_cast<unsigned long long>(s.blob_count),
              static_cast<unsigned long long>(s.blob_bytes),
              static_cast<unsigned long long>(s.ref_count),
              static_cast<unsigned long long>(s.quota_bytes));
  return Status::Ok();
}

Status RunGc(cas::Cas& c, const CasArgs& a) {
  std::optional<uint64_t> quota;
  if (!a.quota.empty()) {
    CF_ASSIGN_OR_RETURN(quota, cas::ParseByteSize(a.quota));
  }
  CF_ASSIGN_OR_RETURN(auto r, c.Gc(quota));
  std::printf("refs removed: %llu\nblobs removed: %llu\nbytes removed: %llu\n"
              "blobs kept for grace period: %llu\n",
              static_cast<unsigned long long>(r.refs_removed),
              static_cast<unsigned long long>(r.blobs_removed),
              static_cast<unsigned long long>(r.bytes_removed),
              static_cast<unsigned long long>(r.blobs_kept_for_grace));
  return Status::Ok();
}

Status RunVerify(cas::Cas& c, const CasArgs& a, const GlobalOptions& g) {
  CF_ASSIGN_OR_RETURN(auto r, c.Verify());
  // The checkouts beside a local store hard-link its files: an edited one is
  // dropped here even when the store's own copy is already gone.
  if (a.cas.empty()) {
    CF_ASSIGN_OR_RETURN(auto dropped, worker::ScrubCheckouts(c, g.CacheDir() + "/checkouts"));
    for (const auto& hex : dropped) std::printf("checkout removed: %s\n", hex.c_str());
  }
  std::printf("blobs checked: %llu\ncorrupt removed: %llu\ncache files removed: %llu\n"
              "tables removed: %llu\n",
              static_cast<unsigned long long>(r.blobs_checked),
              static_cast<unsigned long long>(r.corrupt_removed),
              static_cast<unsigned long long>(r.cache_files_removed),
              static_cast<unsigned long long>(r.tables_removed));
  for (const auto& name : r.damaged_refs) std::printf("damaged ref removed: %s\n", name.c_str());
  if (!r.damaged_refs.empty())
    std::printf("damaged refs lost data and were removed: the next build builds them again\n");
  return Status::Ok();
}

Status RunService(const CasArgs& a, const GlobalOptions& g) {
  std::string spec = a.cas.empty() ? g.CacheDir() + "/cas" : a.cas;
  std::error_code ec;
  std::string dir = std::filesystem::absolute(spec, ec).string();
  if (ec) return Status::FromErrno("CAS directory " + spec, ec.value());
  CacheServiceOptions options;
  options.linger = std::chrono::milliseconds(a.linger_ms);
  return RunCacheService(dir, options);
}

Status Run(const CasArgs& a, const GlobalOptions& g) {
  if (a.sub == "service") return RunService(a, g);
  CF_ASSIGN_OR_RETURN(auto c, Open(a, g));
  if (a.sub == "import") return RunImport(*c, a);
  if (a.sub == "export") return RunExport(*c, a);
  if (a.sub == "stats") return RunStats(*c);
  if (a.sub == "gc") return RunGc(*c, a);
  return RunVerify(*c, a, g);
}

CLI::App* AddSub(CLI::App& cas, CasArgs& a, const char* name, const char* help) {
  CLI::App* sub = cas.add_subcommand(name, help);
  sub->add_option("--cas", a.cas, "CAS directory or tcp://HOST:PORT (default: <cache>/cas)");
  sub->add_option("--server-key", a.server_key, "the CAS server's .pub (CurveZMQ)");
  sub->callback([&a, name] { a.sub = name; });
  return sub;
}

}  // namespace

Action AddCasCommand(CLI::App& app, const GlobalOptions& g) {
  auto a = std::make_shared<CasArgs>();
  CLI::App* cas = app.add_subcommand("cas", "Inspect and maintain the content-addressed store");
  cas->require_subcommand(1);
  AddSub(*cas, *a, "import", "Store a directory tree; prints its root digest HASH/SIZE")
      ->add_option("DIR", a->dir, "directory to import")->required();
  CLI::App* exp = AddSub(*cas, *a, "export", "Check out a tree into an empty directory");
  exp->add_option("DIGEST", a->digest, "root digest HASH/SIZE")->required();
  exp->add_option("DIR", a->dir, "target directory (absent or empty)")->required();
  exp->add_flag("--hardlink", a->hardlink, "hardlink read-only files from a local CAS");
  AddSub(*cas, *a, "stats", "Blob count, bytes, refs and quota");
  AddSub(*cas, *a, "gc", "Drop least recently used refs over quota, then unreachable blobs")
      ->add_option("--quota", a->quota, "target size for this run, e.g. 10G");
  AddSub(*cas, *a, "verify", "Re-hash every blob; remove corrupt entries");
  CLI::App* service = AddSub(*cas, *a, "service",
                             "Serve a local CAS to every crossfarm command on it (started on "
                             "demand; docs/cas.md)");
  service->add_option("--dir", a->cas, "CAS directory (default: <cache>/cas)");
  service->add_option("--linger-ms", a->linger_ms, "exit after this long without a command")
      ->check(CLI::NonNegativeNumber);
  return [a, &g] {
    Status s = Run(*a, g);
    return s.ok() ? kExitOk : Report(s);
  };
}

Action AddKeygenCommand(CLI::App& app, const GlobalOptions& /*g*/) {
  auto out = std::make_shared<std::string>();
  CLI::App* keygen = app.add_subcommand("keygen", "Make a CurveZMQ key pair NAME.key + NAME.pub");
  keygen->add_option("--out", *out, "NAME: writes NAME.key (secret, 0600) and NAME.pub")->required();
  return [out] {
    auto pair = cas::GenerateKeyPair(*out);
    if (!pair) return Report(pair.error());
    std::printf("%s\n", pair->public_key.c_str());
    return kExitOk;
  };
}

}  // namespace crossfarm::client
