// crossfarm-cas: the CAS daemon, a thin main over LocalStore + CasServer.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "cas/cas.h"
#include "cas/curve_keys.h"
#include "cas/server.h"
#include "common/path_flags.h"
#include "common/version.h"

namespace {

struct Flags {
  std::string listen;
  std::string dir;
  std::string quota = "0";
  int64_t grace = 3600;
  std::string key;
  std::string allow;
  int threads = 4;
};

int Fail(const crossfarm::Status& s) {
  std::cerr << "crossfarm-cas: error: " << s.ToString() << "\n";
  return s.code() == crossfarm::StatusCode::kInvalidArgument ? 2 : 1;
}

crossfarm::Result<crossfarm::cas::ServerOptions> ServerOptionsFrom(const Flags& f) {
  crossfarm::cas::ServerOptions options;
  options.listen = f.listen;
  options.threads = f.threads;
  if (f.key.empty()) return options;
  CF_ASSIGN_OR_RETURN(auto pair, crossfarm::cas::LoadSecretKey(f.key));
  options.public_key = pair.public_key;
  options.secret_key = pair.secret_key;
  if (f.allow.empty())
    return crossfarm::Err(crossfarm::Status::InvalidArgument(
        "--key needs --allow FILE (client public keys, one per line)"));
  CF_ASSIGN_OR_RETURN(options.allowed_keys, crossfarm::cas::LoadAllowList(f.allow));
  return options;
}

int Run(Flags f) {
  // Every path flag made absolute against the start directory, first thing
  // (common/path_flags.h), so no later code depends on the cwd.
  if (crossfarm::Status s = crossfarm::MakePathFlagsAbsolute(
          {{"--dir", &f.dir}, {"--key", &f.key}, {"--allow", &f.allow}});
      !s.ok())
    return Fail(s);
  crossfarm::cas::LocalStoreOptions store_options;
  auto quota = crossfarm::cas::ParseByteSize(f.quota);
  if (!quota) return Fail(quota.error().WithContext("--quota"));
  store_options.quota_bytes = *quota;
  store_options.grace = std::chrono::seconds(f.grace);
  auto options = ServerOptionsFrom(f);
  if (!options) return Fail(options.error());
  // Signals are taken synchronously by sigwait below; threads inherit the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto store = crossfarm::cas::LocalStore::Open(f.dir, store_options);
  if (!store) return Fail(store.error());
  auto server = crossfarm::cas::CasServer::Start(**store, *options);
  if (!server) return Fail(server.error());
  // The one stdout line: tests and scripts read the real port from it.
  std::printf("endpoint=%s\n", (*server)->endpoint().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("cas: stopping signal={}", sig);
  (*server)->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"crossfarm-cas: content-addressed store server"};
  app.set_version_flag("--version", crossfarm::VersionText("crossfarm-cas"));
  Flags f;
  app.add_option("--listen", f.listen, "tcp://ADDR:PORT to bind (PORT may be *)")->required();
  app.add_option("--dir", f.dir, "store directory (created if needed)")->required();
  app.add_option("--quota", f.quota, "size limit, e.g. 10G (0: unlimited)");
  app.add_option("--grace", f.grace, "seconds unreferenced uploads survive GC")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--key", f.key, "server key file from `crossfarm keygen` (enables CurveZMQ)");
  app.add_option("--allow", f.allow, "allow list: client public keys, one per line");
  app.add_option("--threads", f.threads, "worker threads")->check(CLI::Range(1, 64));
  CLI11_PARSE(app, argc, argv);
  // stdout carries only the endpoint line; logs go to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_mt("crossfarm-cas"));
  return Run(f);
}
