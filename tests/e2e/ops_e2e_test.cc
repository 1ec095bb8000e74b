// End-to-end operations of a farm (issue 20, docs/operations.md): the three
// daemons started from YAML config files, SIGHUP reloading allow lists under
// a running build, /metrics checked by promtool and scraped by a real
// Prometheus server, and the scheduler's status page rendered by headless
// Chromium during a build. Real daemons on loopback with CurveZMQ keys.
#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "tests/e2e/cluster_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;


// GET of an http://HOST:PORT/path URL; "" when it fails.
std::string HttpGet(const std::string& url) {
  auto scheme_end = url.find("://") + 3;
  auto path_start = url.find('/', scheme_end);
  httplib::Client client(url.substr(0, path_start));
  client.set_read_timeout(10, 0);
  auto res = client.Get(path_start == std::string::npos ? "/" : url.substr(path_start));
  return res && res->status == 200 ? res->body : "";
}

// The value of the `NAME=` line a daemon printed on stdout ("" on timeout).
std::string StdoutValue(const std::string& file, const std::string& name) {
  std::string value;
  WaitFor([&] {
    std::string text = ReadFile(file);
    auto pos = text.find(name + "=");
    if (pos == std::string::npos) return false;
    auto end = text.find('\n', pos);
    if (end == std::string::npos) return false;
    value = text.substr(pos + name.size() + 1, end - pos - name.size() - 1);
    return true;
  }, 20s);
  return value;
}

class OpsE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    project_ = new TempTree("ops-project");
    fs::path p = project_->path();
    WriteBusyboxBaseProject(p, "ops", {"sh", "echo", "cat", "mkdir", "sleep", "true", "printf"});
    auto track = RunCmd(Cf() + " source track --save busybox.bst");
    if (track.exit_code != 0) setup_error_ = "source track failed:\n" + track.output;
  }
  static void TearDownTestSuite() {
    delete project_;
    project_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    dir_ = std::make_unique<TempTree>("ops");
    keys_ = std::make_unique<ClusterKeys>(dir_->path());
    RunCmd(BuildBin("client/crossfarm") + " keygen --out " + P("newcomer"));
  }
  void TearDown() override {
    if (HasFailure())
      for (const char* f : {"sched.err", "cas.err", "w1.err", "etc/w1.log", "client.out"})
        std::fprintf(stderr, "==== %s ====\n%s\n", f, ReadFile(dir_->path() / f).c_str());
  }

  static std::string Cf() {
    return BuildBin("client/crossfarm") + " -C " + project_->path().string() + " --mirror-dir " +
           TestCache() + "/mirror";
  }
  std::string P(const std::string& name) const { return (dir_->path() / name).string(); }

  // The config files of the three daemons in etc/, every path in them
  // relative to etc/ (the keys are one level up).
  void WriteConfigs() {
    WriteFile(P("etc/cas.yaml"), "listen: tcp://127.0.0.1:*\ndir: ../cas-store\nkey: ../cas.key\n"
                                 "allow: ../cas-allow\nmetrics-listen: 127.0.0.1:0\n");
    WriteFile(P("etc/scheduler.yaml"),
              "listen: tcp://127.0.0.1:*\nstate: ../state\nkey: ../sched.key\nclients: ../clients\n"
              "workers: ../workers\ncas: " + cas_url_ + "\ncas-key: ../cas.pub\n"
              "heartbeat-timeout-ms: 3000\nmetrics-listen: 127.0.0.1:0\n");
    WriteFile(P("etc/w1.yaml"),
              "name: w1\nscheduler: " + sched_url_ + "\nscheduler-key: ../sched.pub\ncas: " + cas_url_ +
              "\ncas-key: ../cas.pub\nkey: ../w1.key\nslots: 1\ncache: ../w1-cache\nheartbeat-ms: 200\n"
              "log-file: w1.log\nmetrics-listen: 127.0.0.1:0\n");
  }
  void StartCluster() {
    WriteFile(P("etc/cas.yaml"), "");  // written in full once the ports are known
    WriteConfigs();
    cas_ = std::make_unique<Daemon>(std::vector<std::string>{BuildBin("cas/crossfarm-cas"), "--config",
                                                             "etc/cas.yaml"},
                                    P("cas.out"), P("cas.err"), dir_->path().string());
    cas_url_ = cas_->Endpoint();
    ASSERT_FALSE(cas_url_.empty()) << ReadFile(P("cas.err"));
    WriteConfigs();
    sched_ = std::make_unique<Daemon>(std::vector<std::string>{BuildBin("scheduler/crossfarm-scheduler"),
                                                               "--config", "etc/scheduler.yaml"},
                                      P("sched.out"), P("sched.err"), dir_->path().string());
    sched_url_ = sched_->Endpoint();
    ASSERT_FALSE(sched_url_.empty()) << ReadFile(P("sched.err"));
    WriteConfigs();
    w1_ = std::make_unique<Daemon>(std::vector<std::string>{BuildBin("worker/crossfarm-worker"), "--config",
                                                            "etc/w1.yaml"},
                                   P("w1.out"), P("w1.err"), dir_->path().string());
    for (auto* out : {"cas.out", "sched.out", "w1.out"}) {
      metrics_[out] = StdoutValue(P(out), "metrics");
      ASSERT_FALSE(metrics_[out].empty()) << out << ": " << ReadFile(P(out));
    }
    ASSERT_TRUE(WaitFor([&] {
      auto st = RunCmd(Remote() + " status");
      return st.exit_code == 0 && st.output.find("workers: 1") != std::string::npos;
    }, 30s)) << ReadFile(P("w1.err"));
  }
  std::string Remote(const std::string& key = "client") const {
    return "timeout 60 " + Cf() + " --cache-dir " + P("client-cache-" + key) + " --remote " + sched_url_ +
           " --remote-key " + P("sched.pub") + " --key " + P(key + ".key");
  }
  void AddManual(const std::string& name, const std::string& commands, const std::string& deps = "") {
    WriteFile(project_->path() / "elements" / name,
              "kind: manual\nbuild-depends:\n- base.bst\n" + deps + "config:\n  build-commands:\n  - |\n    " +
                  commands + "\n");
  }
  std::unique_ptr<Daemon> BuildInBackground(const std::string& target) {
    return std::make_unique<Daemon>(
        std::vector<std::string>{"/bin/sh", "-c", "exec " + Remote() + " build " + target},
        P("client.out"), P("client.out"));
  }
  nlohmann::json SchedulerStatus() {
    std::string body = HttpGet(SchedulerHttp() + "/status.json");
    return body.empty() ? nlohmann::json::object() : nlohmann::json::parse(body, nullptr, false);
  }
  std::string SchedulerHttp() const {
    const std::string& m = metrics_.at("sched.out");
    return m.substr(0, m.rfind("/metrics"));
  }
  std::string Pub(const std::string& k) const {
    std::string p = ReadFile(P(k + ".pub"));
    return p.substr(0, p.find('\n'));
  }

  static inline TempTree* project_ = nullptr;
  static inline std::string setup_error_;
  std::unique_ptr<TempTree> dir_;
  std::unique_ptr<ClusterKeys> keys_;
  std::unique_ptr<Daemon> cas_, sched_, w1_;
  std::string cas_url_ = "tcp://127.0.0.1:1", sched_url_ = "tcp://127.0.0.1:1";
  std::map<std::string, std::string> metrics_;  // stdout file -> /metrics URL
};

TEST_F(OpsE2ETest, EachDaemonRefusesToStartOnABadConfigNamingFileAndLine) {
  WriteFile(P("etc/cas.yaml"), "listen: tcp://127.0.0.1:*\ndir: store\nthreds: 4\n");
  auto cas = RunCmd(BuildBin("cas/crossfarm-cas") + " --config " + P("etc/cas.yaml"));
  EXPECT_EQ(cas.exit_code, 2) << cas.output;
  EXPECT_NE(cas.output.find(P("etc/cas.yaml") + ":3:1: unknown key 'threds'"), std::string::npos) << cas.output;
  EXPECT_NE(cas.output.find("did you mean 'threads'?"), std::string::npos) << cas.output;
  WriteFile(P("etc/scheduler.yaml"), "listen: tcp://127.0.0.1:*\nstate: s\ncas: tcp://x:1\n"
                                     "max-retries: lots\n");
  auto sched = RunCmd(BuildBin("scheduler/crossfarm-scheduler") + " --config " + P("etc/scheduler.yaml"));
  EXPECT_EQ(sched.exit_code, 2) << sched.output;
  EXPECT_NE(sched.output.find(P("etc/scheduler.yaml") + ":4:14: 'max-retries' must be an integer"),
            std::string::npos) << sched.output;
  WriteFile(P("etc/worker.yaml"), "name: w9\nscheduler: tcp://127.0.0.1:1\ncache: c\nslots:\n  four: 4\n");
  auto worker = RunCmd(BuildBin("worker/crossfarm-worker") + " --config " + P("etc/worker.yaml"));
  EXPECT_EQ(worker.exit_code, 2) << worker.output;
  EXPECT_NE(worker.output.find(P("etc/worker.yaml") + ":5:3: 'slots' must be a single value"),
            std::string::npos) << worker.output;
  EXPECT_FALSE(fs::exists(P("etc/store"))) << "the CAS opened its store despite the bad config";
  auto missing = RunCmd(BuildBin("cas/crossfarm-cas") + " --config " + P("etc/none.yaml"));
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("none.yaml"), std::string::npos) << missing.output;
}

// One slow build on a one-slot worker: two jobs wait for the slot while the
// first runs, which Prometheus, the status page and the scheduler must agree on.
TEST_F(OpsE2ETest, ARunningBuildIsSeenByPrometheusAndOnTheStatusPage) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  for (const char* n : {"slow-a", "slow-b", "slow-c"})
    AddManual(std::string(n) + ".bst", std::string("echo ") + n + "-log-marker; sleep 12; mkdir -p %{install-root}/" + n);
  WriteFile(project_->path() / "elements/slow-all.bst",
            "kind: stack\ndepends:\n- slow-a.bst\n- slow-b.bst\n- slow-c.bst\n");
  // Every daemon's /metrics passes promtool before and during the build.
  for (const auto& [out, url] : metrics_) {
    WriteFile(P(out + ".prom"), HttpGet(url));
    auto check = RunCmd("promtool check metrics < " + P(out + ".prom"));
    EXPECT_EQ(check.exit_code, 0) << out << "\n" << check.output << ReadFile(P(out + ".prom"));
  }
  std::string targets;
  for (const auto& [out, url] : metrics_) targets += "'" + url.substr(7, url.rfind("/metrics") - 7) + "',";
  WriteFile(P("prometheus.yml"), "global:\n  scrape_interval: 1s\nscrape_configs:\n- job_name: crossfarm\n"
                                 "  static_configs:\n  - targets: [" + targets + "]\n");
  auto prom = std::make_unique<Daemon>(
      std::vector<std::string>{"/usr/bin/prometheus", "--config.file=" + P("prometheus.yml"),
                               "--storage.tsdb.path=" + P("prom-data"), "--web.listen-address=127.0.0.1:0"},
      P("prom.out"), P("prom.err"));
  auto build = BuildInBackground("slow-all.bst");
  // The running job and the two behind it, in the scheduler's own report.
  nlohmann::json status;
  ASSERT_TRUE(WaitFor([&] {
    status = SchedulerStatus();
    return status.contains("running") && status["running"].size() == 1 &&
           status["running"][0]["log_tail"].get<std::string>().find("-log-marker") != std::string::npos;
  }, 60s)) << status.dump(2) << ReadFile(P("client.out"));
  size_t ready = 0;
  for (const auto& [arch, jobs] : status["queue"].items())
    for (const auto& j : jobs) ready += j["state"] == "ready";
  EXPECT_EQ(ready, 2u) << status.dump(2);
  EXPECT_EQ(status["workers"][0]["name"], "w1");
  EXPECT_EQ(status["workers"][0]["busy"], 1);

  // Prometheus: its HTTP API answers the queue depth the scheduler reports.
  std::string prom_url;
  ASSERT_TRUE(WaitFor([&] {
    std::string log = ReadFile(P("prom.err"));
    auto pos = log.find("Listening on\" address=");
    if (pos == std::string::npos) pos = log.find("address=127.0.0.1:");
    if (pos == std::string::npos) return false;
    auto start = log.find("127.0.0.1:", pos);
    auto end = log.find_first_of(" \n", start);
    prom_url = "http://" + log.substr(start, end - start);
    return true;
  }, 30s)) << ReadFile(P("prom.err"));
  nlohmann::json answer;
  double prom_ready = -1;
  EXPECT_TRUE(WaitFor([&] {
    httplib::Client c(prom_url);
    auto res = c.Get("/api/v1/query?query=sum(crossfarm_scheduler_queue_jobs%7Bstate%3D%22ready%22%7D)");
    if (!res || res->status != 200) return false;
    answer = nlohmann::json::parse(res->body, nullptr, false);
    if (!answer.contains("data") || answer["data"]["result"].empty()) return false;
    prom_ready = std::stod(answer["data"]["result"][0]["value"][1].get<std::string>());
    return prom_ready == static_cast<double>(ready);
  }, 20s)) << answer.dump() << " prometheus=" << prom_ready << " scheduler=" << ready;
  std::string up;
  EXPECT_TRUE(WaitFor([&] {
    httplib::Client c(prom_url);
    auto res = c.Get("/api/v1/query?query=sum(up)");
    up = res && res->status == 200 ? res->body : "";
    return up.find("\"3\"]") != std::string::npos;
  }, 20s)) << "all three daemons scraped: " << up;

  // The status page, rendered by a real browser while the job runs.
  std::string page = SchedulerHttp() + "/";
  std::string chromium = "timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
                         "--user-data-dir=" + P("chromium") + " --virtual-time-budget=3000 ";
  auto dom = RunCmd(chromium + "--dump-dom " + page + " 2>/dev/null");
  EXPECT_EQ(dom.exit_code, 0) << dom.output;
  EXPECT_NE(dom.output.find("class=\"worker\" data-name=\"w1\""), std::string::npos) << dom.output;
  EXPECT_NE(dom.output.find("class=\"job running\" data-element=\"slow-"), std::string::npos) << dom.output;
  EXPECT_NE(dom.output.find("-log-marker"), std::string::npos) << "the running job's log tail\n" << dom.output;
  EXPECT_NE(dom.output.find("class=\"queued ready\""), std::string::npos) << dom.output;
  for (const char* k : {"w1", "client", "sched", "cas"})
    EXPECT_EQ(dom.output.find(Pub(k)), std::string::npos) << "the public key of " << k << " on the page";
  std::string shot = std::string(CROSSFARM_BUILD_DIR) + "/status-page.png";
  auto screenshot = RunCmd(chromium + "--window-size=1100,900 --screenshot=" + shot + " " + page);
  EXPECT_EQ(screenshot.exit_code, 0) << screenshot.output;
  EXPECT_GT(fs::file_size(shot), 10000u) << shot;

  build->Kill(SIGINT);
}

// SIGHUP: a key added to the allow lists gets in, a removed one is refused,
// and the job running meanwhile completes.
TEST_F(OpsE2ETest, SighupReloadsTheAllowListsWithoutDroppingARunningJob) {
  WriteFile(P("clients"), Pub("client") + "\n" + Pub("stranger") + "\n");
  std::string cas_allow = ReadFile(P("cas-allow"));
  WriteFile(P("cas-allow"), cas_allow + Pub("stranger") + "\n");
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  EXPECT_EQ(RunCmd(Remote("stranger") + " status").exit_code, 0) << "allowed before the reload";
  AddManual("inflight.bst", "echo inflight-started; sleep 6; echo done > %{install-root}/inflight.txt");
  auto build = BuildInBackground("inflight.bst");
  ASSERT_TRUE(WaitFor([&] { return ReadFile(P("client.out")).find("inflight-started") != std::string::npos ||
                                   SchedulerStatus()["running"].size() == 1; }, 60s))
      << ReadFile(P("client.out"));
  WriteFile(P("clients"), Pub("client") + "\n" + Pub("newcomer") + "\n");
  WriteFile(P("cas-allow"), cas_allow + Pub("newcomer") + "\n");
  cas_->Signal(SIGHUP);
  sched_->Signal(SIGHUP);
  ASSERT_TRUE(WaitFor([&] { return sched_->Log().find("reload: done") != std::string::npos &&
                                   cas_->Log().find("reload: done") != std::string::npos; }, 10s))
      << sched_->Log() << cas_->Log();
  auto newcomer = RunCmd(Remote("newcomer") + " status");
  EXPECT_EQ(newcomer.exit_code, 0) << newcomer.output;
  auto stranger = RunCmd(Remote("stranger") + " status");
  EXPECT_NE(stranger.exit_code, 0) << stranger.output;
  EXPECT_NE(sched_->Log().find("refused connection"), std::string::npos) << sched_->Log();
  // The build in flight finishes; its job ran once, with no retry.
  build->Kill(0);  // waits for the client to exit
  EXPECT_TRUE(WaitFor([&] { return sched_->Log().find("job finished element=inflight.bst arch=x86_64 "
                                                       "worker=w1") != std::string::npos; }, 10s))
      << sched_->Log();
  EXPECT_NE(sched_->Log().find("sandbox=native outcome=done job="), std::string::npos) << sched_->Log();
  EXPECT_EQ(sched_->Log().find("requeued"), std::string::npos) << sched_->Log();
  // The worker's own line per job, in its --log-file (from its config).
  std::string wlog = ReadFile(P("etc/w1.log"));
  EXPECT_NE(wlog.find("job finished element=inflight.bst arch=x86_64 worker=w1"), std::string::npos) << wlog;
  EXPECT_NE(wlog.find("sandbox=native outcome=done"), std::string::npos) << wlog;
  // The newcomer's key is on the CAS's list too: its build finds the artifact
  // there (a key the CAS does not know never gets an answer).
  auto cached = RunCmd(Remote("newcomer") + " build inflight.bst");
  EXPECT_EQ(cached.exit_code, 0) << cached.output << cas_->Log();
  // A broken config on SIGHUP is refused and the daemon keeps serving.
  WriteFile(P("etc/scheduler.yaml"), "listen: tcp://127.0.0.1:*\nbogus: 1\n");
  sched_->Signal(SIGHUP);
  EXPECT_TRUE(WaitFor([&] { return sched_->Log().find("reload: refused") != std::string::npos; }, 10s));
  EXPECT_NE(sched_->Log().find("scheduler.yaml:2:1: unknown key 'bogus'"), std::string::npos) << sched_->Log();
  EXPECT_EQ(RunCmd(Remote("newcomer") + " status").exit_code, 0);
  EXPECT_NE(HttpGet(metrics_["sched.out"]).find("crossfarm_config_reloads_total{outcome=\"error\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace crossfarm::e2e
