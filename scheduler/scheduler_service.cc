#include "scheduler/scheduler_service.h"

#include <spdlog/spdlog.h>

#include <unordered_map>
#include <unordered_set>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "cas/curve_keys.h"
#include "common/accel.h"
#include "scheduler/job_store.h"
#include "scheduler/scheduler_metrics.h"
#include "scheduler/scheduler_state.h"
#include "scheduler/log_followers.h"
#include "scheduler/status_page.h"

namespace crossfarm::scheduler {

struct SchedulerService::Shared {
  mutable std::mutex mu;
  std::string status_json = "{}";
  std::optional<AllowLists> pending_lists;  // applied by the scheduler thread
};

using proto::MsgKind;
using proto::SchedMessage;

namespace {

enum Role : unsigned { kClient = 1, kWorker = 2 };

struct Loop {
  zmq::socket_t socket;
  SchedulerState state;
  std::unordered_set<std::string> client_keys, worker_keys;
  bool curve = false;
  size_t max_frame = 0;
  std::string cas_url, cas_public_key;
  // The distcc pool key (common/accel.h): new at each start, sent to every
  // worker whose heartbeat names another. Only workers reach Handle(kRegister),
  // so only they learn it (over CurveZMQ when the cluster has keys).
  std::string pool_key, pool_key_id;
  // Worker name -> key bound to it (pinned by the allow list or first come),
  // and the pinned name of each key that has one. CURVE only.
  std::unordered_map<std::string, std::string> name_keys, pinned_names;
  std::unordered_set<std::string> refusals_logged;  // "key name": one log line each
  metrics::Registry* metrics = nullptr;
  std::shared_ptr<SchedulerService::Shared> shared;
  std::chrono::milliseconds heartbeat_timeout{10000};
  LiveLogs logs;
  LogFollowers followers;  // `log -f` clients
};

void SetPinnedNames(Loop& loop, const std::map<std::string, std::string>& worker_names) {
  loop.pinned_names.clear();
  for (const auto& [name, key] : worker_names) {
    loop.name_keys[name] = key;
    loop.pinned_names[key] = name;
  }
}

// A SIGHUP's allow lists, taken over between two messages.
void ApplyPendingLists(Loop& loop) {
  std::optional<AllowLists> lists;
  {
    std::lock_guard lock(loop.shared->mu);
    lists.swap(loop.shared->pending_lists);
  }
  if (!lists) return;
  loop.client_keys = {lists->client_keys.begin(), lists->client_keys.end()};
  loop.worker_keys = {lists->worker_keys.begin(), lists->worker_keys.end()};
  SetPinnedNames(loop, lists->worker_names);
  loop.refusals_logged.clear();
  spdlog::info("scheduler: allow lists reloaded clients={} workers={}", loop.client_keys.size(),
               loop.worker_keys.size());
}

// Metrics and the status page, from the state as it is now.
void Publish(Loop& loop, Clock::time_point now) {
  LiveView live = loop.state.Live(now);
  if (loop.metrics) UpdateSchedulerGauges(*loop.metrics, loop.state, live);
  std::string json = RenderStatusJson(loop.state, live, loop.logs, loop.heartbeat_timeout, now);
  std::lock_guard lock(loop.shared->mu);
  loop.shared->status_json = std::move(json);
}

// A name belongs to the key the allow list pins it to, else to the first key
// that registered it; a key with a pinned name registers only that name.
Status CheckWorkerName(Loop& loop, const std::string& name, const std::string& key) {
  if (!loop.curve) return Status::Ok();
  auto pinned = loop.pinned_names.find(key);
  std::string why;
  if (pinned != loop.pinned_names.end() && pinned->second != name) {
    why = "this key may only register as worker " + pinned->second + " (name= in the --workers list)";
  } else {
    auto [it, inserted] = loop.name_keys.try_emplace(name, key);
    if (inserted) spdlog::info("scheduler: worker name bound worker={} key={}", name, key);
    if (it->second == key) return Status::Ok();
    why = "worker name " + name + " is bound to another key; give this worker its own --name";
  }
  CountSchedulerRefusal(loop.metrics, "worker_name");
  if (loop.refusals_logged.insert(key + " " + name).second)
    spdlog::warn("scheduler: refused register worker={} key={}: {}", name, key, why);
  return Status::PermissionDenied(why);
}

unsigned RoleOf(const Loop& loop, zmq::message_t& payload, std::string& key) {
  if (!loop.curve) return kClient | kWorker;
  try {
    key = payload.gets("User-Id");
  } catch (const zmq::error_t&) {
    return 0;
  }
  return (loop.client_keys.contains(key) ? unsigned{kClient} : 0u) | (loop.worker_keys.contains(key) ? unsigned{kWorker} : 0u);
}

unsigned RoleNeeded(MsgKind kind) {
  switch (kind) {
    case MsgKind::kRegister:
    case MsgKind::kResult:
    case MsgKind::kLogChunk: return kWorker;
    case MsgKind::kSubmit:
    case MsgKind::kWatch:
    case MsgKind::kCancelBuild:
    case MsgKind::kStatusRequest:
    case MsgKind::kFollowLog: return kClient;
    default: return 0;  // scheduler -> peer messages are never accepted
  }
}

void Reply(Loop& loop, const std::string& route, Status error) {
  SchedMessage m;
  m.kind = MsgKind::kError;
  m.error = std::move(error);
  loop.state.outbox().push_back({route, std::move(m)});
}

void SendLogChunk(Loop& loop, const std::string& route, const std::string& key, std::string_view data) {
  SchedMessage m;
  m.kind = MsgKind::kLogChunk;
  m.key = key;
  m.data = data;
  loop.state.outbox().push_back({route, std::move(m)});
}

void SendLogEnd(Loop& loop, const std::string& route, const proto::JobUpdate& update) {
  SchedMessage m;
  m.kind = MsgKind::kLogEnd;
  m.updates = {update};
  loop.state.outbox().push_back({route, std::move(m)});
}

// `log -f` (docs/protocol.md "Following a job's log"): a job that will not run
// any more ends the follow at once (the client reads its log from the CAS);
// a new follower of a running job first gets the tail the scheduler holds.
void FollowLog(Loop& loop, const std::string& route, const std::string& key, Clock::time_point now) {
  auto update = loop.state.JobUpdateFor(key);
  if (!update)
    return Reply(loop, route, Status::NotFound("the scheduler has no job with key " + key));
  if (proto::IsFinal(update->state)) return SendLogEnd(loop, route, *update);
  const bool first = loop.followers.Follow(key, route, now);
  std::string_view tail = loop.logs.Tail(key);
  if (first && update->state == proto::RemoteJobState::kRunning && !tail.empty())
    SendLogChunk(loop, route, key, tail);
}

// A finished attempt: its followers are told, unless it is retried.
void EndFollowers(Loop& loop, const std::string& key) {
  auto update = loop.state.JobUpdateFor(key);
  if (update && !proto::IsFinal(update->state)) return;
  for (const auto& route : loop.followers.Take(key))
    if (update) SendLogEnd(loop, route, *update);
}

void Handle(Loop& loop, const std::string& route, const SchedMessage& m, Clock::time_point now) {
  switch (m.kind) {
    case MsgKind::kRegister:
      loop.state.OnHeartbeat(route, m.worker, now);
      if (m.worker.pool_key_id != loop.pool_key_id) {
        SchedMessage key;
        key.kind = MsgKind::kPoolKey;
        key.data = loop.pool_key;
        loop.state.outbox().push_back({route, std::move(key)});
      }
      break;
    case MsgKind::kResult: loop.state.OnResult(route, m.result, now); break;
    case MsgKind::kLogChunk:
      loop.logs.Append(m.key, m.data);
      loop.state.OnLogChunk(m.key, m.data);
      for (const auto& follower : loop.followers.Of(m.key)) SendLogChunk(loop, follower, m.key, m.data);
      break;
    case MsgKind::kFollowLog: FollowLog(loop, route, m.key, now); break;
    case MsgKind::kSubmit: loop.state.OnSubmit(route, m.build_id, m.jobs, now); break;
    case MsgKind::kWatch: loop.state.OnWatch(route, m.build_id); break;
    case MsgKind::kCancelBuild: loop.state.OnCancel(route, m.build_id, now); break;
    case MsgKind::kStatusRequest: {
      SchedMessage reply;
      reply.kind = MsgKind::kStatusReply;
      reply.status = loop.state.StatusSnapshot(now);
      reply.status.cas_url = loop.cas_url;
      reply.status.cas_public_key = loop.cas_public_key;
      loop.state.outbox().push_back({route, std::move(reply)});
      break;
    }
    default: break;
  }
}

// One received multipart message: [routing id, payload].
void Receive(Loop& loop, std::vector<zmq::message_t>& parts, Clock::time_point now) {
  if (parts.size() != 2 || parts[1].size() == 0 || parts[1].size() > loop.max_frame) {
    size_t bytes = 0;
    for (const auto& p : parts) bytes += p.size();
    spdlog::warn("scheduler: dropped malformed or oversized message frames={} bytes={} max={}",
                 parts.size(), bytes, loop.max_frame);
    return CountSchedulerRefusal(loop.metrics, "malformed");
  }
  std::string route = parts[0].to_string();
  std::string key;
  unsigned role = RoleOf(loop, parts[1], key);
  auto m = proto::DecodeSchedMessage(parts[1].to_string_view());
  if (!m) {
    spdlog::warn("scheduler: dropped undecodable message bytes={} key={} error=\"{}\"",
                 parts[1].size(), key, m.error().message());
    return CountSchedulerRefusal(loop.metrics, "malformed");
  }
  if (m->version != proto::kSchedulerProtocolVersion) {
    spdlog::warn("scheduler: refused protocol version={} key={}", m->version, key);
    CountSchedulerRefusal(loop.metrics, "version");
    return Reply(loop, route, Status::FailedPrecondition(
        "peer speaks scheduler protocol version " + std::to_string(m->version) +
        ", this scheduler speaks version " + std::to_string(proto::kSchedulerProtocolVersion) +
        "; use matching crossfarm releases"));
  }
  unsigned needed = RoleNeeded(m->kind);
  if ((role & needed) == 0) {
    spdlog::warn("scheduler: refused message={} key={}: the key is not allow-listed as a {}",
                 proto::MsgKindName(m->kind), key, needed == kWorker ? "worker" : "client");
    CountSchedulerRefusal(loop.metrics, "role");
    return Reply(loop, route, Status::PermissionDenied(
        std::string("this key may not send ") + proto::MsgKindName(m->kind) + " messages (it is not in the " +
        (needed == kWorker ? "--workers" : "--clients") + " allow list of the scheduler)"));
  }
  if (m->kind == MsgKind::kRegister)
    if (Status s = CheckWorkerName(loop, m->worker.name, key); !s.ok()) return Reply(loop, route, s);
  Handle(loop, route, *m, now);
}

void SendOutbox(Loop& loop) {
  for (auto& out : loop.state.outbox()) {
    std::string bytes = proto::EncodeSchedMessage(out.message);
    std::array<zmq::const_buffer, 2> frames = {zmq::buffer(out.route), zmq::buffer(bytes)};
    try {
      zmq::send_multipart(loop.socket, frames, zmq::send_flags::dontwait);
    } catch (const zmq::error_t& e) {
      spdlog::warn("scheduler: send failed message={} error=\"{}\"",
                   proto::MsgKindName(out.message.kind), e.what());
    }
  }
  loop.state.outbox().clear();
}

// Job events of this pass: the per-job log line, metrics, log tails.
void DrainEvents(Loop& loop, Clock::time_point pass_start) {
  bool dispatched = false;
  for (const auto& e : loop.state.events()) {
    RecordJobEvent(loop.metrics, e);
    if (e.kind == JobEvent::Kind::kFinished) {
      loop.logs.Finished(e);
      EndFollowers(loop, e.cache_key);
    }
    dispatched |= e.kind == JobEvent::Kind::kDispatched;
  }
  loop.state.events().clear();
  if (dispatched) ObserveDispatchLatency(loop.metrics, Clock::now() - pass_start);
}

void Run(Loop& loop, std::atomic<bool>& stop, std::chrono::milliseconds tick_every) {
  constexpr auto kPublishEvery = std::chrono::milliseconds(250);
  auto next_tick = Clock::now();
  auto next_publish = next_tick;
  while (!stop.load()) {
    try {
      zmq::pollitem_t items[] = {{static_cast<void*>(loop.socket), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 1, std::chrono::milliseconds(20));
      auto now = Clock::now();
      ApplyPendingLists(loop);
      for (int i = 0; i < 4096; ++i) {
        std::vector<zmq::message_t> parts;
        if (!zmq::recv_multipart(loop.socket, std::back_inserter(parts), zmq::recv_flags::dontwait)) break;
        Receive(loop, parts, now);
      }
      if (now >= next_tick) {
        loop.state.Tick(now);
        loop.followers.Expire(now);
        next_tick = now + tick_every;
      }
      loop.state.Dispatch(now);
      loop.state.FlushUpdates();
      // Nothing is announced before it is stored (scheduler_state.h); a failed
      // write is retried on the next turn with the outbox held until then.
      if (loop.state.FlushStore().ok()) SendOutbox(loop);
      DrainEvents(loop, now);
      if (now >= next_publish) {
        Publish(loop, now);
        next_publish = now + kPublishEvery;
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      spdlog::error("scheduler: socket error=\"{}\"", e.what());
    }
  }
}

}  // namespace

Result<std::unique_ptr<SchedulerService>> SchedulerService::Start(SchedulerOptions options) {
  std::unique_ptr<SchedulerService> service(new SchedulerService());
  if (!options.state_dir.empty()) {
    CF_ASSIGN_OR_RETURN(service->store_, JobStore::Open(options.state_dir));
  }
  service->context_ = std::make_unique<zmq::context_t>(1);
  StateOptions state_options{.heartbeat_timeout = options.heartbeat_timeout,
                             .max_retries = options.max_retries};
  auto loop = std::make_shared<Loop>(Loop{zmq::socket_t(*service->context_, zmq::socket_type::router),
                                          SchedulerState(service->store_.get(), state_options),
                                          {options.client_keys.begin(), options.client_keys.end()},
                                          {options.worker_keys.begin(), options.worker_keys.end()},
                                          !options.secret_key.empty(), options.max_frame_bytes,
                                          options.cas_url, options.cas_public_key});
  SetPinnedNames(*loop, options.worker_names);
  service->shared_ = std::make_shared<Shared>();
  loop->shared = service->shared_;
  loop->metrics = options.metrics;
  loop->heartbeat_timeout = options.heartbeat_timeout;
  if (options.metrics) DescribeSchedulerMetrics(*options.metrics);
  CF_ASSIGN_OR_RETURN(loop->pool_key, NewPoolKey());
  loop->pool_key_id = PoolKeyId(loop->pool_key);
  CF_TRY(loop->state.Recover(Clock::now()));
  try {
    auto& socket = loop->socket;
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(2 * options.max_frame_bytes));
    socket.set(zmq::sockopt::sndhwm, 0);
    socket.set(zmq::sockopt::rcvhwm, 0);
    if (loop->curve) {
      std::vector<std::string> all = options.client_keys;
      all.insert(all.end(), options.worker_keys.begin(), options.worker_keys.end());
      std::function<void()> on_refused;
      if (auto* m = options.metrics) on_refused = [m] { CountSchedulerRefusal(m, "unknown_key"); };
      CF_ASSIGN_OR_RETURN(service->zap_, cas::ZapHandler::Start(*service->context_, all, on_refused));
      socket.set(zmq::sockopt::zap_domain, "crossfarm-scheduler");
      socket.set(zmq::sockopt::curve_server, true);
      socket.set(zmq::sockopt::curve_secretkey, options.secret_key);
    } else {
      spdlog::warn("scheduler: serving without CurveZMQ keys: anyone who can reach {} can submit "
                   "builds and register workers (use --key, --clients, --workers)", options.listen);
    }
    socket.bind(options.listen);
    service->endpoint_ = socket.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Err(Status::Unavailable("scheduler cannot listen on " + options.listen + ": " + e.what()));
  }
  auto tick = std::clamp(options.heartbeat_timeout / 4, std::chrono::milliseconds(20),
                         std::chrono::milliseconds(500));
  service->thread_ = std::thread([loop, svc = service.get(), tick] { Run(*loop, svc->stop_, tick); });
  spdlog::info("scheduler: listening endpoint={} curve={} jobs={}", service->endpoint_,
               loop->curve ? "on" : "off", loop->state.job_count());
  return service;
}

void SchedulerService::SetAllowLists(AllowLists lists) {
  if (!zap_) return;  // plain TCP: no lists
  std::vector<std::string> all = lists.client_keys;
  all.insert(all.end(), lists.worker_keys.begin(), lists.worker_keys.end());
  zap_->SetAllowed(all);
  std::lock_guard lock(shared_->mu);
  shared_->pending_lists = std::move(lists);
}

std::string SchedulerService::StatusJson() const {
  std::lock_guard lock(shared_->mu);
  return shared_->status_json;
}

void SchedulerService::Stop() {
  if (!context_) return;
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  context_->shutdown();
  zap_.reset();
  context_->close();
  context_.reset();
  store_.reset();
}

SchedulerService::~SchedulerService() { Stop(); }

}  // namespace crossfarm::scheduler
