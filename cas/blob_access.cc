#include "cas/blob_access.h"

namespace crossfarm::cas {

uint64_t ChunkCount(uint64_t size) { return (size + kChunkSize - 1) / kChunkSize; }

uint64_t ChunkLength(uint64_t size, uint64_t index) {
  uint64_t start = index * kChunkSize;
  return std::min(kChunkSize, size - start);
}

Result<std::vector<Result<std::string>>> BlobAccess::BatchGet(std::span<const Digest> digests) {
  std::vector<Result<std::string>> out;
  out.reserve(digests.size());
  for (const auto& d : digests) out.push_back(Get(d));
  return out;
}

Status BlobAccess::BatchPut(std::span<const BlobData> blobs) {
  for (const auto& b : blobs) CF_TRY(Put(b.digest, b.data));
  return Status::Ok();
}

namespace {
Status Mismatch(const Digest& expected, const Digest& got) {
  return Status::Corruption("blob " + expected.ToString() + " read back as " + got.ToString());
}
}  // namespace

Result<std::string> VerifyingBlobAccess::Get(const Digest& digest) {
  CF_ASSIGN_OR_RETURN(std::string data, base_->Get(digest));
  Digest got = Digest::OfBytes(data);
  if (got != digest) return Err(Mismatch(digest, got));
  return data;
}

Status VerifyingBlobAccess::Read(const Digest& digest, const ByteSink& sink) {
  Sha256 sha;
  uint64_t size = 0;
  CF_TRY(base_->Read(digest, [&](std::string_view piece) {
    sha.Update(piece);
    size += piece.size();
    return sink(piece);
  }));
  Digest got;
  got.hash = sha.Finish();
  got.size = size;
  if (got != digest) return Mismatch(digest, got);
  return Status::Ok();
}

Status VerifyingBlobAccess::Put(const Digest& digest, std::string_view data) {
  return base_->Put(digest, data);
}

Result<Digest> VerifyingBlobAccess::PutFile(const std::string& path) {
  return base_->PutFile(path);
}

Result<std::vector<Digest>> VerifyingBlobAccess::FindMissing(std::span<const Digest> digests) {
  return base_->FindMissing(digests);
}

Result<std::vector<Result<std::string>>> VerifyingBlobAccess::BatchGet(
    std::span<const Digest> digests) {
  CF_ASSIGN_OR_RETURN(auto results, base_->BatchGet(digests));
  for (size_t i = 0; i < results.size() && i < digests.size(); ++i) {
    if (!results[i]) continue;
    Digest got = Digest::OfBytes(*results[i]);
    if (got != digests[i]) results[i] = Err(Mismatch(digests[i], got));
  }
  return results;
}

Status VerifyingBlobAccess::BatchPut(std::span<const BlobData> blobs) {
  return base_->BatchPut(blobs);
}

}  // namespace crossfarm::cas
