// crossfarm-worker: one build host of the cluster, a thin main over
// WorkerDaemon (docs/scheduler.md).
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <iostream>
#include <thread>

#include "cas/curve_keys.h"
#include "common/path_flags.h"
#include "worker/binfmt.h"
#include "worker/worker_daemon.h"
#include "common/version.h"

namespace {

using crossfarm::Result;
using crossfarm::Status;

struct Flags {
  std::string name, scheduler, scheduler_key, cas, cas_key, key, cache;
  uint32_t slots = 1;
  int heartbeat_ms = 1000;
  bool dry_run = false;
  bool setup_binfmt = false;
  std::string emulate = "auto";
  uint32_t distcc_slots = 0;
  std::string distcc_address, distcc_allow;
  uint16_t distcc_port = 3700;
};

int Fail(const Status& s) {
  std::cerr << "crossfarm-worker: error: " << s.ToString() << "\n";
  return s.code() == crossfarm::StatusCode::kInvalidArgument ? 2 : 1;
}

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

Result<crossfarm::worker::WorkerDaemonOptions> OptionsFrom(const Flags& f) {
  crossfarm::worker::WorkerDaemonOptions o;
  o.name = f.name;
  o.scheduler = f.scheduler;
  o.cas = f.cas;
  o.slots = f.slots;
  o.cache_dir = f.cache;
  o.heartbeat_interval = std::chrono::milliseconds(f.heartbeat_ms);
  o.dry_run = f.dry_run;
  CF_TRY(ParseEmulate(f.emulate, o));
  o.distcc_slots = f.distcc_slots;
  o.distcc_address = f.distcc_address;
  o.distcc_port = f.distcc_port;
  for (size_t start = 0; start < f.distcc_allow.size();) {
    size_t comma = f.distcc_allow.find(',', start);
    std::string one = f.distcc_allow.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!one.empty()) o.distcc_allow.push_back(one);
    start = comma == std::string::npos ? f.distcc_allow.size() : comma + 1;
  }
  if (!f.scheduler_key.empty()) {
    CF_ASSIGN_OR_RETURN(o.scheduler_public_key, crossfarm::cas::LoadPublicKey(f.scheduler_key));
  }
  if (!f.cas_key.empty()) {
    CF_ASSIGN_OR_RETURN(o.cas_public_key, crossfarm::cas::LoadPublicKey(f.cas_key));
  }
  if (!f.key.empty()) {
    CF_ASSIGN_OR_RETURN(auto pair, crossfarm::cas::LoadSecretKey(f.key));
    o.public_key = pair.public_key;
    o.secret_key = pair.secret_key;
  } else if (!o.scheduler_public_key.empty()) {
    return crossfarm::Err(Status::InvalidArgument(
        "--scheduler-key needs --key worker.key (its public half in the scheduler's --workers list)"));
  }
  if (!o.dry_run && o.cas.empty())
    return crossfarm::Err(Status::InvalidArgument("--cas URL is required (except with --dry-run-jobs)"));
  return o;
}

// Every path flag made absolute against the start directory, first thing
// (common/path_flags.h): --cache reaches bwrap as a bind mount source.
Status MakePathsAbsolute(Flags& f) {
  CF_TRY(crossfarm::MakePathFlagsAbsolute({{"--cache", &f.cache},
                                           {"--key", &f.key},
                                           {"--scheduler-key", &f.scheduler_key},
                                           {"--cas-key", &f.cas_key}}));
  // --cas is a URL, or a local CAS directory (tests).
  if (f.cas.find("://") == std::string::npos) CF_TRY(crossfarm::MakePathFlagsAbsolute({{"--cas", &f.cas}}));
  return Status::Ok();
}

int Run(Flags f) {
  if (Status s = MakePathsAbsolute(f); !s.ok()) return Fail(s);
  if (f.setup_binfmt)
    if (Status s = crossfarm::worker::SetupBinfmt(); !s.ok()) return Fail(s);
  auto options = OptionsFrom(f);
  if (!options) return Fail(options.error());
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto daemon = crossfarm::worker::WorkerDaemon::Create(*options);
  if (!daemon) return Fail(daemon.error());
  std::atomic<bool> stop{false};
  Status result;
  std::thread serve([&] {
    result = (*daemon)->Run(stop);
    if (!result.ok()) ::kill(::getpid(), SIGTERM);  // wake sigwait below
  });
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("worker: stopping signal={}", sig);
  stop = true;
  serve.join();
  return result.ok() ? 0 : Fail(result);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"crossfarm-worker: runs build jobs for crossfarm-scheduler"};
  app.set_version_flag("--version", crossfarm::VersionText("crossfarm-worker"));
  Flags f;
  app.add_option("--name", f.name, "worker name, unique in the cluster")->required();
  app.add_option("--scheduler", f.scheduler, "scheduler URL, tcp://HOST:PORT")->required();
  app.add_option("--scheduler-key", f.scheduler_key, "scheduler public key file (enables CurveZMQ)");
  app.add_option("--cas", f.cas, "CAS URL, tcp://HOST:PORT");
  app.add_option("--cas-key", f.cas_key, "CAS public key file");
  app.add_option("--key", f.key, "this worker's key file from `crossfarm keygen`");
  app.add_option("--slots", f.slots, "jobs run at once")->capture_default_str();
  app.add_option("--cache", f.cache, "directory for checkouts, scratch space and logs")->required();
  app.add_option("--heartbeat-ms", f.heartbeat_ms, "heartbeat interval")->capture_default_str();
  app.add_flag("--dry-run-jobs", f.dry_run,
               "BENCHMARK MODE ONLY: complete every job at once without running it "
               "(fake artifact digests; bench/dispatch)");
  app.add_option("--emulate", f.emulate,
                 "foreign archs offered by qemu-user emulation: auto (every arch with a usable "
                 "binfmt handler), none, or a comma list like aarch64,s390x")
      ->capture_default_str();
  app.add_option("--distcc-slots", f.distcc_slots,
                 "offer N cross-compile slots to emulated jobs on other workers (docs/acceleration.md)");
  app.add_option("--distcc-address", f.distcc_address, "this worker's IPv4 address in the cluster network");
  app.add_option("--distcc-port", f.distcc_port, "port of the distcc pool gateway")->capture_default_str();
  app.add_option("--distcc-allow", f.distcc_allow,
                 "comma list of the only addresses the pool gateway accepts (default: any); every "
                 "peer must also prove the cluster's pool key, which the scheduler gives its workers");
  app.add_flag("--setup-binfmt", f.setup_binfmt,
               "register qemu-user handlers for foreign archs first (needs root)");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_default_logger(spdlog::stderr_color_mt("crossfarm-worker"));
  return Run(f);
}
