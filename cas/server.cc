#include "cas/server.h"

#include <spdlog/spdlog.h>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <sys/stat.h>
#include "cas/curve_keys.h"
#include "cas/ref_signing.h"
#include "cas/server_metrics.h"

#include <unordered_map>

#include "cas/cas.h"
#include "cas/curve_keys.h"

namespace crossfarm::cas {

using proto::CasOp;
using proto::CasRequest;
using proto::CasResponse;

namespace {

template <typename T>
bool Fill(CasResponse& resp, Result<T> r, T& out) {
  if (!r) {
    resp.status = r.error();
    return false;
  }
  out = std::move(*r);
  return true;
}

void HandleBatchRead(LocalStore& store, const CasRequest& req, CasResponse& resp) {
  for (const auto& d : req.digests) {
    if (d.size > kChunkSize) {
      resp.results.push_back(Status::InvalidArgument(d.ToString() + " is chunked: read its manifest"));
      resp.blobs.push_back({d, {}});
      continue;
    }
    auto data = store.Get(d);
    resp.results.push_back(data ? Status::Ok() : data.error());
    resp.blobs.push_back({d, data ? std::move(*data) : std::string()});
  }
}

void HandleBatchUpload(LocalStore& store, const CasRequest& req, CasResponse& resp) {
  Status all = store.BatchPut(req.blobs);
  // The store writes the batch at once: one outcome for every item.
  resp.results.assign(req.blobs.size(), all);
  if (!all.ok()) resp.status = all;
}

void HandleTreeAndRefs(LocalStore& store, const CasRequest& req, CasResponse& resp) {
  switch (req.op) {
    case CasOp::kGetTree: {
      std::vector<TreeNode> tree;
      if (!Fill(resp, store.GetTree(req.digest), tree)) return;
      for (auto& node : tree) {
        resp.digests.push_back(node.digest);
        resp.directories.push_back(std::move(node.directory));
      }
      return;
    }
    case CasOp::kGetRef: {
      RefInfo ref;
      if (Fill(resp, store.GetRef(req.name), ref)) resp.refs.push_back({req.name, ref});
      return;
    }
    case CasOp::kPutRef: resp.status = store.PutRef(req.name, req.ref); return;
    case CasOp::kDeleteRef: resp.status = store.DeleteRef(req.name); return;
    case CasOp::kListRefs: Fill(resp, store.ListRefs(req.name), resp.refs); return;
    default: resp.status = Status::InvalidArgument("unknown CAS operation"); return;
  }
}

// The per-user cache service's tree operations, run here so that a client
// never moves file bytes through the socket (and hard links come from this
// store's files/ cache).
void HandlePaths(Cas* paths, const CasRequest& req, CasResponse& resp) {
  if (paths == nullptr) {
    resp.status = Status::PermissionDenied(
        "path operations are served only by the local cache service on its unix socket");
    return;
  }
  if (req.op == CasOp::kForgetFiles) {
    for (const auto& d : req.digests) paths->ForgetCachedFiles(d);
    return;
  }
  if (!req.name.starts_with("/")) {
    resp.status = Status::InvalidArgument("path '" + req.name + "' is not absolute");
    return;
  }
  if (req.op == CasOp::kCaptureTree) {
    Digest root;
    if (Fill(resp, paths->ImportTree(req.name), root)) resp.digests.push_back(root);
    return;
  }
  resp.status = paths->ExportTree(req.digest, req.name,
                                  req.hardlink ? LinkMode::kHardlink : LinkMode::kCopy);
}

}  // namespace

namespace {

const char* OpName(CasOp op) {
  static const char* kNames[] = {"findMissing", "batchUpload", "batchRead", "putLarge", "getManifest",
                                 "getTree", "getRef", "putRef", "deleteRef", "listRefs", "stats", "gc",
                                 "verify", "signers", "captureTree", "stageTree", "forgetFiles"};
  auto i = static_cast<size_t>(op);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

KeyRole NeededRole(const CasRequest& req) {
  switch (req.op) {
    case CasOp::kPutRef: return req.name.starts_with("sources/") ? KeyRole::kClient : KeyRole::kWorker;
    case CasOp::kDeleteRef:
    case CasOp::kStats:
    case CasOp::kGc:
    case CasOp::kVerify:
    case CasOp::kCaptureTree:
    case CasOp::kStageTree:
    case CasOp::kForgetFiles: return KeyRole::kAdmin;
    default: return KeyRole::kClient;
  }
}

}  // namespace

Status Authorize(KeyRole role, const CasRequest& req) {
  KeyRole needed = NeededRole(req);
  if (static_cast<int>(role) >= static_cast<int>(needed)) return Status::Ok();
  std::string what = OpName(req.op);
  if (req.op == CasOp::kPutRef || req.op == CasOp::kDeleteRef) what += " " + req.name;
  return Status::PermissionDenied(what + " needs the " + RoleName(needed) + " role; this key is a " +
                                  RoleName(role) + " on this CAS (the role is the word after the key "
                                  "in the CAS's --allow list, docs/security.md)");
}

CasResponse HandleRequest(LocalStore& store, const CasRequest& req, Cas* paths) {
  CasResponse resp;
  resp.request_id = req.request_id;
  if (req.version != proto::kCasProtocolVersion) {
    resp.status = Status::FailedPrecondition(
        "client speaks CAS protocol version " + std::to_string(req.version) +
        ", this server speaks version " + std::to_string(proto::kCasProtocolVersion) +
        "; use matching crossfarm releases");
    return resp;
  }
  switch (req.op) {
    case CasOp::kFindMissing: Fill(resp, store.FindMissing(req.digests), resp.digests); break;
    case CasOp::kBatchUpload: HandleBatchUpload(store, req, resp); break;
    case CasOp::kBatchRead: HandleBatchRead(store, req, resp); break;
    case CasOp::kPutLarge: resp.status = store.PutLarge(req.digest, req.digests); break;
    case CasOp::kGetManifest: Fill(resp, store.GetManifest(req.digest), resp.digests); break;
    case CasOp::kStats: Fill(resp, store.Stats(), resp.stats); break;
    case CasOp::kGc: Fill(resp, store.Gc(req.quota), resp.gc); break;
    case CasOp::kVerify: Fill(resp, store.Verify(), resp.verify); break;
    case CasOp::kCaptureTree:
    case CasOp::kStageTree:
    case CasOp::kForgetFiles: HandlePaths(paths, req, resp); break;
    default: HandleTreeAndRefs(store, req, resp); break;
  }
  return resp;
}

Status CheckArtifactSignature(CasServer::Shared& shared, KeyRole role, const std::string& key,
                              const CasRequest& req) {
  if (!shared.curve || req.op != CasOp::kPutRef || !IsSignedRef(req.name)) return Status::Ok();
  std::shared_lock lock(shared.mu);
  CF_TRY(VerifyRef(shared.signers, req.name, req.ref));
  if (role != KeyRole::kWorker) return Status::Ok();  // an admin may copy any worker's signed ref
  auto own = shared.sign_keys.find(key);
  if (own == shared.sign_keys.end() || own->second != req.ref.signer)
    return Status::PermissionDenied("putRef " + req.name + " is signed by " + SignerHex(req.ref.signer) +
                                    ", not by the signing key of the worker key that sent it: a worker "
                                    "writes only refs it signed itself");
  return Status::Ok();
}

namespace {

using Shared = CasServer::Shared;

std::string Refuse(uint64_t request_id, Status s) {
  CasResponse resp;
  resp.request_id = request_id;
  resp.status = std::move(s);
  return proto::EncodeResponse(resp);
}

// The role of `key`: admin without CURVE; nullopt when the key is no longer
// allow-listed (removed by a reload while its connection stayed up).
std::optional<KeyRole> RoleOf(Shared& shared, const std::string& key) {
  if (!shared.curve) return KeyRole::kAdmin;
  std::shared_lock lock(shared.mu);
  auto it = shared.roles.find(key);
  if (it == shared.roles.end()) return std::nullopt;
  return it->second;
}


std::string Respond(LocalStore& store, Cas* paths, Shared& shared, const std::string& key,
                    const zmq::message_t& payload) {
  auto req = proto::DecodeRequest(payload.to_string_view());
  if (!req) {
    spdlog::warn("cas: undecodable request bytes={} error=\"{}\"", payload.size(),
                 req.error().message());
    CountRefusal(shared.metrics, "malformed");
    return Refuse(0, req.error());
  }
  std::optional<KeyRole> role = RoleOf(shared, key);
  if (!role) {
    spdlog::warn("cas: refused op={} key={}: the key was removed from the allow list", OpName(req->op), key);
    CountRefusal(shared.metrics, "revoked_key");
    return Refuse(req->request_id, Status::PermissionDenied(
        "this key is no longer in the CAS's --allow list (docs/security.md)"));
  }
  if (Status s = Authorize(*role, *req); !s.ok()) {
    spdlog::warn("cas: refused op={} name={} key={} role={}: needs a higher role",
                 OpName(req->op), req->name, key, RoleName(*role));
    CountRefusal(shared.metrics, "role");
    return Refuse(req->request_id, s);
  }
  if (Status s = CheckArtifactSignature(shared, *role, key, *req); !s.ok()) {
    spdlog::warn("cas: refused op=putRef name={} key={} role={}: {}", req->name, key, RoleName(*role),
                 s.message());
    CountRefusal(shared.metrics, "signature");
    return Refuse(req->request_id, s);
  }
  if (req->op == CasOp::kSigners) {
    CasResponse resp;
    resp.request_id = req->request_id;
    std::shared_lock lock(shared.mu);
    resp.signers = shared.signers;
    return proto::EncodeResponse(resp);
  }
  if (req->version != proto::kCasProtocolVersion) CountRefusal(shared.metrics, "version");
  CasResponse resp = HandleRequest(store, *req, paths);
  if (shared.metrics) CountRequest(*shared.metrics, *req, resp);
  return proto::EncodeResponse(resp);
}

// Requests arrive as [peer key, payload]: the proxy adds the key (the ZAP
// User-Id), which does not survive the inproc hop on its own.
void ServeWorker(zmq::socket_t socket, LocalStore* store, Cas* paths, Shared* shared) {
  while (true) {
    try {
      std::vector<zmq::message_t> parts;
      if (!zmq::recv_multipart(socket, std::back_inserter(parts))) continue;
      if (parts.size() != 2) continue;  // the proxy always sends two
      std::string reply = Respond(*store, paths, *shared, parts[0].to_string(), parts[1]);
      socket.send(zmq::buffer(reply), zmq::send_flags::none);
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      spdlog::error("cas: worker socket error=\"{}\"", e.what());
    }
  }
}

// Well-formed: [routing id, empty delimiter, payload <= max].
bool WellFormed(const std::vector<zmq::message_t>& parts, size_t max_frame) {
  return parts.size() == 3 && parts[1].size() == 0 && parts[2].size() <= max_frame &&
         parts[2].size() > 0;
}

// The Z85 key the ZAP handler admitted this message's peer with; "" without CURVE.
std::string PeerKey(zmq::message_t& payload) {
  const char* user = zmq_msg_gets(payload.handle(), "User-Id");
  return user ? std::string(user) : std::string();
}

void Proxy(zmq::socket_t frontend, zmq::socket_t backend, size_t max_frame, metrics::Registry* m) {
  while (true) {
    try {
      zmq::pollitem_t items[] = {{static_cast<void*>(frontend), 0, ZMQ_POLLIN, 0},
                                 {static_cast<void*>(backend), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 2, std::chrono::milliseconds(-1));
      if (items[0].revents & ZMQ_POLLIN) {
        std::vector<zmq::message_t> parts;
        (void)zmq::recv_multipart(frontend, std::back_inserter(parts));
        if (WellFormed(parts, max_frame)) {
          parts.insert(parts.begin() + 2, zmq::message_t(PeerKey(parts[2])));
          zmq::send_multipart(backend, parts);
        } else {
          size_t bytes = 0;
          for (const auto& p : parts) bytes += p.size();
          spdlog::warn("cas: dropped malformed or oversized message frames={} bytes={} max={}",
                       parts.size(), bytes, max_frame);
          CountRefusal(m, "malformed");
        }
      }
      if (items[1].revents & ZMQ_POLLIN) {
        std::vector<zmq::message_t> parts;
        (void)zmq::recv_multipart(backend, std::back_inserter(parts));
        zmq::send_multipart(frontend, parts);
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      spdlog::error("cas: proxy error=\"{}\"", e.what());
    }
  }
}

}  // namespace

Result<std::unique_ptr<CasServer>> CasServer::Start(LocalStore& store, ServerOptions options) {
  std::unique_ptr<CasServer> server(new CasServer());
  server->context_ = std::make_unique<zmq::context_t>(1);
  auto& ctx = *server->context_;
  server->shared_.metrics = options.metrics;
  server->shared_.curve = !options.secret_key.empty();
  if (server->shared_.curve) {
    for (const auto& k : options.allowed_keys) {
      server->shared_.roles[k.key] = k.role;
      if (!k.sign_key.empty()) server->shared_.sign_keys[k.key] = k.sign_key;
    }
    server->shared_.signers = SignersOf(options.allowed_keys);
  }
  if (options.serve_paths) {
    if (!options.listen.starts_with("ipc://"))
      return Err(Status::InvalidArgument("path operations are served only on ipc:// (got " +
                                         options.listen + ")"));
    // Not owned: the store outlives the server.
    std::shared_ptr<LocalStore> alias(std::shared_ptr<LocalStore>(), &store);
    server->paths_ = std::make_unique<Cas>(alias, alias, &store);
  }
  try {
    zmq::socket_t frontend(ctx, zmq::socket_type::router);
    frontend.set(zmq::sockopt::linger, 0);
    // Frames up to twice the limit are read and dropped with a log line; larger
    // ones make libzmq drop the connection before buffering them.
    frontend.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(2 * options.max_frame_bytes));
    if (!options.secret_key.empty()) {
      std::function<void()> on_refused;
      if (auto* m = options.metrics) on_refused = [m] { CountRefusal(m, "unknown_key"); };
      CF_ASSIGN_OR_RETURN(server->zap_, ZapHandler::Start(ctx, options.allowed_keys, on_refused));
      frontend.set(zmq::sockopt::zap_domain, "crossfarm-cas");
      frontend.set(zmq::sockopt::curve_server, true);
      frontend.set(zmq::sockopt::curve_secretkey, options.secret_key);
    } else {
      spdlog::warn("cas: serving without CurveZMQ keys: anyone who can reach {} can read and "
                   "write this CAS (use --key and --allow outside loopback/dev)", options.listen);
    }
    frontend.bind(options.listen);
    server->endpoint_ = frontend.get(zmq::sockopt::last_endpoint);
    // Only this user may reach a server that reads and writes its paths.
    if (options.serve_paths &&
        ::chmod(server->endpoint_.substr(std::string_view("ipc://").size()).c_str(), 0600) != 0)
      return Err(Status::FromErrno("chmod " + server->endpoint_, errno));
    std::string inproc = "inproc://cas-workers";
    zmq::socket_t backend(ctx, zmq::socket_type::dealer);
    backend.set(zmq::sockopt::linger, 0);
    backend.bind(inproc);
    for (int i = 0; i < std::max(1, options.threads); ++i) {
      zmq::socket_t worker(ctx, zmq::socket_type::rep);
      worker.set(zmq::sockopt::linger, 0);
      worker.connect(inproc);
      server->threads_.emplace_back(ServeWorker, std::move(worker), &store, server->paths_.get(),
                                    &server->shared_);
    }
    server->threads_.emplace_back(Proxy, std::move(frontend), std::move(backend),
                                  options.max_frame_bytes, options.metrics);
  } catch (const zmq::error_t& e) {
    server->Stop();
    return Err(Status::Unavailable("CAS server cannot listen on " + options.listen + ": " + e.what()));
  }
  spdlog::info("cas: listening endpoint={} threads={} curve={}", server->endpoint_,
               options.threads, options.secret_key.empty() ? "off" : "on");
  return server;
}

void CasServer::SetAllowedKeys(const std::vector<AllowedKey>& allowed) {
  if (!shared_.curve) return;
  {
    std::unique_lock lock(shared_.mu);
    shared_.roles.clear();
    shared_.sign_keys.clear();
    for (const auto& k : allowed) {
      shared_.roles[k.key] = k.role;
      if (!k.sign_key.empty()) shared_.sign_keys[k.key] = k.sign_key;
    }
    shared_.signers = SignersOf(allowed);
  }
  zap_->SetAllowed(KeysOf(allowed));
}

void CasServer::Stop() {
  if (!context_) return;
  context_->shutdown();  // every blocking call in our threads now fails with ETERM
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  zap_.reset();
  context_->close();
  context_.reset();
}

CasServer::~CasServer() { Stop(); }

}  // namespace crossfarm::cas
