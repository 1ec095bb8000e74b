#include <gtest/gtest.h>

#include "proto/scheduler_types.h"

namespace crossfarm::proto {
namespace {

JobSpec FullSpec() {
  JobSpec s;
  s.element = "hello.bst";
  s.cache_key = std::string(64, 'a');
  s.kind = JobKind::kCompose;
  s.sandbox_arch = "aarch64";
  s.inputs.push_back({"base.bst", Digest::OfBytes("root"), {"ldconfig"}, {{"devel", {"/usr/include/**"}}}});
  s.inputs.push_back({"dep.bst", Digest{}, {}, {}});
  s.inputs.push_back({"accel/aarch64.bst", Digest::OfBytes("accel"), {}, {}, true});
  s.sources.push_back({Digest::OfBytes("src"), "sub"});
  s.environment = {{"PATH", "/usr/bin"}, {"CC", "gcc"}};
  s.build_root = "/buildstream/build";
  s.install_root = "/buildstream-install";
  s.command_subdir = "src";
  s.phases = {{"configure", {"./configure"}}, {"build", {"make", "make check"}}};
  s.network = true;
  s.integrate = false;
  s.include_domains = {"runtime"};
  s.exclude_domains = {"devel"};
  s.include_orphans = false;
  s.import_source = "/x";
  s.import_target = "/y";
  s.max_jobs = 7;
  s.files = {{"/usr/manifest.json", "{\n}", false}, {"/etc/post.sh", "#!/bin/sh\n", true}};
  s.accel = AccelSpec{.distcc = true,
                      .substitute_tools = false,
                      .host_arch = "x86_64",
                      .target_arch = "aarch64",
                      .triplet = "aarch64-linux-gnu",
                      .cc = "/usr/bin/aarch64-linux-gnu-gcc-12",
                      .cxx = "",
                      .host_tools = {"/bin/dash", "/usr/bin/make"},
                      .host_paths = {"/usr/lib/x86_64-linux-gnu"},
                      .remote_pool = {{"w2", "10.0.0.2", 3700, 4}}};
  return s;
}

void ExpectSameSpec(const JobSpec& a, const JobSpec& b) {
  EXPECT_EQ(a.element, b.element);
  EXPECT_EQ(a.cache_key, b.cache_key);
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.sandbox_arch, b.sandbox_arch);
  ASSERT_EQ(a.inputs.size(), b.inputs.size());
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    EXPECT_EQ(a.inputs[i].element, b.inputs[i].element);
    EXPECT_EQ(a.inputs[i].root, b.inputs[i].root);
    EXPECT_EQ(a.inputs[i].integration_commands, b.inputs[i].integration_commands);
    EXPECT_EQ(a.inputs[i].split_rules, b.inputs[i].split_rules);
    EXPECT_EQ(a.inputs[i].accelerator, b.inputs[i].accelerator);
  }
  EXPECT_EQ(a.sources.size(), b.sources.size());
  EXPECT_EQ(a.environment, b.environment);
  EXPECT_EQ(a.phases, b.phases);
  EXPECT_EQ(a.network, b.network);
  EXPECT_EQ(a.integrate, b.integrate);
  EXPECT_EQ(a.include_domains, b.include_domains);
  EXPECT_EQ(a.exclude_domains, b.exclude_domains);
  EXPECT_EQ(a.include_orphans, b.include_orphans);
  EXPECT_EQ(a.import_source, b.import_source);
  EXPECT_EQ(a.import_target, b.import_target);
  EXPECT_EQ(a.max_jobs, b.max_jobs);
  EXPECT_EQ(a.accel, b.accel);
  EXPECT_EQ(a.files, b.files);
}

TEST(SchedulerCodecTest, AnAssignmentRoundTripsEveryJobSpecField) {
  SchedMessage m;
  m.kind = MsgKind::kAssign;
  m.spec = FullSpec();
  m.attempt = 2;
  auto back = DecodeSchedMessage(EncodeSchedMessage(m));
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->kind, MsgKind::kAssign);
  EXPECT_EQ(back->attempt, 2u);
  ExpectSameSpec(m.spec, back->spec);
}

TEST(SchedulerCodecTest, SubmitResultAndUpdatesRoundTrip) {
  SchedMessage submit;
  submit.kind = MsgKind::kSubmit;
  submit.build_id = "b1";
  submit.jobs.push_back({FullSpec(), {"k1", "k2", "k3"}});
  auto s = DecodeSchedMessage(EncodeSchedMessage(submit));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->build_id, "b1");
  ASSERT_EQ(s->jobs.size(), 1u);
  EXPECT_EQ(s->jobs[0].input_keys, (std::vector<std::string>{"k1", "k2", "k3"}));

  SchedMessage result;
  result.kind = MsgKind::kResult;
  result.result = {"key", true, false, "", Digest::OfBytes("art"), Digest::OfBytes("log"), "x86_64", true, 1.5, "w1"};
  auto r = DecodeSchedMessage(EncodeSchedMessage(result));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result.artifact, result.result.artifact);
  EXPECT_EQ(r->result.log, result.result.log);
  EXPECT_TRUE(r->result.emulated);
  EXPECT_EQ(r->result.worker, "w1");

  SchedMessage updates;
  updates.kind = MsgKind::kUpdates;
  updates.build_id = "b1";
  updates.finished = true;
  updates.updates.push_back({"a.bst", "ka", RemoteJobState::kFailed, "w2", "exit code 3", Digest::OfBytes("l")});
  auto u = DecodeSchedMessage(EncodeSchedMessage(updates));
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->finished);
  ASSERT_EQ(u->updates.size(), 1u);
  EXPECT_EQ(u->updates[0].state, RemoteJobState::kFailed);
  EXPECT_EQ(u->updates[0].detail, "exit code 3");
}

TEST(SchedulerCodecTest, PoolKeyAndItsIdRoundTrip) {
  SchedMessage reg;
  reg.kind = MsgKind::kRegister;
  reg.worker.name = "w1";
  reg.worker.pool_key_id = "0123456789abcdef";
  auto r = DecodeSchedMessage(EncodeSchedMessage(reg));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->worker.pool_key_id, "0123456789abcdef");

  SchedMessage key;
  key.kind = MsgKind::kPoolKey;
  key.data = std::string("\0\x01binary\xff", 10);  // raw bytes, NULs included
  auto k = DecodeSchedMessage(EncodeSchedMessage(key));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->kind, MsgKind::kPoolKey);
  EXPECT_EQ(k->data, key.data);
  EXPECT_STREQ(MsgKindName(MsgKind::kPoolKey), "poolKey");
}

// `log -f` of a remote job (docs/protocol.md "Following a job's log").
TEST(SchedulerCodecTest, FollowLogAndLogEndRoundTrip) {
  SchedMessage follow;
  follow.kind = MsgKind::kFollowLog;
  follow.key = std::string(64, 'a');
  auto f = DecodeSchedMessage(EncodeSchedMessage(follow));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, MsgKind::kFollowLog);
  EXPECT_EQ(f->key, follow.key);
  EXPECT_STREQ(MsgKindName(MsgKind::kFollowLog), "followLog");

  SchedMessage end;
  end.kind = MsgKind::kLogEnd;
  end.updates.push_back({"hello.bst", std::string(64, 'b'), RemoteJobState::kFailed, "w1", "exit 2",
                         Digest::OfBytes("the log")});
  auto e = DecodeSchedMessage(EncodeSchedMessage(end));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, MsgKind::kLogEnd);
  ASSERT_EQ(e->updates.size(), 1u);
  EXPECT_EQ(e->updates[0].element, "hello.bst");
  EXPECT_EQ(e->updates[0].state, RemoteJobState::kFailed);
  EXPECT_EQ(e->updates[0].log, Digest::OfBytes("the log"));
  EXPECT_STREQ(MsgKindName(MsgKind::kLogEnd), "logEnd");
}

TEST(SchedulerCodecTest, InputKeysMustMatchTheInputs) {
  SchedMessage submit;
  submit.kind = MsgKind::kSubmit;
  submit.jobs.push_back({FullSpec(), {"only-one"}});
  auto s = DecodeSchedMessage(EncodeSchedMessage(submit));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), StatusCode::kInvalidArgument);
}

TEST(SchedulerCodecTest, GarbageIsAnErrorNeverACrash) {
  for (std::string bad : {std::string(), std::string("x"), std::string(8, '\xff'), std::string(64, '\x01'),
                          std::string("\0\0\0\0\x10\0\0\0", 8) + std::string(8, '\0')}) {
    auto m = DecodeSchedMessage(bad);
    EXPECT_FALSE(m && m->kind != MsgKind::kError && m->version == kSchedulerProtocolVersion)
        << "accepted " << bad.size() << " bytes";
  }
  std::string good = EncodeSchedMessage(SchedMessage{});
  for (size_t cut = 8; cut < good.size(); cut += 8)
    (void)DecodeSchedMessage(good.substr(0, cut));  // must not crash
}

TEST(SchedulerCodecTest, AnotherVersionDecodesAsVersionOnly) {
  SchedMessage m;
  m.version = kSchedulerProtocolVersion + 1;
  m.kind = MsgKind::kSubmit;
  auto back = DecodeSchedMessage(EncodeSchedMessage(m));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->version, kSchedulerProtocolVersion + 1);
  EXPECT_EQ(back->kind, MsgKind::kError);
}

TEST(SchedulerCodecTest, StoredJobsRoundTripAndBadBytesAreCorruption) {
  StoredJob j;
  j.request = {FullSpec(), {"k1", "k2", "k3"}};
  j.state = RemoteJobState::kRunning;
  j.attempts = 2;
  j.artifact = Digest::OfBytes("a");
  j.worker = "w1";
  j.builds = {"b1", "b2"};
  auto back = DecodeStoredJob(EncodeStoredJob(j));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->state, RemoteJobState::kRunning);
  EXPECT_EQ(back->attempts, 2u);
  EXPECT_EQ(back->builds, j.builds);
  EXPECT_EQ(back->artifact, j.artifact);
  EXPECT_EQ(DecodeStoredJob("nonsense").error().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace crossfarm::proto
