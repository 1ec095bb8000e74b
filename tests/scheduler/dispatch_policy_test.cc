#include "scheduler/dispatch_policy.h"

#include <gtest/gtest.h>

namespace crossfarm::scheduler {
namespace {

WorkerView Worker(std::string name, std::vector<std::string> native, std::vector<std::string> emulated,
                  uint32_t slots, uint32_t busy) {
  WorkerView w;
  w.name = std::move(name);
  w.native_archs = {native.begin(), native.end()};
  w.emulated_archs = {emulated.begin(), emulated.end()};
  w.slots = slots;
  w.busy = busy;
  return w;
}

JobSpec Spec(std::string arch, std::vector<Digest> inputs = {}) {
  JobSpec s;
  s.sandbox_arch = std::move(arch);
  for (auto& d : inputs) s.inputs.push_back({"dep.bst", d, {}, {}});
  return s;
}

Placement Choose(const JobSpec& spec, const std::vector<WorkerView>& workers,
                 std::string_view last_worker = {}) {
  std::vector<const WorkerView*> views;
  for (const auto& w : workers) views.push_back(&w);
  return ChooseWorker(spec, views, last_worker);
}

TEST(DispatchPolicyTest, NativeWorkerWinsOverAnEmulatingOneWithMoreSlots) {
  std::vector<WorkerView> w = {Worker("emu", {"x86_64"}, {"aarch64"}, 16, 0),
                               Worker("arm", {"aarch64"}, {}, 1, 0)};
  auto p = Choose(Spec("aarch64"), w);
  ASSERT_TRUE(p.worker);
  EXPECT_EQ(*p.worker, 1u);
  EXPECT_FALSE(p.emulated);
}

TEST(DispatchPolicyTest, EmulationIsUsedWhenNoNativeWorkerIsFree) {
  std::vector<WorkerView> w = {Worker("emu", {"x86_64"}, {"aarch64"}, 4, 0),
                               Worker("arm", {"aarch64"}, {}, 1, 1)};
  auto p = Choose(Spec("aarch64"), w);
  ASSERT_TRUE(p.worker);
  EXPECT_EQ(*p.worker, 0u);
  EXPECT_TRUE(p.emulated);
}

TEST(DispatchPolicyTest, TheWorkerHoldingMostInputBytesWinsOverFreeSlots) {
  Digest big = Digest::OfBytes("big");
  big.size = 1000;
  Digest small = Digest::OfBytes("small");
  small.size = 10;
  std::unordered_set<std::string> has_big{big.Hex()}, has_small{small.Hex()};
  std::vector<WorkerView> w = {Worker("a", {"x86_64"}, {}, 8, 0), Worker("b", {"x86_64"}, {}, 2, 0),
                               Worker("c", {"x86_64"}, {}, 2, 0)};
  w[1].cache_roots = &has_small;
  w[2].cache_roots = &has_big;
  auto p = Choose(Spec("x86_64", {big, small}), w);
  ASSERT_TRUE(p.worker);
  EXPECT_EQ(*p.worker, 2u);
}

TEST(DispatchPolicyTest, WithoutLocalityTheMostFreeSlotsWinThenRegistrationOrder) {
  std::vector<WorkerView> w = {Worker("a", {"x86_64"}, {}, 4, 3), Worker("b", {"x86_64"}, {}, 4, 1),
                               Worker("c", {"x86_64"}, {}, 4, 1)};
  EXPECT_EQ(*Choose(Spec("x86_64"), w).worker, 1u);
}

TEST(DispatchPolicyTest, ARetryGoesToAnotherWorkerThanTheFailedAttemptsEvenWithLessLocality) {
  Digest base = Digest::OfBytes("base");
  std::unordered_set<std::string> has_base{base.Hex()};
  std::vector<WorkerView> w = {Worker("broken", {"x86_64"}, {}, 8, 0), Worker("ok", {"x86_64"}, {}, 1, 0)};
  w[0].cache_roots = &has_base;
  EXPECT_EQ(*Choose(Spec("x86_64", {base}), w).worker, 0u);
  EXPECT_EQ(*Choose(Spec("x86_64", {base}), w, "broken").worker, 1u);
}

TEST(DispatchPolicyTest, ARetryStillGoesToTheFailedAttemptsWorkerIfItIsTheOnlyOneFree) {
  std::vector<WorkerView> w = {Worker("w1", {"x86_64"}, {}, 1, 0), Worker("w2", {"x86_64"}, {}, 1, 1)};
  EXPECT_EQ(*Choose(Spec("x86_64"), w, "w1").worker, 0u);
}

TEST(DispatchPolicyTest, ARetryStillPrefersANativeWorker) {
  std::vector<WorkerView> w = {Worker("emu", {"x86_64"}, {"aarch64"}, 4, 0),
                               Worker("arm", {"aarch64"}, {}, 1, 0)};
  auto p = Choose(Spec("aarch64"), w, "arm");
  EXPECT_EQ(*p.worker, 1u);
  EXPECT_FALSE(p.emulated);
}

TEST(DispatchPolicyTest, WaitReasonsTellNoCapableWorkerFromBusySlots) {
  std::vector<WorkerView> w = {Worker("a", {"x86_64"}, {}, 1, 1)};
  EXPECT_EQ(Choose(Spec("s390x"), w).reason, WaitReason::kNoCapableWorker);
  EXPECT_EQ(Choose(Spec("x86_64"), w).reason, WaitReason::kAllSlotsBusy);
  EXPECT_NE(DescribeWait(WaitReason::kNoCapableWorker, "s390x").find("s390x"), std::string::npos);
  EXPECT_NE(DescribeWait(WaitReason::kNoCapableWorker, "s390x").find("--setup-binfmt"), std::string::npos);
}

TEST(DispatchPolicyTest, BuildRotationTakesTurnsAndForgetsRemovedBuilds) {
  BuildRotation r;
  r.Add("a");
  r.Add("b");
  r.Add("a");
  EXPECT_EQ(*r.Next(), "a");
  EXPECT_EQ(*r.Next(), "b");
  EXPECT_EQ(*r.Next(), "a");
  r.Remove("b");
  EXPECT_EQ(*r.Next(), "a");
  r.Remove("a");
  EXPECT_FALSE(r.Next());
}

}  // namespace
}  // namespace crossfarm::scheduler
