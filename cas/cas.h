// The one CAS client API used by the worker and the CLI: same calls whether the
// store is a local directory (RocksDB, in this process) or a crossfarm-cas server.
//
//   CF_ASSIGN_OR_RETURN(auto cas, cas::OpenCas(cache_dir + "/cas"));   // or tcp://h:p
//   CF_ASSIGN_OR_RETURN(Digest root, cas->ImportTree("install-root"));
//   CF_TRY(cas->PutRef(cache_key, {.root = root, .element = "zlib.bst"}));
//   CF_TRY(cas->ExportTree(root, "sandbox/root", cas::LinkMode::kHardlink));
//
// Thread-safe. Every read is verified against its digest (Corruption otherwise,
// bad bytes never returned). Tree names are validated on import and export.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cas/blob_access.h"
#include "cas/local_store.h"
#include "cas/ref_signing.h"
#include "cas/remote_store.h"

namespace crossfarm::cas {

enum class LinkMode {
  kCopy,      // fresh, writable files (0644 / 0755)
  kHardlink,  // hardlinks to read-only files of the local files/ cache; a remote
              // CAS (or another filesystem) falls back to copies
};

// How a Cas signs and checks artifact refs (cas/ref_signing.h,
// docs/security.md). Default: neither (plain-TCP development clusters).
struct RefTrust {
  std::optional<SigningKey> signing_key;  // PutRef signs refs (IsSignedRef) with it
  // GetRef accepts signed refs (IsSignedRef) signed by one of these; nullopt: no check...
  std::optional<std::vector<proto::TrustedSigner>> signers;
  // ...unless this is set: then the first GetRef of a signed ref asks the CAS
  // server for its worker signing keys (a worker, which may start before its
  // CAS, reads the acceleration probe's refs).
  bool signers_from_server = false;
  // Told once per refused ref name; default: a warning log line.
  std::function<void(const std::string& name, const Status& why)> on_refused;
};

struct CasOptions {
  LocalStoreOptions local;
  RemoteOptions remote;
};

class Cas {
 public:
  Cas(std::shared_ptr<Store> store, std::shared_ptr<BlobAccess> blobs, LocalStore* local);

  // Blobs.
  Result<Digest> Put(std::string_view data);
  Result<Digest> PutFile(const std::string& path);  // streamed, never whole in memory
  Result<std::string> Get(const Digest& digest);
  // Streams into `path` (created; replaced only once fully verified).
  Status ReadToFile(const Digest& digest, const std::string& path, bool executable = false);
  Result<bool> Has(const Digest& digest);
  Result<std::vector<Digest>> FindMissing(std::span<const Digest> digests);

  // Trees. ImportTree stores regular files (exec bit kept), directories (empty ones
  // too) and symlinks (targets verbatim); other file types are InvalidArgument.
  Result<Digest> ImportTree(const std::string& dir);
  // `dir` must be absent or empty. InvalidArgument for unsafe names in the tree.
  Status ExportTree(const Digest& root, const std::string& dir, LinkMode mode = LinkMode::kCopy);
  Result<std::vector<TreeNode>> GetTree(const Digest& root);

  // Refs and maintenance (see Store). With a RefTrust, `artifacts/` refs are
  // signed by PutRef and checked by GetRef: one that does not verify is
  // PermissionDenied (reported once per name through on_refused), so callers
  // take it as not built, or fail, and never use its root.
  Result<RefInfo> GetRef(const std::string& name);
  Status PutRef(const std::string& name, const RefInfo& ref);
  Status DeleteRef(const std::string& name) { return store_->DeleteRef(name); }
  Result<std::vector<NamedRef>> ListRefs(std::string_view prefix) { return store_->ListRefs(prefix); }
  Result<CasStats> Stats() { return store_->Stats(); }
  Result<GcReport> Gc(std::optional<uint64_t> quota = std::nullopt) { return store_->Gc(quota); }
  Result<VerifyReport> Verify() { return store_->Verify(); }

  // Local stores and the cache service: drop the hard-link cache copies of
  // `digest` (LocalStore::RemoveCacheFiles).
  void ForgetCachedFiles(const Digest& digest);

  // Keeps `lease` alive as long as this Cas (the cache service's client lease).
  void Hold(std::shared_ptr<void> lease) { lease_ = std::move(lease); }

  // A crossfarm-cas server's worker signing keys (RemoteStore::Signers);
  // FailedPrecondition for a local store, which has no allow list.
  Result<std::vector<proto::TrustedSigner>> ServerSigners();
  // Set once, before the Cas is shared between threads.
  void SetRefTrust(RefTrust trust) { trust_ = std::move(trust); }
  const RefTrust& ref_trust() const { return trust_; }

  BlobAccess& blobs() { return *blobs_; }
  Store& store() { return *store_; }
  bool is_local() const { return local_ != nullptr; }

 private:
  friend Result<std::unique_ptr<Cas>> OpenCas(const std::string&, const CasOptions&);
  // A connection of its own for one long tree operation, so the shared
  // socket stays free for the other threads' short calls.
  Result<std::unique_ptr<RemoteStore>> ServiceConnection() const;

  std::shared_ptr<Store> store_;
  std::shared_ptr<BlobAccess> blobs_;  // verifying view of store_
  LocalStore* local_;                  // non-null when store_ is a LocalStore
  // The signers GetRef checks against (nullptr: none, no check).
  Result<const std::vector<proto::TrustedSigner>*> Signers();

  RefTrust trust_;
  std::mutex signers_mu_;
  std::optional<std::vector<proto::TrustedSigner>> server_signers_;  // signers_from_server
  std::mutex refused_mu_;
  std::set<std::string> refused_;      // names already reported
  // ipc:// endpoint of the per-user cache service (same machine, same user):
  // ImportTree/ExportTree run in the service, which reads/writes the paths.
  std::string service_endpoint_;
  RemoteOptions service_options_;
  std::shared_ptr<void> lease_;
};

// `spec` is a directory (opened, created if needed), tcp://HOST:PORT, or
// ipc://PATH of the per-user cache service (client/cache_service.h), which
// also imports and exports trees by path.
Result<std::unique_ptr<Cas>> OpenCas(const std::string& spec, const CasOptions& options = {});

// "1234", "512K", "10M", "10G", "1T" (powers of 1024; optional "B"/"iB").
Result<uint64_t> ParseByteSize(std::string_view text);

// A single path component: not empty, ".", "..", and without '/' or NUL.
Status ValidateName(std::string_view name);
// Names valid, each list sorted, no name twice, symlink targets non-empty.
Status ValidateDirectory(const DirectoryData& dir);

}  // namespace crossfarm::cas
