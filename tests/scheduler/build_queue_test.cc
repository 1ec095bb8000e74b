#include "scheduler/build_queue.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace crossfarm::scheduler {
namespace {

// Diamond: a <- b, a <- c, {b, c} <- d.
struct Diamond {
  explicit Diamond(OnError e = OnError::kContinue) : q(e) {
    a = q.Add({});
    b = q.Add({a});
    c = q.Add({a});
    d = q.Add({b, c});
  }
  BuildQueue q;
  JobId a, b, c, d;
};

TEST(BuildQueueTest, JobsRunOnlyAfterTheirDependencies) {
  Diamond t;
  t.q.Seal();
  auto first = t.q.PopReady();
  ASSERT_EQ(first, t.a);
  EXPECT_FALSE(t.q.PopReady().has_value());
  t.q.Complete(t.a, true);
  auto x = t.q.PopReady(), y = t.q.PopReady();
  ASSERT_TRUE(x && y);
  EXPECT_EQ(std::min(*x, *y), t.b);
  EXPECT_EQ(std::max(*x, *y), t.c);
  EXPECT_FALSE(t.q.PopReady().has_value());
  t.q.Complete(t.b, true);
  EXPECT_FALSE(t.q.PopReady().has_value()) << "d still waits for c";
  t.q.Complete(t.c, true);
  EXPECT_EQ(t.q.PopReady(), t.d);
  t.q.Complete(t.d, true);
  EXPECT_TRUE(t.q.Finished());
  EXPECT_EQ(t.q.counts().done, 4u);
}

TEST(BuildQueueTest, CachedJobsAreNeverDispatched) {
  Diamond t;
  t.q.MarkCached(t.a);
  t.q.MarkCached(t.b);
  t.q.Seal();
  EXPECT_EQ(t.q.PopReady(), t.c);
  t.q.Complete(t.c, true);
  EXPECT_EQ(t.q.PopReady(), t.d);
  t.q.Complete(t.d, true);
  EXPECT_TRUE(t.q.Finished());
  EXPECT_EQ(t.q.counts().cached, 2u);
  EXPECT_EQ(t.q.counts().done, 2u);
}

TEST(BuildQueueTest, FailureSkipsDependentsButIndependentJobsContinue) {
  BuildQueue q;
  JobId a = q.Add({});
  JobId other = q.Add({});
  JobId b = q.Add({a});
  JobId c = q.Add({b});
  q.Seal();
  std::vector<JobId> started;
  while (auto id = q.PopReady()) started.push_back(*id);
  ASSERT_EQ(started.size(), 2u);
  q.Complete(a, false);
  q.Complete(other, true);
  EXPECT_EQ(q.state(b), JobState::kSkipped);
  EXPECT_EQ(q.state(c), JobState::kSkipped);
  EXPECT_TRUE(q.Finished());
  EXPECT_EQ(q.counts().failed, 1u);
  EXPECT_EQ(q.counts().skipped, 2u);
}

TEST(BuildQueueTest, OnErrorQuitStopsDispatchingAfterAFailure) {
  BuildQueue q(OnError::kQuit);
  JobId a = q.Add({});
  q.Add({});
  q.Seal();
  ASSERT_EQ(q.PopReady(), a);
  q.Complete(a, false);
  EXPECT_FALSE(q.PopReady().has_value());
  EXPECT_TRUE(q.Finished());
}

TEST(BuildQueueTest, CriticalPathIsDispatchedFirst) {
  BuildQueue q;
  JobId shallow = q.Add({});  // nothing depends on it
  JobId deep = q.Add({});     // heads a chain of three
  JobId mid = q.Add({deep});
  q.Add({mid});
  q.Seal();
  EXPECT_EQ(q.PopReady(), deep);
  EXPECT_EQ(q.PopReady(), shallow);
}

TEST(BuildQueueTest, RequeuedJobIsDispatchedAgain) {
  BuildQueue q;
  JobId a = q.Add({});
  q.Seal();
  ASSERT_EQ(q.PopReady(), a);
  q.Requeue(a);
  EXPECT_FALSE(q.Finished());
  EXPECT_EQ(q.PopReady(), a);
  q.Complete(a, true);
  EXPECT_TRUE(q.Finished());
}

}  // namespace
}  // namespace crossfarm::scheduler
