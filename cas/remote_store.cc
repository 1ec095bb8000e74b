#include "cas/remote_store.h"

#include <spdlog/spdlog.h>
#include <zmq.h>

#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "cas/local_store_internal.h"

namespace crossfarm::cas {

using proto::CasOp;
using proto::CasRequest;
using proto::CasResponse;

RemoteStore::RemoteStore(std::string endpoint, RemoteOptions options)
    : endpoint_(std::move(endpoint)), options_(std::move(options)),
      context_(std::make_unique<zmq::context_t>(1)) {}

RemoteStore::~RemoteStore() {
  socket_.reset();
  context_.reset();
}

Result<std::unique_ptr<RemoteStore>> RemoteStore::Connect(const std::string& endpoint,
                                                          RemoteOptions options) {
  if (!options.server_public_key.empty() && options.client_secret_key.empty()) {
    char pub[41] = {}, sec[41] = {};
    if (zmq_curve_keypair(pub, sec) != 0)
      return Err(Status::FailedPrecondition("libzmq lacks CURVE support"));
    options.client_public_key = pub;
    options.client_secret_key = sec;
  }
  std::unique_ptr<RemoteStore> store(new RemoteStore(endpoint, std::move(options)));
  std::lock_guard lock(store->mu_);
  CF_TRY(store->ResetSocket());
  return store;
}

Status RemoteStore::ResetSocket() {
  try {
    socket_.reset();
    auto s = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::dealer);
    s->set(zmq::sockopt::linger, 0);
    s->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxFrameBytes + 4096));
    if (!options_.server_public_key.empty()) {
      s->set(zmq::sockopt::curve_serverkey, options_.server_public_key);
      s->set(zmq::sockopt::curve_publickey, options_.client_public_key);
      s->set(zmq::sockopt::curve_secretkey, options_.client_secret_key);
    }
    s->connect(endpoint_);
    socket_ = std::move(s);
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    return Status::InvalidArgument("CAS endpoint " + endpoint_ + ": " + e.what());
  }
}

Result<std::optional<CasResponse>> RemoteStore::Attempt(
    const std::string& frame, uint64_t id, std::chrono::steady_clock::time_point until) {
  try {
    std::array<zmq::const_buffer, 2> parts = {zmq::str_buffer(""), zmq::buffer(frame)};
    if (!zmq::send_multipart(*socket_, parts, zmq::send_flags::dontwait)) return std::nullopt;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      zmq::pollitem_t item{static_cast<void*>(*socket_), 0, ZMQ_POLLIN, 0};
      if (options_.alive) left = std::min(left, std::chrono::milliseconds(1000));
      if (zmq::poll(&item, 1, left) == 0) {
        if (options_.alive && !options_.alive())
          return Err(Status::Unavailable("CAS server " + endpoint_ + " stopped"));
        continue;
      }
      std::vector<zmq::message_t> reply;
      if (!zmq::recv_multipart(*socket_, std::back_inserter(reply))) continue;
      if (reply.size() != 2) continue;
      auto resp = proto::DecodeResponse(reply[1].to_string_view());
      if (!resp) return Err(resp.error().WithContext("CAS server " + endpoint_));
      if (resp->request_id == id || resp->request_id == 0) {
        if (options_.on_transfer) options_.on_transfer(frame.size(), reply[1].size());
        return std::optional(std::move(*resp));
      }
      // A late answer to an earlier attempt: keep waiting for ours.
    }
  } catch (const zmq::error_t& e) {
    return Err(Status::Unavailable("CAS server " + endpoint_ + ": " + e.what()));
  }
}

Result<CasResponse> RemoteStore::Call(CasRequest request) {
  std::lock_guard lock(mu_);
  request.request_id = next_id_++;
  std::string frame = proto::EncodeRequest(request);
  if (frame.size() > kMaxFrameBytes)
    return Err(Status::ResourceExhausted("CAS request of " + std::to_string(frame.size()) +
                                         " bytes exceeds the frame limit"));
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + options_.deadline;
  auto backoff = std::chrono::milliseconds(50);
  for (int attempt = 1;; ++attempt) {
    if (!socket_) CF_TRY(ResetSocket());
    // GC, scrub and tree import/export take as long as the store or tree is big: resending them would only
    // start a second run, so they get the whole deadline.
    bool slow = request.op == CasOp::kGc || request.op == CasOp::kVerify ||
                request.op == CasOp::kCaptureTree || request.op == CasOp::kStageTree;
    auto until = slow ? deadline
                      : std::min(deadline, std::chrono::steady_clock::now() + options_.attempt_timeout);
    CF_ASSIGN_OR_RETURN(auto resp, Attempt(frame, request.request_id, until));
    if (resp) {
      if (!resp->status.ok()) return Err(resp->status.WithContext("CAS server " + endpoint_));
      return std::move(*resp);
    }
    // Lockstep is broken after a timeout: a fresh socket drops any stale state.
    socket_.reset();
    if (std::chrono::steady_clock::now() + backoff >= deadline)
      return Err(Status::Unavailable("CAS server " + endpoint_ + " did not answer within " +
                                     std::to_string(options_.deadline.count()) + " ms (" +
                                     std::to_string(attempt) + " attempts); is crossfarm-cas running?"));
    spdlog::warn("cas: no answer, retrying server={} attempt={}", endpoint_, attempt);
    std::this_thread::sleep_for(backoff);  // backoff between retries, not a wait for state
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

Result<std::vector<Digest>> RemoteStore::FindMissing(std::span<const Digest> digests) {
  constexpr size_t kPerRequest = 50000;
  std::vector<Digest> missing;
  for (size_t i = 0; i < digests.size(); i += kPerRequest) {
    CasRequest req;
    req.op = CasOp::kFindMissing;
    auto part = digests.subspan(i, std::min(kPerRequest, digests.size() - i));
    req.digests.assign(part.begin(), part.end());
    CF_ASSIGN_OR_RETURN(auto resp, Call(std::move(req)));
    missing.insert(missing.end(), resp.digests.begin(), resp.digests.end());
  }
  return missing;
}

Result<std::vector<Result<std::string>>> RemoteStore::BatchGet(std::span<const Digest> digests) {
  std::vector<Result<std::string>> out;
  size_t i = 0;
  while (i < digests.size()) {
    CasRequest req;
    req.op = CasOp::kBatchRead;
    uint64_t bytes = 0;
    for (; i < digests.size() && (req.digests.empty() || bytes + digests[i].size <= kMaxBatchBytes); ++i) {
      if (digests[i].size > kChunkSize) break;
      req.digests.push_back(digests[i]);
      bytes += digests[i].size;
    }
    if (req.digests.empty()) {  // a large blob: streamed
      out.push_back(Get(digests[i++]));
      continue;
    }
    size_t n = req.digests.size();
    CF_ASSIGN_OR_RETURN(auto resp, Call(std::move(req)));
    if (resp.results.size() != n || resp.blobs.size() != n)
      return Err(Status::Internal("CAS server " + endpoint_ + " answered BatchRead with the wrong count"));
    for (size_t k = 0; k < n; ++k) {
      if (resp.results[k].ok()) out.push_back(std::move(resp.blobs[k].data));
      else out.push_back(Err(resp.results[k]));
    }
  }
  return out;
}

Result<std::string> RemoteStore::Get(const Digest& digest) {
  if (digest.size <= kChunkSize) {
    CF_ASSIGN_OR_RETURN(auto results, BatchGet(std::span(&digest, 1)));
    return std::move(results.at(0));
  }
  std::string out;
  CF_TRY(Read(digest, [&](std::string_view piece) {
    out.append(piece);
    return Status::Ok();
  }));
  return out;
}

Status RemoteStore::Read(const Digest& digest, const ByteSink& sink) {
  if (digest.size <= kChunkSize) {
    CF_ASSIGN_OR_RETURN(std::string data, Get(digest));
    return sink(data);
  }
  CF_ASSIGN_OR_RETURN(auto chunks, GetManifest(digest));
  constexpr size_t kChunksPerRequest = 8;
  for (size_t i = 0; i < chunks.size(); i += kChunksPerRequest) {
    auto part = std::span(chunks).subspan(i, std::min(kChunksPerRequest, chunks.size() - i));
    CF_ASSIGN_OR_RETURN(auto got, BatchGet(part));
    for (auto& r : got) {
      if (!r) return r.error();
      CF_TRY(sink(*r));
    }
  }
  return Status::Ok();
}

Status RemoteStore::BatchPut(std::span<const BlobData> blobs) {
  size_t i = 0;
  while (i < blobs.size()) {
    if (blobs[i].data.size() > kChunkSize) {
      CF_TRY(Put(blobs[i].digest, blobs[i].data));
      ++i;
      continue;
    }
    CasRequest req;
    req.op = CasOp::kBatchUpload;
    uint64_t bytes = 0;
    for (; i < blobs.size() && blobs[i].data.size() <= kChunkSize &&
           (req.blobs.empty() || bytes + blobs[i].data.size() <= kMaxBatchBytes); ++i) {
      req.blobs.push_back(blobs[i]);
      bytes += blobs[i].data.size();
    }
    CF_ASSIGN_OR_RETURN(auto resp, Call(std::move(req)));
    for (const auto& r : resp.results) CF_TRY(r.WithContext("CAS server " + endpoint_));
  }
  return Status::Ok();
}

Status RemoteStore::UploadChunks(std::vector<BlobData>& chunks) {
  std::vector<Digest> digests;
  for (const auto& c : chunks) digests.push_back(c.digest);
  CF_ASSIGN_OR_RETURN(auto missing, FindMissing(digests));
  std::vector<BlobData> upload;
  for (auto& c : chunks)
    if (std::find(missing.begin(), missing.end(), c.digest) != missing.end()) upload.push_back(std::move(c));
  chunks.clear();
  return BatchPut(upload);
}

Status RemoteStore::Put(const Digest& digest, std::string_view data) {
  if (data.size() <= kChunkSize) {
    BlobData blob{digest, std::string(data)};
    return BatchPut(std::span(&blob, 1));
  }
  std::vector<Digest> manifest;
  std::vector<BlobData> group;
  for (uint64_t i = 0; i < ChunkCount(data.size()); ++i) {
    std::string piece(data.substr(i * kChunkSize, ChunkLength(data.size(), i)));
    manifest.push_back(Digest::OfBytes(piece));
    group.push_back({manifest.back(), std::move(piece)});
    if (group.size() == 8) CF_TRY(UploadChunks(group));
  }
  CF_TRY(UploadChunks(group));
  return PutLarge(digest, manifest);
}

Result<Digest> RemoteStore::PutFile(const std::string& path) {
  CF_ASSIGN_OR_RETURN(auto file, internal::ChunkReader::Open(path));
  if (file.size() <= kChunkSize) {
    CF_ASSIGN_OR_RETURN(std::string data, file.ReadAll());
    Digest d = Digest::OfBytes(data);
    CF_TRY(Put(d, data));
    return d;
  }
  Sha256 whole;
  uint64_t total = 0;
  std::vector<Digest> manifest;
  std::vector<BlobData> group;
  while (true) {
    CF_ASSIGN_OR_RETURN(std::string_view piece, file.Next());
    if (piece.empty()) break;
    whole.Update(piece);
    total += piece.size();
    manifest.push_back(Digest::OfBytes(piece));
    group.push_back({manifest.back(), std::string(piece)});
    if (group.size() == 8) CF_TRY(UploadChunks(group));
  }
  CF_TRY(UploadChunks(group));
  if (total != file.size()) return Err(Status::IOError(path + " changed size while being uploaded"));
  Digest d{whole.Finish(), total};
  CF_TRY(PutLarge(d, manifest));
  return d;
}

Result<std::vector<Digest>> RemoteStore::GetManifest(const Digest& digest) {
  CasRequest req;
  req.op = CasOp::kGetManifest;
  req.digest = digest;
  CF_ASSIGN_OR_RETURN(auto resp, Call(std::move(req)));
  if (resp.digests.size() != ChunkCount(digest.size))
    return Err(Status::Corruption("manifest of " + digest.ToString() + " has the wrong chunk count"));
  return std::move(resp.digests);
}

Status RemoteStore::PutLarge(const Digest& digest, std::span<const Digest> chunks) {
  CasRequest req;
  req.op = CasOp::kPutLarge;
  req.digest = digest;
  req.digests.assign(chunks.begin(), chunks.end());
  return ::crossfarm::detail::ToStatus(Call(std::move(req)));
}

Result<std::vector<TreeNode>> RemoteStore::GetTree(const Digest& root) {
  CasRequest req;
  req.op = CasOp::kGetTree;
  req.digest = root;
  CF_ASSIGN_OR_RETURN(auto resp, Call(std::move(req)));
  if (resp.digests.size() != resp.directories.size())
    return Err(Status::Internal("CAS server " + endpoint_ + " sent a malformed tree"));
  std::vector<TreeNode> out;
  for (size_t i = 0; i < resp.digests.size(); ++i) {
    // Re-encoding the canonical form must give back the same digest.
    if (Digest::OfBytes(proto::EncodeDirectory(resp.directories[i])) != resp.digests[i])
      return Err(Status::Corruption("tree node " + resp.digests[i].ToString() + " from " +
                                    endpoint_ + " does not match its digest"));
    out.push_back({resp.digests[i], std::move(resp.directories[i])});
  }
  return out;
}

Result<RefInfo> RemoteStore::GetRef(const std::string& name) {
  CasRequest req;
  req.op = CasOp::kGetRef;
  req.name = name;
  CF_ASSIGN_OR_RETURN(auto resp, Call(std::move(req)));
  if (resp.refs.empty()) return Err(Status::Internal("empty GetRef answer"));
  return std::move(resp.refs[0].ref);
}

Status RemoteStore::PutRef(const std::string& name, const RefInfo& ref) {
  CasRequest req;
  req.op = CasOp::kPutRef;
  req.name = name;
  req.ref = ref;
  return ::crossfarm::detail::ToStatus(Call(std::move(req)));
}

Status RemoteStore::DeleteRef(const std::string& name) {
  CasRequest req;
  req.op = CasOp::kDeleteRef;
  req.name = name;
  return ::crossfarm::detail::ToStatus(Call(std::move(req)));
}

Result<std::vector<NamedRef>> RemoteStore::ListRefs(std::string_view prefix) {
  CasRequest req;
  req.op = CasOp::kListRefs;
  req.name = std::string(prefix);
  CF_ASSIGN_OR_RETURN(auto resp, Call(std::move(req)));
  return std::move(resp.refs);
}

Result<CasStats> RemoteStore::Stats() {
  CasRequest req;
  req.op = CasOp::kStats;
  CF_ASSIGN_OR_RETURN(auto resp, Call(std::move(req)));
  return resp.stats;
}

Result<GcReport> RemoteStore::Gc(std::optional<uint64_t> quota) {
  CasRequest req;
  req.op = CasOp::kGc;
  req.quota = quota;
  CF_ASSIGN_OR_RETURN(auto resp, Call(std::move(req)));
  return resp.gc;
}

Result<VerifyReport> RemoteStore::Verify() {
  CasRequest req;
  req.op = CasOp::kVerify;
  CF_ASSIGN_OR_RETURN(auto resp, Call(std::move(req)));
  return resp.verify;
}

Result<std::vector<proto::TrustedSigner>> RemoteStore::Signers() {
  CasRequest req;
  req.op = CasOp::kSigners;
  CF_ASSIGN_OR_RETURN(auto resp, Call(std::move(req)));
  return resp.signers;
}

Result<Digest> RemoteStore::CaptureTree(const std::string& dir) {
  CasRequest req;
  req.op = CasOp::kCaptureTree;
  req.name = dir;
  CF_ASSIGN_OR_RETURN(auto resp, Call(std::move(req)));
  if (resp.digests.size() != 1) return Err(Status::Internal("captureTree answer without a root"));
  return resp.digests[0];
}

Status RemoteStore::StageTree(const Digest& root, const std::string& dir, bool hardlink) {
  CasRequest req;
  req.op = CasOp::kStageTree;
  req.digest = root;
  req.name = dir;
  req.hardlink = hardlink;
  return ::crossfarm::detail::ToStatus(Call(std::move(req)));
}

Status RemoteStore::ForgetFiles(std::span<const Digest> digests) {
  CasRequest req;
  req.op = CasOp::kForgetFiles;
  req.digests.assign(digests.begin(), digests.end());
  return ::crossfarm::detail::ToStatus(Call(std::move(req)));
}

}  // namespace crossfarm::cas
