// Buildbarn-style blob access: a small interface (Get / Put / FindMissing, batch,
// streaming) implemented by the RocksDB LocalStore and the ZeroMQ RemoteStore,
// extended by decorators (VerifyingBlobAccess).
//
// Size rule shared by every implementation (docs/cas.md): a blob of at most
// kChunkSize bytes is stored whole; a larger one is stored as kChunkSize chunks
// (each an ordinary blob) plus a manifest under the large blob's digest. Callers
// never see chunks unless they ask for a manifest.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/status.h"
#include "proto/cas_types.h"

namespace crossfarm::cas {

using proto::BlobData;
using proto::CasStats;
using proto::DirectoryData;
using proto::GcReport;
using proto::NamedRef;
using proto::RefInfo;
using proto::VerifyReport;

inline constexpr uint64_t kChunkSize = 1 << 20;

// Receives consecutive pieces of a blob; a non-OK Status aborts the read.
using ByteSink = std::function<Status(std::string_view)>;

// Thread-safe. Errors: NotFound (absent), Corruption (stored or received bytes do
// not match the digest; local stores delete the entry), InvalidArgument (data does
// not match the digest given to Put), ResourceExhausted (quota or disk full),
// Unavailable (remote server unreachable past its deadline).
class BlobAccess {
 public:
  virtual ~BlobAccess() = default;

  // Whole blob in memory: use Read for blobs that may be large.
  virtual Result<std::string> Get(const Digest& digest) = 0;
  // Streams the blob in pieces of at most kChunkSize bytes. If it returns
  // Corruption, bytes already passed to `sink` are bad: the caller discards them.
  virtual Status Read(const Digest& digest, const ByteSink& sink) = 0;
  virtual Status Put(const Digest& digest, std::string_view data) = 0;
  // Stores a file without holding it in memory; returns its digest.
  virtual Result<Digest> PutFile(const std::string& path) = 0;
  // The subset of `digests` that is not stored (order kept, duplicates removed).
  virtual Result<std::vector<Digest>> FindMissing(std::span<const Digest> digests) = 0;
  // One result per digest, in order.
  virtual Result<std::vector<Result<std::string>>> BatchGet(std::span<const Digest> digests);
  virtual Status BatchPut(std::span<const BlobData> blobs);
};

// A tree node as returned by GetTree: the Directory and its digest.
struct TreeNode {
  Digest digest;
  DirectoryData directory;
};

// A whole store: blobs plus refs, trees and maintenance. Implemented by
// LocalStore (RocksDB) and RemoteStore (ZeroMQ client of crossfarm-cas).
class Store : public BlobAccess {
 public:
  // The ref's value; touches its last-used time. NotFound if absent.
  virtual Result<RefInfo> GetRef(const std::string& name) = 0;
  // Creates or replaces. FailedPrecondition if the root directory is not stored.
  virtual Status PutRef(const std::string& name, const RefInfo& ref) = 0;
  virtual Status DeleteRef(const std::string& name) = 0;  // OK if absent
  virtual Result<std::vector<NamedRef>> ListRefs(std::string_view prefix) = 0;
  // Every Directory reachable from `root`, root first, each listed once.
  virtual Result<std::vector<TreeNode>> GetTree(const Digest& root) = 0;
  // Chunk digests of a blob larger than kChunkSize.
  virtual Result<std::vector<Digest>> GetManifest(const Digest& digest) = 0;
  // Stores a large blob from chunks already stored; verifies the whole digest.
  virtual Status PutLarge(const Digest& digest, std::span<const Digest> chunks) = 0;
  virtual Result<CasStats> Stats() = 0;
  // Quota override for this run only (nullopt: the store's configured quota).
  virtual Result<GcReport> Gc(std::optional<uint64_t> quota) = 0;
  virtual Result<VerifyReport> Verify() = 0;
};

// Checks every byte read through it against the digest (Get, BatchGet, Read):
// mismatches become Corruption and the bad bytes are never returned.
class VerifyingBlobAccess : public BlobAccess {
 public:
  explicit VerifyingBlobAccess(std::shared_ptr<BlobAccess> base) : base_(std::move(base)) {}
  Result<std::string> Get(const Digest& digest) override;
  Status Read(const Digest& digest, const ByteSink& sink) override;
  Status Put(const Digest& digest, std::string_view data) override;
  Result<Digest> PutFile(const std::string& path) override;
  Result<std::vector<Digest>> FindMissing(std::span<const Digest> digests) override;
  Result<std::vector<Result<std::string>>> BatchGet(std::span<const Digest> digests) override;
  Status BatchPut(std::span<const BlobData> blobs) override;

 private:
  std::shared_ptr<BlobAccess> base_;
};

// Manifest chunking helpers (docs/cas.md "Large blobs").
uint64_t ChunkCount(uint64_t size);
uint64_t ChunkLength(uint64_t size, uint64_t index);

}  // namespace crossfarm::cas
