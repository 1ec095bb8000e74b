#include "scheduler/scheduler_state.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

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
    s.FlushStore();
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

}  // namespace
}  // namespace crossfarm::scheduler
