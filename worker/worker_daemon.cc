#include "worker/worker_daemon.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include <filesystem>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "common/arch.h"
#include "metrics/registry.h"
#include "worker/binfmt.h"
#include "worker/self_check.h"

namespace crossfarm::worker {

using proto::MsgKind;
using proto::SchedMessage;

namespace {

constexpr size_t kMaxCacheRoots = 4096;

void ProbeArchs(WorkerDaemonOptions& o) {
  if (o.native_archs.empty())
    for (const ArchInfo* a : NativeArchsOf(HostArch())) o.native_archs.emplace_back(a->name);
  if (!o.emulated_archs.empty() || !o.probe_emulated) return;
  for (const ArchInfo* a : ForeignArchs()) {
    auto state = ProbeBinfmt(*a);
    if (state && state->usable()) o.emulated_archs.emplace_back(a->name);
  }
}

// The self-check's error as the one message the operator sees: what it means
// and what to fix. A directory problem is a bad --cache (exit 2); a sandbox that
// does not run at all is the host's setup (exit 1).
Status SelfCheckError(const Status& s, const std::string& cache_dir) {
  bool sandbox = s.code() == StatusCode::kFailedPrecondition;
  std::string hint = sandbox ? "bwrap (bubblewrap) must run for this user: install it, and allow "
                               "unprivileged user namespaces or run the worker as root (docs/sandbox.md)"
                             : "give --cache a directory this user can create and write (a relative "
                               "path is taken from the directory the worker starts in)";
  return Status(sandbox ? StatusCode::kFailedPrecondition : StatusCode::kInvalidArgument,
                "this worker would fail every job, so it does not start: the sandbox self-check in "
                "--cache " + cache_dir + " failed: " + s.message() + "\n  hint: " + hint);
}

void DescribeWorkerMetrics(metrics::Registry& m) {
  m.DescribeGauge("crossfarm_worker_slots", "Jobs this worker runs at once");
  m.DescribeGauge("crossfarm_worker_running_jobs", "Jobs running on this worker");
  m.DescribeCounter("crossfarm_worker_jobs_finished_total",
                    "Jobs run, by outcome (done, failed, infra_error)", {"arch", "sandbox", "outcome"});
  m.DescribeHistogram("crossfarm_worker_job_duration_seconds", "Wall time of a job on this worker",
                      {"arch", "sandbox"}, metrics::DurationBuckets());
  m.DescribeGauge("crossfarm_distcc_pool_slots", "distcc pool slots this worker offers");
  m.DescribeCounter("crossfarm_distcc_gateway_connections_total",
                    "Connections to this worker's distcc pool gateway, by result", {"result"});
}

std::string SandboxKind(const JobSpec& spec, const proto::JobResultMsg& r) {
  return !r.emulated ? "native" : spec.accel ? "accelerated" : "emulated";
}

void Send(zmq::socket_t& socket, const SchedMessage& m) {
  std::string bytes = proto::EncodeSchedMessage(m);
  (void)socket.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
}

}  // namespace

Result<std::unique_ptr<WorkerDaemon>> WorkerDaemon::Create(WorkerDaemonOptions options) {
  if (options.name.empty()) return Err(Status::InvalidArgument("a worker needs --name"));
  ProbeArchs(options);
  std::unique_ptr<WorkerDaemon> d(new WorkerDaemon(std::move(options)));
  auto& o = d->options_;
  if (!o.dry_run) {
    cas::CasOptions cas_options;
    cas_options.remote.server_public_key = o.cas_public_key;
    cas_options.remote.client_public_key = o.public_key;
    cas_options.remote.client_secret_key = o.secret_key;
    CF_ASSIGN_OR_RETURN(d->cas_, cas::OpenCas(o.cas, cas_options));
    if (!o.secret_key.empty()) {
      // Every artifact and acceleration probe ref this worker writes is signed
      // (docs/security.md); the CAS's allow list must hold this key as the
      // worker's sign=. The probe refs it reads are checked against the CAS's
      // worker signing keys, asked for on first use (the CAS may start later).
      cas::RefTrust trust;
      trust.signers_from_server = true;
      CF_ASSIGN_OR_RETURN(trust.signing_key, cas::DeriveSigningKey({o.public_key, o.secret_key}));
      spdlog::info("worker: signing artifact refs as sign={}", cas::SignerHex(trust.signing_key->public_key));
      d->cas_->SetRefTrust(std::move(trust));
    }
    JobRunnerOptions runner_options{.work_dir = o.cache_dir + "/tmp",
                                    .checkout_dir = o.cache_dir + "/checkouts",
                                    .log_dir = o.cache_dir + "/logs",
                                    .worker_name = o.name,
                                    .sandbox = {},
                                    .emulated_archs = o.emulated_archs,
                                    .pool_key = &d->pool_key_};
    // Refusing to start, rather than registering as unhealthy: the protocol has
    // no health state, an exited daemon is what an operator's supervisor shows,
    // and with no capable worker a submission fails at once naming the fix
    // instead of waiting (docs/scheduler.md "Faults").
    if (Status s = SandboxSelfCheck(d->sandbox_, runner_options); !s.ok())
      return Err(SelfCheckError(s, o.cache_dir));
    d->runner_ = std::make_unique<JobRunner>(*d->cas_, std::move(runner_options));
    if (o.distcc_slots > 0) {
      if (o.distcc_address.empty())
        return Err(Status::InvalidArgument("--distcc-slots needs --distcc-address (this worker's "
                                           "address in the cluster network)"));
      PoolGateway::Options g{.address = o.distcc_address,
                             .port = o.distcc_port,
                             .allow = o.distcc_allow,
                             .key = &d->pool_key_,
                             .slots = static_cast<int>(o.distcc_slots),
                             .work_dir = o.cache_dir + "/distcc-pool"};
      JobRunner* runner = d->runner_.get();
      CF_ASSIGN_OR_RETURN(d->gateway_, PoolGateway::Start(d->sandbox_, g, [runner](const Digest& root) {
                            return runner->Checkout(root);
                          }));
    }
  }
  if (auto* m = o.metrics) {
    DescribeWorkerMetrics(*m);
    m->Set("crossfarm_worker_slots", {}, o.slots);
    m->Set("crossfarm_distcc_pool_slots", {}, d->gateway_ ? o.distcc_slots : 0);
    m->AddCollector([m, self = d.get()] {
      m->Set("crossfarm_worker_running_jobs", {}, self->running_jobs_.load());
      if (!self->gateway_) return;
      m->SetCounter("crossfarm_distcc_gateway_connections_total", {"accepted"},
                    static_cast<double>(self->gateway_->accepted()));
      m->SetCounter("crossfarm_distcc_gateway_connections_total", {"authenticated"},
                    static_cast<double>(self->gateway_->authenticated()));
      m->SetCounter("crossfarm_distcc_gateway_connections_total", {"refused"},
                    static_cast<double>(self->gateway_->refused()));
    });
  }
  d->inproc_ = "inproc://worker-jobs";
  d->context_ = std::make_unique<zmq::context_t>(1);
  return d;
}

WorkerDaemon::WorkerDaemon(WorkerDaemonOptions options) : options_(std::move(options)) {}

WorkerDaemon::~WorkerDaemon() {
  for (auto& [key, job] : running_) {
    job.cancel->Cancel();
    if (job.thread.joinable()) job.thread.join();
  }
  if (context_) context_->close();
}

proto::WorkerInfo WorkerDaemon::Info() {
  proto::WorkerInfo info;
  info.name = options_.name;
  info.native_archs = options_.native_archs;
  info.emulated_archs = options_.emulated_archs;
  info.slots = options_.slots;
  info.dry_run = options_.dry_run;
  if (gateway_) {
    info.distcc_address = options_.distcc_address;
    info.distcc_port = gateway_->port();
    info.distcc_slots = options_.distcc_slots;
  }
  info.pool_key_id = pool_key_.Id();
  for (const auto& [key, job] : running_)
    if (!unacked_.contains(key)) info.running.push_back(key);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options_.cache_dir + "/checkouts", ec)) {
    if (info.cache_roots.size() >= kMaxCacheRoots) break;
    if (entry.path().filename().string().starts_with(".")) continue;  // .stamps, .tmp-*
    info.cache_roots.push_back(entry.path().filename().string());
  }
  return info;
}

proto::JobResultMsg WorkerDaemon::Execute(const JobSpec& spec, CancelToken* cancel,
                                          const std::function<void(std::string_view)>& on_log) {
  proto::JobResultMsg r;
  r.cache_key = spec.cache_key;
  r.worker = options_.name;
  auto outcome = runner_->Run(spec, on_log, cancel);
  if (!outcome) {
    r.infra_error = true;
    r.message = outcome.error().ToString();
    return r;
  }
  r.log = outcome->log;
  r.sandbox_arch = outcome->sandbox_arch;
  r.emulated = outcome->emulated;
  r.seconds = outcome->seconds;
  if (!outcome->success) {
    r.message = outcome->failure.message();
    return r;
  }
  proto::RefInfo info;
  info.root = *outcome->artifact;
  info.element = spec.element;
  info.arch = outcome->sandbox_arch;
  info.build_log = outcome->log;
  info.worker = options_.name;
  info.build_seconds = static_cast<uint64_t>(outcome->seconds);
  if (Status s = cas_->PutRef("artifacts/" + spec.cache_key, info); !s.ok()) {
    r.infra_error = true;
    r.message = "storing the artifact ref: " + s.ToString();
    return r;
  }
  r.success = true;
  r.artifact = outcome->artifact;
  return r;
}

void WorkerDaemon::RunJob(JobSpec spec, CancelToken* cancel) {
  zmq::socket_t push(*context_, zmq::socket_type::push);
  push.set(zmq::sockopt::linger, -1);
  push.connect(inproc_);
  std::mutex push_mu;  // on_log may be called from the runner's reader threads
  auto on_log = [&](std::string_view chunk) {
    SchedMessage m;
    m.kind = MsgKind::kLogChunk;
    m.key = spec.cache_key;
    m.data = std::string(chunk);
    std::lock_guard lock(push_mu);
    Send(push, m);
  };
  spdlog::info("worker: job started element={} job={}", spec.element, spec.cache_key.substr(0, 12));
  ++running_jobs_;
  auto started = std::chrono::steady_clock::now();
  SchedMessage m;
  m.kind = MsgKind::kResult;
  m.result = Execute(spec, cancel, on_log);
  --running_jobs_;
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const auto& r = m.result;
  std::string arch = r.sandbox_arch.empty() ? spec.sandbox_arch : r.sandbox_arch;
  std::string sandbox = SandboxKind(spec, r);
  const char* outcome = r.success ? "done" : r.infra_error ? "infra_error" : "failed";
  // The one line per job (docs/operations.md "Logs").
  spdlog::info("worker: job finished element={} arch={} worker={} duration={:.1f}s sandbox={} outcome={} "
               "job={}{}", spec.element, arch.empty() ? "none" : arch, options_.name, seconds, sandbox,
               outcome, spec.cache_key.substr(0, 12), r.message.empty() ? "" : " reason=\"" + r.message + "\"");
  if (auto* metrics = options_.metrics) {
    metrics->Add("crossfarm_worker_jobs_finished_total", {arch.empty() ? "none" : arch, sandbox, outcome});
    metrics->Observe("crossfarm_worker_job_duration_seconds", {arch.empty() ? "none" : arch, sandbox}, seconds);
  }
  std::lock_guard lock(push_mu);
  std::string bytes = proto::EncodeSchedMessage(m);
  (void)push.send(zmq::buffer(bytes), zmq::send_flags::none);
}

void WorkerDaemon::StartJob(const JobSpec& spec) {
  if (running_.contains(spec.cache_key)) return;  // a resent assignment
  if (options_.dry_run) {
    SchedMessage m;
    m.kind = MsgKind::kResult;
    m.result.cache_key = spec.cache_key;
    m.result.worker = options_.name;
    m.result.success = true;
    m.result.artifact = Digest::OfBytes(spec.cache_key);
    m.result.sandbox_arch = spec.sandbox_arch;
    Send(*dealer_, m);
    unacked_[spec.cache_key] = std::move(m);
    return;
  }
  RunningJob& job = running_[spec.cache_key];
  job.cancel = std::make_unique<CancelToken>();
  job.thread = std::thread([this, spec, cancel = job.cancel.get()] { RunJob(spec, cancel); });
}


Result<std::unique_ptr<zmq::socket_t>> WorkerDaemon::Connect() {
  try {
    auto s = std::make_unique<zmq::socket_t>(*context_, zmq::socket_type::dealer);
    s->set(zmq::sockopt::linger, 0);
    s->set(zmq::sockopt::sndhwm, 0);
    s->set(zmq::sockopt::rcvhwm, 0);
    s->set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(2 * proto::kMaxSchedulerFrameBytes));
    s->set(zmq::sockopt::reconnect_ivl, 100);
    s->set(zmq::sockopt::reconnect_ivl_max, 2000);
    if (!options_.scheduler_public_key.empty()) {
      s->set(zmq::sockopt::curve_serverkey, options_.scheduler_public_key);
      s->set(zmq::sockopt::curve_publickey, options_.public_key);
      s->set(zmq::sockopt::curve_secretkey, options_.secret_key);
    }
    s->connect(options_.scheduler);
    return s;
  } catch (const zmq::error_t& e) {
    return Err(Status::Unavailable("connecting to scheduler " + options_.scheduler + ": " + e.what()));
  }
}

void WorkerDaemon::Heartbeat() {
  for (const auto& [key, m] : unacked_) Send(*dealer_, m);
  SchedMessage m;
  m.kind = MsgKind::kRegister;
  m.worker = Info();
  Send(*dealer_, m);
}

void WorkerDaemon::OnScheduler(const zmq::message_t& frame) {
  auto m = proto::DecodeSchedMessage(frame.to_string_view());
  if (!m) {
    spdlog::warn("worker: dropped undecodable message bytes={} error=\"{}\"", frame.size(),
                 m.error().message());
    return;
  }
  switch (m->kind) {
    case MsgKind::kAssign: StartJob(m->spec); break;
    case MsgKind::kCancelJob:
      if (auto it = running_.find(m->key); it != running_.end()) it->second.cancel->Cancel();
      break;
    case MsgKind::kResultAck:
      unacked_.erase(m->key);
      if (auto it = running_.find(m->key); it != running_.end()) {
        if (it->second.thread.joinable()) it->second.thread.join();
        running_.erase(it);
      }
      break;
    case MsgKind::kError:
      spdlog::error("worker: scheduler refused us: {}", m->error.message());
      break;
    case MsgKind::kPoolKey:
      pool_key_.Set(m->data);
      spdlog::info("worker: distcc pool key {} from the scheduler", pool_key_.Id());
      break;
    default:
      spdlog::warn("worker: unexpected message={}", proto::MsgKindName(m->kind));
  }
}

void WorkerDaemon::OnJobThread(const zmq::message_t& frame) {
  auto m = proto::DecodeSchedMessage(frame.to_string_view());
  if (!m) return;  // we encoded it ourselves
  Send(*dealer_, *m);
  if (m->kind == MsgKind::kResult) unacked_[m->result.cache_key] = std::move(*m);
}

Status WorkerDaemon::Run(const std::atomic<bool>& stop) {
  CF_ASSIGN_OR_RETURN(auto dealer, Connect());
  dealer_ = dealer.get();
  zmq::socket_t pull(*context_, zmq::socket_type::pull);
  pull.set(zmq::sockopt::linger, 0);
  pull.bind(inproc_);
  spdlog::info("worker: name={} scheduler={} slots={} native={} emulated={} dry_run={}",
               options_.name, options_.scheduler, options_.slots, fmt::join(options_.native_archs, ","),
               fmt::join(options_.emulated_archs, ","), options_.dry_run);
  auto next_heartbeat = std::chrono::steady_clock::now();
  while (!stop.load()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= next_heartbeat) {
      Heartbeat();
      next_heartbeat = now + options_.heartbeat_interval;
    }
    zmq::pollitem_t items[] = {{static_cast<void*>(*dealer_), 0, ZMQ_POLLIN, 0},
                               {static_cast<void*>(pull), 0, ZMQ_POLLIN, 0}};
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_heartbeat - now);
    zmq::poll(items, 2, std::clamp(wait, std::chrono::milliseconds(0), std::chrono::milliseconds(100)));
    for (int i = 0; i < 4096; ++i) {
      zmq::message_t frame;
      if (!dealer_->recv(frame, zmq::recv_flags::dontwait)) break;
      OnScheduler(frame);
    }
    for (int i = 0; i < 4096; ++i) {
      zmq::message_t frame;
      if (!pull.recv(frame, zmq::recv_flags::dontwait)) break;
      OnJobThread(frame);
    }
  }
  for (auto& [key, job] : running_) job.cancel->Cancel();
  for (auto& [key, job] : running_)
    if (job.thread.joinable()) job.thread.join();
  running_.clear();
  dealer_ = nullptr;
  return Status::Ok();
}

}  // namespace crossfarm::worker
