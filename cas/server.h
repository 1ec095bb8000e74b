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

  // Roles by Z85 key; empty when the server runs without CURVE (everyone admin).
  using RoleMap = std::unordered_map<std::string, KeyRole>;

 private:
  CasServer() = default;
  std::unique_ptr<zmq::context_t> context_;
  std::unique_ptr<ZapHandler> zap_;
  RoleMap roles_;  // read by the worker threads, written before they start
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

}  // namespace crossfarm::cas
