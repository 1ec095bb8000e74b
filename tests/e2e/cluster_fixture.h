// The fixture of the cluster end-to-end tests (cluster_e2e_test.cc,
// cluster_trust_e2e_test.cc): a shared busybox project, keys in a fresh
// directory per test, and the real daemons started on loopback.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <memory>

#include "cas/cas.h"
#include "cas/curve_keys.h"
#include "tests/e2e/cluster_util.h"

namespace crossfarm::e2e {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class ClusterE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    project_ = new TempTree("cluster-project");
    fs::path p = project_->path();
    WriteBusyboxBaseProject(p, "cluster", {"sh", "echo", "cat", "ls", "mkdir", "test", "id", "sleep",
                                       "touch", "grep", "uname", "cp", "true", "false", "printf"});
    auto track = RunCmd(Cf() + " source track --save busybox.bst");
    // Recorded, not asserted: a fatal failure here would show as skipped tests.
    if (track.exit_code != 0) setup_error_ = "source track failed:\n" + track.output;
  }
  static inline std::string setup_error_;
  static void TearDownTestSuite() {
    delete project_;
    project_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    dir_ = std::make_unique<TempTree>("cluster");
    keys_ = std::make_unique<ClusterKeys>(dir_->path());
  }
  void TearDown() override {
    if (HasFailure())
      for (const char* f : {"sched.err", "cas.err", "w1.err", "w2.err", "client.out"})
        std::fprintf(stderr, "==== %s ====\n%s\n", f, ReadFile(dir_->path() / f).c_str());
  }

  static std::string Cf() {
    return BuildBin("client/crossfarm") + " -C " + project_->path().string() + " --mirror-dir " +
           TestCache() + "/mirror";
  }
  std::string P(const std::string& name) const { return (dir_->path() / name).string(); }
  // A daemon's path flag: relative to its start directory (dir_) with
  // relative_paths_, else absolute. The keys are in dir_ too.
  std::string F(const std::string& name) const { return relative_paths_ ? name : P(name); }

  void StartCas(const std::string& port = "*") {
    cas_ = std::make_unique<Daemon>(
        std::vector<std::string>{BuildBin("cas/crossfarm-cas"), "--listen", "tcp://127.0.0.1:" + port,
                                 "--dir", F("cas-store"), "--key", F("cas.key"), "--allow",
                                 F("cas-allow")},
        P("cas.out"), P("cas.err"), dir_->path().string());
    cas_url_ = cas_->Endpoint();
    ASSERT_FALSE(cas_url_.empty()) << ReadFile(P("cas.err"));
  }
  void StartScheduler(const std::string& port = "*", const std::string& retries = "3") {
    std::ofstream(P("sched.out"), std::ios::trunc);
    sched_ = std::make_unique<Daemon>(
        std::vector<std::string>{BuildBin("scheduler/crossfarm-scheduler"), "--listen",
                                 "tcp://127.0.0.1:" + port, "--state", F("state"), "--key",
                                 F("sched.key"), "--clients", F("clients"), "--workers", F("workers"),
                                 "--cas", cas_url_, "--cas-key", F("cas.pub"), "--heartbeat-timeout-ms",
                                 "1500", "--max-retries", retries},
        P("sched.out"), P("sched.err"), dir_->path().string());
    sched_url_ = sched_->Endpoint();
    ASSERT_FALSE(sched_url_.empty()) << ReadFile(P("sched.err"));
  }
  std::unique_ptr<Daemon> StartWorker(const std::string& name, int slots = 2) {
    return std::make_unique<Daemon>(
        std::vector<std::string>{BuildBin("worker/crossfarm-worker"), "--name", name, "--scheduler",
                                 sched_url_, "--scheduler-key", F("sched.pub"), "--cas", cas_url_,
                                 "--cas-key", F("cas.pub"), "--key", F(name + ".key"), "--slots",
                                 std::to_string(slots), "--cache", F(name + "-cache"), "--heartbeat-ms",
                                 "200"},
        P(name + ".out"), P(name + ".err"), dir_->path().string());
  }
  std::string Remote(const std::string& key = "client") const {
    return Cf() + " --cache-dir " + P("client-cache") + " --remote " + sched_url_ + " --remote-key " +
           keys_->Path("sched.pub") + " --key " + keys_->Path(key + ".key");
  }
  bool WorkersRegistered(size_t n) {
    return WaitFor([&] {
      auto st = RunCmd(Remote() + " status");
      return st.exit_code == 0 && st.output.find("workers: " + std::to_string(n)) != std::string::npos;
    }, 20s);
  }
  void AddManual(const std::string& name, const std::vector<std::string>& commands,
                 const std::string& extra_dep = "") {
    std::string text = "kind: manual\nbuild-depends:\n- base.bst\n" +
                       (extra_dep.empty() ? "" : "- " + extra_dep + "\n") + "config:\n  build-commands:\n";
    for (const auto& c : commands) text += "  - |\n    " + c + "\n";
    WriteFile(project_->path() / "elements" / name, text);
  }
  // Starts `crossfarm build` in the background; output in client.out.
  std::unique_ptr<Daemon> BuildInBackground(const std::string& target) {
    return std::make_unique<Daemon>(
        std::vector<std::string>{"/bin/sh", "-c", "exec " + Remote() + " build " + target},
        P("client.out"), P("client.out"));
  }
  std::string ClientOut() const { return ReadFile(P("client.out")); }
  std::unique_ptr<cas::Cas> RemoteCas(const std::string& key = "client") {
    auto pair = cas::LoadSecretKey(keys_->Path(key + ".key"));
    cas::CasOptions o;
    o.remote.server_public_key = *cas::LoadPublicKey(keys_->Path("cas.pub"));
    o.remote.client_public_key = pair->public_key;
    o.remote.client_secret_key = pair->secret_key;
    return std::move(*cas::OpenCas(cas_url_, o));
  }
  std::string KeyOf(const std::string& element) {
    // --deps none: the element's own key, not its first dependency's.
    auto r = RunCmd(Cf() + " show --deps none --format '%{full-key}' " + element);
    return r.output.substr(0, r.output.find('\n'));
  }

  static inline TempTree* project_ = nullptr;
  std::unique_ptr<TempTree> dir_;
  bool relative_paths_ = false;
  std::unique_ptr<ClusterKeys> keys_;
  std::unique_ptr<Daemon> cas_, sched_;
  std::string cas_url_, sched_url_;
};

}  // namespace crossfarm::e2e
