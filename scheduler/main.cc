// crossfarm-scheduler: the cluster scheduler daemon, a thin main over
// SchedulerService (docs/scheduler.md).
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "cas/curve_keys.h"
#include "common/path_flags.h"
#include "scheduler/scheduler_service.h"
#include "common/version.h"

namespace {

using crossfarm::Err;
using crossfarm::Result;
using crossfarm::Status;

struct Flags {
  std::string listen, state, key, clients, workers, cas, cas_key;
  int heartbeat_timeout_ms = 10000;
  uint32_t max_retries = 3;
};

int Fail(const Status& s) {
  std::cerr << "crossfarm-scheduler: error: " << s.ToString() << "\n";
  return s.code() == crossfarm::StatusCode::kInvalidArgument ? 2 : 1;
}

Result<crossfarm::scheduler::SchedulerOptions> OptionsFrom(const Flags& f) {
  crossfarm::scheduler::SchedulerOptions o;
  o.listen = f.listen;
  o.state_dir = f.state;
  o.heartbeat_timeout = std::chrono::milliseconds(f.heartbeat_timeout_ms);
  o.max_retries = f.max_retries;
  o.cas_url = f.cas;
  if (!f.cas_key.empty()) {
    CF_ASSIGN_OR_RETURN(o.cas_public_key, crossfarm::cas::LoadPublicKey(f.cas_key));
  }
  if (f.key.empty()) return o;
  CF_ASSIGN_OR_RETURN(auto pair, crossfarm::cas::LoadSecretKey(f.key));
  o.public_key = pair.public_key;
  o.secret_key = pair.secret_key;
  if (f.clients.empty() || f.workers.empty())
    return Err(Status::InvalidArgument("--key needs --clients FILE and --workers FILE (allow lists)"));
  CF_ASSIGN_OR_RETURN(auto clients, crossfarm::cas::LoadAllowList(f.clients));
  CF_ASSIGN_OR_RETURN(auto workers, crossfarm::cas::LoadAllowList(f.workers));
  o.client_keys = crossfarm::cas::KeysOf(clients);
  o.worker_keys = crossfarm::cas::KeysOf(workers);
  for (const auto& w : workers)
    if (!w.name.empty()) o.worker_names[w.name] = w.key;
  return o;
}

int Run(Flags f) {
  // Every path flag made absolute against the start directory, first thing
  // (common/path_flags.h), so no later code depends on the cwd.
  if (Status s = crossfarm::MakePathFlagsAbsolute({{"--state", &f.state},
                                                   {"--key", &f.key},
                                                   {"--clients", &f.clients},
                                                   {"--workers", &f.workers},
                                                   {"--cas-key", &f.cas_key}});
      !s.ok())
    return Fail(s);
  auto options = OptionsFrom(f);
  if (!options) return Fail(options.error());
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto service = crossfarm::scheduler::SchedulerService::Start(*options);
  if (!service) return Fail(service.error());
  // The one stdout line: tests and scripts read the real port from it.
  std::printf("endpoint=%s\n", (*service)->endpoint().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("scheduler: stopping signal={}", sig);
  (*service)->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"crossfarm-scheduler: dispatches build jobs to crossfarm-worker daemons"};
  app.set_version_flag("--version", crossfarm::VersionText("crossfarm-scheduler"));
  Flags f;
  app.add_option("--listen", f.listen, "tcp://ADDR:PORT to bind (PORT may be *)")->required();
  app.add_option("--state", f.state, "directory of the persistent job queue (RocksDB)")->required();
  app.add_option("--key", f.key, "scheduler key file from `crossfarm keygen` (enables CurveZMQ)");
  app.add_option("--clients", f.clients, "allow list: client public keys, one per line");
  app.add_option("--workers", f.workers, "allow list: worker public keys, one per line");
  app.add_option("--cas", f.cas, "CAS URL that clients upload sources to and read artifacts from")
      ->required();
  app.add_option("--cas-key", f.cas_key, "CAS public key file");
  app.add_option("--heartbeat-timeout-ms", f.heartbeat_timeout_ms,
                 "a worker silent this long is lost and its jobs requeued")
      ->capture_default_str();
  app.add_option("--max-retries", f.max_retries,
                 "re-runs of a job whose worker was lost, before it fails")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_default_logger(spdlog::stderr_color_mt("crossfarm-scheduler"));
  return Run(f);
}
