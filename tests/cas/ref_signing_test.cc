// Signed artifact refs (cas/ref_signing.h): real Ed25519 keys derived from real
// CurveZMQ key pairs, the CAS server's signature check and a Cas that signs
// and verifies over a real RocksDB store.
#include "cas/ref_signing.h"

#include <sys/stat.h>

#include "cas/cas.h"
#include "cas/server.h"
#include "tests/cas/test_util.h"

namespace crossfarm::cas {
namespace {

using proto::CasOp;
using proto::CasRequest;
using proto::RefInfo;
using proto::TrustedSigner;

class RefSigningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"w1", "w2", "admin"}) {
      auto pair = GenerateKeyPair(dir_ / name);
      ASSERT_OK(pair);
      pairs_[name] = *pair;
      auto key = DeriveSigningKey(*pair);
      ASSERT_OK(key);
      keys_[name] = *key;
    }
    trusted_ = {{keys_["w1"].public_key, "w1"}, {keys_["w2"].public_key, ""}};
    ref_.root = Digest::OfBytes("root");
    ref_.build_log = Digest::OfBytes("log");
    ref_.element = "u1.bst";
    ref_.worker = "w1";
  }
  RefInfo Signed(const std::string& signer, const std::string& name) {
    RefInfo r = ref_;
    EXPECT_TRUE(SignRef(keys_[signer], name, r).ok());
    return r;
  }

  testing::TempDir dir_;
  std::map<std::string, CurveKeyPair> pairs_;
  std::map<std::string, SigningKey> keys_;
  std::vector<TrustedSigner> trusted_;
  RefInfo ref_;
};

TEST_F(RefSigningTest, TheSigningKeyIsDerivedFromTheCurveKeyAndWrittenInThePubFile) {
  auto again = DeriveSigningKey(pairs_["w1"]);
  ASSERT_OK(again);
  EXPECT_EQ(again->public_key, keys_["w1"].public_key);
  EXPECT_NE(keys_["w1"].public_key, keys_["w2"].public_key);
  EXPECT_EQ(testing::ReadFile(dir_ / "w1.pub"),
            pairs_["w1"].public_key + " sign=" + SignerHex(keys_["w1"].public_key) + "\n");
  // The .pub line is an allow-list line: the key, its signing key, then a role.
  auto line = ParseAllowLine(testing::ReadFile(dir_ / "w1.pub").substr(0, 110) + " worker name=w1", "allow:1");
  ASSERT_OK(line);
  EXPECT_EQ(line->sign_key, keys_["w1"].public_key);
  EXPECT_EQ(LoadPublicKey(dir_ / "w1.pub").value_or(""), pairs_["w1"].public_key);
  auto bad = ParseAllowLine(pairs_["w1"].public_key + " sign=abc worker", "allow:7");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("allow:7: 'abc' is not a signing key"), std::string::npos)
      << bad.error().message();
}

TEST_F(RefSigningTest, ASignedRefVerifiesAndAnyChangeBreaksIt) {
  const std::string name = "artifacts/key-u1";
  RefInfo r = Signed("w1", name);
  EXPECT_TRUE(VerifyRef(trusted_, name, r).ok()) << VerifyRef(trusted_, name, r).ToString();
  // Times are not signed: GetRef touches last_used.
  r.last_used_unix = 12345;
  EXPECT_TRUE(VerifyRef(trusted_, name, r).ok());
  EXPECT_FALSE(VerifyRef(trusted_, "artifacts/key-u3", r).ok());  // moved to another cache key
  auto changed = [&](auto edit) {
    RefInfo c = r;
    edit(c);
    Status s = VerifyRef(trusted_, name, c);
    EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
    return s.message();
  };
  EXPECT_NE(changed([](RefInfo& c) { c.root = Digest::OfBytes("other root"); }).find("does not match"),
            std::string::npos);
  changed([](RefInfo& c) { c.build_log.reset(); });
  changed([](RefInfo& c) { c.element = "u3.bst"; });
  EXPECT_NE(changed([](RefInfo& c) { c.signature.clear(); }).find("is not signed by a worker"), std::string::npos);
  EXPECT_NE(changed([](RefInfo& c) { c.signature[5] ^= 1; }).find("does not match"), std::string::npos);
}

TEST_F(RefSigningTest, OnlyListedWorkersAndTheirOwnNamesAreTrusted) {
  const std::string name = "artifacts/k";
  Status s = VerifyRef(trusted_, name, Signed("admin", name));
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("is signed by " + SignerHex(keys_["admin"].public_key) + ", which is no worker"),
            std::string::npos) << s.message();
  // w1's key is pinned to the name w1: a ref of w1's key claiming w2 is refused.
  ref_.worker = "w2";
  s = VerifyRef(trusted_, name, Signed("w1", name));
  EXPECT_NE(s.message().find("says worker w2 but is signed by worker w1"), std::string::npos) << s.message();
  // w2's key has no pinned name.
  EXPECT_TRUE(VerifyRef(trusted_, name, Signed("w2", name)).ok());
}

TEST_F(RefSigningTest, SignersOfAnAllowListAreItsWorkersWithASigningKey) {
  std::vector<AllowedKey> list = {{pairs_["w1"].public_key, KeyRole::kWorker, "w1", keys_["w1"].public_key},
                                  {pairs_["w2"].public_key, KeyRole::kWorker, "", ""},
                                  {pairs_["admin"].public_key, KeyRole::kAdmin, "", keys_["admin"].public_key}};
  auto signers = SignersOf(list);
  ASSERT_EQ(signers.size(), 1u);
  EXPECT_EQ(signers[0].public_key, keys_["w1"].public_key);
  EXPECT_EQ(signers[0].name, "w1");
}

// The server's check on putRef (CurveZMQ on): a worker key sends only refs it
// signed itself, an admin only refs some worker signed, nobody unsigned ones.
TEST_F(RefSigningTest, TheServerTakesOnlyRefsSignedByTheSendersOwnWorkerKey) {
  CasServer::Shared trust;
  trust.curve = true;
  trust.sign_keys = {{pairs_["w1"].public_key, keys_["w1"].public_key},
                     {pairs_["w2"].public_key, keys_["w2"].public_key}};
  trust.signers = trusted_;
  CasRequest req;
  req.op = CasOp::kPutRef;
  req.name = "artifacts/k";
  req.ref = Signed("w1", req.name);
  auto check = [&](KeyRole role, const std::string& sender) {
    return CheckArtifactSignature(trust, role, pairs_[sender].public_key, req);
  };
  EXPECT_TRUE(check(KeyRole::kWorker, "w1").ok());
  Status other = check(KeyRole::kWorker, "w2");  // w2 sending w1's signed ref
  EXPECT_EQ(other.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(other.message().find("a worker writes only refs it signed itself"), std::string::npos)
      << other.message();
  EXPECT_TRUE(check(KeyRole::kAdmin, "admin").ok());
  req.ref.signature.clear();
  EXPECT_EQ(check(KeyRole::kAdmin, "admin").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(check(KeyRole::kWorker, "w1").code(), StatusCode::kPermissionDenied);
  // Other refs are not signed; without CurveZMQ nothing is checked.
  req.name = "sources/k";
  EXPECT_TRUE(check(KeyRole::kClient, "w1").ok());
  req.name = "artifacts/k";
  trust.curve = false;
  EXPECT_TRUE(check(KeyRole::kAdmin, "admin").ok());
}

TEST_F(RefSigningTest, ACasWithTrustSignsWhatItPutsAndRefusesWhatDoesNotVerify) {
  auto cas = OpenCas(dir_ / "store");
  ASSERT_OK(cas);
  std::filesystem::create_directories(dir_ / "tree");
  testing::WriteFile(dir_ / "tree/f", "content");
  auto tree = (*cas)->ImportTree(dir_ / "tree");
  ASSERT_OK(tree);
  RefTrust trust;
  trust.signing_key = keys_["w1"];
  trust.signers = std::vector<TrustedSigner>{{keys_["w1"].public_key, "w1"}};
  std::vector<std::string> refused;
  trust.on_refused = [&](const std::string& name, const Status&) { refused.push_back(name); };
  (*cas)->SetRefTrust(trust);
  ASSERT_OK((*cas)->PutRef("artifacts/a", {.root = *tree, .worker = "w1"}));
  auto got = (*cas)->GetRef("artifacts/a");
  ASSERT_OK(got);
  EXPECT_EQ(got->signer, keys_["w1"].public_key);
  // The same store written around the Cas (an admin with the files): refused,
  // reported once however often it is read.
  ASSERT_OK((*cas)->store().PutRef("artifacts/b", {.root = *tree, .worker = "w1"}));
  for (int i = 0; i < 3; ++i) {
    auto b = (*cas)->GetRef("artifacts/b");
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().code(), StatusCode::kPermissionDenied);
  }
  EXPECT_EQ(refused, std::vector<std::string>{"artifacts/b"});
  // Refs other than artifacts/ and the probe's are neither signed nor checked.
  ASSERT_OK((*cas)->store().PutRef("sources/s", {.root = *tree}));
  EXPECT_TRUE((*cas)->GetRef("sources/s").has_value());
}

// Issue 19: the acceleration probe's refs (which compilers a pool may use, what
// `show` reports) were unsigned: any worker key, or anyone with the CAS's files,
// could steer every later accelerated build. They are signed like artifacts.
TEST_F(RefSigningTest, TheAccelerationProbesRefsAreSignedAndCheckedLikeArtifactRefs) {
  for (const char* name : {"accel-probe-cache/0123", "accel-probes/k"}) {
    EXPECT_TRUE(IsSignedRef(name)) << name;
    CasServer::Shared trust;
    trust.curve = true;
    trust.sign_keys = {{pairs_["w1"].public_key, keys_["w1"].public_key}};
    trust.signers = trusted_;
    CasRequest req;
    req.op = CasOp::kPutRef;
    req.name = name;
    req.ref = Signed("w1", name);
    EXPECT_TRUE(CheckArtifactSignature(trust, KeyRole::kWorker, pairs_["w1"].public_key, req).ok()) << name;
    req.ref.signature.clear();
    EXPECT_EQ(CheckArtifactSignature(trust, KeyRole::kWorker, pairs_["w1"].public_key, req).code(),
              StatusCode::kPermissionDenied) << name;
  }
  EXPECT_FALSE(IsSignedRef("sources/k"));
  auto cas = OpenCas(dir_ / "store");
  ASSERT_OK(cas);
  auto blob = (*cas)->Put("probe result");
  ASSERT_OK(blob);
  RefTrust trust;
  trust.signing_key = keys_["w1"];
  trust.signers = std::vector<TrustedSigner>{{keys_["w1"].public_key, "w1"}};
  (*cas)->SetRefTrust(trust);
  ASSERT_OK((*cas)->PutRef("accel-probes/a", {.root = *blob, .worker = "w1"}));
  auto got = (*cas)->GetRef("accel-probes/a");
  ASSERT_OK(got);
  EXPECT_EQ(got->signer, keys_["w1"].public_key);
  ASSERT_OK((*cas)->store().PutRef("accel-probe-cache/b", {.root = *blob, .worker = "w1"}));
  auto forged = (*cas)->GetRef("accel-probe-cache/b");
  ASSERT_FALSE(forged);
  EXPECT_EQ(forged.error().code(), StatusCode::kPermissionDenied);
  // A worker takes the signers from its CAS server on first use; a store with
  // no server has none to give, so nothing unverified is returned.
  RefTrust from_server;
  from_server.signers_from_server = true;
  (*cas)->SetRefTrust(from_server);
  auto unchecked = (*cas)->GetRef("accel-probes/a");
  ASSERT_FALSE(unchecked);
  EXPECT_NE(unchecked.error().message().find("worker signing keys"), std::string::npos)
      << unchecked.error().message();
  EXPECT_TRUE((*cas)->GetRef("sources/none").error().code() == StatusCode::kNotFound);
}

TEST_F(RefSigningTest, TheUsersKeyIsMadeOnceWithMode0600) {
  auto first = LoadOrCreateKeyPair(dir_ / "user");
  ASSERT_OK(first);
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "user.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto second = LoadOrCreateKeyPair(dir_ / "user");
  ASSERT_OK(second);
  EXPECT_EQ(second->secret_key, first->secret_key);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "user.pub"));
}

}  // namespace
}  // namespace crossfarm::cas
