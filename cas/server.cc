#include "cas/server.h"

#include <spdlog/spdlog.h>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <sys/stat.h>

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
                                 "verify", "captureTree", "stageTree", "forgetFiles"};
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

namespace {

using RoleMap = CasServer::RoleMap;

std::string Respond(LocalStore& store, Cas* paths, const RoleMap& roles, const std::string& key,
                    const zmq::message_t& payload) {
  auto req = proto::DecodeRequest(payload.to_string_view());
  if (!req) {
    spdlog::warn("cas: undecodable request bytes={} error=\"{}\"", payload.size(),
                 req.error().message());
    CasResponse resp;
    resp.status = req.error();
    return proto::EncodeResponse(resp);
  }
  KeyRole role = KeyRole::kAdmin;
  if (!roles.empty()) {
    auto it = roles.find(key);
    role = it == roles.end() ? KeyRole::kClient : it->second;
  }
  if (Status s = Authorize(role, *req); !s.ok()) {
    spdlog::warn("cas: refused op={} name={} key={} role={}: needs a higher role",
                 OpName(req->op), req->name, key, RoleName(role));
    CasResponse resp;
    resp.request_id = req->request_id;
    resp.status = s;
    return proto::EncodeResponse(resp);
  }
  return proto::EncodeResponse(HandleRequest(store, *req, paths));
}

// Requests arrive as [peer key, payload]: the proxy adds the key (the ZAP
// User-Id), which does not survive the inproc hop on its own.
void ServeWorker(zmq::socket_t socket, LocalStore* store, Cas* paths, const RoleMap* roles) {
  while (true) {
    try {
      std::vector<zmq::message_t> parts;
      if (!zmq::recv_multipart(socket, std::back_inserter(parts))) continue;
      if (parts.size() != 2) continue;  // the proxy always sends two
      std::string reply = Respond(*store, paths, *roles, parts[0].to_string(), parts[1]);
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

void Proxy(zmq::socket_t frontend, zmq::socket_t backend, size_t max_frame) {
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
  if (!options.secret_key.empty())
    for (const auto& k : options.allowed_keys) server->roles_[k.key] = k.role;
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
      CF_ASSIGN_OR_RETURN(server->zap_, ZapHandler::Start(ctx, options.allowed_keys));
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
                                    &server->roles_);
    }
    server->threads_.emplace_back(Proxy, std::move(frontend), std::move(backend),
                                  options.max_frame_bytes);
  } catch (const zmq::error_t& e) {
    server->Stop();
    return Err(Status::Unavailable("CAS server cannot listen on " + options.listen + ": " + e.what()));
  }
  spdlog::info("cas: listening endpoint={} threads={} curve={}", server->endpoint_,
               options.threads, options.secret_key.empty() ? "off" : "on");
  return server;
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
