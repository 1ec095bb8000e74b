// bench_dispatch: a DAG of 10,000 jobs through the real crossfarm-scheduler
// (CurveZMQ, RocksDB job store) with 4 crossfarm-worker --dry-run-jobs workers
// on loopback, next to the embedded BuildQueue on the same DAG.
//
// Prints jobs per second of both and the scheduler's memory per queued job
// (its RSS at the peak of the run minus its RSS before the submission, divided
// by the jobs). --dry-run-jobs workers complete jobs at once, so this measures
// the scheduler and the protocol, not builds.
//
// Then 500 real small jobs end to end (bench/dag_project.h: `manual` elements
// on a busybox base, each in its own bubblewrap sandbox): the embedded
// `crossfarm build`, and `crossfarm --remote build` through crossfarm-cas +
// crossfarm-scheduler + 2 crossfarm-worker (2 slots each, the embedded
// default's 4 parallel jobs) on loopback, each from an empty cache.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "bench/bench_util.h"
#include "bench/dag_project.h"
#include "cas/curve_keys.h"
#include "proto/scheduler_types.h"
#include "scheduler/build_queue.h"

namespace crossfarm::bench {
namespace {

constexpr int kJobs = 10000;
constexpr int kWorkers = 4;
constexpr int kRealJobs = 500;

// Job i depends on up to 3 earlier jobs: a wide DAG with long chains.
std::vector<std::vector<int>> MakeDag() {
  std::mt19937 rng(42);
  std::vector<std::vector<int>> deps(kJobs);
  for (int i = 1; i < kJobs; ++i) {
    int n = static_cast<int>(rng() % 4);
    for (int d = 0; d < n; ++d) {
      int dep = static_cast<int>(rng() % i);
      if (std::find(deps[i].begin(), deps[i].end(), dep) == deps[i].end()) deps[i].push_back(dep);
    }
  }
  return deps;
}

double EmbeddedJobsPerSecond(const std::vector<std::vector<int>>& dag) {
  double t0 = NowSeconds();
  scheduler::BuildQueue q;
  for (const auto& deps : dag) q.Add({deps.begin(), deps.end()});
  q.Seal();
  std::vector<scheduler::JobId> running;
  while (!q.Finished()) {
    while (auto id = q.PopReady()) running.push_back(*id);
    for (auto id : running) q.Complete(id, true);
    running.clear();
  }
  return kJobs / (NowSeconds() - t0);
}

pid_t Spawn(const std::vector<std::string>& argv, const std::string& out) {
  pid_t pid = ::fork();
  if (pid == 0) {
    std::freopen(out.c_str(), "w", stdout);
    std::freopen((out + ".err").c_str(), "w", stderr);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

std::string WaitEndpoint(const std::string& out) {
  for (int i = 0; i < 500; ++i) {
    std::ifstream in(out);
    std::string line;
    if (std::getline(in, line) && line.starts_with("endpoint=")) return line.substr(9);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

long RssBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6)) * 1024;
  return 0;
}

proto::SchedMessage Submission(const std::vector<std::vector<int>>& dag) {
  proto::SchedMessage m;
  m.kind = proto::MsgKind::kSubmit;
  m.build_id = "bench";
  for (int i = 0; i < kJobs; ++i) {
    proto::JobRequest r;
    r.spec.element = "job" + std::to_string(i) + ".bst";
    r.spec.cache_key = Digest::OfBytes("bench job " + std::to_string(i)).Hex();
    r.spec.sandbox_arch = "x86_64";
    for (int d : dag[i]) {
      r.spec.inputs.push_back({"job" + std::to_string(d) + ".bst", Digest{}, {}, {}});
      r.input_keys.push_back(Digest::OfBytes("bench job " + std::to_string(d)).Hex());
    }
    m.jobs.push_back(std::move(r));
  }
  return m;
}

// 500 real jobs: {embedded seconds, cluster seconds}; 0 where a build failed.
std::pair<double, double> RealJobs(const std::filesystem::path& bin) {
  BenchDir dir("dispatch-real");
  auto p = [&](const std::string& n) { return (dir.path() / n).string(); };
  std::filesystem::path project = dir.path() / "project";
  GenerateDag(project, kRealJobs);
  std::string cf = (bin / "client/crossfarm").string() + " -C " + Quote(project);
  auto embedded = TimeCommand(cf + " --cache-dir " + Quote(dir.path() / "embedded") + " build" +
                              TopTargets(kRealJobs));
  std::printf("real jobs: %d, embedded build %.2f s (exit %d)\n", kRealJobs + 1, embedded.seconds,
              embedded.exit_code);

  auto sched = cas::GenerateKeyPair(p("sched"));
  auto client = cas::GenerateKeyPair(p("client"));
  auto worker = cas::GenerateKeyPair(p("worker"));
  auto cas_key = cas::GenerateKeyPair(p("cas"));
  if (!sched || !client || !worker || !cas_key) return {0, 0};
  std::ofstream(p("clients")) << client->public_key << "\n";
  std::ofstream(p("workers")) << worker->public_key << " worker\n";
  std::ofstream(p("cas-allow")) << client->public_key << "\n" << worker->public_key << " worker\n"
                                << sched->public_key << "\n";
  std::vector<pid_t> pids;
  pids.push_back(Spawn({(bin / "cas/crossfarm-cas").string(), "--listen", "tcp://127.0.0.1:*", "--dir",
                        p("cas-store"), "--key", p("cas.key"), "--allow", p("cas-allow")},
                       p("cas.out")));
  std::string cas_ep = WaitEndpoint(p("cas.out"));
  std::string sched_ep;
  if (!cas_ep.empty()) {
    pids.push_back(Spawn({(bin / "scheduler/crossfarm-scheduler").string(), "--listen", "tcp://127.0.0.1:*",
                          "--state", p("state"), "--key", p("sched.key"), "--clients", p("clients"),
                          "--workers", p("workers"), "--cas", cas_ep, "--cas-key", p("cas.pub")},
                         p("sched.out")));
    sched_ep = WaitEndpoint(p("sched.out"));
  }
  RunResult cluster{1, 0};
  if (!sched_ep.empty()) {
    for (int i = 0; i < 2; ++i)
      pids.push_back(Spawn({(bin / "worker/crossfarm-worker").string(), "--name", "rw" + std::to_string(i),
                            "--scheduler", sched_ep, "--scheduler-key", p("sched.pub"), "--key",
                            p("worker.key"), "--cas", cas_ep, "--cas-key", p("cas.pub"), "--slots", "2",
                            "--cache", p("rw" + std::to_string(i)), "--heartbeat-ms", "500"},
                           p("rw" + std::to_string(i) + ".out")));
    std::string remote = cf + " --cache-dir " + Quote(dir.path() / "client") + " --remote " + sched_ep +
                         " --remote-key " + p("sched.pub") + " --key " + p("client.key");
    for (int tries = 0; tries < 100; ++tries) {
      if (TimeCommand(remote + " status | grep -q 'workers: 2'").exit_code == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    cluster = TimeCommand(remote + " build" + TopTargets(kRealJobs));
  }
  for (pid_t pid : pids) ::kill(pid, SIGTERM);
  for (pid_t pid : pids) ::waitpid(pid, nullptr, 0);
  std::printf("real jobs: %d, cluster build (2 workers x 2 slots) %.2f s (exit %d)\n", kRealJobs + 1,
              cluster.seconds, cluster.exit_code);
  return {embedded.exit_code == 0 ? embedded.seconds : 0, cluster.exit_code == 0 ? cluster.seconds : 0};
}

struct Keys {
  cas::CurveKeyPair sched, client, worker;
};

int Run() {
  BenchDir dir("dispatch");
  auto p = [&](const std::string& n) { return (dir.path() / n).string(); };
  auto sched = cas::GenerateKeyPair(p("sched"));
  auto client = cas::GenerateKeyPair(p("client"));
  auto worker = cas::GenerateKeyPair(p("worker"));
  if (!sched || !client || !worker) return 1;
  std::ofstream(p("clients")) << client->public_key << "\n";
  std::ofstream(p("workers")) << worker->public_key << " worker\n";
  auto bin = SelfDir().parent_path();
  pid_t sched_pid = Spawn({(bin / "scheduler/crossfarm-scheduler").string(), "--listen", "tcp://127.0.0.1:*",
                           "--state", p("state"), "--key", p("sched.key"), "--clients", p("clients"),
                           "--workers", p("workers"), "--cas", "tcp://127.0.0.1:9"},
                          p("sched.out"));
  std::string endpoint = WaitEndpoint(p("sched.out"));
  if (endpoint.empty()) return 1;
  std::vector<pid_t> workers;
  for (int i = 0; i < kWorkers; ++i)
    workers.push_back(Spawn({(bin / "worker/crossfarm-worker").string(), "--name", "bw" + std::to_string(i),
                             "--scheduler", endpoint, "--scheduler-key", p("sched.pub"), "--key",
                             p("worker.key"), "--slots", "64", "--cache", p("w" + std::to_string(i)),
                             "--dry-run-jobs", "--heartbeat-ms", "500"},
                            p("w" + std::to_string(i) + ".out")));
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::rcvhwm, 0);
  s.set(zmq::sockopt::curve_serverkey, sched->public_key);
  s.set(zmq::sockopt::curve_publickey, client->public_key);
  s.set(zmq::sockopt::curve_secretkey, client->secret_key);
  s.connect(endpoint);
  s.set(zmq::sockopt::rcvtimeo, 200);
  // Wait for the workers.
  for (int tries = 0;; ++tries) {
    proto::SchedMessage req;
    req.kind = proto::MsgKind::kStatusRequest;
    std::string b = proto::EncodeSchedMessage(req);
    s.send(zmq::buffer(b));
    zmq::message_t reply;
    if (s.recv(reply)) {
      auto m = proto::DecodeSchedMessage(reply.to_string_view());
      if (m && m->status.workers.size() == kWorkers) break;
    }
    if (tries > 200) return 1;
  }
  auto dag = MakeDag();
  std::string submit = proto::EncodeSchedMessage(Submission(dag));
  long rss_before = RssBytes(sched_pid), rss_peak = rss_before;
  double t0 = NowSeconds();
  s.send(zmq::buffer(submit));
  bool finished = false;
  size_t updates = 0;
  while (!finished && NowSeconds() - t0 < 300) {
    zmq::message_t reply;
    if (!s.recv(reply)) continue;
    auto m = proto::DecodeSchedMessage(reply.to_string_view());
    if (!m || m->kind != proto::MsgKind::kUpdates) continue;
    updates += m->updates.size();
    finished = m->finished;
    rss_peak = std::max(rss_peak, RssBytes(sched_pid));
  }
  double seconds = NowSeconds() - t0;
  for (pid_t w : workers) ::kill(w, SIGTERM);
  ::kill(sched_pid, SIGTERM);
  for (pid_t w : workers) ::waitpid(w, nullptr, 0);
  ::waitpid(sched_pid, nullptr, 0);
  if (!finished) {
    std::fprintf(stderr, "bench_dispatch: the build did not finish\n");
    return 1;
  }
  double embedded = EmbeddedJobsPerSecond(dag);
  double per_s = kJobs / seconds;
  long per_job = (rss_peak - rss_before) / kJobs;
  std::printf("jobs: %d, workers: %d (--dry-run-jobs, 64 slots each), job updates received: %zu\n",
              kJobs, kWorkers, updates);
  std::printf("scheduler: %.2f s, %.0f jobs/s; RSS %ld -> %ld bytes (%ld bytes per job)\n", seconds,
              per_s, rss_before, rss_peak, per_job);
  std::printf("embedded BuildQueue: %.0f jobs/s\n", embedded);
  auto [real_embedded, real_cluster] = RealJobs(bin);
  std::printf("RESULT dispatch_jobs_per_s=%.0f embedded_jobs_per_s=%.0f sched_bytes_per_job=%ld "
              "real500_embedded_s=%.2f real500_cluster_s=%.2f real500_cluster_over_embedded=%.2f\n",
              per_s, embedded, per_job, real_embedded, real_cluster,
              real_embedded > 0 ? real_cluster / real_embedded : 0);
  return 0;
}

}  // namespace
}  // namespace crossfarm::bench

int main() { return crossfarm::bench::Run(); }
