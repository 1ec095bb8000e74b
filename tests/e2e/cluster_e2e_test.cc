// End-to-end: crossfarm-cas, crossfarm-scheduler and crossfarm-worker as real
// daemons on loopback with CurveZMQ keys; the real `crossfarm --remote` client
// builds elements on a busybox base (like build_e2e_test.cc), and the daemons
// are killed and restarted under it.
#include <gtest/gtest.h>

#include <memory>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "cas/cas.h"
#include "cas/curve_keys.h"
#include "proto/scheduler_types.h"
#include "tests/e2e/cluster_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;


class ClusterE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    project_ = new TempTree("cluster-project");
    fs::path p = project_->path();
    WriteBusyboxBaseProject(p, "cluster", {"sh", "echo", "cat", "ls", "mkdir", "test", "id", "sleep",
                                       "touch", "grep", "uname", "cp", "true", "false", "printf"});
    auto track = RunCmd(Cf() + " source track --save busybox.bst");
    // Recorded, not asserted: a fatal failure here would show as skipped tests.
    if (track.exit_code != 0) setup_error_ = "source track failed:\n" + track.output;
  }
  static inline std::string setup_error_;
  static void TearDownTestSuite() {
    delete project_;
    project_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    dir_ = std::make_unique<TempTree>("cluster");
    keys_ = std::make_unique<ClusterKeys>(dir_->path());
  }
  void TearDown() override {
    if (HasFailure())
      for (const char* f : {"sched.err", "cas.err", "w1.err", "w2.err", "client.out"})
        std::fprintf(stderr, "==== %s ====\n%s\n", f, ReadFile(dir_->path() / f).c_str());
  }

  static std::string Cf() {
    return BuildBin("client/crossfarm") + " -C " + project_->path().string() + " --mirror-dir " +
           TestCache() + "/mirror";
  }
  std::string P(const std::string& name) const { return (dir_->path() / name).string(); }
  // A daemon's path flag: relative to its start directory (dir_) with
  // relative_paths_, else absolute. The keys are in dir_ too.
  std::string F(const std::string& name) const { return relative_paths_ ? name : P(name); }

  void StartCas(const std::string& port = "*") {
    cas_ = std::make_unique<Daemon>(
        std::vector<std::string>{BuildBin("cas/crossfarm-cas"), "--listen", "tcp://127.0.0.1:" + port,
                                 "--dir", F("cas-store"), "--key", F("cas.key"), "--allow",
                                 F("cas-allow")},
        P("cas.out"), P("cas.err"), dir_->path().string());
    cas_url_ = cas_->Endpoint();
    ASSERT_FALSE(cas_url_.empty()) << ReadFile(P("cas.err"));
  }
  void StartScheduler(const std::string& port = "*", const std::string& retries = "3") {
    std::ofstream(P("sched.out"), std::ios::trunc);
    sched_ = std::make_unique<Daemon>(
        std::vector<std::string>{BuildBin("scheduler/crossfarm-scheduler"), "--listen",
                                 "tcp://127.0.0.1:" + port, "--state", F("state"), "--key",
                                 F("sched.key"), "--clients", F("clients"), "--workers", F("workers"),
                                 "--cas", cas_url_, "--cas-key", F("cas.pub"), "--heartbeat-timeout-ms",
                                 "1500", "--max-retries", retries},
        P("sched.out"), P("sched.err"), dir_->path().string());
    sched_url_ = sched_->Endpoint();
    ASSERT_FALSE(sched_url_.empty()) << ReadFile(P("sched.err"));
  }
  std::unique_ptr<Daemon> StartWorker(const std::string& name, int slots = 2) {
    return std::make_unique<Daemon>(
        std::vector<std::string>{BuildBin("worker/crossfarm-worker"), "--name", name, "--scheduler",
                                 sched_url_, "--scheduler-key", F("sched.pub"), "--cas", cas_url_,
                                 "--cas-key", F("cas.pub"), "--key", F(name + ".key"), "--slots",
                                 std::to_string(slots), "--cache", F(name + "-cache"), "--heartbeat-ms",
                                 "200"},
        P(name + ".out"), P(name + ".err"), dir_->path().string());
  }
  std::string Remote(const std::string& key = "client") const {
    return Cf() + " --cache-dir " + P("client-cache") + " --remote " + sched_url_ + " --remote-key " +
           keys_->Path("sched.pub") + " --key " + keys_->Path(key + ".key");
  }
  bool WorkersRegistered(size_t n) {
    return WaitFor([&] {
      auto st = RunCmd(Remote() + " status");
      return st.exit_code == 0 && st.output.find("workers: " + std::to_string(n)) != std::string::npos;
    }, 20s);
  }
  void AddManual(const std::string& name, const std::vector<std::string>& commands,
                 const std::string& extra_dep = "") {
    std::string text = "kind: manual\nbuild-depends:\n- base.bst\n" +
                       (extra_dep.empty() ? "" : "- " + extra_dep + "\n") + "config:\n  build-commands:\n";
    for (const auto& c : commands) text += "  - |\n    " + c + "\n";
    WriteFile(project_->path() / "elements" / name, text);
  }
  // Starts `crossfarm build` in the background; output in client.out.
  std::unique_ptr<Daemon> BuildInBackground(const std::string& target) {
    return std::make_unique<Daemon>(
        std::vector<std::string>{"/bin/sh", "-c", "exec " + Remote() + " build " + target},
        P("client.out"), P("client.out"));
  }
  std::string ClientOut() const { return ReadFile(P("client.out")); }
  std::unique_ptr<cas::Cas> RemoteCas(const std::string& key = "client") {
    auto pair = cas::LoadSecretKey(keys_->Path(key + ".key"));
    cas::CasOptions o;
    o.remote.server_public_key = *cas::LoadPublicKey(keys_->Path("cas.pub"));
    o.remote.client_public_key = pair->public_key;
    o.remote.client_secret_key = pair->secret_key;
    return std::move(*cas::OpenCas(cas_url_, o));
  }
  std::string KeyOf(const std::string& element) {
    // --deps none: the element's own key, not its first dependency's.
    auto r = RunCmd(Cf() + " show --deps none --format '%{full-key}' " + element);
    return r.output.substr(0, r.output.find('\n'));
  }

  static TempTree* project_;
  std::unique_ptr<TempTree> dir_;
  bool relative_paths_ = false;
  std::unique_ptr<ClusterKeys> keys_;
  std::unique_ptr<Daemon> cas_, sched_;
  std::string cas_url_, sched_url_;
};
TempTree* ClusterE2ETest::project_ = nullptr;

TEST_F(ClusterE2ETest, RemoteBuildGivesTheSameArtifactsAsAnEmbeddedBuild) {
  StartCas();
  StartScheduler();
  auto w1 = StartWorker("w1");
  ASSERT_TRUE(WorkersRegistered(1));
  AddManual("same.bst", {"mkdir -p %{install-root}/share", "echo remote > %{install-root}/share/same.txt",
                         "echo building-same-now"});
  auto remote = RunCmd(Remote() + " --verbose build same.bst");
  ASSERT_EQ(remote.exit_code, 0) << remote.output;
  // The log streamed live from the worker through the scheduler.
  EXPECT_NE(remote.output.find("building-same-now"), std::string::npos) << remote.output;
  EXPECT_NE(remote.output.find("START  same.bst"), std::string::npos) << remote.output;
  EXPECT_NE(remote.output.find("on w1"), std::string::npos) << remote.output;
  auto local = RunCmd(Cf() + " --cache-dir " + P("embedded") + " build same.bst");
  ASSERT_EQ(local.exit_code, 0) << local.output;
  // The crossfarm run's cache service holds the store until it has been idle
  // for its linger time (docs/cas.md "Several commands on one cache").
  auto local_cas = cas::OpenCas(P("embedded") + "/cas", {.local = {.lock_wait = std::chrono::seconds(60)}});
  ASSERT_TRUE(local_cas);
  auto remote_cas = RemoteCas();
  for (const char* e : {"busybox.bst", "links.bst", "base.bst", "same.bst"}) {
    std::string ref = "artifacts/" + KeyOf(e);
    auto a = (*local_cas)->GetRef(ref);
    auto b = remote_cas->GetRef(ref);
    ASSERT_TRUE(a && b) << e;
    EXPECT_EQ(a->root, b->root) << e;
    EXPECT_EQ(b->worker, "w1") << e;
  }
  // `log --remote` is the cluster's log (w1's), even where this machine has
  // a log of its own for that key (issue 21).
  ASSERT_EQ(RunCmd(Cf() + " --cache-dir " + P("client-cache") + " build same.bst").exit_code, 0);
  auto remote_log = RunCmd(Remote() + " log same.bst");
  EXPECT_EQ(remote_log.exit_code, 0) << remote_log.output;
  EXPECT_NE(remote_log.output.find("building-same-now"), std::string::npos) << remote_log.output;
  auto local_log = RunCmd(Cf() + " --cache-dir " + P("client-cache") + " log same.bst");
  EXPECT_NE(remote_log.output, local_log.output) << "the local log was printed for --remote";
  // A second build finds everything in the CAS and submits nothing.
  auto again = RunCmd(Remote() + " build same.bst");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.output.find("START"), std::string::npos) << again.output;
}

// Issue 20: every path flag of every daemon relative to the directory it was
// started in (`--cache w1-cache`, `--dir cas-store`, `--state state`, the key
// files). A relative --cache used to fail every job in bwrap ("bind mount source
// 'w1-cache/tmp/job-.../build' must be an absolute host path"), retried until
// the build failed.
TEST_F(ClusterE2ETest, DaemonsStartedWithRelativePathsBuildAnElement) {
  relative_paths_ = true;
  StartCas();
  StartScheduler();
  auto w1 = StartWorker("w1");
  ASSERT_TRUE(WorkersRegistered(1));
  AddManual("relative.bst", {"echo built > %{install-root}/relative.txt"});
  auto build = RunCmd(Remote() + " build relative.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output;
  EXPECT_EQ(sched_->Log().find("requeued"), std::string::npos) << sched_->Log();
  auto ref = RemoteCas()->GetRef("artifacts/" + KeyOf("relative.bst"));
  ASSERT_TRUE(ref.has_value());
  EXPECT_EQ(ref->worker, "w1");
  // Each relative path was taken from the start directory.
  EXPECT_FALSE(fs::is_empty(P("w1-cache/checkouts")));
  EXPECT_TRUE(fs::is_directory(P("cas-store")));
  EXPECT_TRUE(fs::is_directory(P("state")));
}

// A worker that could not run any job refuses to start with one message naming
// --cache and the fix, instead of registering and failing every job it gets.
TEST_F(ClusterE2ETest, AWorkerWhoseCacheIsUnusableRefusesToStartAndTakesNoJobs) {
  StartCas();
  StartScheduler();
  WriteFile(P("not-a-dir"), "a file, so nothing can be created below it (even by root)\n");
  auto worker = RunCmd("timeout 30 " + BuildBin("worker/crossfarm-worker") + " --name w1 --scheduler " +
                       sched_url_ + " --scheduler-key " + keys_->Path("sched.pub") + " --cas " + cas_url_ +
                       " --cas-key " + keys_->Path("cas.pub") + " --key " + keys_->Path("w1.key") +
                       " --heartbeat-ms 200 --cache " + P("not-a-dir/w1"));
  EXPECT_EQ(worker.exit_code, 2) << worker.output;
  EXPECT_NE(worker.output.find("--cache " + P("not-a-dir/w1") + " failed"), std::string::npos)
      << worker.output;
  EXPECT_NE(worker.output.find("would fail every job"), std::string::npos) << worker.output;
  EXPECT_NE(worker.output.find("hint: give --cache a directory"), std::string::npos) << worker.output;
  auto status = RunCmd(Remote() + " status");
  EXPECT_NE(status.output.find("workers: 0"), std::string::npos) << status.output;
}

TEST_F(ClusterE2ETest, FailingCommandIsNotRetriedAndItsLogIsShown) {
  StartCas();
  StartScheduler();
  auto w1 = StartWorker("w1");
  ASSERT_TRUE(WorkersRegistered(1));
  AddManual("breaks.bst", {"echo about-to-fail-remotely", "exit 3"});
  auto build = RunCmd(Remote() + " build breaks.bst");
  EXPECT_EQ(build.exit_code, 1) << build.output;
  EXPECT_NE(build.output.find("FAILED breaks.bst"), std::string::npos) << build.output;
  EXPECT_NE(build.output.find("about-to-fail-remotely"), std::string::npos) << build.output;
  EXPECT_EQ(sched_->Log().find("requeued"), std::string::npos) << sched_->Log();
}

TEST_F(ClusterE2ETest, NoWorkerForTheArchFailsAtOnceNamingItAndTheFix) {
  StartCas();
  StartScheduler();
  AddManual("lonely.bst", {"true"});
  auto start = std::chrono::steady_clock::now();
  auto build = RunCmd(Remote() + " build lonely.bst");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 60s);
  EXPECT_NE(build.exit_code, 0) << build.output;
  EXPECT_NE(build.output.find("no connected worker can run"), std::string::npos) << build.output;
  EXPECT_NE(build.output.find("crossfarm-worker"), std::string::npos) << build.output;
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
  // Never a1's files. (The scheduler still counts a3's earlier job as done and
  // does not run it again, so the bad ref is not replaced yet: the checkout
  // keeps refusing it rather than returning the wrong tree.)
  out = RunCmd(fresh("fresh3") + " checkout a3.bst " + P("a3-out"));
  EXPECT_NE(ReadFile(P("a3-out/a/which.txt")), "one\n") << out.output;
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

TEST_F(ClusterE2ETest, MalformedAndWrongVersionMessagesAreDroppedWithoutACrash) {
  StartCas();
  StartScheduler();
  auto pair = cas::LoadSecretKey(keys_->Path("client.key"));
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::curve_serverkey, *cas::LoadPublicKey(keys_->Path("sched.pub")));
  s.set(zmq::sockopt::curve_publickey, pair->public_key);
  s.set(zmq::sockopt::curve_secretkey, pair->secret_key);
  s.connect(sched_url_);
  s.send(zmq::str_buffer("definitely not cap'n proto"), zmq::send_flags::none);
  std::array<zmq::const_buffer, 2> two = {zmq::str_buffer("a"), zmq::str_buffer("b")};
  zmq::send_multipart(s, two);
  proto::SchedMessage old;
  old.version = 99;
  old.kind = proto::MsgKind::kStatusRequest;
  std::string bytes = proto::EncodeSchedMessage(old);
  s.send(zmq::buffer(bytes), zmq::send_flags::none);
  zmq::message_t reply;
  s.set(zmq::sockopt::rcvtimeo, 20000);
  ASSERT_TRUE(s.recv(reply));
  auto m = proto::DecodeSchedMessage(reply.to_string_view());
  ASSERT_TRUE(m);
  ASSERT_EQ(m->kind, proto::MsgKind::kError);
  EXPECT_NE(m->error.message().find("version 99"), std::string::npos) << m->error.message();
  EXPECT_NE(sched_->Log().find("dropped"), std::string::npos) << sched_->Log();
  auto st = RunCmd(Remote() + " status");
  EXPECT_EQ(st.exit_code, 0) << st.output;
}

TEST_F(ClusterE2ETest, WorkerKilledMidJobIsRequeuedAndTheBuildCompletes) {
  StartCas();
  StartScheduler();
  auto w1 = StartWorker("w1", 1);
  ASSERT_TRUE(WorkersRegistered(1));
  AddManual("slow-w.bst", {"sleep 4", "echo survived > %{install-root}/survived"});
  auto client = BuildInBackground("slow-w.bst");
  ASSERT_TRUE(WaitFor([&] { return ReadFile(P("w1.err")).find("element=slow-w.bst") != std::string::npos; }, 120s))
      << ClientOut();
  w1->Kill(SIGKILL);
  auto w2 = StartWorker("w2", 1);
  ASSERT_TRUE(WaitFor([&] { return ClientOut().find("finished:") != std::string::npos; }, 120s)) << ClientOut();
  EXPECT_NE(ClientOut().find("DONE   slow-w.bst"), std::string::npos) << ClientOut();
  EXPECT_NE(sched_->Log().find("requeued element=slow-w.bst"), std::string::npos) << sched_->Log();
  EXPECT_NE(ClientOut().find("on w2"), std::string::npos) << ClientOut();
}

TEST_F(ClusterE2ETest, AJobWhoseWorkersKeepDyingFailsAfterTheRetryLimit) {
  StartCas();
  StartScheduler("*", "1");
  ASSERT_TRUE(WaitFor([&] { return RunCmd(Remote() + " status").exit_code == 0; }, 20s));
  auto w1 = StartWorker("w1", 1);
  ASSERT_TRUE(WorkersRegistered(1));
  AddManual("doomed.bst", {"sleep 30"});
  auto client = BuildInBackground("doomed.bst");
  ASSERT_TRUE(WaitFor([&] { return ReadFile(P("w1.err")).find("element=doomed.bst") != std::string::npos; }, 120s))
      << ClientOut();
  w1->Kill(SIGKILL);
  auto w2 = StartWorker("w2", 1);
  ASSERT_TRUE(WaitFor([&] { return ReadFile(P("w2.err")).find("element=doomed.bst") != std::string::npos; }, 60s))
      << sched_->Log();
  w2->Kill(SIGKILL);
  auto w3 = StartWorker("w3", 1);
  ASSERT_TRUE(WaitFor([&] { return ClientOut().find("finished:") != std::string::npos; }, 60s)) << ClientOut();
  EXPECT_NE(ClientOut().find("FAILED doomed.bst"), std::string::npos) << ClientOut();
  EXPECT_NE(ClientOut().find("gave up after 2 attempts"), std::string::npos) << ClientOut();
  EXPECT_EQ(ReadFile(P("w3.err")).find("element=doomed.bst"), std::string::npos);
}

TEST_F(ClusterE2ETest, SchedulerKilledAndRestartedResumesTheQueue) {
  StartCas();
  StartScheduler();
  std::string port = PortOf(sched_url_);
  auto w1 = StartWorker("w1", 1);
  ASSERT_TRUE(WorkersRegistered(1));
  AddManual("before.bst", {"sleep 3", "echo one > %{install-root}/one"});
  AddManual("after-restart.bst", {"echo two > %{install-root}/two"}, "before.bst");
  auto client = BuildInBackground("after-restart.bst");
  ASSERT_TRUE(WaitFor([&] { return ReadFile(P("w1.err")).find("element=before.bst") != std::string::npos; }, 120s))
      << ClientOut();
  sched_->Kill(SIGKILL);
  StartScheduler(port);
  ASSERT_TRUE(WaitFor([&] { return ClientOut().find("finished:") != std::string::npos; }, 120s)) << ClientOut();
  EXPECT_NE(ClientOut().find("DONE   after-restart.bst"), std::string::npos) << ClientOut();
  EXPECT_NE(sched_->Log().find("recovered jobs="), std::string::npos);
  EXPECT_EQ(ClientOut().find("FAILED"), std::string::npos) << ClientOut();
}

TEST_F(ClusterE2ETest, CasRestartedMidBuildIsSurvived) {
  StartCas();
  StartScheduler();
  std::string port = PortOf(cas_url_);
  auto w1 = StartWorker("w1", 1);
  ASSERT_TRUE(WorkersRegistered(1));
  AddManual("cas-bounce.bst", {"sleep 3", "echo kept > %{install-root}/kept"});
  auto client = BuildInBackground("cas-bounce.bst");
  ASSERT_TRUE(WaitFor([&] { return ReadFile(P("w1.err")).find("element=cas-bounce.bst") != std::string::npos; }, 120s))
      << ClientOut();
  cas_->Kill(SIGKILL);
  StartCas(port);
  ASSERT_TRUE(WaitFor([&] { return ClientOut().find("finished:") != std::string::npos; }, 180s)) << ClientOut();
  EXPECT_NE(ClientOut().find("DONE   cas-bounce.bst"), std::string::npos) << ClientOut();
  EXPECT_TRUE(RemoteCas()->GetRef("artifacts/" + KeyOf("cas-bounce.bst")).has_value());
}

TEST_F(ClusterE2ETest, CtrlCCancelsTheBuildsJobsOnTheCluster) {
  StartCas();
  StartScheduler();
  auto w1 = StartWorker("w1", 1);
  ASSERT_TRUE(WorkersRegistered(1));
  AddManual("interrupted.bst", {"sleep 60"});
  auto client = BuildInBackground("interrupted.bst");
  ASSERT_TRUE(WaitFor([&] { return ReadFile(P("w1.err")).find("element=interrupted.bst") != std::string::npos; }, 120s))
      << ClientOut();
  auto status = RunCmd(Remote() + " status");
  EXPECT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("w1  native=x86_64"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("busy=1"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("interrupted.bst  running  running on w1"), std::string::npos) << status.output;
  client->Kill(SIGINT);
  EXPECT_NE(ClientOut().find("cancelling"), std::string::npos) << ClientOut();
  EXPECT_TRUE(WaitFor([&] { return ReadFile(P("w1.err")).find("job finished element=interrupted.bst") != std::string::npos; }, 30s))
      << ReadFile(P("w1.err"));
  EXPECT_NE(sched_->Log().find("cancelled build="), std::string::npos) << sched_->Log();
}

}  // namespace
}  // namespace crossfarm::e2e
