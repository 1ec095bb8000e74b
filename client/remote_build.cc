#include "client/remote_build.h"

#include <csignal>
#include <cstdio>
#include <deque>
#include <fstream>
#include <random>
#include <unordered_map>
#include <zmq.hpp>

#include "cas/cas.h"
#include "cas/curve_keys.h"
#include "client/job_builder.h"
#include "client/sources.h"

namespace crossfarm::client {

using proto::MsgKind;
using proto::RemoteJobState;
using proto::SchedMessage;
using Clock = std::chrono::steady_clock;

// ---- SchedulerConnection ----

Result<std::unique_ptr<SchedulerConnection>> SchedulerConnection::Open(const GlobalOptions& g) {
  if (g.remote.empty()) return Err(Status::InvalidArgument("--remote tcp://HOST:PORT is required"));
  std::unique_ptr<SchedulerConnection> c(new SchedulerConnection());
  c->endpoint_ = g.remote;
  std::string server_key;
  cas::CurveKeyPair pair;
  if (!g.remote_key.empty()) {
    CF_ASSIGN_OR_RETURN(server_key, cas::LoadPublicKey(g.remote_key));
    if (g.key.empty())
      return Err(Status::InvalidArgument("--remote-key needs --key client.key (crossfarm keygen); "
                                         "its public half must be in the scheduler's --clients list"));
    CF_ASSIGN_OR_RETURN(pair, cas::LoadSecretKey(g.key));
  }
  try {
    c->context_ = std::make_unique<zmq::context_t>(1);
    c->socket_ = std::make_unique<zmq::socket_t>(*c->context_, zmq::socket_type::dealer);
    auto& s = *c->socket_;
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::rcvhwm, 0);
    s.set(zmq::sockopt::sndhwm, 0);
    s.set(zmq::sockopt::reconnect_ivl, 100);
    s.set(zmq::sockopt::reconnect_ivl_max, 2000);
    s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(2 * proto::kMaxSchedulerFrameBytes));
    if (!server_key.empty()) {
      s.set(zmq::sockopt::curve_serverkey, server_key);
      s.set(zmq::sockopt::curve_publickey, pair.public_key);
      s.set(zmq::sockopt::curve_secretkey, pair.secret_key);
    }
    s.connect(g.remote);
  } catch (const zmq::error_t& e) {
    return Err(Status::Unavailable("connecting to scheduler " + g.remote + ": " + e.what()));
  }
  return c;
}

SchedulerConnection::~SchedulerConnection() {
  socket_.reset();
  if (context_) context_->close();
}

Status SchedulerConnection::Send(const SchedMessage& m) {
  std::string bytes = proto::EncodeSchedMessage(m);
  try {
    (void)socket_->send(zmq::buffer(bytes), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    return Status::Unavailable(std::string("sending to the scheduler: ") + e.what());
  }
  return Status::Ok();
}

Result<std::optional<SchedMessage>> SchedulerConnection::Receive(std::chrono::milliseconds timeout) {
  try {
    zmq::pollitem_t items[] = {{static_cast<void*>(*socket_), 0, ZMQ_POLLIN, 0}};
    auto until = Clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      zmq::poll(items, 1, std::max(left, std::chrono::milliseconds(0)));
      zmq::message_t frame;
      if (!socket_->recv(frame, zmq::recv_flags::dontwait)) {
        if (Clock::now() >= until) return std::optional<SchedMessage>();
        continue;
      }
      auto m = proto::DecodeSchedMessage(frame.to_string_view());
      if (m) return std::optional<SchedMessage>(std::move(*m));
      std::fprintf(stderr, "crossfarm: warning: dropped an undecodable scheduler message: %s\n",
                   m.error().message().c_str());
    }
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return std::optional<SchedMessage>();
    return Err(Status::Unavailable(std::string("receiving from the scheduler: ") + e.what()));
  }
}

Result<proto::StatusReply> SchedulerConnection::QueryStatus(std::chrono::milliseconds timeout) {
  SchedMessage req;
  req.kind = MsgKind::kStatusRequest;
  CF_TRY(Send(req));
  auto until = Clock::now() + timeout;
  while (Clock::now() < until) {
    CF_ASSIGN_OR_RETURN(auto m, Receive(std::chrono::milliseconds(200)));
    if (!m) continue;
    if (m->kind == MsgKind::kStatusReply) return std::move(m->status);
    if (m->kind == MsgKind::kError) return Err(m->error);
  }
  return Err(Status::Unavailable("no answer from the scheduler at " + endpoint_ + " within " +
                                 std::to_string(timeout.count() / 1000) +
                                 " s (is it running, and is this client's key in its --clients list?)"));
}

// ---- status ----

std::string FormatStatus(const proto::StatusReply& s) {
  std::string out = "workers: " + std::to_string(s.workers.size()) + "\n";
  auto join = [](const std::vector<std::string>& v) {
    std::string r;
    for (const auto& x : v) r += (r.empty() ? "" : ",") + x;
    return r.empty() ? std::string("-") : r;
  };
  for (const auto& w : s.workers)
    out += "  " + w.name + "  native=" + join(w.native_archs) + " emulated=" + join(w.emulated_archs) +
           " slots=" + std::to_string(w.slots) + " busy=" + std::to_string(w.busy) +
           " last-heartbeat=" + std::to_string(w.heartbeat_age_ms) + "ms ago\n";
  out += "builds running: " + std::to_string(s.builds) + "\n";
  out += "queue: " + std::to_string(s.jobs.size()) + " jobs\n";
  for (const auto& j : s.jobs)
    out += "  " + j.element + "  " + proto::RemoteJobStateName(j.state) + "  " + j.reason +
           (j.attempts > 1 ? "  (attempt " + std::to_string(j.attempts) + ")" : "") + "\n";
  return out;
}


// ---- build ----

namespace {

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void OnRemoteInterrupt(int) { g_interrupted = 1; }

std::string RandomBuildId() {
  std::random_device rd;
  char buf[33];
  for (int i = 0; i < 4; ++i) std::snprintf(buf + 8 * i, 9, "%08x", rd());
  return buf;
}

std::string LastLines(const std::string& text, size_t lines) {
  size_t pos = text.size();
  for (size_t n = 0; pos > 0; --pos)
    if (text[pos - 1] == '\n' && pos != text.size() && ++n == lines) break;
  return text.substr(pos);
}

class RemoteBuild {
 public:
  RemoteBuild(const GlobalOptions& g, const BuildSettings& settings,
              SchedulerConnection& conn, cas::Cas& cas, Progress& progress,
              std::shared_ptr<TransferStats> transfers)
      : g_(g), settings_(settings), conn_(conn), cas_(cas), progress_(progress),
        transfers_(std::move(transfers)) {}

  Result<BuildSummary> Run(const std::vector<ProjectTargets>& builds);

 private:
  Status Prepare(const Project& project, const std::vector<Element*>& plan);
  Status Follow();
  void Apply(const proto::JobUpdate& u);
  void ReportFailure(const proto::JobUpdate& u);
  Status Submit();
  void CheckDoneArtifacts();

  const GlobalOptions& g_;
  BuildSettings settings_;
  SchedulerConnection& conn_;
  cas::Cas& cas_;
  Progress& progress_;
  std::shared_ptr<TransferStats> transfers_;
  std::string build_id_ = RandomBuildId();
  std::vector<proto::JobRequest> jobs_;
  size_t cached_ = 0;
  std::unordered_map<std::string, RemoteJobState> states_;  // by cache key
  std::unordered_map<std::string, std::string> logs_;       // live log tails by cache key
  std::unordered_map<std::string, std::string> element_of_; // cache key -> element (progress)
  std::vector<std::string> failed_;
};

Status RemoteBuild::Prepare(const Project& project, const std::vector<Element*>& plan) {
  CacheLayout layout(g_);
  CF_TRY(layout.Create());
  SourceCache sources(project, cas_, layout.sources, layout.tmp);
  std::unordered_map<std::string, Digest> built;         // element name -> root
  std::unordered_map<std::string, std::string> key_of;  // element name -> cache key
  for (Element* e : plan) {
    key_of[e->name] = e->cache_key.value_or("");
    if (auto ref = cas_.GetRef(ArtifactRef(*e))) {
      built[e->name] = ref->root;
      ++cached_;
      continue;
    }
    CF_ASSIGN_OR_RETURN(auto tree, sources.Tree(*e));
    auto lookup = [&](const Element& d) -> std::optional<Digest> {
      auto it = built.find(d.name);
      return it == built.end() ? Digest{} : it->second;  // Digest{}: the scheduler fills it in
    };
    CF_ASSIGN_OR_RETURN(JobSpec spec, MakeJobSpec(*e, tree, lookup));
    // Routing needs an arch before anything is staged: without `sandbox:
    // build-arch`, the build runs in the project's build arch (= --arch).
    if (spec.sandbox_arch.empty()) spec.sandbox_arch = std::string(project.arch().build->name);
    proto::JobRequest req;
    for (const auto& in : spec.inputs) req.input_keys.push_back(key_of[in.element]);
    element_of_[spec.cache_key] = spec.element;
    req.spec = std::move(spec);
    jobs_.push_back(std::move(req));
  }
  return Status::Ok();
}

// A job the cluster calls done counts only with an artifact ref this client
// trusts (signed by a worker of the CAS's list): a worker that reported success
// without writing one, or a ref replaced behind the CAS's back, is a failed
// element naming why, never a success without the artifact (issue 19).
void RemoteBuild::CheckDoneArtifacts() {
  for (const auto& req : jobs_) {
    auto it = states_.find(req.spec.cache_key);
    if (it == states_.end() || it->second != RemoteJobState::kDone) continue;
    auto ref = cas_.GetRef("artifacts/" + req.spec.cache_key);
    if (ref) continue;
    it->second = RemoteJobState::kFailed;
    failed_.push_back(req.spec.element);
    progress_.Message("\nFAILED " + req.spec.element + ": the cluster reported it built, but its artifact " +
                      "is not usable: " + ref.error().message() + "\n");
  }
}

Status RemoteBuild::Submit() {
  SchedMessage m;
  m.kind = MsgKind::kSubmit;
  m.build_id = build_id_;
  m.jobs = jobs_;
  return conn_.Send(m);
}

void RemoteBuild::ReportFailure(const proto::JobUpdate& u) {
  std::string log;
  if (u.log)
    if (auto text = cas_.Get(*u.log)) log = std::move(*text);
  if (log.empty()) log = logs_[u.cache_key];
  progress_.Message("\nFAILED " + u.element + ": " + u.detail + "\n--- last " +
                    std::to_string(settings_.log_tail_lines) + " lines of the log ---\n" +
                    LastLines(log, settings_.log_tail_lines) + "--- full log: crossfarm log " +
                    u.element + " (worker " + u.worker + ")\n");
}

// Turns a (possibly repeated) job state into Progress events, once each.
void RemoteBuild::Apply(const proto::JobUpdate& u) {
  auto [it, inserted] = states_.try_emplace(u.cache_key, RemoteJobState::kWaiting);
  RemoteJobState before = it->second;
  if (before == u.state || proto::IsFinal(before)) return;
  it->second = u.state;
  std::string where = u.detail + (u.worker.empty() ? "" : (u.detail.empty() ? "on " : " on ") + u.worker);
  switch (u.state) {
    case RemoteJobState::kRunning: progress_.JobStarted(u.element, where); break;
    case RemoteJobState::kDone:
      if (before != RemoteJobState::kRunning) progress_.JobStarted(u.element, where);
      progress_.JobFinished(u.element, true, where);
      break;
    case RemoteJobState::kFailed:
      if (before != RemoteJobState::kRunning) progress_.JobStarted(u.element, u.worker);
      progress_.JobFinished(u.element, false, u.worker.empty() ? "" : "on " + u.worker);
      failed_.push_back(u.element);
      ReportFailure(u);
      break;
    case RemoteJobState::kSkipped: progress_.JobSkipped(u.element); break;
    case RemoteJobState::kCancelled: break;
    default: break;
  }
}

Status RemoteBuild::Follow() {
  auto last_heard = Clock::now();
  auto next_watch = Clock::now() + std::chrono::seconds(1);
  bool cancelling = false, warned = false;
  while (true) {
    if (g_interrupted && !cancelling) {
      cancelling = true;
      progress_.Message("interrupted: cancelling the build's jobs on the cluster");
      SchedMessage m;
      m.kind = MsgKind::kCancelBuild;
      m.build_id = build_id_;
      CF_TRY(conn_.Send(m));
      next_watch = Clock::now() + std::chrono::seconds(5);  // give up waiting for the ack then
    }
    auto now = Clock::now();
    if (now >= next_watch) {
      if (cancelling) return Status::Cancelled("build interrupted");
      SchedMessage m;
      m.kind = MsgKind::kWatch;
      m.build_id = build_id_;
      CF_TRY(conn_.Send(m));
      next_watch = now + std::chrono::seconds(1);
    }
    if (!warned && now - last_heard > std::chrono::seconds(15)) {
      progress_.Message("the scheduler at " + g_.remote + " does not answer; still trying");
      warned = true;
    }
    CF_ASSIGN_OR_RETURN(auto m, conn_.Receive(std::chrono::milliseconds(100)));
    if (!m) continue;
    last_heard = Clock::now();
    warned = false;
    if (m->kind == MsgKind::kError) {
      if (m->error.code() == StatusCode::kNotFound && !cancelling) {
        CF_TRY(Submit());  // the scheduler lost it (or never got it): submitting is idempotent
        continue;
      }
      return m->error;
    }
    if (m->kind == MsgKind::kLogChunk) {
      std::string& tail = logs_[m->key];
      tail += m->data;
      if (tail.size() > (256 << 10)) tail.erase(0, tail.size() - (128 << 10));
      if (g_.verbose) std::fwrite(m->data.data(), 1, m->data.size(), stderr);
      if (auto e = element_of_.find(m->key); e != element_of_.end()) progress_.JobLog(e->second, m->data);
      continue;
    }
    if (m->kind != MsgKind::kUpdates || m->build_id != build_id_) continue;
    for (const auto& u : m->updates) Apply(u);
    if (m->finished) return cancelling ? Status::Cancelled("build interrupted") : Status::Ok();
  }
}

Result<BuildSummary> RemoteBuild::Run(const std::vector<ProjectTargets>& builds) {
  size_t total = 0;
  {
    // Sources go to the cluster's CAS here: minutes for a big tree.
    TransferProgress upload("uploading sources", transfers_, settings_.progress);
    for (const auto& [project, targets] : builds) {
      std::vector<Element*> plan = BuildPlan(*project, targets);
      CF_TRY(CheckAllKeyed(plan));
      CF_TRY(Prepare(*project, plan));
      total += plan.size();
    }
  }
  progress_.SetTotals(total, cached_);
  BuildSummary summary;
  summary.cached = cached_;
  if (jobs_.empty()) return summary;
  CF_TRY(Submit());
  g_interrupted = 0;
  auto old_handler = std::signal(SIGINT, OnRemoteInterrupt);
  Status followed = Follow();
  std::signal(SIGINT, old_handler);
  CF_TRY(followed);
  CheckDoneArtifacts();
  for (const auto& [key, state] : states_) {
    if (state == RemoteJobState::kDone) ++summary.built;
    if (state == RemoteJobState::kFailed) ++summary.failed;
    if (state == RemoteJobState::kSkipped) ++summary.skipped;
  }
  summary.failed_elements = failed_;
  return summary;
}


}  // namespace

Result<std::unique_ptr<cas::Cas>> OpenClusterCas(const GlobalOptions& g, SchedulerConnection& conn,
                                                 std::shared_ptr<TransferStats> transfers) {
  CF_ASSIGN_OR_RETURN(auto status, conn.QueryStatus(std::chrono::seconds(30)));
  if (status.cas_url.empty())
    return Err(Status::FailedPrecondition("the scheduler at " + g.remote + " announces no CAS (--cas)"));
  cas::CasOptions cas_options;
  cas_options.remote.server_public_key = status.cas_public_key;
  if (transfers)
    cas_options.remote.on_transfer = [transfers](uint64_t sent, uint64_t received) {
      transfers->Add(sent, received);
    };
  if (!g.key.empty()) {
    CF_ASSIGN_OR_RETURN(auto pair, cas::LoadSecretKey(g.key));
    cas_options.remote.client_public_key = pair.public_key;
    cas_options.remote.client_secret_key = pair.secret_key;
  }
  CF_ASSIGN_OR_RETURN(auto cas, cas::OpenCas(status.cas_url, cas_options));
  // An authenticated CAS tells whose artifact refs to trust: its workers'
  // signing keys (docs/security.md). A plain-TCP development cluster has no
  // keys, hence no signatures to check.
  if (!status.cas_public_key.empty()) {
    cas::RefTrust trust;
    CF_ASSIGN_OR_RETURN(trust.signers, cas->ServerSigners());
    trust.on_refused = ReportRefusedRef;
    cas->SetRefTrust(std::move(trust));
  }
  return cas;
}

Result<std::unique_ptr<cas::Cas>> OpenClusterCas(const GlobalOptions& g,
                                                 std::shared_ptr<TransferStats> transfers) {
  CF_ASSIGN_OR_RETURN(auto conn, SchedulerConnection::Open(g));
  return OpenClusterCas(g, *conn, std::move(transfers));
}

Result<BuildSummary> BuildRemotely(const std::vector<ProjectTargets>& builds, const GlobalOptions& g,
                                   const BuildSettings& settings) {
  CF_ASSIGN_OR_RETURN(auto conn, SchedulerConnection::Open(g));
  auto transfers = std::make_shared<TransferStats>();
  CF_ASSIGN_OR_RETURN(auto cas, OpenClusterCas(g, *conn, transfers));
  Progress progress(settings.progress);
  RemoteBuild build(g, settings, *conn, *cas, progress, transfers);
  auto summary = build.Run(builds);
  progress.Finish();
  return summary;
}

}  // namespace crossfarm::client
