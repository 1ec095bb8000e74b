// crossfarm-scheduler: the cluster scheduler daemon, a thin main over
// SchedulerService (docs/scheduler.md; start-up, config and signals:
// daemon/daemon.h). With metrics-listen it also serves the status page.
#include <spdlog/spdlog.h>

#include "daemon/daemon.h"
#include "daemon/keys.h"
#include "scheduler/scheduler_service.h"
#include "scheduler/status_page.h"

namespace {

using crossfarm::Err;
using crossfarm::Result;
using crossfarm::Status;
using crossfarm::daemon::OptionKind;
using crossfarm::daemon::Settings;

const crossfarm::daemon::DaemonSpec kSpec{
    "crossfarm-scheduler",
    "crossfarm-scheduler: dispatches build jobs to crossfarm-worker daemons",
    {
        {.name = "listen", .help = "tcp://ADDR:PORT to bind (PORT may be *)", .required = true},
        {.name = "state", .kind = OptionKind::kPath, .help = "directory of the persistent job queue (RocksDB)",
         .required = true},
        {.name = "key", .kind = OptionKind::kPath,
         .help = "scheduler key file from `crossfarm keygen` (enables CurveZMQ)"},
        {.name = "clients", .kind = OptionKind::kPath,
         .help = "allow list: client public keys, one per line (re-read on SIGHUP)", .reloadable = true},
        {.name = "workers", .kind = OptionKind::kPath,
         .help = "allow list: worker public keys, one per line (re-read on SIGHUP)", .reloadable = true},
        {.name = "cas", .help = "CAS URL that clients upload sources to and read artifacts from",
         .required = true},
        {.name = "cas-key", .kind = OptionKind::kPath, .help = "CAS public key file"},
        {.name = "heartbeat-timeout-ms", .kind = OptionKind::kInt,
         .help = "a worker silent this long is lost and its jobs requeued", .default_value = "10000",
         .min = 100},
        {.name = "max-retries", .kind = OptionKind::kInt,
         .help = "re-runs of a job whose worker was lost, before it fails", .default_value = "3", .max = 100},
    }};

Result<crossfarm::scheduler::AllowLists> AllowListsFrom(const Settings& s) {
  if (!s.Has("clients") || !s.Has("workers"))
    return Err(Status::InvalidArgument("--key needs --clients FILE and --workers FILE (allow lists)"));
  CF_ASSIGN_OR_RETURN(auto clients, crossfarm::daemon::LoadAllowOption(s, "clients"));
  CF_ASSIGN_OR_RETURN(auto workers, crossfarm::daemon::LoadAllowOption(s, "workers"));
  crossfarm::scheduler::AllowLists lists;
  lists.client_keys = crossfarm::cas::KeysOf(clients);
  lists.worker_keys = crossfarm::cas::KeysOf(workers);
  for (const auto& w : workers)
    if (!w.name.empty()) lists.worker_names[w.name] = w.key;
  return lists;
}

Result<crossfarm::scheduler::SchedulerOptions> OptionsFrom(const Settings& s) {
  crossfarm::scheduler::SchedulerOptions o;
  o.listen = s.Str("listen");
  o.state_dir = s.Str("state");
  o.heartbeat_timeout = std::chrono::milliseconds(s.Int("heartbeat-timeout-ms"));
  o.max_retries = static_cast<uint32_t>(s.Int("max-retries"));
  o.cas_url = s.Str("cas");
  CF_ASSIGN_OR_RETURN(o.cas_public_key, crossfarm::daemon::LoadPublicKeyOption(s, "cas-key"));
  CF_ASSIGN_OR_RETURN(auto pair, crossfarm::daemon::LoadKeyOption(s, "key"));
  if (!pair) return o;
  o.public_key = pair->public_key;
  o.secret_key = pair->secret_key;
  CF_ASSIGN_OR_RETURN(auto lists, AllowListsFrom(s));
  o.client_keys = std::move(lists.client_keys);
  o.worker_keys = std::move(lists.worker_keys);
  o.worker_names = std::move(lists.worker_names);
  return o;
}

class SchedulerDaemon : public crossfarm::daemon::Service {
 public:
  static Result<std::unique_ptr<Service>> Start(const Settings& s, crossfarm::daemon::DaemonContext& ctx) {
    CF_ASSIGN_OR_RETURN(auto options, OptionsFrom(s));
    options.metrics = &ctx.metrics;
    auto d = std::make_unique<SchedulerDaemon>();
    d->curve_ = !options.secret_key.empty();
    CF_ASSIGN_OR_RETURN(d->service_, crossfarm::scheduler::SchedulerService::Start(options));
    using crossfarm::daemon::HttpReply;
    ctx.pages["/"] = [](const crossfarm::daemon::HttpQuery&) {
      return HttpReply{200, "text/html; charset=utf-8", std::string(crossfarm::scheduler::StatusPageHtml())};
    };
    auto* service = d->service_.get();
    ctx.pages["/status.json"] = [service](const crossfarm::daemon::HttpQuery&) {
      return HttpReply{200, "application/json", service->StatusJson()};
    };
    return std::unique_ptr<Service>(std::move(d));
  }
  // The allow lists, re-read; running jobs are not touched.
  Status Reload(const Settings& s) override {
    if (!curve_) return Status::Ok();
    CF_ASSIGN_OR_RETURN(auto lists, AllowListsFrom(s));
    service_->SetAllowLists(std::move(lists));
    return Status::Ok();
  }
  void Stop() override { service_->Stop(); }
  std::string endpoint() const override { return service_->endpoint(); }

 private:
  std::unique_ptr<crossfarm::scheduler::SchedulerService> service_;
  bool curve_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  return crossfarm::daemon::Main(kSpec, argc, argv, SchedulerDaemon::Start);
}
