// crossfarm-cas server in-process over tcp://127.0.0.1: remote client, garbage
// frames, protocol versions and CurveZMQ allow lists.
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <atomic>
#include <sstream>
#include <thread>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "cas/cas.h"
#include "cas/curve_keys.h"
#include "cas/server.h"
#include "tests/cas/test_util.h"

namespace crossfarm::cas {
namespace {

using testing::RandomBytes;
using testing::TempDir;

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options = {}) {
    auto store = LocalStore::Open(dir_ / "server");
    ASSERT_OK(store);
    store_ = std::move(*store);
    auto server = CasServer::Start(*store_, options);
    ASSERT_OK(server);
    server_ = std::move(*server);
  }
  std::unique_ptr<Cas> Client(RemoteOptions options = {}) {
    CasOptions cas_options;
    cas_options.remote = options;
    auto cas = OpenCas(server_->endpoint(), cas_options);
    EXPECT_TRUE(cas) << cas.error().ToString();
    return cas ? std::move(*cas) : nullptr;
  }

  TempDir dir_;
  std::unique_ptr<LocalStore> store_;
  std::unique_ptr<CasServer> server_;
};

TEST_F(ServerTest, EndpointHasTheRealEphemeralPort) {
  StartServer();
  EXPECT_TRUE(server_->endpoint().starts_with("tcp://127.0.0.1:"));
  EXPECT_EQ(server_->endpoint().find('*'), std::string::npos);
}

TEST_F(ServerTest, RemoteBlobsTreesAndRefsWork) {
  StartServer();
  auto cas = Client();
  testing::WriteFile(dir_ / "in/bin/run", "#!/bin/sh\n", 0755);
  testing::WriteFile(dir_ / "in/data", RandomBytes(3 * kChunkSize + 5, 1));
  std::filesystem::create_directories(dir_ / "in/empty");
  std::filesystem::create_symlink("bin/run", dir_ / "in/link");
  auto root = cas->ImportTree(dir_ / "in");
  ASSERT_OK(root);
  ASSERT_OK(cas->PutRef("artifact/x", {.root = *root, .element = "x.bst"}));
  auto ref = cas->GetRef("artifact/x");
  ASSERT_OK(ref);
  EXPECT_EQ(ref->root, *root);
  ASSERT_OK(cas->ExportTree(*root, dir_ / "out", LinkMode::kHardlink));  // falls back to copy
  EXPECT_EQ(testing::ReadFile(dir_ / "out/data"), RandomBytes(3 * kChunkSize + 5, 1));
  EXPECT_TRUE(testing::ModeOf(dir_ / "out/bin/run") & S_IXUSR);
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "out/empty"));
  EXPECT_EQ(std::filesystem::read_symlink(dir_ / "out/link"), "bin/run");
  // Same digest as a local import of the same tree.
  auto local = OpenCas(dir_ / "local");
  ASSERT_OK(local);
  EXPECT_EQ((*local)->ImportTree(dir_ / "in").value_or(Digest()), *root);
  auto stats = cas->Stats();
  ASSERT_OK(stats);
  EXPECT_EQ(stats->ref_count, 1u);
  auto listed = cas->ListRefs("artifact/");
  ASSERT_OK(listed);
  EXPECT_EQ(listed->size(), 1u);
  ASSERT_OK(cas->DeleteRef("artifact/x"));
  EXPECT_EQ(cas->GetRef("artifact/x").error().code(), StatusCode::kNotFound);
  auto verify = cas->Verify();
  ASSERT_OK(verify);
  EXPECT_EQ(verify->corrupt_removed, 0u);
  auto gc = cas->Gc(std::nullopt);
  ASSERT_OK(gc);
}

TEST_F(ServerTest, PathOperationsOnlyOnTheLocalService) {
  // TCP: refused to start with them, and refused per request without them.
  auto store = LocalStore::Open(dir_ / "server");
  ASSERT_OK(store);
  store_ = std::move(*store);
  EXPECT_EQ(CasServer::Start(*store_, {.serve_paths = true}).error().code(),
            StatusCode::kInvalidArgument);
  auto tcp = CasServer::Start(*store_, {});
  ASSERT_OK(tcp);
  auto remote = RemoteStore::Connect((*tcp)->endpoint(), {});
  ASSERT_OK(remote);
  testing::WriteFile(dir_ / "in/bin/run", "#!/bin/sh\n", 0755);
  testing::WriteFile(dir_ / "in/data", RandomBytes(2 * kChunkSize + 3, 2));
  auto refused = (*remote)->CaptureTree((dir_ / "in"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), StatusCode::kPermissionDenied) << refused.error().ToString();
  (*tcp)->Stop();

  // ipc:// with serve_paths: the server imports and exports by path, with
  // hard links into its files/ cache, and its socket is the user's alone.
  std::string sock = (dir_ / "sock");
  auto local = CasServer::Start(*store_, {.listen = "ipc://" + sock, .serve_paths = true});
  ASSERT_OK(local);
  EXPECT_EQ(testing::ModeOf(sock) & 0777, 0600u);
  auto cas = OpenCas("ipc://" + sock);
  ASSERT_OK(cas);
  auto root = (*cas)->ImportTree((dir_ / "in"));
  ASSERT_OK(root);
  auto direct = OpenCas(dir_ / "plain");
  ASSERT_OK(direct);
  EXPECT_EQ((*direct)->ImportTree(dir_ / "in").value_or(Digest()), *root);
  ASSERT_OK((*cas)->ExportTree(*root, (dir_ / "out"), LinkMode::kHardlink));
  EXPECT_EQ(testing::ReadFile(dir_ / "out/data"), RandomBytes(2 * kChunkSize + 3, 2));
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "out/data").c_str(), &st), 0);
  EXPECT_GE(st.st_nlink, 2u) << "hard-linked from the server's files/ cache";
  EXPECT_TRUE(testing::ModeOf(dir_ / "out/bin/run") & S_IXUSR);
}

TEST_F(ServerTest, ManyClientsAreServedAtOnce) {
  StartServer();
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < 6; ++c)
    clients.emplace_back([&, c] {
      auto cas = Client();
      for (int i = 0; i < 20; ++i) {
        std::string data = RandomBytes(5000, static_cast<uint32_t>(c * 100 + i));
        auto d = cas->Put(data);
        if (d && cas->Get(*d).value_or("") == data) ++ok;
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok, 6 * 20);
  EXPECT_EQ(store_->Stats()->blob_count, 120u);
}

TEST_F(ServerTest, FindMissingOfManyDigestsIsOneRoundTripPerBatch) {
  StartServer();
  auto cas = Client();
  std::vector<Digest> digests;
  for (int i = 0; i < 20000; ++i) digests.push_back(Digest::OfBytes(std::to_string(i)));
  ASSERT_OK(cas->Put("7"));
  auto missing = cas->FindMissing(digests);
  ASSERT_OK(missing);
  EXPECT_EQ(missing->size(), 19999u);
}

TEST_F(ServerTest, GarbageAndOversizedFramesAreDroppedAndServingContinues) {
  auto log = std::make_shared<std::ostringstream>();
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(*log)));
  ServerOptions options;
  options.max_frame_bytes = 1 << 20;
  StartServer(options);
  zmq::context_t ctx;
  zmq::socket_t raw(ctx, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(server_->endpoint());
  raw.send(zmq::buffer(RandomBytes(1000, 9)), zmq::send_flags::none);        // no delimiter
  std::array<zmq::const_buffer, 3> three = {zmq::str_buffer(""), zmq::str_buffer("a"),
                                            zmq::str_buffer("b")};
  zmq::send_multipart(raw, three);                                              // too many parts
  std::string junk = RandomBytes(4096, 10);
  std::array<zmq::const_buffer, 2> bad_payload = {zmq::str_buffer(""), zmq::buffer(junk)};
  zmq::send_multipart(raw, bad_payload);                                        // undecodable
  zmq::message_t reply_delim, reply;
  zmq::pollitem_t item{static_cast<void*>(raw), 0, ZMQ_POLLIN, 0};
  ASSERT_EQ(zmq::poll(&item, 1, std::chrono::milliseconds(10000)), 1);
  ASSERT_TRUE(raw.recv(reply_delim));
  ASSERT_TRUE(raw.recv(reply));
  auto resp = proto::DecodeResponse(reply.to_string_view());
  ASSERT_OK(resp);
  EXPECT_EQ(resp->status.code(), StatusCode::kInvalidArgument) << "undecodable request answered";
  zmq::socket_t big(ctx, zmq::socket_type::dealer);
  big.set(zmq::sockopt::linger, 0);
  big.connect(server_->endpoint());
  std::string huge(3 << 19, 'x');  // 1.5 MiB: over the limit, read and dropped
  std::array<zmq::const_buffer, 2> oversized = {zmq::str_buffer(""), zmq::buffer(huge)};
  zmq::send_multipart(big, oversized);
  // A real client still gets served.
  auto cas = Client();
  auto d = cas->Put("still serving");
  ASSERT_OK(d);
  EXPECT_EQ(cas->Get(*d).value_or(""), "still serving");
  server_->Stop();
  spdlog::set_default_logger(previous);
  std::string text = log->str();
  EXPECT_NE(text.find("dropped malformed or oversized message frames=2 bytes=1005 "), std::string::npos) << text;
  EXPECT_NE(text.find("frames=3 "), std::string::npos) << text;
  EXPECT_NE(text.find("frames=3 bytes=15728"), std::string::npos) << text;  // + routing id
  EXPECT_NE(text.find("undecodable request"), std::string::npos) << text;
}

TEST_F(ServerTest, IncompatibleProtocolVersionGetsAClearError) {
  StartServer();
  zmq::context_t ctx;
  zmq::socket_t raw(ctx, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(server_->endpoint());
  proto::CasRequest req;
  req.version = 99;
  req.request_id = 5;
  req.op = proto::CasOp::kStats;
  std::string frame = proto::EncodeRequest(req);
  std::array<zmq::const_buffer, 2> parts = {zmq::str_buffer(""), zmq::buffer(frame)};
  zmq::send_multipart(raw, parts);
  std::vector<zmq::message_t> reply;
  zmq::pollitem_t item{static_cast<void*>(raw), 0, ZMQ_POLLIN, 0};
  ASSERT_EQ(zmq::poll(&item, 1, std::chrono::milliseconds(10000)), 1);
  ASSERT_TRUE(zmq::recv_multipart(raw, std::back_inserter(reply)));
  ASSERT_EQ(reply.size(), 2u);
  auto resp = proto::DecodeResponse(reply[1].to_string_view());
  ASSERT_OK(resp);
  EXPECT_EQ(resp->request_id, 5u);
  EXPECT_EQ(resp->status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(resp->status.message().find("version 99"), std::string::npos);
}

TEST_F(ServerTest, UnreachableServerIsUnavailableAfterTheDeadline) {
  RemoteOptions options;
  options.attempt_timeout = std::chrono::milliseconds(100);
  options.deadline = std::chrono::milliseconds(500);
  auto cas = OpenCas("tcp://127.0.0.1:1", {.remote = options});
  ASSERT_OK(cas);
  auto stats = (*cas)->Stats();
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code(), StatusCode::kUnavailable);
}

class CurveTest : public ServerTest {
 protected:
  void SetUp() override {
    auto server_keys = GenerateKeyPair(dir_ / "server");
    auto allowed = GenerateKeyPair(dir_ / "allowed");
    auto stranger = GenerateKeyPair(dir_ / "stranger");
    ASSERT_OK(server_keys);
    ASSERT_OK(allowed);
    ASSERT_OK(stranger);
    testing::WriteFile(dir_ / "allow.list", "# workers\n" + testing::ReadFile(dir_ / "allowed.pub"));
    auto list = LoadAllowList(dir_ / "allow.list");
    ASSERT_OK(list);
    ServerOptions options;
    options.public_key = server_keys->public_key;
    options.secret_key = server_keys->secret_key;
    options.allowed_keys = *list;
    StartServer(options);
    server_public_ = server_keys->public_key;
  }
  RemoteOptions KeysOf(const std::string& name) {
    auto pair = LoadSecretKey(dir_ / (name + ".key"));
    EXPECT_TRUE(pair) << pair.error().ToString();
    RemoteOptions options;
    options.server_public_key = *LoadPublicKey(dir_ / "server.pub");
    options.client_public_key = pair->public_key;
    options.client_secret_key = pair->secret_key;
    options.attempt_timeout = std::chrono::milliseconds(300);
    options.deadline = std::chrono::milliseconds(1000);
    return options;
  }
  std::string server_public_;
};

TEST_F(CurveTest, AllowListedKeyIsServed) {
  auto cas = Client(KeysOf("allowed"));
  auto d = cas->Put("secret build input");
  ASSERT_OK(d);
  EXPECT_EQ(cas->Get(*d).value_or(""), "secret build input");
}

TEST_F(CurveTest, UnknownKeyGetsNothing) {
  auto cas = Client(KeysOf("stranger"));
  auto stats = cas->Stats();
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store_->Stats()->blob_count, 0u);
}

TEST_F(CurveTest, PlainClientGetsNothing) {
  RemoteOptions options;
  options.attempt_timeout = std::chrono::milliseconds(300);
  options.deadline = std::chrono::milliseconds(1000);
  auto cas = Client(options);
  EXPECT_FALSE(cas->Stats());
}

TEST(CurveKeysTest, KeyFilesRoundTripAndAreNotOverwritten) {
  TempDir dir;
  auto pair = GenerateKeyPair(dir / "node");
  ASSERT_OK(pair);
  EXPECT_TRUE(IsZ85Key(pair->public_key));
  EXPECT_EQ(testing::ModeOf(dir / "node.key") & 0777, 0600u);
  auto loaded = LoadSecretKey(dir / "node.key");
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  EXPECT_EQ(loaded->secret_key, pair->secret_key);
  EXPECT_EQ(LoadPublicKey(dir / "node.pub").value_or(""), pair->public_key);
  EXPECT_EQ(LoadPublicKey(dir / "node.key").value_or(""), pair->public_key);
  EXPECT_EQ(GenerateKeyPair(dir / "node").error().code(), StatusCode::kAlreadyExists);
  ::chmod((dir / "node.key").c_str(), 0644);
  EXPECT_EQ(LoadSecretKey(dir / "node.key").error().code(), StatusCode::kPermissionDenied);
  testing::WriteFile(dir / "bad.list", "not-a-key\n");
  EXPECT_EQ(LoadAllowList(dir / "bad.list").error().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace crossfarm::cas

namespace crossfarm::cas {
namespace {

TEST(AllowListTest, LinesGiveKeyRoleAndNameAndPlainKeysAreClients) {
  const std::string k = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
  struct Case { std::string line; bool ok; KeyRole role; std::string name; };
  const Case cases[] = {
      {k, true, KeyRole::kClient, ""},
      {k + " worker", true, KeyRole::kWorker, ""},
      {k + "  admin", true, KeyRole::kAdmin, ""},
      {k + " worker name=w1", true, KeyRole::kWorker, "w1"},
      {k + " name=w1", true, KeyRole::kClient, "w1"},
      {k + " root", false, KeyRole::kClient, ""},
      {k + " worker admin", false, KeyRole::kClient, ""},
      {"short worker", false, KeyRole::kClient, ""},
  };
  for (const auto& c : cases) {
    auto r = ParseAllowLine(c.line, "list:1");
    ASSERT_EQ(r.has_value(), c.ok) << c.line;
    if (!c.ok) {
      EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(r.error().message().find("list:1"), std::string::npos);
      continue;
    }
    EXPECT_EQ(r->key, k);
    EXPECT_EQ(r->role, c.role) << c.line;
    EXPECT_EQ(r->name, c.name) << c.line;
  }
}

TEST(AuthorizeTest, EachOperationNeedsItsRole) {
  using proto::CasOp;
  auto req = [](CasOp op, std::string name = "") {
    proto::CasRequest r;
    r.op = op;
    r.name = std::move(name);
    return r;
  };
  auto allowed = [](KeyRole role, const proto::CasRequest& r) { return Authorize(role, r).ok(); };
  for (CasOp op : {CasOp::kFindMissing, CasOp::kBatchUpload, CasOp::kBatchRead, CasOp::kPutLarge,
                   CasOp::kGetManifest, CasOp::kGetTree, CasOp::kGetRef, CasOp::kListRefs})
    EXPECT_TRUE(allowed(KeyRole::kClient, req(op)));
  EXPECT_TRUE(allowed(KeyRole::kClient, req(CasOp::kPutRef, "sources/abc")));
  EXPECT_FALSE(allowed(KeyRole::kClient, req(CasOp::kPutRef, "artifacts/abc")));
  EXPECT_TRUE(allowed(KeyRole::kWorker, req(CasOp::kPutRef, "artifacts/abc")));
  for (CasOp op : {CasOp::kDeleteRef, CasOp::kStats, CasOp::kGc, CasOp::kVerify}) {
    EXPECT_FALSE(allowed(KeyRole::kClient, req(op)));
    EXPECT_FALSE(allowed(KeyRole::kWorker, req(op)));
    EXPECT_TRUE(allowed(KeyRole::kAdmin, req(op)));
  }
  Status s = Authorize(KeyRole::kClient, req(CasOp::kPutRef, "artifacts/abc"));
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("putRef artifacts/abc needs the worker role"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace crossfarm::cas
