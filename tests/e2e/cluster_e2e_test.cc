// End-to-end: crossfarm-cas, crossfarm-scheduler and crossfarm-worker as real
// daemons on loopback with CurveZMQ keys; the real `crossfarm --remote` client
// builds elements on a busybox base (like build_e2e_test.cc), and the daemons
// are killed and restarted under it.
// Roles, signatures and worker names: cluster_trust_e2e_test.cc.
#include <gtest/gtest.h>

#include <memory>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "proto/scheduler_types.h"
#include "tests/e2e/cluster_fixture.h"

namespace crossfarm::e2e {
namespace {

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
