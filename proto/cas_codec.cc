// Cap'n Proto adapters for proto/cas_types.h. Exceptions stop here.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>

#include "proto/cas.capnp.h"
#include "proto/traversal_limit.h"
#include "proto/cas_types.h"

namespace crossfarm::proto {
namespace {

namespace cp = ::crossfarm::proto::capnp;

void SetDigest(cp::Digest::Builder b, const Digest& d) {
  b.setHash(kj::arrayPtr(d.hash.data(), d.hash.size()));
  b.setSize(d.size);
}

Digest GetDigest(cp::Digest::Reader r) {
  Digest d;
  auto h = r.getHash();
  if (h.size() != d.hash.size())
    KJ_FAIL_REQUIRE("digest hash must be 32 bytes", h.size());
  std::memcpy(d.hash.data(), h.begin(), d.hash.size());
  d.size = r.getSize();
  return d;
}

// Explicit length: embedded NULs must survive encoding so validation can reject them.
::capnp::Text::Reader AsText(const std::string& s) { return {s.data(), s.size()}; }

::capnp::Data::Reader AsData(const std::string& s) {
  return {reinterpret_cast<const kj::byte*>(s.data()), s.size()};
}

std::string ToString(::capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }
std::string ToString(::capnp::Data::Reader t) {
  return std::string(reinterpret_cast<const char*>(t.begin()), t.size());
}

void BuildDirectory(cp::Directory::Builder b, const DirectoryData& dir) {
  auto files = b.initFiles(dir.files.size());
  for (size_t i = 0; i < dir.files.size(); ++i) {
    files[i].setName(AsText(dir.files[i].name));
    SetDigest(files[i].initDigest(), dir.files[i].digest);
    files[i].setExecutable(dir.files[i].executable);
  }
  auto dirs = b.initDirectories(dir.directories.size());
  for (size_t i = 0; i < dir.directories.size(); ++i) {
    dirs[i].setName(AsText(dir.directories[i].name));
    SetDigest(dirs[i].initDigest(), dir.directories[i].digest);
  }
  auto links = b.initSymlinks(dir.symlinks.size());
  for (size_t i = 0; i < dir.symlinks.size(); ++i) {
    links[i].setName(AsText(dir.symlinks[i].name));
    links[i].setTarget(AsText(dir.symlinks[i].target));
  }
}

DirectoryData ReadDirectory(cp::Directory::Reader r) {
  DirectoryData dir;
  for (auto f : r.getFiles())
    dir.files.push_back({ToString(f.getName()), GetDigest(f.getDigest()), f.getExecutable()});
  for (auto d : r.getDirectories())
    dir.directories.push_back({ToString(d.getName()), GetDigest(d.getDigest())});
  for (auto s : r.getSymlinks())
    dir.symlinks.push_back({ToString(s.getName()), ToString(s.getTarget())});
  return dir;
}

void BuildRef(cp::Ref::Builder b, const RefInfo& ref) {
  SetDigest(b.initRoot(), ref.root);
  b.setElement(AsText(ref.element));
  b.setArch(AsText(ref.arch));
  if (ref.build_log) SetDigest(b.initBuildLog(), *ref.build_log);
  b.setWorker(AsText(ref.worker));
  b.setBuildSeconds(ref.build_seconds);
  b.setCreatedUnix(ref.created_unix);
  b.setLastUsedUnix(ref.last_used_unix);
  if (!ref.signer.empty()) b.setSigner(AsData(ref.signer));
  if (!ref.signature.empty()) b.setSignature(AsData(ref.signature));
}

RefInfo ReadRef(cp::Ref::Reader r) {
  RefInfo ref;
  ref.root = GetDigest(r.getRoot());
  ref.element = ToString(r.getElement());
  ref.arch = ToString(r.getArch());
  if (r.hasBuildLog()) ref.build_log = GetDigest(r.getBuildLog());
  ref.worker = ToString(r.getWorker());
  ref.build_seconds = r.getBuildSeconds();
  ref.created_unix = r.getCreatedUnix();
  ref.last_used_unix = r.getLastUsedUnix();
  ref.signer = ToString(r.getSigner());
  ref.signature = ToString(r.getSignature());
  return ref;
}

void SetResult(cp::Result::Builder b, const Status& s) {
  b.setCode(static_cast<uint16_t>(s.code()));
  b.setMessage(AsText(s.message()));
}

Status GetResult(cp::Result::Reader r) {
  return Status(static_cast<StatusCode>(r.getCode()), ToString(r.getMessage()));
}

std::string MessageBytes(::capnp::MessageBuilder& message) {
  auto words = ::capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// Copies into word-aligned storage: zmq frames and RocksDB values may be unaligned.
kj::Array<::capnp::word> AlignedCopy(std::string_view bytes) {
  auto words = kj::heapArray<::capnp::word>((bytes.size() + 7) / 8);
  std::memset(words.begin(), 0, words.size() * 8);
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  return words;
}

// Runs `fn(reader)` over a flat message, mapping Cap'n Proto exceptions to `code`.
template <typename Root, typename Fn>
auto ReadFlat(std::string_view bytes, StatusCode code, const char* what, Fn&& fn)
    -> Result<decltype(fn(std::declval<typename Root::Reader>()))> {
  try {
    if (bytes.size() % 8 != 0) KJ_FAIL_REQUIRE("message size is not a multiple of 8");
    auto words = AlignedCopy(bytes);
    ::capnp::ReaderOptions options;
    options.traversalLimitInWords = TraversalLimitFor(bytes.size());
    ::capnp::FlatArrayMessageReader reader(words, options);
    return fn(reader.getRoot<Root>());
  } catch (const kj::Exception& e) {
    return Err(Status(code, std::string("malformed ") + what + ": " +
                                e.getDescription().cStr()));
  }
}

}  // namespace

std::string EncodeDirectory(const DirectoryData& dir) {
  ::capnp::MallocMessageBuilder message;
  BuildDirectory(message.initRoot<cp::Directory>(), dir);
  auto words = ::capnp::canonicalize(message.getRoot<cp::Directory>().asReader());
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

Result<DirectoryData> DecodeDirectory(std::string_view bytes) {
  try {
    if (bytes.size() % 8 != 0 || bytes.empty())
      KJ_FAIL_REQUIRE("size is not a positive multiple of 8");
    auto words = AlignedCopy(bytes);
    kj::ArrayPtr<const ::capnp::word> segment = words.asPtr();
    ::capnp::ReaderOptions options;
    options.traversalLimitInWords = TraversalLimitFor(bytes.size());
    ::capnp::SegmentArrayMessageReader reader(kj::arrayPtr(&segment, 1), options);
    if (!reader.isCanonical()) KJ_FAIL_REQUIRE("not in canonical form");
    DirectoryData dir = ReadDirectory(reader.getRoot<cp::Directory>());
    // isCanonical() holds for a canonical message of any struct (a Ref too,
    // fuzz/cas_codec_fuzzer): only Directory's own encoding is a tree node,
    // so that one directory has exactly one digest.
    if (EncodeDirectory(dir) != bytes) KJ_FAIL_REQUIRE("not a canonical Directory");
    return dir;
  } catch (const kj::Exception& e) {
    return Err(Status::Corruption(std::string("malformed directory node: ") +
                                  e.getDescription().cStr()));
  }
}

std::string EncodeRef(const RefInfo& ref) {
  ::capnp::MallocMessageBuilder message;
  BuildRef(message.initRoot<cp::Ref>(), ref);
  return MessageBytes(message);
}

Result<RefInfo> DecodeRef(std::string_view bytes) {
  return ReadFlat<cp::Ref>(bytes, StatusCode::kCorruption, "ref",
                           [](cp::Ref::Reader r) { return ReadRef(r); });
}

std::string EncodeRequest(const CasRequest& req) {
  ::capnp::MallocMessageBuilder message;
  auto b = message.initRoot<cp::Request>();
  b.setVersion(req.version);
  b.setRequestId(req.request_id);
  b.setOp(static_cast<cp::Op>(req.op));
  auto digests = b.initDigests(req.digests.size());
  for (size_t i = 0; i < req.digests.size(); ++i) SetDigest(digests[i], req.digests[i]);
  auto blobs = b.initBlobs(req.blobs.size());
  for (size_t i = 0; i < req.blobs.size(); ++i) {
    SetDigest(blobs[i].initDigest(), req.blobs[i].digest);
    const auto& data = req.blobs[i].data;
    blobs[i].setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(data.data()), data.size()));
  }
  b.setName(AsText(req.name));
  BuildRef(b.initRef(), req.ref);
  SetDigest(b.initDigest(), req.digest);
  b.setQuota(req.quota.value_or(0));
  b.setHasQuota(req.quota.has_value());
  b.setHardlink(req.hardlink);
  return MessageBytes(message);
}

Result<CasRequest> DecodeRequest(std::string_view bytes) {
  return ReadFlat<cp::Request>(bytes, StatusCode::kInvalidArgument, "request",
                               [](cp::Request::Reader r) {
    CasRequest req;
    req.version = r.getVersion();
    req.request_id = r.getRequestId();
    req.op = static_cast<CasOp>(r.getOp());
    for (auto d : r.getDigests()) req.digests.push_back(GetDigest(d));
    for (auto b : r.getBlobs()) req.blobs.push_back({GetDigest(b.getDigest()), ToString(b.getData())});
    req.name = ToString(r.getName());
    if (r.hasRef()) req.ref = ReadRef(r.getRef());
    if (r.hasDigest()) req.digest = GetDigest(r.getDigest());
    if (r.getHasQuota()) req.quota = r.getQuota();
    req.hardlink = r.getHardlink();
    return req;
  });
}

namespace {
void BuildResponseLists(cp::Response::Builder b, const CasResponse& resp) {
  auto digests = b.initDigests(resp.digests.size());
  for (size_t i = 0; i < resp.digests.size(); ++i) SetDigest(digests[i], resp.digests[i]);
  auto blobs = b.initBlobs(resp.blobs.size());
  for (size_t i = 0; i < resp.blobs.size(); ++i) {
    SetDigest(blobs[i].initDigest(), resp.blobs[i].digest);
    const auto& data = resp.blobs[i].data;
    blobs[i].setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(data.data()), data.size()));
  }
  auto results = b.initResults(resp.results.size());
  for (size_t i = 0; i < resp.results.size(); ++i) SetResult(results[i], resp.results[i]);
  auto dirs = b.initDirectories(resp.directories.size());
  for (size_t i = 0; i < resp.directories.size(); ++i) BuildDirectory(dirs[i], resp.directories[i]);
  auto refs = b.initRefs(resp.refs.size());
  for (size_t i = 0; i < resp.refs.size(); ++i) {
    refs[i].setName(AsText(resp.refs[i].name));
    BuildRef(refs[i].initRef(), resp.refs[i].ref);
  }
  auto signers = b.initSigners(static_cast<unsigned>(resp.signers.size()));
  for (unsigned i = 0; i < signers.size(); ++i) {
    signers[i].setPublicKey(AsData(resp.signers[i].public_key));
    signers[i].setName(AsText(resp.signers[i].name));
  }
}

void BuildResponseReports(cp::Response::Builder b, const CasResponse& resp) {
  auto stats = b.initStats();
  stats.setBlobCount(resp.stats.blob_count);
  stats.setBlobBytes(resp.stats.blob_bytes);
  stats.setRefCount(resp.stats.ref_count);
  stats.setQuotaBytes(resp.stats.quota_bytes);
  auto gc = b.initGc();
  gc.setRefsRemoved(resp.gc.refs_removed);
  gc.setBlobsRemoved(resp.gc.blobs_removed);
  gc.setBytesRemoved(resp.gc.bytes_removed);
  gc.setBlobsKeptForGrace(resp.gc.blobs_kept_for_grace);
  auto verify = b.initVerify();
  verify.setBlobsChecked(resp.verify.blobs_checked);
  verify.setCorruptRemoved(resp.verify.corrupt_removed);
  verify.setCacheFilesRemoved(resp.verify.cache_files_removed);
  verify.setTablesRemoved(resp.verify.tables_removed);
  auto damaged = verify.initDamagedRefs(static_cast<unsigned>(resp.verify.damaged_refs.size()));
  for (unsigned i = 0; i < damaged.size(); ++i) damaged.set(i, resp.verify.damaged_refs[i]);
}

CasResponse ReadResponse(cp::Response::Reader r) {
  CasResponse resp;
  resp.version = r.getVersion();
  resp.request_id = r.getRequestId();
  resp.status = GetResult(r.getStatus());
  for (auto d : r.getDigests()) resp.digests.push_back(GetDigest(d));
  for (auto b : r.getBlobs()) resp.blobs.push_back({GetDigest(b.getDigest()), ToString(b.getData())});
  for (auto s : r.getResults()) resp.results.push_back(GetResult(s));
  for (auto d : r.getDirectories()) resp.directories.push_back(ReadDirectory(d));
  for (auto n : r.getRefs()) resp.refs.push_back({ToString(n.getName()), ReadRef(n.getRef())});
  for (auto t : r.getSigners()) resp.signers.push_back({ToString(t.getPublicKey()), ToString(t.getName())});
  auto s = r.getStats();
  resp.stats = {s.getBlobCount(), s.getBlobBytes(), s.getRefCount(), s.getQuotaBytes()};
  auto g = r.getGc();
  resp.gc = {g.getRefsRemoved(), g.getBlobsRemoved(), g.getBytesRemoved(), g.getBlobsKeptForGrace()};
  auto v = r.getVerify();
  resp.verify = {v.getBlobsChecked(), v.getCorruptRemoved(), v.getCacheFilesRemoved(), v.getTablesRemoved(), {}};
  for (auto name : v.getDamagedRefs()) resp.verify.damaged_refs.push_back(ToString(name));
  return resp;
}
}  // namespace

std::string EncodeResponse(const CasResponse& resp) {
  ::capnp::MallocMessageBuilder message;
  auto b = message.initRoot<cp::Response>();
  b.setVersion(resp.version);
  b.setRequestId(resp.request_id);
  SetResult(b.initStatus(), resp.status);
  BuildResponseLists(b, resp);
  BuildResponseReports(b, resp);
  return MessageBytes(message);
}

Result<CasResponse> DecodeResponse(std::string_view bytes) {
  return ReadFlat<cp::Response>(bytes, StatusCode::kInvalidArgument, "response",
                                [](cp::Response::Reader r) { return ReadResponse(r); });
}

}  // namespace crossfarm::proto
