// End-to-end trust tests (issue 19) with real daemons and real keys: roles on
// the CAS and the scheduler, signed artifact refs, worker names bound to keys,
// and artifacts a client refuses or that lost data being built again.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <memory>

#include "cas/local_store.h"
#include "tests/e2e/cluster_fixture.h"

namespace crossfarm::e2e {
namespace {

// How many jobs of `element` the worker has finished (its one line per job).
int JobsFinished(const Daemon& worker, const std::string& element) {
  const std::string log = worker.Log(), needle = "job finished element=" + element + " ";
  int n = 0;
  for (size_t pos = log.find(needle); pos != std::string::npos; pos = log.find(needle, pos + 1)) ++n;
  return n;
}

// Deletes `blob`'s entries from the closed store in `dir`, behind its back.
void LoseBlob(const std::string& dir, const Digest& blob) {
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, {}}, {"blobs", {}}, {"blob_info", {}}, {"refs", {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir + "/db", cfs, &handles, &db).ok());
  std::unique_ptr<rocksdb::DB> owned(db);
  const std::string key = cas::BlobKey(blob);
  std::string value;
  EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), handles[2], key, &value).ok()) << "not stored";
  EXPECT_TRUE(db->Delete(rocksdb::WriteOptions(), handles[1], key).ok());
  EXPECT_TRUE(db->Delete(rocksdb::WriteOptions(), handles[2], key).ok());
  for (auto* h : handles) EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
}

TEST_F(ClusterE2ETest, UnknownKeysAndWrongRolesAreRefusedAndLogged) {
  StartCas();
  StartScheduler();
  auto stranger = RunCmd(
      "timeout 60 " + Remote("stranger") + " status");
  EXPECT_NE(stranger.exit_code, 0) << stranger.output;
  std::string stranger_key = keys_->Public("stranger");
  EXPECT_TRUE(WaitFor([&] { return sched_->Log().find(stranger_key) != std::string::npos; }, 10s))
      << sched_->Log();
  EXPECT_NE(sched_->Log().find("refused"), std::string::npos);
  // A worker's key is allowed in, but may not act as a client.
  auto as_worker = RunCmd(Remote("w1") + " status");
  EXPECT_NE(as_worker.exit_code, 0) << as_worker.output;
  EXPECT_NE(as_worker.output.find("--clients"), std::string::npos) << as_worker.output;
  EXPECT_NE(sched_->Log().find("not allow-listed as a client"), std::string::npos) << sched_->Log();
}

// Issue 19: a client key used to be able to point artifacts/<key of u3> at u1's
// root, and every later checkout of u3 got u1's files.
TEST_F(ClusterE2ETest, AClientKeyCannotWriteArtifactRefsDeleteOrCollectOnTheCas) {
  StartCas();
  StartScheduler();
  auto w1 = StartWorker("w1");
  ASSERT_TRUE(WorkersRegistered(1));
  AddManual("u1.bst", {"mkdir -p %{install-root}/u", "echo one > %{install-root}/u/which.txt"});
  AddManual("u3.bst", {"mkdir -p %{install-root}/u", "echo three > %{install-root}/u/which.txt"});
  auto built = RunCmd(Remote() + " build u1.bst u3.bst");
  ASSERT_EQ(built.exit_code, 0) << built.output;  // the worker role writes artifact refs
  auto client = RemoteCas();
  auto listed = client->ListRefs("artifacts/");
  ASSERT_TRUE(listed) << listed.error().ToString();
  std::string u1 = "artifacts/" + KeyOf("u1.bst"), u3 = "artifacts/" + KeyOf("u3.bst");
  auto r1 = client->GetRef(u1), r3 = client->GetRef(u3);
  ASSERT_TRUE(r1 && r3);
  EXPECT_EQ(r3->worker, "w1");
  auto denied = [](const Status& s) { return s.code() == StatusCode::kPermissionDenied; };
  auto error_of = [](const auto& r) { return r ? Status::Ok() : r.error(); };
  Status put = client->PutRef(u3, *r1);
  EXPECT_TRUE(denied(put)) << put.ToString();
  EXPECT_NE(put.message().find("needs the worker role"), std::string::npos) << put.ToString();
  EXPECT_TRUE(denied(client->PutRef("accel-probes/x", *r1)));
  EXPECT_TRUE(denied(client->DeleteRef(u3)));
  EXPECT_TRUE(denied(error_of(client->Stats())));
  EXPECT_TRUE(denied(error_of(client->Gc(0))));
  EXPECT_TRUE(denied(error_of(client->Verify())));
  // Source refs stay the client's to write.
  EXPECT_TRUE(client->PutRef("sources/issue19", *r1).ok());
  EXPECT_EQ(client->GetRef(u3)->root, r3->root);
  std::string client_key = keys_->Public("client");
  std::string log = cas_->Log();
  EXPECT_NE(log.find("cas: refused op=putRef name=" + u3 + " key=" + client_key), std::string::npos) << log;
  EXPECT_NE(log.find("op=gc"), std::string::npos) << log;
  // A fresh client's checkout of u3 still gets u3's files.
  auto out = RunCmd(Cf() + " --cache-dir " + P("fresh-cache") + " --remote " + sched_url_ + " --remote-key " +
                    keys_->Path("sched.pub") + " --key " + keys_->Path("client.key") + " checkout u3.bst " +
                    P("u3-out"));
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(ReadFile(P("u3-out/u/which.txt")), "three\n");
  // The worker's key may write the refs it signed, but is no admin.
  auto worker = RemoteCas("w1");
  EXPECT_TRUE(worker->PutRef(u1, *r1).ok());
  EXPECT_TRUE(denied(worker->DeleteRef(u1)));
  EXPECT_TRUE(denied(error_of(worker->Gc(0))));
  EXPECT_TRUE(denied(error_of(worker->Stats())));
  // A signed ref is worthless under another cache key, for the worker too.
  Status moved = worker->PutRef(u3, *r1);
  EXPECT_TRUE(denied(moved)) << moved.ToString();
  EXPECT_NE(moved.message().find("does not match"), std::string::npos) << moved.ToString();
}

// Issue 19, signed refs: a worker key may write only refs signed with its own
// signing key, and the names pinned in the CAS's list are the signers' names.
TEST_F(ClusterE2ETest, AWorkerKeyCannotWriteRefsSignedForAnotherWorker) {
  auto line = [&](const std::string& k, const std::string& words) {
    auto p = ReadFile(keys_->Path(k + ".pub"));
    return p.substr(0, p.find('\n')) + " " + words + "\n";
  };
  WriteFile(P("cas-allow"), line("w1", "worker name=w1") + line("w2", "worker name=w2") +
                                ReadFile(keys_->Path("client.pub")));
  StartCas();
  StartScheduler();
  auto w1 = StartWorker("w1");
  ASSERT_TRUE(WorkersRegistered(1));
  AddManual("s1.bst", {"mkdir -p %{install-root}/s", "echo one > %{install-root}/s/which.txt"});
  AddManual("s3.bst", {"mkdir -p %{install-root}/s", "echo three > %{install-root}/s/which.txt"});
  auto built = RunCmd(Remote() + " build s1.bst s3.bst");
  ASSERT_EQ(built.exit_code, 0) << built.output;
  std::string s1 = "artifacts/" + KeyOf("s1.bst"), s3 = "artifacts/" + KeyOf("s3.bst");
  auto r1 = RemoteCas()->GetRef(s1);
  ASSERT_TRUE(r1) << r1.error().ToString();
  EXPECT_EQ(r1->signer.size(), 32u);
  auto denied = [](const Status& s) { return s.code() == StatusCode::kPermissionDenied; };
  // w2's key sending w1's signed ref (as is, or for another element).
  auto w2 = RemoteCas("w2");
  Status replay = w2->PutRef(s1, *r1);
  EXPECT_TRUE(denied(replay)) << replay.ToString();
  EXPECT_NE(replay.message().find("a worker writes only refs it signed itself"), std::string::npos)
      << replay.ToString();
  // w2 signing with its own key but claiming to be w1.
  cas::RefTrust as_w2;
  as_w2.signing_key = *cas::DeriveSigningKey(*cas::LoadSecretKey(keys_->Path("w2.key")));
  w2->SetRefTrust(as_w2);
  proto::RefInfo forged = *r1;
  forged.root = RemoteCas()->GetRef(s3)->root;
  Status claimed = w2->PutRef(s1, forged);
  EXPECT_TRUE(denied(claimed)) << claimed.ToString();
  EXPECT_NE(claimed.message().find("says worker w1 but is signed by worker w2"), std::string::npos)
      << claimed.ToString();
  EXPECT_NE(cas_->Log().find("cas: refused op=putRef name=" + s1 + " key=" + keys_->Public("w2")),
            std::string::npos) << cas_->Log();
  // Nothing changed: a fresh client still gets s1's files.
  auto out = RunCmd(Remote() + " checkout s1.bst " + P("s1-out"));
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(ReadFile(P("s1-out/s/which.txt")), "one\n");
}

// Issue 19, signed refs: an admin key cannot put a ref no worker signed, and a
// ref rewritten behind the CAS's back (an admin with the store's files) is
// refused by a fresh client: checkout says why, build makes it again.
TEST_F(ClusterE2ETest, ARefRewrittenWithoutAWorkerSignatureIsRefusedByClients) {
  StartCas();
  StartScheduler();
  auto w1 = StartWorker("w1");
  ASSERT_TRUE(WorkersRegistered(1));
  AddManual("a1.bst", {"mkdir -p %{install-root}/a", "echo one > %{install-root}/a/which.txt"});
  AddManual("a3.bst", {"mkdir -p %{install-root}/a", "echo three > %{install-root}/a/which.txt"});
  auto built = RunCmd(Remote() + " build a1.bst a3.bst");
  ASSERT_EQ(built.exit_code, 0) << built.output;
  std::string a1 = "artifacts/" + KeyOf("a1.bst"), a3 = "artifacts/" + KeyOf("a3.bst");
  auto admin = RemoteCas("admin");
  auto r1 = admin->GetRef(a1);
  ASSERT_TRUE(r1) << r1.error().ToString();
  Status moved = admin->PutRef(a3, *r1);
  EXPECT_EQ(moved.code(), StatusCode::kPermissionDenied) << moved.ToString();
  proto::RefInfo unsigned_ref = *r1;
  unsigned_ref.signer.clear();
  unsigned_ref.signature.clear();
  EXPECT_EQ(admin->PutRef(a3, unsigned_ref).code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(admin->PutRef(a1, *r1).ok());  // a worker's signed ref, as it was: fine
  // Behind the server's back: stop it, rewrite a3 -> a1's root in its store.
  std::string port = PortOf(cas_url_);
  cas_->Kill(SIGTERM);
  {
    auto store = cas::OpenCas(P("cas-store"));
    ASSERT_TRUE(store) << store.error().ToString();
    ASSERT_TRUE((*store)->PutRef(a3, *r1).ok());
  }
  StartCas(port);
  auto fresh = [&](const std::string& cache) {
    return Cf() + " --cache-dir " + P(cache) + " --remote " + sched_url_ + " --remote-key " +
           keys_->Path("sched.pub") + " --key " + keys_->Path("client.key");
  };
  auto out = RunCmd(fresh("fresh1") + " checkout a3.bst " + P("a3-out"));
  EXPECT_NE(out.exit_code, 0) << out.output;
  EXPECT_NE(out.output.find(a3 + ": the signature of"), std::string::npos) << out.output;
  EXPECT_FALSE(fs::exists(P("a3-out/a/which.txt"))) << out.output;
  auto rebuilt = RunCmd(fresh("fresh2") + " build a3.bst");
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.output;
  EXPECT_NE(rebuilt.output.find("refusing an artifact"), std::string::npos) << rebuilt.output;
  // The scheduler ran a3 again (it had counted its first job as done, and the
  // build reported success with no usable artifact), so its new signed ref
  // replaced the bad one: a3's own files, never a1's.
  EXPECT_TRUE(WaitFor([&] { return JobsFinished(*w1, "a3.bst") == 2; }, 10s)) << ReadFile(P("w1.err"));
  out = RunCmd(fresh("fresh3") + " checkout a3.bst " + P("a3-out"));
  EXPECT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(ReadFile(P("a3-out/a/which.txt")), "three\n") << out.output;
}

// Issue 19: `cas verify` found that an artifact's tree lost a blob. Its ref
// must not count as built (dependents would get a tree nobody can check out),
// and the scheduler must run the job again rather than call it done.
TEST_F(ClusterE2ETest, AnArtifactWhoseTreeLostABlobIsRebuiltOnTheNextBuild) {
  StartCas();
  StartScheduler();
  auto w1 = StartWorker("w1");
  ASSERT_TRUE(WorkersRegistered(1));
  AddManual("lost.bst", {"mkdir -p %{install-root}/l", "echo lost-and-found > %{install-root}/l/f.txt"});
  auto built = RunCmd(Remote() + " build lost.bst");
  ASSERT_EQ(built.exit_code, 0) << built.output;
  std::string name = "artifacts/" + KeyOf("lost.bst");
  const Digest file = Digest::OfBytes("lost-and-found\n");
  std::string port = PortOf(cas_url_);
  cas_->Kill(SIGTERM);
  // Bad luck on the CAS's disk: the file's entry is gone (what a scrub leaves
  // after removing a corrupt record), then an admin runs verify.
  LoseBlob(P("cas-store"), file);
  {
    auto store = cas::OpenCas(P("cas-store"));
    ASSERT_TRUE(store) << store.error().ToString();
    auto report = (*store)->store().Verify();
    ASSERT_TRUE(report) << report.error().ToString();
    EXPECT_EQ(report->damaged_refs, std::vector<std::string>{name});
    EXPECT_FALSE((*store)->GetRef(name).has_value());
  }
  StartCas(port);
  auto fresh = [&](const std::string& cache) {
    return Cf() + " --cache-dir " + P(cache) + " --remote " + sched_url_ + " --remote-key " +
           keys_->Path("sched.pub") + " --key " + keys_->Path("client.key");
  };
  auto rebuilt = RunCmd(fresh("fresh1") + " build lost.bst");
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.output;
  EXPECT_TRUE(WaitFor([&] { return JobsFinished(*w1, "lost.bst") == 2; }, 10s)) << ReadFile(P("w1.err"));
  auto out = RunCmd(fresh("fresh2") + " checkout lost.bst " + P("lost-out"));
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(ReadFile(P("lost-out/l/f.txt")), "lost-and-found\n");
}

// Issue 19: w2's key could register as w1, and status showed the impostor
// until w1's next heartbeat.
TEST_F(ClusterE2ETest, AWorkerNameBelongsToTheFirstKeyThatRegisteredIt) {
  StartCas();
  StartScheduler();
  auto w1 = StartWorker("w1", 2);
  ASSERT_TRUE(WorkersRegistered(1));
  auto impostor = std::make_unique<Daemon>(
      std::vector<std::string>{BuildBin("worker/crossfarm-worker"), "--name", "w1", "--scheduler", sched_url_,
                               "--scheduler-key", P("sched.pub"), "--cas", cas_url_, "--cas-key", P("cas.pub"),
                               "--key", P("w2.key"), "--slots", "7", "--cache", P("w2-cache"),
                               "--heartbeat-ms", "100"},
      P("w2.out"), P("w2.err"));
  EXPECT_TRUE(WaitFor([&] { return impostor->Log().find("bound to another key") != std::string::npos; }, 30s))
      << impostor->Log();
  std::string w2_key = keys_->Public("w2");
  EXPECT_NE(sched_->Log().find("refused register worker=w1 key=" + w2_key), std::string::npos) << sched_->Log();
  // Several refused heartbeats later, w1 is still the one with 2 slots.
  for (int i = 0; i < 10; ++i) {
    auto st = RunCmd(Remote() + " status");
    ASSERT_EQ(st.exit_code, 0) << st.output;
    EXPECT_EQ(st.output.find("slots=7"), std::string::npos) << st.output;
    EXPECT_NE(st.output.find("workers: 1"), std::string::npos) << st.output;
  }
  // The impostor under its own name is welcome.
  impostor.reset();
  auto w2 = StartWorker("w2");
  EXPECT_TRUE(WorkersRegistered(2));
}

// A name pinned in the --workers list cannot be taken even before its worker comes.
TEST_F(ClusterE2ETest, AWorkerNamePinnedInTheAllowListIsOnlyItsKeys) {
  auto pub = [&](const char* k) {
    std::string p = ReadFile(keys_->Path(std::string(k) + ".pub"));
    return p.substr(0, p.find('\n'));
  };
  WriteFile(keys_->dir / "workers", pub("w1") + " name=w1\n" + pub("w2") + "\n" + pub("w3") + "\n");
  StartCas();
  StartScheduler();
  auto impostor = std::make_unique<Daemon>(
      std::vector<std::string>{BuildBin("worker/crossfarm-worker"), "--name", "w1", "--scheduler", sched_url_,
                               "--scheduler-key", P("sched.pub"), "--cas", cas_url_, "--cas-key", P("cas.pub"),
                               "--key", P("w2.key"), "--cache", P("w2-cache"), "--heartbeat-ms", "100"},
      P("w2.out"), P("w2.err"));
  EXPECT_TRUE(WaitFor([&] { return impostor->Log().find("bound to another key") != std::string::npos; }, 30s))
      << impostor->Log();
  impostor.reset();
  auto w3 = StartWorker("w3");  // an unpinned key under its own name: welcome
  auto w1 = StartWorker("w1");
  EXPECT_TRUE(WorkersRegistered(2));
}


}  // namespace
}  // namespace crossfarm::e2e
