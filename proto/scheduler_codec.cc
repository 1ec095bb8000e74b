// Cap'n Proto adapters for proto/scheduler_types.h. Exceptions stop here.
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>

#include "proto/scheduler.capnp.h"
#include "proto/traversal_limit.h"
#include "proto/scheduler_types.h"

namespace crossfarm::proto {
namespace {

namespace cp = ::crossfarm::proto::sched;
using TextList = ::capnp::List<::capnp::Text>;

::capnp::Text::Reader AsText(const std::string& s) { return {s.data(), s.size()}; }
std::string Str(::capnp::Text::Reader t) { return std::string(t.cStr(), t.size()); }
std::string Str(::capnp::Data::Reader t) {
  return std::string(reinterpret_cast<const char*>(t.begin()), t.size());
}

void SetDigest(cp::Digest::Builder b, const Digest& d) {
  b.setHash(kj::arrayPtr(d.hash.data(), d.hash.size()));
  b.setSize(d.size);
}
Digest GetDigest(cp::Digest::Reader r) {
  Digest d;
  auto h = r.getHash();
  if (h.size() != d.hash.size()) KJ_FAIL_REQUIRE("digest hash must be 32 bytes", h.size());
  std::memcpy(d.hash.data(), h.begin(), d.hash.size());
  d.size = r.getSize();
  return d;
}

void SetTexts(TextList::Builder b, const std::vector<std::string>& v) {
  for (size_t i = 0; i < v.size(); ++i) b.set(i, AsText(v[i]));
}
std::vector<std::string> GetTexts(TextList::Reader r) {
  std::vector<std::string> v;
  v.reserve(r.size());
  for (auto t : r) v.push_back(Str(t));
  return v;
}

void BuildInputs(::capnp::List<cp::StagedArtifact>::Builder b, const std::vector<StagedArtifact>& v) {
  for (size_t i = 0; i < v.size(); ++i) {
    b[i].setElement(AsText(v[i].element));
    if (v[i].root != Digest{}) SetDigest(b[i].initRoot(), v[i].root);
    SetTexts(b[i].initIntegrationCommands(v[i].integration_commands.size()),
             v[i].integration_commands);
    auto rules = b[i].initSplitRules(v[i].split_rules.size());
    size_t j = 0;
    for (const auto& [domain, patterns] : v[i].split_rules) {
      rules[j].setDomain(AsText(domain));
      SetTexts(rules[j].initPatterns(patterns.size()), patterns);
      ++j;
    }
    b[i].setAccelerator(v[i].accelerator);
  }
}

void BuildSpec(cp::JobSpec::Builder b, const JobSpec& s) {
  b.setElement(AsText(s.element));
  b.setCacheKey(AsText(s.cache_key));
  b.setKind(static_cast<uint8_t>(s.kind));
  b.setSandboxArch(AsText(s.sandbox_arch));
  BuildInputs(b.initInputs(s.inputs.size()), s.inputs);
  auto sources = b.initSources(s.sources.size());
  for (size_t i = 0; i < s.sources.size(); ++i) {
    SetDigest(sources[i].initRoot(), s.sources[i].root);
    sources[i].setDirectory(AsText(s.sources[i].directory));
  }
  auto env = b.initEnvironment(s.environment.size());
  size_t i = 0;
  for (const auto& [k, v] : s.environment) {
    env[i].setKey(AsText(k));
    env[i++].setValue(AsText(v));
  }
  b.setBuildRoot(AsText(s.build_root));
  b.setInstallRoot(AsText(s.install_root));
  b.setCommandSubdir(AsText(s.command_subdir));
  auto phases = b.initPhases(s.phases.size());
  for (size_t p = 0; p < s.phases.size(); ++p) {
    phases[p].setName(AsText(s.phases[p].first));
    SetTexts(phases[p].initCommands(s.phases[p].second.size()), s.phases[p].second);
  }
  b.setNetwork(s.network);
  b.setIntegrate(s.integrate);
  SetTexts(b.initIncludeDomains(s.include_domains.size()), s.include_domains);
  SetTexts(b.initExcludeDomains(s.exclude_domains.size()), s.exclude_domains);
  b.setIncludeOrphans(s.include_orphans);
  b.setImportSource(AsText(s.import_source));
  b.setImportTarget(AsText(s.import_target));
  b.setMaxJobs(s.max_jobs);
  auto files = b.initFiles(s.files.size());
  for (size_t f = 0; f < s.files.size(); ++f) {
    files[f].setPath(AsText(s.files[f].path));
    files[f].setContent(AsText(s.files[f].content));
    files[f].setExecutable(s.files[f].executable);
  }
  if (s.accel) {
    auto a = b.initAccel();
    a.setDistcc(s.accel->distcc);
    a.setHostTools(s.accel->substitute_tools);
    a.setHostArch(AsText(s.accel->host_arch));
    a.setTargetArch(AsText(s.accel->target_arch));
    a.setTriplet(AsText(s.accel->triplet));
    a.setCc(AsText(s.accel->cc));
    a.setCxx(AsText(s.accel->cxx));
    SetTexts(a.initHostToolPaths(s.accel->host_tools.size()), s.accel->host_tools);
    SetTexts(a.initHostPaths(s.accel->host_paths.size()), s.accel->host_paths);
    auto pool = a.initRemotePool(s.accel->remote_pool.size());
    for (size_t m = 0; m < s.accel->remote_pool.size(); ++m) {
      const PoolMember& member = s.accel->remote_pool[m];
      pool[m].setWorker(AsText(member.worker));
      pool[m].setAddress(AsText(member.address));
      pool[m].setPort(member.port);
      pool[m].setSlots(member.slots);
    }
  }
  if (s.python) {
    auto py = b.initPython();
    py.setKind(AsText(s.python->kind));
    py.setPlugin(AsText(s.python->plugin));
    py.setModule(AsText(s.python->module));
    py.setElement(AsText(s.python->element));
    py.setWhere(AsText(s.python->where));
  }
}

JobSpec ReadSpec(cp::JobSpec::Reader r) {
  JobSpec s;
  s.element = Str(r.getElement());
  s.cache_key = Str(r.getCacheKey());
  if (r.getKind() > static_cast<uint8_t>(JobKind::kCollect)) KJ_FAIL_REQUIRE("unknown job kind");
  s.kind = static_cast<JobKind>(r.getKind());
  s.sandbox_arch = Str(r.getSandboxArch());
  for (auto in : r.getInputs()) {
    StagedArtifact a;
    a.element = Str(in.getElement());
    if (in.hasRoot()) a.root = GetDigest(in.getRoot());
    a.integration_commands = GetTexts(in.getIntegrationCommands());
    for (auto rule : in.getSplitRules()) a.split_rules[Str(rule.getDomain())] = GetTexts(rule.getPatterns());
    a.accelerator = in.getAccelerator();
    s.inputs.push_back(std::move(a));
  }
  for (auto src : r.getSources()) s.sources.push_back({GetDigest(src.getRoot()), Str(src.getDirectory())});
  for (auto kv : r.getEnvironment()) s.environment[Str(kv.getKey())] = Str(kv.getValue());
  s.build_root = Str(r.getBuildRoot());
  s.install_root = Str(r.getInstallRoot());
  s.command_subdir = Str(r.getCommandSubdir());
  for (auto p : r.getPhases()) s.phases.emplace_back(Str(p.getName()), GetTexts(p.getCommands()));
  s.network = r.getNetwork();
  s.integrate = r.getIntegrate();
  s.include_domains = GetTexts(r.getIncludeDomains());
  s.exclude_domains = GetTexts(r.getExcludeDomains());
  s.include_orphans = r.getIncludeOrphans();
  s.import_source = Str(r.getImportSource());
  s.import_target = Str(r.getImportTarget());
  s.max_jobs = r.getMaxJobs();
  for (auto f : r.getFiles())
    s.files.push_back({Str(f.getPath()), Str(f.getContent()), f.getExecutable()});
  if (r.hasAccel()) {
    auto a = r.getAccel();
    s.accel = AccelSpec{.distcc = a.getDistcc(),
                        .substitute_tools = a.getHostTools(),
                        .host_arch = Str(a.getHostArch()),
                        .target_arch = Str(a.getTargetArch()),
                        .triplet = Str(a.getTriplet()),
                        .cc = Str(a.getCc()),
                        .cxx = Str(a.getCxx()),
                        .host_tools = GetTexts(a.getHostToolPaths()),
                        .host_paths = GetTexts(a.getHostPaths()),
                        .remote_pool = {}};
    for (auto p : a.getRemotePool())
      s.accel->remote_pool.push_back({Str(p.getWorker()), Str(p.getAddress()), p.getPort(), p.getSlots()});
  }
  if (r.hasPython()) {
    auto py = r.getPython();
    s.python = PythonElementJob{Str(py.getKind()), Str(py.getPlugin()), Str(py.getModule()),
                                Str(py.getElement()), Str(py.getWhere())};
  }
  return s;
}

void BuildRequest(cp::JobRequest::Builder b, const JobRequest& j) {
  BuildSpec(b.initSpec(), j.spec);
  SetTexts(b.initInputKeys(j.input_keys.size()), j.input_keys);
}
JobRequest ReadRequest(cp::JobRequest::Reader r) {
  JobRequest j{ReadSpec(r.getSpec()), GetTexts(r.getInputKeys())};
  if (j.input_keys.size() != j.spec.inputs.size())
    KJ_FAIL_REQUIRE("inputKeys must have one entry per input");
  return j;
}

RemoteJobState GetState(cp::JobState s) {
  auto v = static_cast<uint16_t>(s);
  if (v > static_cast<uint16_t>(RemoteJobState::kCancelled)) KJ_FAIL_REQUIRE("unknown job state");
  return static_cast<RemoteJobState>(v);
}
cp::JobState SetState(RemoteJobState s) { return static_cast<cp::JobState>(s); }

void BuildWorker(cp::WorkerInfo::Builder b, const WorkerInfo& w) {
  b.setName(AsText(w.name));
  SetTexts(b.initNativeArchs(w.native_archs.size()), w.native_archs);
  SetTexts(b.initEmulatedArchs(w.emulated_archs.size()), w.emulated_archs);
  b.setSlots(w.slots);
  SetTexts(b.initRunning(w.running.size()), w.running);
  SetTexts(b.initCacheRoots(w.cache_roots.size()), w.cache_roots);
  b.setDryRun(w.dry_run);
  b.setDistccAddress(AsText(w.distcc_address));
  b.setDistccPort(w.distcc_port);
  b.setDistccSlots(w.distcc_slots);
  b.setPoolKeyId(AsText(w.pool_key_id));
}
WorkerInfo ReadWorker(cp::WorkerInfo::Reader r) {
  WorkerInfo w{Str(r.getName()), GetTexts(r.getNativeArchs()), GetTexts(r.getEmulatedArchs()),
               r.getSlots(), GetTexts(r.getRunning()), GetTexts(r.getCacheRoots()), r.getDryRun()};
  w.distcc_address = Str(r.getDistccAddress());
  w.distcc_port = r.getDistccPort();
  w.distcc_slots = r.getDistccSlots();
  w.pool_key_id = Str(r.getPoolKeyId());
  return w;
}

void BuildResult(cp::JobResult::Builder b, const JobResultMsg& m) {
  b.setCacheKey(AsText(m.cache_key));
  b.setSuccess(m.success);
  b.setInfraError(m.infra_error);
  b.setMessage(AsText(m.message));
  if (m.artifact) SetDigest(b.initArtifact(), *m.artifact);
  if (m.log) SetDigest(b.initLog(), *m.log);
  b.setSandboxArch(AsText(m.sandbox_arch));
  b.setEmulated(m.emulated);
  b.setSeconds(m.seconds);
  b.setWorker(AsText(m.worker));
}
JobResultMsg ReadResult(cp::JobResult::Reader r) {
  JobResultMsg m;
  m.cache_key = Str(r.getCacheKey());
  m.success = r.getSuccess();
  m.infra_error = r.getInfraError();
  m.message = Str(r.getMessage());
  if (r.hasArtifact()) m.artifact = GetDigest(r.getArtifact());
  if (r.hasLog()) m.log = GetDigest(r.getLog());
  m.sandbox_arch = Str(r.getSandboxArch());
  m.emulated = r.getEmulated();
  m.seconds = r.getSeconds();
  m.worker = Str(r.getWorker());
  return m;
}

void BuildUpdates(cp::Updates::Builder b, const SchedMessage& m) {
  b.setBuildId(AsText(m.build_id));
  b.setFinished(m.finished);
  auto list = b.initJobs(m.updates.size());
  for (size_t i = 0; i < m.updates.size(); ++i) {
    const auto& u = m.updates[i];
    list[i].setElement(AsText(u.element));
    list[i].setCacheKey(AsText(u.cache_key));
    list[i].setState(SetState(u.state));
    list[i].setWorker(AsText(u.worker));
    list[i].setDetail(AsText(u.detail));
    if (u.log) SetDigest(list[i].initLog(), *u.log);
  }
}
void ReadUpdates(cp::Updates::Reader r, SchedMessage& m) {
  m.build_id = Str(r.getBuildId());
  m.finished = r.getFinished();
  for (auto u : r.getJobs()) {
    JobUpdate ju{Str(u.getElement()), Str(u.getCacheKey()), GetState(u.getState()),
                 Str(u.getWorker()), Str(u.getDetail()), std::nullopt};
    if (u.hasLog()) ju.log = GetDigest(u.getLog());
    m.updates.push_back(std::move(ju));
  }
}

void BuildStatusReply(cp::StatusReply::Builder b, const StatusReply& s) {
  auto workers = b.initWorkers(s.workers.size());
  for (size_t i = 0; i < s.workers.size(); ++i) {
    const auto& w = s.workers[i];
    workers[i].setName(AsText(w.name));
    SetTexts(workers[i].initNativeArchs(w.native_archs.size()), w.native_archs);
    SetTexts(workers[i].initEmulatedArchs(w.emulated_archs.size()), w.emulated_archs);
    workers[i].setSlots(w.slots);
    workers[i].setBusy(w.busy);
    workers[i].setHeartbeatAgeMs(w.heartbeat_age_ms);
    SetTexts(workers[i].initRunning(w.running.size()), w.running);
  }
  auto jobs = b.initJobs(s.jobs.size());
  for (size_t i = 0; i < s.jobs.size(); ++i) {
    const auto& j = s.jobs[i];
    jobs[i].setElement(AsText(j.element));
    jobs[i].setCacheKey(AsText(j.cache_key));
    jobs[i].setState(SetState(j.state));
    jobs[i].setReason(AsText(j.reason));
    jobs[i].setWorker(AsText(j.worker));
    jobs[i].setAttempts(j.attempts);
  }
  b.setBuilds(s.builds);
  b.setCasUrl(AsText(s.cas_url));
  b.setCasPublicKey(AsText(s.cas_public_key));
}
StatusReply ReadStatusReply(cp::StatusReply::Reader r) {
  StatusReply s;
  for (auto w : r.getWorkers())
    s.workers.push_back({Str(w.getName()), GetTexts(w.getNativeArchs()),
                         GetTexts(w.getEmulatedArchs()), w.getSlots(), w.getBusy(),
                         w.getHeartbeatAgeMs(), GetTexts(w.getRunning())});
  for (auto j : r.getJobs())
    s.jobs.push_back({Str(j.getElement()), Str(j.getCacheKey()), GetState(j.getState()),
                      Str(j.getReason()), Str(j.getWorker()), j.getAttempts()});
  s.builds = r.getBuilds();
  s.cas_url = Str(r.getCasUrl());
  s.cas_public_key = Str(r.getCasPublicKey());
  return s;
}

std::string MessageBytes(::capnp::MessageBuilder& message) {
  auto words = ::capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

template <typename Root, typename Fn>
auto ReadFlat(std::string_view bytes, StatusCode code, const char* what, Fn&& fn)
    -> Result<decltype(fn(std::declval<typename Root::Reader>()))> {
  try {
    if (bytes.empty() || bytes.size() % 8 != 0)
      KJ_FAIL_REQUIRE("message size is not a positive multiple of 8");
    auto words = kj::heapArray<::capnp::word>(bytes.size() / 8);
    std::memcpy(words.begin(), bytes.data(), bytes.size());  // zmq frames may be unaligned
    ::capnp::ReaderOptions options;
    options.traversalLimitInWords = TraversalLimitFor(bytes.size());
    ::capnp::FlatArrayMessageReader reader(words, options);
    return fn(reader.getRoot<Root>());
  } catch (const kj::Exception& e) {
    return Err(Status(code, std::string("malformed ") + what + ": " + e.getDescription().cStr()));
  }
}

void BuildBody(cp::Message::Builder b, const SchedMessage& m) {
  switch (m.kind) {
    case MsgKind::kRegister: BuildWorker(b.initRegister(), m.worker); break;
    case MsgKind::kAssign: {
      auto a = b.initAssign();
      BuildSpec(a.initSpec(), m.spec);
      a.setAttempt(m.attempt);
      break;
    }
    case MsgKind::kResult: BuildResult(b.initResult(), m.result); break;
    case MsgKind::kResultAck: b.setResultAck(AsText(m.key)); break;
    case MsgKind::kLogChunk: {
      auto l = b.initLogChunk();
      l.setCacheKey(AsText(m.key));
      l.setData(kj::arrayPtr(reinterpret_cast<const kj::byte*>(m.data.data()), m.data.size()));
      break;
    }
    case MsgKind::kCancelJob: b.setCancelJob(AsText(m.key)); break;
    case MsgKind::kSubmit: {
      auto s = b.initSubmit();
      s.setBuildId(AsText(m.build_id));
      auto jobs = s.initJobs(m.jobs.size());
      for (size_t i = 0; i < m.jobs.size(); ++i) BuildRequest(jobs[i], m.jobs[i]);
      break;
    }
    case MsgKind::kWatch: b.setWatch(AsText(m.build_id)); break;
    case MsgKind::kUpdates: BuildUpdates(b.initUpdates(), m); break;
    case MsgKind::kCancelBuild: b.setCancelBuild(AsText(m.build_id)); break;
    case MsgKind::kStatusRequest: b.setStatusRequest(); break;
    case MsgKind::kStatusReply: BuildStatusReply(b.initStatusReply(), m.status); break;
    case MsgKind::kError: {
      auto e = b.initError();
      e.setCode(static_cast<uint16_t>(m.error.code()));
      e.setMessage(AsText(m.error.message()));
      break;
    }
    case MsgKind::kPoolKey:
      b.setPoolKey(kj::arrayPtr(reinterpret_cast<const kj::byte*>(m.data.data()), m.data.size()));
      break;
    case MsgKind::kFollowLog: b.setFollowLog(AsText(m.key)); break;
    case MsgKind::kLogEnd: BuildUpdates(b.initLogEnd(), m); break;
  }
}

SchedMessage ReadBody(cp::Message::Reader r) {
  SchedMessage m;
  m.version = r.getVersion();
  if (m.version != kSchedulerProtocolVersion) {
    // Another version's union may mean anything: report the version only.
    m.kind = MsgKind::kError;
    return m;
  }
  switch (r.which()) {
    case cp::Message::REGISTER: m.kind = MsgKind::kRegister; m.worker = ReadWorker(r.getRegister()); break;
    case cp::Message::ASSIGN:
      m.kind = MsgKind::kAssign;
      m.spec = ReadSpec(r.getAssign().getSpec());
      m.attempt = r.getAssign().getAttempt();
      break;
    case cp::Message::RESULT: m.kind = MsgKind::kResult; m.result = ReadResult(r.getResult()); break;
    case cp::Message::RESULT_ACK: m.kind = MsgKind::kResultAck; m.key = Str(r.getResultAck()); break;
    case cp::Message::LOG_CHUNK:
      m.kind = MsgKind::kLogChunk;
      m.key = Str(r.getLogChunk().getCacheKey());
      m.data = Str(r.getLogChunk().getData());
      break;
    case cp::Message::CANCEL_JOB: m.kind = MsgKind::kCancelJob; m.key = Str(r.getCancelJob()); break;
    case cp::Message::SUBMIT:
      m.kind = MsgKind::kSubmit;
      m.build_id = Str(r.getSubmit().getBuildId());
      for (auto j : r.getSubmit().getJobs()) m.jobs.push_back(ReadRequest(j));
      break;
    case cp::Message::WATCH: m.kind = MsgKind::kWatch; m.build_id = Str(r.getWatch()); break;
    case cp::Message::UPDATES: m.kind = MsgKind::kUpdates; ReadUpdates(r.getUpdates(), m); break;
    case cp::Message::CANCEL_BUILD: m.kind = MsgKind::kCancelBuild; m.build_id = Str(r.getCancelBuild()); break;
    case cp::Message::STATUS_REQUEST: m.kind = MsgKind::kStatusRequest; break;
    case cp::Message::STATUS_REPLY: m.kind = MsgKind::kStatusReply; m.status = ReadStatusReply(r.getStatusReply()); break;
    case cp::Message::ERROR: {
      m.kind = MsgKind::kError;
      auto e = r.getError();
      m.error = Status(static_cast<StatusCode>(e.getCode()), Str(e.getMessage()));
      if (m.error.ok()) m.error = Status::Internal("peer sent an error without a code");
      break;
    }
    case cp::Message::POOL_KEY: m.kind = MsgKind::kPoolKey; m.data = Str(r.getPoolKey()); break;
    case cp::Message::FOLLOW_LOG: m.kind = MsgKind::kFollowLog; m.key = Str(r.getFollowLog()); break;
    case cp::Message::LOG_END: m.kind = MsgKind::kLogEnd; ReadUpdates(r.getLogEnd(), m); break;
    default: KJ_FAIL_REQUIRE("unknown message type");
  }
  return m;
}

}  // namespace

const char* RemoteJobStateName(RemoteJobState s) {
  static const char* kNames[] = {"waiting", "ready", "running", "done", "failed", "skipped", "cancelled"};
  return kNames[static_cast<size_t>(s)];
}

const char* MsgKindName(MsgKind k) {
  static const char* kNames[] = {"register", "assign", "result", "resultAck", "logChunk",
                                 "cancelJob", "submit", "watch", "updates", "cancelBuild",
                                 "statusRequest", "statusReply", "error", "poolKey",
                                 "followLog", "logEnd"};
  return kNames[static_cast<size_t>(k)];
}

std::string EncodeSchedMessage(const SchedMessage& m) {
  ::capnp::MallocMessageBuilder message;
  auto b = message.initRoot<cp::Message>();
  b.setVersion(m.version);
  BuildBody(b, m);
  return MessageBytes(message);
}

Result<SchedMessage> DecodeSchedMessage(std::string_view bytes) {
  return ReadFlat<cp::Message>(bytes, StatusCode::kInvalidArgument, "scheduler message",
                               [](cp::Message::Reader r) { return ReadBody(r); });
}

std::string EncodeStoredJob(const StoredJob& j) {
  ::capnp::MallocMessageBuilder message;
  auto b = message.initRoot<cp::StoredJob>();
  BuildRequest(b.initRequest(), j.request);
  b.setState(SetState(j.state));
  b.setAttempts(j.attempts);
  if (j.artifact) SetDigest(b.initArtifact(), *j.artifact);
  if (j.log) SetDigest(b.initLog(), *j.log);
  b.setMessage(AsText(j.message));
  b.setWorker(AsText(j.worker));
  SetTexts(b.initBuilds(j.builds.size()), j.builds);
  return MessageBytes(message);
}

Result<StoredJob> DecodeStoredJob(std::string_view bytes) {
  return ReadFlat<cp::StoredJob>(bytes, StatusCode::kCorruption, "stored job",
                                 [](cp::StoredJob::Reader r) {
    StoredJob j;
    j.request = ReadRequest(r.getRequest());
    j.state = GetState(r.getState());
    j.attempts = r.getAttempts();
    if (r.hasArtifact()) j.artifact = GetDigest(r.getArtifact());
    if (r.hasLog()) j.log = GetDigest(r.getLog());
    j.message = Str(r.getMessage());
    j.worker = Str(r.getWorker());
    j.builds = GetTexts(r.getBuilds());
    return j;
  });
}

std::string EncodeStoredBuild(const StoredBuild& b) {
  ::capnp::MallocMessageBuilder message;
  auto root = message.initRoot<cp::StoredBuild>();
  root.setBuildId(AsText(b.build_id));
  SetTexts(root.initJobKeys(b.job_keys.size()), b.job_keys);
  root.setCancelled(b.cancelled);
  return MessageBytes(message);
}

Result<StoredBuild> DecodeStoredBuild(std::string_view bytes) {
  return ReadFlat<cp::StoredBuild>(bytes, StatusCode::kCorruption, "stored build",
                                   [](cp::StoredBuild::Reader r) {
    return StoredBuild{Str(r.getBuildId()), GetTexts(r.getJobKeys()), r.getCancelled()};
  });
}

}  // namespace crossfarm::proto
