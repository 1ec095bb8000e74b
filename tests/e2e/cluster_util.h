// Helpers for the cluster end-to-end tests: real crossfarm-cas,
// crossfarm-scheduler and crossfarm-worker daemons as child processes, with
// CurveZMQ keys, on loopback.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {

// Polls `pred` every 20 ms until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

// A daemon started with stdout/stderr in files (and in `cwd` if given, which
// relative paths in `argv` are taken from); SIGKILLed on destruction.
class Daemon {
 public:
  Daemon(const std::vector<std::string>& argv, const std::string& out, const std::string& err,
         const std::string& cwd = "")
      : out_(out), err_(err) {
    pid_ = ::fork();
    if (pid_ == 0) {
      if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(127);
      int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(o, 1);
      ::dup2(e, 2);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  ~Daemon() { Kill(SIGKILL); }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Sends `sig` and returns at once (SIGHUP: reload).
  void Signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  void Kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // The "endpoint=..." line the daemon prints once listening ("" on timeout).
  std::string Endpoint(std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
    std::string ep;
    WaitFor([&] {
      std::string text = ReadFile(out_);
      auto pos = text.rfind("endpoint=");
      if (pos == std::string::npos) return false;
      auto end = text.find('\n', pos);
      if (end == std::string::npos) return false;
      ep = text.substr(pos + 9, end - pos - 9);
      return true;
    }, timeout);
    return ep;
  }
  std::string Log() const { return ReadFile(err_); }

 private:
  pid_t pid_ = -1;
  std::string out_, err_;
};

// The small project the cluster tests build on: busybox-static from Debian
// (its ref still to be tracked) plus symlinks for `applets`, stacked as base.bst.
inline void WriteBusyboxBaseProject(const std::filesystem::path& p, const std::string& name,
                                    std::initializer_list<const char*> applets) {
  WriteFile(p / "project.conf", "name: " + name +
                                    "\nelement-path: elements\nvariables:\n  strip-binaries: \"\"\n"
                                    "environment:\n  PATH: /usr/bin:/bin\n");
  WriteFile(p / "elements/busybox.bst",
            "kind: import\nsources:\n- kind: deb\n  arch: amd64\n  packages: [busybox-static]\n");
  std::filesystem::create_directories(p / "files/links/usr/bin");
  for (const char* applet : applets)
    std::filesystem::create_symlink("busybox", p / "files/links/usr/bin" / applet);
  WriteFile(p / "elements/links.bst", "kind: import\nsources:\n- kind: local\n  path: files/links\n");
  WriteFile(p / "elements/base.bst", "kind: stack\ndepends:\n- busybox.bst\n- links.bst\n");
}

inline std::string BuildBin(const std::string& name) { return std::string(CROSSFARM_BUILD_DIR) + "/" + name; }

// Keys and allow lists of a test cluster in `dir`.
struct ClusterKeys {
  explicit ClusterKeys(const std::filesystem::path& dir) : dir(dir) {
    for (const char* k : {"sched", "cas", "w1", "w2", "w3", "client", "stranger", "admin"})
      RunCmd(BuildBin("client/crossfarm") + " keygen --out " + (dir / k).string());
    auto pub = [&](const char* k) { return ReadFile(dir / (std::string(k) + ".pub")); };
    // Workers write artifact refs: the worker role, and their NAME.pub lines
    // carry the sign= key the CAS checks their refs against (docs/security.md).
    auto line = [&](const char* k, const std::string& words) {
      auto p = pub(k);
      return p.substr(0, p.find('\n')) + " " + words + "\n";
    };
    auto worker = [&](const char* k) { return line(k, "worker"); };
    WriteFile(dir / "cas-allow", worker("w1") + worker("w2") + worker("w3") + pub("client") + line("admin", "admin"));
    WriteFile(dir / "clients", pub("client"));
    WriteFile(dir / "workers", pub("w1") + pub("w2") + pub("w3"));
  }
  std::string Path(const std::string& name) const { return (dir / name).string(); }
  // The Z85 public key of NAME.pub (its first word).
  std::string Public(const std::string& name) const {
    auto p = ReadFile(dir / (name + ".pub"));
    return p.substr(0, p.find_first_of(" \n"));
  }
  std::filesystem::path dir;
};

// A whole test cluster in the existing directory `dir`: keys, crossfarm-cas, crossfarm-scheduler and
// one worker "w1" (with `worker_args` added, e.g. {"--emulate", "aarch64"}),
// all on loopback. `error` says what did not come up ("" when all did).
struct TestCluster {
  TestCluster(const std::filesystem::path& dir, const std::vector<std::string>& worker_args)
      : dir(dir), keys(dir) {
    cas = std::make_unique<Daemon>(
        std::vector<std::string>{BuildBin("cas/crossfarm-cas"), "--listen", "tcp://127.0.0.1:*", "--dir",
                                 P("cas-store"), "--key", P("cas.key"), "--allow", P("cas-allow")},
        P("cas.out"), P("cas.err"));
    cas_url = cas->Endpoint();
    if (cas_url.empty()) {
      error = "crossfarm-cas did not start:\n" + cas->Log();
      return;
    }
    sched = std::make_unique<Daemon>(
        std::vector<std::string>{BuildBin("scheduler/crossfarm-scheduler"), "--listen", "tcp://127.0.0.1:*",
                                 "--state", P("state"), "--key", P("sched.key"), "--clients", P("clients"),
                                 "--workers", P("workers"), "--cas", cas_url, "--cas-key", P("cas.pub")},
        P("sched.out"), P("sched.err"));
    sched_url = sched->Endpoint();
    if (sched_url.empty()) {
      error = "crossfarm-scheduler did not start:\n" + sched->Log();
      return;
    }
    std::vector<std::string> argv{BuildBin("worker/crossfarm-worker"), "--name", "w1", "--scheduler", sched_url,
                                  "--scheduler-key", P("sched.pub"), "--cas", cas_url, "--cas-key",
                                  P("cas.pub"), "--key", P("w1.key"), "--slots", "2", "--cache",
                                  P("w1-cache"), "--heartbeat-ms", "200"};
    argv.insert(argv.end(), worker_args.begin(), worker_args.end());
    worker = std::make_unique<Daemon>(argv, P("w1.out"), P("w1.err"));
  }
  std::string P(const std::string& name) const { return (dir / name).string(); }
  // The client flags that send a command to this cluster.
  std::string RemoteFlags() const {
    return " --remote " + sched_url + " --remote-key " + P("sched.pub") + " --key " + P("client.key");
  }
  // Waits until w1 has registered (`client` is a crossfarm command line).
  bool WorkerRegistered(const std::string& client) const {
    return WaitFor([&] {
      return RunCmd(client + RemoteFlags() + " status").output.find("workers: 1") != std::string::npos;
    }, std::chrono::seconds(20));
  }

  std::filesystem::path dir;
  ClusterKeys keys;
  std::unique_ptr<Daemon> cas, sched, worker;
  std::string cas_url, sched_url, error;
};

// "tcp://127.0.0.1:41234" -> "41234".
inline std::string PortOf(const std::string& endpoint) { return endpoint.substr(endpoint.rfind(':') + 1); }

}  // namespace crossfarm::e2e
