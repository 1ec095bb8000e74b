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
#include <vector>

#include "cas/local_store.h"
#include "cas/remote_store.h"

namespace zmq {
class context_t;
}

namespace crossfarm::cas {

class ZapHandler;

struct ServerOptions {
  std::string listen = "tcp://127.0.0.1:*";  // "*" port: ephemeral, see endpoint()
  int threads = 4;
  size_t max_frame_bytes = kMaxFrameBytes;
  std::string public_key;               // Z85 server pair; empty secret_key: plain
  std::string secret_key;               //   TCP, logged as a warning
  std::vector<std::string> allowed_keys;  // Z85 client public keys (CURVE only)
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

 private:
  CasServer() = default;
  std::unique_ptr<zmq::context_t> context_;
  std::unique_ptr<ZapHandler> zap_;
  std::vector<std::thread> threads_;
  std::string endpoint_;
};

// Serves one decoded request against `store` (the worker threads' core).
proto::CasResponse HandleRequest(LocalStore& store, const proto::CasRequest& request);

}  // namespace crossfarm::cas
