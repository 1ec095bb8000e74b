// The CAS server behind crossfarm-cas (wire format: docs/protocol.md).
//
// Threads: a proxy thread owns the ROUTER (clients) and an inproc DEALER; it drops
// malformed or oversized frames with a log line and hands well-formed requests to a
// pool of worker threads, each owning one REP socket. A pool rather than one
// thread because RocksDB is thread-safe and requests differ wildly in cost (a GC or
// a 16 MiB upload must not stall everyone's FindMissing). With CURVE keys, a
// ZapHandler admits only allow-listed client keys.
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cas/curve_keys.h"
#include "cas/local_store.h"
#include "cas/remote_store.h"

namespace zmq {
class context_t;
}
namespace crossfarm::metrics {
class Registry;
}

namespace crossfarm::cas {

class Cas;

struct ServerOptions {
  std::string listen = "tcp://127.0.0.1:*";  // "*" port: ephemeral, see endpoint()
  int threads = 4;
  size_t max_frame_bytes = kMaxFrameBytes;
  std::string public_key;               // Z85 server pair; empty secret_key: plain
  std::string secret_key;               //   TCP, logged as a warning
  // Z85 public keys and their roles (CURVE only). Every request is checked
  // against the role of the key that sent it; plain TCP serves everyone as admin.
  std::vector<AllowedKey> allowed_keys;
  // Counts requests, bytes and refusals (cas/server_metrics.h); may be null.
  metrics::Registry* metrics = nullptr;
  // Serve captureTree/stageTree/forgetFiles, which read and write paths as
  // this process's user: only for the per-user cache service, whose listen
  // address must be ipc:// (the socket is made 0600, so only that user
  // reaches it). Anywhere else these requests get PermissionDenied.
  bool serve_paths = false;
};

class CasServer {
 public:
  // Binds and starts serving `store` (which must outlive the server).
  static Result<std::unique_ptr<CasServer>> Start(LocalStore& store, ServerOptions options);
  ~CasServer();  // Stop()s
  CasServer(const CasServer&) = delete;
  CasServer& operator=(const CasServer&) = delete;

  // The bound endpoint with the real port, e.g. tcp://127.0.0.1:41234.
  const std::string& endpoint() const { return endpoint_; }
  void Stop();
  // Replaces the allow list (SIGHUP, CURVE only): a new key connects, a
  // removed key is refused at its next connection and at its next request on
  // a connection it already has; requests being served finish. Thread-safe.
  void SetAllowedKeys(const std::vector<AllowedKey>& allowed);

  // Roles by Z85 key; empty when the server runs without CURVE (everyone admin).
  using RoleMap = std::unordered_map<std::string, KeyRole>;
  // What the worker threads read: what the server knows of its keys, from the
  // allow list (replaced by SetAllowedKeys). CURVE only; without CURVE
  // everyone is admin and refs are not checked.
  struct Shared {
    std::shared_mutex mu;
    RoleMap roles;
    std::unordered_map<std::string, std::string> sign_keys;  // Z85 key -> raw signing key
    std::vector<proto::TrustedSigner> signers;               // workers' signing keys
    bool curve = false;
    metrics::Registry* metrics = nullptr;
  };

 private:
  CasServer() = default;
  std::unique_ptr<zmq::context_t> context_;
  std::unique_ptr<ZapHandler> zap_;
  Shared shared_;
  std::unique_ptr<Cas> paths_;  // set with serve_paths: tree import/export
  std::vector<std::thread> threads_;
  std::string endpoint_;
};

// Serves one decoded request against `store` (the worker threads' core).
// Path operations need `paths` (a Cas over the same store); without it they
// are PermissionDenied.
proto::CasResponse HandleRequest(LocalStore& store, const proto::CasRequest& request,
                                 Cas* paths = nullptr);

// OK if `role` may send `request` (docs/security.md "Roles"), else
// PermissionDenied saying which role it needs. Reads: everyone; blobs and
// `sources/` refs: client; other refs: worker; deleteRef, stats, gc, verify: admin.
Status Authorize(KeyRole role, const proto::CasRequest& request);

// With CURVE, an `artifacts/` putRef must carry a valid signature of a worker
// in the allow list (cas/ref_signing.h), and a worker key may only send refs
// signed with its own signing key (an admin may copy any worker's). Else
// PermissionDenied naming the signer. `key`: the sender's Z85 key.
Status CheckArtifactSignature(CasServer::Shared& shared, KeyRole role, const std::string& key,
                              const proto::CasRequest& request);

}  // namespace crossfarm::cas
