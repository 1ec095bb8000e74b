// Plain C++ values of the CAS schema (proto/cas.capnp) and their codecs.
//
// proto/ is the only code that touches Cap'n Proto readers and builders: the rest
// of crossfarm sees these structs. Every Decode* catches Cap'n Proto exceptions and
// returns InvalidArgument (wire) or Corruption (stored data) naming what failed.
// Formats: docs/cas.md (on disk) and docs/protocol.md (wire), both version 1.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/digest.h"
#include "common/status.h"

namespace crossfarm::proto {

// Bumped on any incompatible change to Request/Response; servers refuse others.
inline constexpr uint32_t kCasProtocolVersion = 1;

struct FileEntry {
  std::string name;
  Digest digest;
  bool executable = false;
  bool operator==(const FileEntry&) const = default;
};

struct DirEntry {
  std::string name;
  Digest digest;
  bool operator==(const DirEntry&) const = default;
};

struct SymlinkEntry {
  std::string name;
  std::string target;
  bool operator==(const SymlinkEntry&) const = default;
};

// One Merkle node: lists sorted by name, names unique across the three lists.
struct DirectoryData {
  std::vector<FileEntry> files;
  std::vector<DirEntry> directories;
  std::vector<SymlinkEntry> symlinks;
  bool operator==(const DirectoryData&) const = default;
};

struct RefInfo {
  Digest root;
  std::string element;
  std::string arch;
  std::optional<Digest> build_log;
  std::string worker;
  uint64_t build_seconds = 0;
  int64_t created_unix = 0;
  int64_t last_used_unix = 0;
  std::string signer;     // raw Ed25519 public key of the signing worker; "" unsigned
  std::string signature;  // raw Ed25519 signature (cas/ref_signing.h)
  bool operator==(const RefInfo&) const = default;
};

// A worker signing key a client trusts (cas/ref_signing.h).
struct TrustedSigner {
  std::string public_key;  // raw Ed25519, 32 bytes
  std::string name;        // worker name pinned to it, or ""
};

struct NamedRef {
  std::string name;
  RefInfo ref;
};

struct CasStats {
  uint64_t blob_count = 0;
  uint64_t blob_bytes = 0;
  uint64_t ref_count = 0;
  uint64_t quota_bytes = 0;  // 0 = unlimited
};

struct GcReport {
  uint64_t refs_removed = 0;
  uint64_t blobs_removed = 0;
  uint64_t bytes_removed = 0;
  uint64_t blobs_kept_for_grace = 0;
};

struct VerifyReport {
  uint64_t blobs_checked = 0;
  uint64_t corrupt_removed = 0;
  uint64_t cache_files_removed = 0;
  uint64_t tables_removed = 0;             // SST files failing their block checksums
  std::vector<std::string> damaged_refs;   // refs whose closure lost data (now or before), removed
};

struct BlobData {
  Digest digest;
  std::string data;
};

// Same order as enum Op in cas.capnp.
enum class CasOp : uint16_t {
  kFindMissing, kBatchUpload, kBatchRead, kPutLarge, kGetManifest, kGetTree,
  kGetRef, kPutRef, kDeleteRef, kListRefs, kStats, kGc, kVerify, kSigners,
  kCaptureTree, kStageTree, kForgetFiles,
};

struct CasRequest {
  uint32_t version = kCasProtocolVersion;
  uint64_t request_id = 0;
  CasOp op = CasOp::kStats;
  std::vector<Digest> digests;
  std::vector<BlobData> blobs;
  std::string name;
  RefInfo ref;
  Digest digest;
  std::optional<uint64_t> quota;
  bool hardlink = false;  // kStageTree
};

struct CasResponse {
  uint32_t version = kCasProtocolVersion;
  uint64_t request_id = 0;
  Status status;
  std::vector<Digest> digests;
  std::vector<BlobData> blobs;
  std::vector<Status> results;
  std::vector<DirectoryData> directories;
  std::vector<NamedRef> refs;
  CasStats stats;
  GcReport gc;
  VerifyReport verify;
  std::vector<TrustedSigner> signers;
};

// Canonical Cap'n Proto bytes of a Directory: its digest is the tree node's id.
std::string EncodeDirectory(const DirectoryData& dir);
// Corruption unless `bytes` is a canonical Directory message.
Result<DirectoryData> DecodeDirectory(std::string_view bytes);

std::string EncodeRef(const RefInfo& ref);
Result<RefInfo> DecodeRef(std::string_view bytes);

std::string EncodeRequest(const CasRequest& req);
Result<CasRequest> DecodeRequest(std::string_view bytes);
std::string EncodeResponse(const CasResponse& resp);
Result<CasResponse> DecodeResponse(std::string_view bytes);

}  // namespace crossfarm::proto
