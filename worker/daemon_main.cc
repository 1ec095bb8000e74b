// crossfarm-worker: one build host of the cluster, a thin main over
// WorkerDaemon (docs/scheduler.md; start-up, config and signals:
// daemon/daemon.h).
#include <spdlog/spdlog.h>

#include <csignal>
#include <thread>

#include "daemon/daemon.h"
#include "daemon/keys.h"
#include "worker/binfmt.h"
#include "worker/worker_daemon.h"

namespace {

using crossfarm::Result;
using crossfarm::Status;
using crossfarm::daemon::OptionKind;
using crossfarm::daemon::Settings;

const crossfarm::daemon::DaemonSpec kSpec{
    "crossfarm-worker",
    "crossfarm-worker: runs build jobs for crossfarm-scheduler",
    {
        {.name = "name", .help = "worker name, unique in the cluster", .required = true},
        {.name = "scheduler", .help = "scheduler URL, tcp://HOST:PORT", .required = true},
        {.name = "scheduler-key", .kind = OptionKind::kPath, .help = "scheduler public key file (enables CurveZMQ)"},
        {.name = "cas", .kind = OptionKind::kUrlOrPath, .help = "CAS URL, tcp://HOST:PORT"},
        {.name = "cas-key", .kind = OptionKind::kPath, .help = "CAS public key file"},
        {.name = "key", .kind = OptionKind::kPath, .help = "this worker's key file from `crossfarm keygen`"},
        {.name = "slots", .kind = OptionKind::kInt, .help = "jobs run at once", .default_value = "1", .min = 1,
         .max = 1024},
        {.name = "cache", .kind = OptionKind::kPath, .help = "directory for checkouts, scratch space and logs",
         .required = true},
        {.name = "heartbeat-ms", .kind = OptionKind::kInt, .help = "heartbeat interval", .default_value = "1000",
         .min = 10, .max = 600000},
        {.name = "dry-run-jobs", .kind = OptionKind::kBool,
         .help = "BENCHMARK MODE ONLY: complete every job at once without running it (fake artifact "
                 "digests; bench/dispatch)"},
        {.name = "emulate",
         .help = "foreign archs offered by qemu-user emulation: auto (every arch with a usable binfmt "
                 "handler), none, or a comma list like aarch64,s390x",
         .default_value = "auto"},
        {.name = "distcc-slots", .kind = OptionKind::kInt,
         .help = "offer N cross-compile slots to emulated jobs on other workers (docs/acceleration.md)",
         .default_value = "0", .max = 1024},
        {.name = "distcc-address", .help = "this worker's IPv4 address in the cluster network"},
        {.name = "distcc-port", .kind = OptionKind::kInt, .help = "port of the distcc pool gateway",
         .default_value = "3700", .max = 65535},
        {.name = "distcc-allow", .kind = OptionKind::kList,
         .help = "comma list of the only addresses the pool gateway accepts (default: any); every peer must "
                 "also prove the cluster's pool key, which the scheduler gives its workers"},
        {.name = "setup-binfmt", .kind = OptionKind::kBool,
         .help = "register qemu-user handlers for foreign archs first (needs root)"},
    }};

// --emulate auto|none|ARCH,ARCH: which foreign archs this worker offers to
// build under qemu-user. A named arch must have a usable binfmt handler now:
// offering it and failing every job later would be worse than refusing to start.
Status ParseEmulate(const std::string& value, crossfarm::worker::WorkerDaemonOptions& o) {
  if (value == "auto") return Status::Ok();
  o.probe_emulated = false;
  if (value == "none") return Status::Ok();
  std::string_view rest = value;
  while (!rest.empty()) {
    auto comma = rest.find(',');
    std::string_view name = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    CF_ASSIGN_OR_RETURN(const crossfarm::ArchInfo* arch, crossfarm::LookupArch(name));
    CF_TRY(crossfarm::worker::CheckArchRunnable(*arch));
    o.emulated_archs.emplace_back(arch->name);
  }
  return Status::Ok();
}

Status LoadKeys(const Settings& s, crossfarm::worker::WorkerDaemonOptions& o) {
  CF_ASSIGN_OR_RETURN(o.scheduler_public_key, crossfarm::daemon::LoadPublicKeyOption(s, "scheduler-key"));
  CF_ASSIGN_OR_RETURN(o.cas_public_key, crossfarm::daemon::LoadPublicKeyOption(s, "cas-key"));
  CF_ASSIGN_OR_RETURN(auto pair, crossfarm::daemon::LoadKeyOption(s, "key"));
  if (pair) {
    o.public_key = pair->public_key;
    o.secret_key = pair->secret_key;
  } else if (!o.scheduler_public_key.empty()) {
    return Status::InvalidArgument(
        "--scheduler-key needs --key worker.key (its public half in the scheduler's --workers list)");
  }
  return Status::Ok();
}

Result<crossfarm::worker::WorkerDaemonOptions> OptionsFrom(const Settings& s) {
  crossfarm::worker::WorkerDaemonOptions o;
  o.name = s.Str("name");
  o.scheduler = s.Str("scheduler");
  o.cas = s.Str("cas");
  o.slots = static_cast<uint32_t>(s.Int("slots"));
  o.cache_dir = s.Str("cache");
  o.heartbeat_interval = std::chrono::milliseconds(s.Int("heartbeat-ms"));
  o.dry_run = s.Bool("dry-run-jobs");
  if (Status st = ParseEmulate(s.Str("emulate"), o); !st.ok())
    return crossfarm::Err(st.WithContext(s.Where("emulate") + " (emulate)"));
  o.distcc_slots = static_cast<uint32_t>(s.Int("distcc-slots"));
  o.distcc_address = s.Str("distcc-address");
  o.distcc_port = static_cast<uint16_t>(s.Int("distcc-port"));
  o.distcc_allow = s.List("distcc-allow");
  CF_TRY(LoadKeys(s, o));
  if (!o.dry_run && o.cas.empty())
    return crossfarm::Err(Status::InvalidArgument("--cas URL is required (except with --dry-run-jobs)"));
  return o;
}

// WorkerDaemon::Run on its own thread; a failure there stops the process
// through the signal the main thread waits for.
class WorkerService : public crossfarm::daemon::Service {
 public:
  static Result<std::unique_ptr<Service>> Start(const Settings& s, crossfarm::daemon::DaemonContext& ctx) {
    if (s.Bool("setup-binfmt")) CF_TRY(crossfarm::worker::SetupBinfmt());
    CF_ASSIGN_OR_RETURN(auto options, OptionsFrom(s));
    options.metrics = &ctx.metrics;
    auto w = std::make_unique<WorkerService>();
    CF_ASSIGN_OR_RETURN(w->daemon_, crossfarm::worker::WorkerDaemon::Create(options));
    w->thread_ = std::thread([self = w.get()] {
      self->result_ = self->daemon_->Run(self->stop_);
      if (!self->result_.ok()) ::kill(::getpid(), SIGTERM);  // wake the main thread's sigwait
    });
    return std::unique_ptr<Service>(std::move(w));
  }
  // Nothing of the worker is reloadable but its logging (daemon/daemon.h).
  Status Reload(const Settings&) override { return Status::Ok(); }
  void Stop() override {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  Status outcome() const override { return result_; }

 private:
  std::unique_ptr<crossfarm::worker::WorkerDaemon> daemon_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  Status result_;
};

}  // namespace

int main(int argc, char** argv) { return crossfarm::daemon::Main(kSpec, argc, argv, WorkerService::Start); }
