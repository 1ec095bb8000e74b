#include "scheduler/scheduler_state.h"

#include "scheduler/build_queue.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <map>

namespace crossfarm::scheduler {
namespace {

using namespace std::chrono_literals;
using proto::MsgKind;
using proto::RemoteJobState;

proto::JobRequest Job(const std::string& key, std::vector<std::string> deps = {},
                      const std::string& arch = "x86_64") {
  proto::JobRequest r;
  r.spec.element = key + ".bst";
  r.spec.cache_key = key;
  r.spec.sandbox_arch = arch;
  for (auto& d : deps) {
    r.spec.inputs.push_back({d + ".bst", Digest{}, {}, {}});
    r.input_keys.push_back(d);
  }
  return r;
}

proto::WorkerInfo Worker(const std::string& name, uint32_t slots, std::vector<std::string> running = {}) {
  proto::WorkerInfo w;
  w.name = name;
  w.native_archs = {"x86_64"};
  w.slots = slots;
  w.running = std::move(running);
  return w;
}

class SchedulerStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cf-sched-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Messages of `kind` in the outbox (which is then cleared).
  std::vector<Outgoing> Take(SchedulerState& s, MsgKind kind) {
    std::vector<Outgoing> out;
    for (auto& o : s.outbox())
      if (o.message.kind == kind) out.push_back(o);
    s.outbox().clear();
    return out;
  }
  proto::JobResultMsg Ok(const std::string& key, const std::string& worker) {
    proto::JobResultMsg r;
    r.cache_key = key;
    r.worker = worker;
    r.success = true;
    r.artifact = Digest::OfBytes("artifact of " + key);
    return r;
  }

  std::string dir_;
  Clock::time_point t0_ = Clock::now();
};

TEST_F(SchedulerStateTest, TwoBuildsAskingForTheSameCacheKeyGetOneJob) {
  SchedulerState s(nullptr, {});
  s.OnHeartbeat("rw1", Worker("w1", 4), t0_);
  s.OnSubmit("client-a", "a", {Job("k")}, t0_);
  s.OnSubmit("client-b", "b", {Job("k")}, t0_);
  s.Dispatch(t0_);
  auto assigns = Take(s, MsgKind::kAssign);
  ASSERT_EQ(assigns.size(), 1u);
  s.OnResult("rw1", Ok("k", "w1"), t0_);
  s.FlushUpdates();
  auto updates = Take(s, MsgKind::kUpdates);
  std::set<std::string> finished;
  for (auto& u : updates)
    if (u.message.finished) finished.insert(u.route);
  EXPECT_EQ(finished, (std::set<std::string>{"client-a", "client-b"}));
}

// Issue 19: a client submits a job again when it refused the artifact ref the
// first run wrote (unsigned, forged, or its tree lost blobs). Sharing the done
// job reported success with no usable artifact; it must run again, and its
// dependents wait for the new root.
TEST_F(SchedulerStateTest, AJobDoneForAnEarlierBuildRunsAgainWhenANewBuildSubmitsIt) {
  SchedulerState s(nullptr, {});
  s.OnHeartbeat("rw1", Worker("w1", 4), t0_);
  s.OnSubmit("c", "first", {Job("lib")}, t0_);
  s.Dispatch(t0_);
  ASSERT_EQ(Take(s, MsgKind::kAssign).size(), 1u);
  s.OnResult("rw1", Ok("lib", "w1"), t0_);
  s.FlushUpdates();
  s.outbox().clear();
  s.OnSubmit("c", "second", {Job("lib"), Job("app", {"lib"})}, t0_);
  s.Dispatch(t0_);
  auto again = Take(s, MsgKind::kAssign);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].message.spec.cache_key, "lib");
  auto rebuilt = Ok("lib", "w1");
  rebuilt.artifact = Digest::OfBytes("lib built again");
  s.OnResult("rw1", rebuilt, t0_);
  s.Dispatch(t0_);
  auto app = Take(s, MsgKind::kAssign);
  ASSERT_EQ(app.size(), 1u);
  EXPECT_EQ(app[0].message.spec.inputs[0].root, Digest::OfBytes("lib built again"));
  // Resending the same build (the client's retry after NotFound) is not a new request.
  s.OnSubmit("c", "second", {Job("lib"), Job("app", {"lib"})}, t0_);
  s.Dispatch(t0_);
  EXPECT_TRUE(Take(s, MsgKind::kAssign).empty());
}

TEST_F(SchedulerStateTest, ADependentJobGetsItsProducersArtifactFilledIn) {
  SchedulerState s(nullptr, {});
  s.OnHeartbeat("rw1", Worker("w1", 4), t0_);
  s.OnSubmit("c", "b1", {Job("lib"), Job("app", {"lib"})}, t0_);
  s.Dispatch(t0_);
  auto first = Take(s, MsgKind::kAssign);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].message.spec.cache_key, "lib");
  s.OnResult("rw1", Ok("lib", "w1"), t0_);
  s.Dispatch(t0_);
  auto second = Take(s, MsgKind::kAssign);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].message.spec.cache_key, "app");
  EXPECT_EQ(second[0].message.spec.inputs[0].root, Digest::OfBytes("artifact of lib"));
}

TEST_F(SchedulerStateTest, BuildsOfDifferentClientsTakeTurns) {
  SchedulerState s(nullptr, {});
  s.OnHeartbeat("rw1", Worker("w1", 2), t0_);
  s.OnSubmit("big", "big", {Job("b1"), Job("b2"), Job("b3"), Job("b4")}, t0_);
  s.OnSubmit("small", "small", {Job("s1")}, t0_);
  s.Dispatch(t0_);
  std::set<std::string> keys;
  for (auto& a : Take(s, MsgKind::kAssign)) keys.insert(a.message.spec.cache_key);
  EXPECT_EQ(keys, (std::set<std::string>{"b1", "s1"}));
}

TEST_F(SchedulerStateTest, ALostWorkersJobIsRequeuedThenFailsAfterTheRetryLimit) {
  SchedulerState s(nullptr, {.heartbeat_timeout = 100ms, .max_retries = 1});
  s.OnHeartbeat("rw1", Worker("w1", 1), t0_);
  s.OnSubmit("c", "b", {Job("k")}, t0_);
  s.Dispatch(t0_);
  ASSERT_EQ(Take(s, MsgKind::kAssign).size(), 1u);
  auto t1 = t0_ + 200ms;
  s.OnHeartbeat("rw2", Worker("w2", 1), t1);
  s.Tick(t1);  // w1 silent for 200 ms: lost
  s.Dispatch(t1);
  auto again = Take(s, MsgKind::kAssign);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].route, "rw2");
  EXPECT_EQ(again[0].message.attempt, 2u);
  s.Tick(t1 + 200ms);  // w2 lost too: no retries left
  s.FlushUpdates();
  auto updates = Take(s, MsgKind::kUpdates);
  ASSERT_FALSE(updates.empty());
  const auto& last = updates.back().message;
  EXPECT_TRUE(last.finished);
  EXPECT_EQ(last.updates.back().state, RemoteJobState::kFailed);
  EXPECT_NE(last.updates.back().detail.find("gave up after 2 attempts"), std::string::npos);
}

TEST_F(SchedulerStateTest, AJobAWorkerCouldNotRunIsRetriedOnAnotherWorker) {
  SchedulerState s(nullptr, {});
  s.OnHeartbeat("rw1", Worker("w1", 1), t0_);
  s.OnHeartbeat("rw2", Worker("w2", 1), t0_);
  s.OnSubmit("c", "b", {Job("k")}, t0_);
  s.Dispatch(t0_);
  auto first = Take(s, MsgKind::kAssign);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(first[0].route, "rw1");  // registration order
  proto::JobResultMsg r;
  r.cache_key = "k";
  r.worker = "w1";
  r.infra_error = true;
  r.message = "InvalidArgument: bind mount source 'w1/tmp/job-x/build' must be an absolute host path";
  s.OnResult("rw1", r, t0_);
  s.Dispatch(t0_);
  auto retry = Take(s, MsgKind::kAssign);
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].route, "rw2");
  EXPECT_EQ(retry[0].message.attempt, 2u);
}

TEST_F(SchedulerStateTest, AFailedCommandIsNotRetriedAndSkipsItsDependents) {
  SchedulerState s(nullptr, {});
  s.OnHeartbeat("rw1", Worker("w1", 1), t0_);
  s.OnSubmit("c", "b", {Job("lib"), Job("app", {"lib"})}, t0_);
  s.Dispatch(t0_);
  Take(s, MsgKind::kAssign);
  proto::JobResultMsg r;
  r.cache_key = "lib";
  r.worker = "w1";
  r.message = "command 1 of 1 failed: exit code 3";
  s.OnResult("rw1", r, t0_);
  s.Dispatch(t0_);
  EXPECT_TRUE(Take(s, MsgKind::kAssign).empty());
  s.FlushUpdates();
  auto status = s.StatusSnapshot(t0_);
  EXPECT_TRUE(status.jobs.empty());
  EXPECT_EQ(status.builds, 0u);
}

TEST_F(SchedulerStateTest, ASubmissionNoWorkerCanRunFailsAtOnceNamingTheArch) {
  SchedulerState s(nullptr, {});
  s.OnHeartbeat("rw1", Worker("w1", 1), t0_);
  s.OnSubmit("c", "b", {Job("k", {}, "s390x")}, t0_);
  auto errors = Take(s, MsgKind::kError);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].message.error.message().find("s390x"), std::string::npos);
}

TEST_F(SchedulerStateTest, StatusSaysWhyEachJobWaits) {
  SchedulerState s(nullptr, {});
  s.OnHeartbeat("rw1", Worker("w1", 1), t0_);
  s.OnSubmit("c", "b", {Job("one"), Job("two"), Job("three", {"one"})}, t0_);
  s.Dispatch(t0_);
  std::map<std::string, std::string> reasons;
  for (auto& j : s.StatusSnapshot(t0_).jobs) reasons[j.cache_key] = j.reason;
  EXPECT_EQ(reasons["one"], "running on w1");
  EXPECT_NE(reasons["two"].find("slots"), std::string::npos) << reasons["two"];
  EXPECT_NE(reasons["three"].find("dependencies: one.bst"), std::string::npos) << reasons["three"];
}

TEST_F(SchedulerStateTest, ARestartedSchedulerResumesFromTheStore) {
  {
    auto store = JobStore::Open(dir_);
    ASSERT_TRUE(store);
    SchedulerState s(store->get(), {});
    ASSERT_TRUE(s.Recover(t0_).ok());
    s.OnHeartbeat("rw1", Worker("w1", 1), t0_);
    s.OnSubmit("c", "b", {Job("lib"), Job("app", {"lib"})}, t0_);
    s.Dispatch(t0_);
    ASSERT_TRUE(s.FlushStore().ok());
    ASSERT_EQ(Take(s, MsgKind::kAssign).size(), 1u);
  }  // "killed" with lib running on w1
  auto store = JobStore::Open(dir_);
  ASSERT_TRUE(store);
  SchedulerState s(store->get(), {});
  ASSERT_TRUE(s.Recover(t0_).ok());
  EXPECT_EQ(s.job_count(), 2u);
  s.OnHeartbeat("new-route", Worker("w1", 1, {"lib"}), t0_);  // still running it
  s.Dispatch(t0_);
  EXPECT_TRUE(Take(s, MsgKind::kAssign).empty());  // not dispatched twice
  s.OnResult("new-route", Ok("lib", "w1"), t0_);
  s.Dispatch(t0_);
  auto assigns = Take(s, MsgKind::kAssign);
  ASSERT_EQ(assigns.size(), 1u);
  EXPECT_EQ(assigns[0].message.spec.cache_key, "app");
  EXPECT_EQ(assigns[0].message.spec.inputs[0].root, Digest::OfBytes("artifact of lib"));
}

TEST_F(SchedulerStateTest, CancellingABuildCancelsItsRunningJobOnTheWorker) {
  SchedulerState s(nullptr, {});
  s.OnHeartbeat("rw1", Worker("w1", 1), t0_);
  s.OnSubmit("c", "b", {Job("k")}, t0_);
  s.Dispatch(t0_);
  Take(s, MsgKind::kAssign);
  s.OnCancel("c", "b", t0_);
  auto cancels = Take(s, MsgKind::kCancelJob);
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_EQ(cancels[0].route, "rw1");
  EXPECT_EQ(cancels[0].message.key, "k");
}

// One scheduling policy (build_queue.h): the cluster dispatches a DAG in the
// order the embedded build runs it. Before, the cluster ran each build's ready
// jobs first come first served, so the wide, shallow jobs listed first went
// before the longest chain.
TEST_F(SchedulerStateTest, ADagIsDispatchedInTheEmbeddedBuildsOrder) {
  // Submission (dependency) order: five independent leaves, a diamond, then a
  // chain of four, the critical path.
  const std::vector<std::pair<std::string, std::vector<std::string>>> dag = {
      {"w1", {}},   {"w2", {}},         {"w3", {}},         {"w4", {}},
      {"w5", {}},   {"d0", {}},         {"d1", {"d0"}},     {"d2", {"d0"}},
      {"d3", {"d1", "d2"}}, {"c1", {}}, {"c2", {"c1"}},     {"c3", {"c2"}},
      {"c4", {"c3"}}};
  std::map<std::string, JobId> ids;
  BuildQueue q;
  for (const auto& [key, deps] : dag) {
    std::vector<JobId> d;
    for (const auto& k : deps) d.push_back(ids.at(k));
    ids[key] = q.Add(d);
  }
  q.Seal();
  std::vector<std::string> embedded;
  while (auto id = q.PopReady()) {
    for (const auto& [k, v] : ids)
      if (v == *id) embedded.push_back(k);
    q.Complete(*id, true);
  }

  SchedulerState s(nullptr, {});
  s.OnHeartbeat("rw1", Worker("w1", 1), t0_);
  std::vector<proto::JobRequest> jobs;
  for (const auto& [key, deps] : dag) jobs.push_back(Job(key, deps));
  s.OnSubmit("c", "b", std::move(jobs), t0_);
  std::vector<std::string> cluster;
  for (size_t i = 0; i < dag.size(); ++i) {
    s.Dispatch(t0_);
    auto assigns = Take(s, MsgKind::kAssign);
    ASSERT_EQ(assigns.size(), 1u) << "after " << cluster.size() << " jobs";
    cluster.push_back(assigns[0].message.spec.cache_key);
    s.OnResult("rw1", Ok(cluster.back(), "w1"), t0_);
  }
  ASSERT_EQ(embedded.size(), dag.size());
  EXPECT_EQ(cluster, embedded);
  EXPECT_EQ(embedded.front(), "c1");  // the longest chain first, not the first listed
  EXPECT_EQ(embedded[1], "d0");
}

// A store that cannot be written (here: its file system is full) holds the
// outbox back instead of announcing what is not stored (the promise of
// FlushStore); once writable again, the pending changes are written and a
// restarted scheduler finds the build. Needs root for the tmpfs mount.
TEST_F(SchedulerStateTest, NeedsRootAFullStoreHoldsRepliesUntilItIsWritten) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
  std::string mnt = dir_ + "/small";
  std::filesystem::create_directories(mnt);
  ASSERT_EQ(std::system(("mount -t tmpfs -o size=16m tmpfs " + mnt).c_str()), 0);
  struct Unmount {
    std::string m;
    ~Unmount() { (void)std::system(("umount -l " + m).c_str()); }
  } unmount{mnt};
  std::string filler = mnt + "/filler";
  {
    auto store = JobStore::Open(mnt + "/state");
    ASSERT_TRUE(store) << store.error().message();
    SchedulerState s(store->get(), {});
    ASSERT_TRUE(s.Recover(t0_).ok());
    s.OnHeartbeat("rw1", Worker("w1", 1), t0_);
    ASSERT_TRUE(s.FlushStore().ok());
    ASSERT_EQ(std::system(("dd if=/dev/zero of=" + filler + " bs=64k 2>/dev/null").c_str()) >= 0,
              true);
    std::vector<proto::JobRequest> jobs;
    for (int i = 0; i < 200; ++i) {
      auto j = Job("k" + std::to_string(i));
      j.spec.element = std::string(8192, 'x') + std::to_string(i);  // big records
      jobs.push_back(std::move(j));
    }
    s.OnSubmit("c", "big", std::move(jobs), t0_);
    ASSERT_EQ(Take(s, MsgKind::kError).size(), 0u);
    Status full = s.FlushStore();
    EXPECT_FALSE(full.ok());
    EXPECT_FALSE(s.FlushStore().ok());  // still pending, still failing
    std::filesystem::remove(filler);
    Status again = s.FlushStore();
    ASSERT_TRUE(again.ok()) << again.message();
  }
  auto store = JobStore::Open(mnt + "/state");
  ASSERT_TRUE(store) << store.error().message();
  SchedulerState s(store->get(), {});
  ASSERT_TRUE(s.Recover(t0_).ok());
  EXPECT_EQ(s.job_count(), 200u);
}

}  // namespace
}  // namespace crossfarm::scheduler
