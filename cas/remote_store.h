// ZeroMQ client of crossfarm-cas (wire format: docs/protocol.md).
//
// One DEALER socket used in lockstep under a mutex (one caller at a time owns it).
// A request unanswered within `attempt_timeout` is retried on a fresh socket with
// exponential backoff until `deadline`, then fails with Unavailable: every request
// is idempotent, so a server restarted mid-operation is survived. The store does
// not verify bytes itself: Cas wraps it in VerifyingBlobAccess.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "cas/blob_access.h"

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq

namespace crossfarm::cas {

struct RemoteOptions {
  std::string server_public_key;  // Z85; empty: plain TCP (loopback/dev only)
  std::string client_public_key;  // Z85 pair of this client (crossfarm keygen);
  std::string client_secret_key;  // empty with a server key: an ephemeral pair
  std::chrono::milliseconds attempt_timeout{10000};
  std::chrono::milliseconds deadline{120000};
  // Asked at least once a second while an answer is awaited: false ends the
  // call at once with Unavailable (the local cache service died; without it
  // a call would wait out the deadline).
  std::function<bool()> alive;
  // Told the bytes of each request frame sent and of its answer received
  // (the client's upload/download progress); called on the calling thread.
  std::function<void(uint64_t sent, uint64_t received)> on_transfer;
};

// Upper bound of one frame either way; the server drops larger ones.
inline constexpr size_t kMaxFrameBytes = 64 << 20;
// Client-side batch limit, leaving room for message overhead.
inline constexpr uint64_t kMaxBatchBytes = 16 << 20;

class RemoteStore : public Store {
 public:
  // Does not contact the server (ZeroMQ connects lazily).
  static Result<std::unique_ptr<RemoteStore>> Connect(const std::string& endpoint,
                                                      RemoteOptions options);
  ~RemoteStore() override;

  Result<std::string> Get(const Digest& digest) override;
  Status Read(const Digest& digest, const ByteSink& sink) override;
  Status Put(const Digest& digest, std::string_view data) override;
  Result<Digest> PutFile(const std::string& path) override;
  Result<std::vector<Digest>> FindMissing(std::span<const Digest> digests) override;
  Result<std::vector<Result<std::string>>> BatchGet(std::span<const Digest> digests) override;
  Status BatchPut(std::span<const BlobData> blobs) override;

  Result<RefInfo> GetRef(const std::string& name) override;
  Status PutRef(const std::string& name, const RefInfo& ref) override;
  Status DeleteRef(const std::string& name) override;
  Result<std::vector<NamedRef>> ListRefs(std::string_view prefix) override;
  Result<std::vector<TreeNode>> GetTree(const Digest& root) override;
  Result<std::vector<Digest>> GetManifest(const Digest& digest) override;
  Status PutLarge(const Digest& digest, std::span<const Digest> chunks) override;
  Result<CasStats> Stats() override;
  Result<GcReport> Gc(std::optional<uint64_t> quota) override;
  Result<VerifyReport> Verify() override;
  // The worker signing keys the server trusts (its allow list's sign= keys).
  Result<std::vector<proto::TrustedSigner>> Signers();

  // Path operations of the per-user cache service (server.h serve_paths):
  // the server imports `dir` / exports into `dir` itself. Absolute paths.
  Result<Digest> CaptureTree(const std::string& dir);
  Status StageTree(const Digest& root, const std::string& dir, bool hardlink);
  Status ForgetFiles(std::span<const Digest> digests);

 private:
  RemoteStore(std::string endpoint, RemoteOptions options);
  // Sends with retries; the response's non-OK status becomes the error.
  Result<proto::CasResponse> Call(proto::CasRequest request);
  Result<std::optional<proto::CasResponse>> Attempt(const std::string& frame, uint64_t id,
                                                    std::chrono::steady_clock::time_point until);
  Status ResetSocket();
  Status UploadChunks(std::vector<BlobData>& chunks);

  std::string endpoint_;
  RemoteOptions options_;
  std::mutex mu_;
  std::unique_ptr<zmq::context_t> context_;
  std::unique_ptr<zmq::socket_t> socket_;  // guarded by mu_
  uint64_t next_id_ = 1;                   // guarded by mu_
};

}  // namespace crossfarm::cas
