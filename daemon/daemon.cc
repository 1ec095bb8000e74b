#include "daemon/daemon.h"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "common/version.h"

namespace crossfarm::daemon {

namespace {

std::vector<OptionSpec> AllOptions(const DaemonSpec& spec) {
  auto all = spec.options;
  all.push_back({.name = "log-file", .kind = OptionKind::kPath,
                 .help = "append log lines to this file, reopened on SIGHUP (logrotate); default: "
                         "stderr, for journald",
                 .reloadable = true});
  all.push_back({.name = "log-level", .help = "debug, info, warn or error", .default_value = "info",
                 .reloadable = true});
  all.push_back({.name = "metrics-listen",
                 .help = "serve /metrics (and the scheduler's status page) over HTTP on HOST:PORT; "
                         "PORT alone binds 127.0.0.1; default: off"});
  return all;
}

std::string DefaultConfig(const std::string& binary) {
  std::string name = binary.starts_with("crossfarm-") ? binary.substr(10) : binary;
  return "/etc/crossfarm/" + name + ".yaml";
}

// A new default logger on stderr or the log file: called at start and on
// SIGHUP, so a file moved away by logrotate is reopened.
Status SetUpLogging(const std::string& binary, const Settings& s) {
  auto level = spdlog::level::from_str(s.Str("log-level"));
  if (level == spdlog::level::off || level == spdlog::level::trace || level == spdlog::level::critical)
    return Status::InvalidArgument(s.Where("log-level") + ": log-level '" + s.Str("log-level") +
                                   "' is not one of debug, info, warn, error");
  std::shared_ptr<spdlog::logger> logger;
  try {
    if (s.Str("log-file").empty())
      logger = std::make_shared<spdlog::logger>(
          binary, std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    else
      logger = std::make_shared<spdlog::logger>(
          binary, std::make_shared<spdlog::sinks::basic_file_sink_mt>(s.Str("log-file")));
  } catch (const spdlog::spdlog_ex& e) {
    return Status::InvalidArgument(s.Where("log-file") + ": cannot open log file " + s.Str("log-file") +
                                   ": " + e.what());
  }
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);  // one line per event, visible at once (tail -f, tests)
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

void DescribeCommonMetrics(metrics::Registry& m) {
  m.DescribeGauge("crossfarm_build_info", "Always 1; the crossfarm version in a label", {"version"});
  m.DescribeGauge("crossfarm_start_time_seconds", "Unix time the daemon started");
  m.DescribeCounter("crossfarm_config_reloads_total", "SIGHUP config reloads by outcome (ok, error)",
                    {"outcome"});
  m.Set("crossfarm_build_info", {Version()}, 1);
  m.Set("crossfarm_start_time_seconds", {}, static_cast<double>(std::time(nullptr)));
}

struct Parsed {
  LoadRequest request;
  int exit_code = -1;  // >= 0: exit now (--help, --version, usage error)
};

Parsed ParseFlags(const DaemonSpec& spec, const std::vector<OptionSpec>& options, int argc, char** argv) {
  CLI::App app{spec.summary};
  app.set_version_flag("--version", VersionText(spec.binary));
  std::string config;
  app.add_option("--config", config,
                 "YAML config file; keys are these options without --, flags override them (default " +
                     DefaultConfig(spec.binary) + " if it exists; docs/operations.md)");
  std::map<std::string, std::string> text;
  std::map<std::string, bool> flag;
  for (const auto& o : options) {
    std::string help = o.help + (o.required ? " (required)" : "") +
                       (o.default_value.empty() ? "" : " [" + o.default_value + "]");
    if (o.kind == OptionKind::kBool) app.add_flag("--" + o.name, flag[o.name], help);
    else app.add_option("--" + o.name, text[o.name], help);
  }
  Parsed p;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    p.exit_code = app.exit(e);
    return p;
  }
  p.request.options = &options;
  for (const auto& o : options)
    if (app.count("--" + o.name) > 0) p.request.flags[o.name] = o.kind == OptionKind::kBool ? "true" : text[o.name];
  p.request.config_required = app.count("--config") > 0;
  p.request.config_path = p.request.config_required ? config : DefaultConfig(spec.binary);
  return p;
}

void Reload(const DaemonSpec& spec, const LoadRequest& request, Settings& current, Service& service,
            metrics::Registry& m) {
  auto next = LoadSettings(request);
  Status s = next ? SetUpLogging(spec.binary, *next) : next.error();
  if (s.ok()) {
    for (const auto& name : next->ChangedFrom(current)) {
      bool live = false;
      for (const auto& o : *request.options) live |= o.name == name && o.reloadable;
      if (!live) spdlog::warn("reload: {} changed ({}); it takes effect at the next restart", name, next->Where(name));
    }
    s = service.Reload(*next);
  }
  if (!s.ok()) {
    spdlog::error("reload: refused, the running settings stay in force: {}", s.ToString());
    m.Add("crossfarm_config_reloads_total", {"error"});
    return;
  }
  current = std::move(*next);
  spdlog::info("reload: done config={}", current.config_file().empty() ? "(none)" : current.config_file());
  m.Add("crossfarm_config_reloads_total", {"ok"});
}

int Fail(const std::string& binary, const Status& s) {
  std::cerr << binary << ": error: " << s.ToString() << "\n";
  return ExitCodeOf(s);
}

}  // namespace

int ExitCodeOf(const Status& s) { return s.code() == StatusCode::kInvalidArgument ? 2 : 1; }

int Main(const DaemonSpec& spec, int argc, char** argv, const StartFn& start) {
  const std::vector<OptionSpec> options = AllOptions(spec);
  Parsed parsed = ParseFlags(spec, options, argc, argv);
  if (parsed.exit_code >= 0) return parsed.exit_code;
  auto settings = LoadSettings(parsed.request);
  if (!settings) return Fail(spec.binary, settings.error());
  if (Status s = SetUpLogging(spec.binary, *settings); !s.ok()) return Fail(spec.binary, s);
  if (!settings->Str("metrics-listen").empty())
    if (auto l = ParseListen(settings->Str("metrics-listen")); !l)
      return Fail(spec.binary, l.error().WithContext(settings->Where("metrics-listen")));
  // Signals are taken synchronously by sigwait below; every thread started
  // from here on inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  metrics::Registry registry;
  DescribeCommonMetrics(registry);
  std::map<std::string, HttpHandler> pages;
  DaemonContext context{registry, pages};
  auto service = start(*settings, context);
  if (!service) return Fail(spec.binary, service.error());
  std::unique_ptr<HttpServer> http;
  if (!settings->Str("metrics-listen").empty()) {
    pages["/metrics"] = [&registry](const HttpQuery&) {
      return HttpReply{200, "text/plain; version=0.0.4; charset=utf-8", registry.Render()};
    };
    auto started = HttpServer::Start(settings->Str("metrics-listen"), pages);
    if (!started) {
      (*service)->Stop();
      return Fail(spec.binary, started.error());
    }
    http = std::move(*started);
    std::printf("metrics=%s/metrics\n", http->url().c_str());
  }
  // The stdout lines: tests and scripts read the real ports from them.
  if (std::string ep = (*service)->endpoint(); !ep.empty()) std::printf("endpoint=%s\n", ep.c_str());
  std::fflush(stdout);
  int sig = 0;
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP)
    Reload(spec, parsed.request, *settings, **service, registry);
  spdlog::info("{}: stopping signal={}", spec.binary, sig);
  http.reset();  // its handlers read the service
  (*service)->Stop();
  if (Status s = (*service)->outcome(); !s.ok()) return Fail(spec.binary, s);
  return 0;
}

}  // namespace crossfarm::daemon
