// Multi-host end-to-end: scheduler, CAS and two workers each in their own
// network namespace (tests/e2e/netns.sh: veth links to a bridge, addresses in
// 10.99.0.0/24 only), the client in the root namespace. The artifacts must be
// the same as an embedded build's.
#include <gtest/gtest.h>
#include <unistd.h>

#include "cas/cas.h"
#include "cas/curve_keys.h"
#include "tests/e2e/cluster_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kNetns = std::string(CROSSFARM_SOURCE_DIR) + "/tests/e2e/netns.sh";

// The namespaces of one test, removed even when the test fails.
class Namespaces {
 public:
  explicit Namespaces(const std::string& tag, const std::string& hosts = "sched cas w1 w2") : tag_(tag) {
    RunCmd(kNetns + " down " + tag_);
    up_ = RunCmd(kNetns + " up " + tag_ + " " + hosts);
  }
  ~Namespaces() { RunCmd(kNetns + " down " + tag_); }
  const CommandResult& up() const { return up_; }
  std::vector<std::string> In(const std::string& name, std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {"/usr/sbin/ip", "netns", "exec", "cf" + tag_ + "-" + name});
    return argv;
  }

 private:
  std::string tag_;
  CommandResult up_;
};

// crossfarm-cas in namespace "cas" (10.99.0.3) and crossfarm-scheduler in
// "sched" (10.99.0.2), with the keys of ClusterKeys; files under `dir`.
struct CoreDaemons {
  std::unique_ptr<Daemon> cas, sched;
  std::string error;  // set when one did not come up
};

CoreDaemons StartCore(const Namespaces& ns, const ClusterKeys& keys, const fs::path& dir) {
  auto p = [&](const std::string& n) { return (dir / n).string(); };
  CoreDaemons c;
  c.cas = std::make_unique<Daemon>(
      ns.In("cas", {BuildBin("cas/crossfarm-cas"), "--listen", "tcp://10.99.0.3:7100", "--dir", p("cas-store"),
                    "--key", keys.Path("cas.key"), "--allow", keys.Path("cas-allow")}),
      p("cas.out"), p("cas.err"));
  if (c.cas->Endpoint() != "tcp://10.99.0.3:7100") {
    c.error = "crossfarm-cas did not start:\n" + c.cas->Log();
    return c;
  }
  c.sched = std::make_unique<Daemon>(
      ns.In("sched", {BuildBin("scheduler/crossfarm-scheduler"), "--listen", "tcp://10.99.0.2:7101", "--state",
                      p("state"), "--key", keys.Path("sched.key"), "--clients", keys.Path("clients"), "--workers",
                      keys.Path("workers"), "--cas", "tcp://10.99.0.3:7100", "--cas-key", keys.Path("cas.pub")}),
      p("sched.out"), p("sched.err"));
  if (c.sched->Endpoint() != "tcp://10.99.0.2:7101") c.error = "crossfarm-scheduler did not start:\n" + c.sched->Log();
  return c;
}

TEST(ClusterNetnsTest, TwoWorkersOnSeparateHostsBuildWhatAnEmbeddedBuildBuilds) {
  TempTree dir("netns");
  fs::path d = dir.path();
  ClusterKeys keys(d);
  fs::path proj = d / "project";
  WriteFile(proj / "project.conf", "name: netns\nelement-path: elements\nvariables:\n  strip-binaries: \"\"\n"
                                   "environment:\n  PATH: /usr/bin:/bin\n");
  WriteFile(proj / "elements/busybox.bst",
            "kind: import\nsources:\n- kind: deb\n  arch: amd64\n  packages: [busybox-static]\n");
  fs::create_directories(proj / "files/links/usr/bin");
  for (const char* applet : {"sh", "echo", "mkdir", "cat", "sleep"})
    fs::create_symlink("busybox", proj / "files/links/usr/bin" / applet);
  WriteFile(proj / "elements/links.bst", "kind: import\nsources:\n- kind: local\n  path: files/links\n");
  WriteFile(proj / "elements/base.bst", "kind: stack\ndepends:\n- busybox.bst\n- links.bst\n");
  std::vector<std::string> parts = {"left", "right", "middle"};
  for (const auto& n : parts)
    WriteFile(proj / "elements" / (n + ".bst"),
              "kind: manual\nbuild-depends:\n- base.bst\nconfig:\n  build-commands:\n"
              "  - mkdir -p %{install-root}/share && echo " + n + " > %{install-root}/share/" + n +
              "\n  - sleep 1\n");
  WriteFile(proj / "elements/all.bst", "kind: stack\ndepends:\n- left.bst\n- right.bst\n- middle.bst\n");
  std::string cf = BuildBin("client/crossfarm") + " -C " + proj.string() + " --mirror-dir " + TestCache() + "/mirror";
  ASSERT_EQ(RunCmd(cf + " source track --save busybox.bst").exit_code, 0);

  Namespaces ns(std::to_string(::getpid() % 100000));
  ASSERT_EQ(ns.up().exit_code, 0) << ns.up().output;
  auto p = [&](const std::string& n) { return (d / n).string(); };
  CoreDaemons core = StartCore(ns, keys, d);
  ASSERT_TRUE(core.error.empty()) << core.error;
  Daemon& sched = *core.sched;
  std::vector<std::unique_ptr<Daemon>> workers;
  for (std::string w : {"w1", "w2"})
    workers.push_back(std::make_unique<Daemon>(
        ns.In(w, {BuildBin("worker/crossfarm-worker"), "--name", w, "--scheduler", "tcp://10.99.0.2:7101",
                  "--scheduler-key", keys.Path("sched.pub"), "--cas", "tcp://10.99.0.3:7100", "--cas-key",
                  keys.Path("cas.pub"), "--key", keys.Path(w + ".key"), "--slots", "1", "--cache",
                  p(w + "-cache"), "--heartbeat-ms", "200"}),
        p(w + ".out"), p(w + ".err")));
  std::string remote = cf + " --cache-dir " + p("client-cache") + " --remote tcp://10.99.0.2:7101 --remote-key " +
                       keys.Path("sched.pub") + " --key " + keys.Path("client.key");
  ASSERT_TRUE(WaitFor([&] {
    return RunCmd(remote + " status").output.find("workers: 2") != std::string::npos;
  }, 30s)) << sched.Log();
  auto build = RunCmd(remote + " build all.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output << sched.Log();
  EXPECT_NE(build.output.find("on w1"), std::string::npos) << build.output;
  EXPECT_NE(build.output.find("on w2"), std::string::npos) << build.output;

  auto local = RunCmd(cf + " --cache-dir " + p("embedded") + " build all.bst");
  ASSERT_EQ(local.exit_code, 0) << local.output;
  // The crossfarm run's cache service holds the store until it has been idle
  // for its linger time (docs/cas.md "Several commands on one cache").
  auto local_cas = cas::OpenCas(p("embedded") + "/cas", {.local = {.lock_wait = std::chrono::seconds(60)}});
  ASSERT_TRUE(local_cas);
  auto pair = cas::LoadSecretKey(keys.Path("client.key"));
  cas::CasOptions o;
  o.remote.server_public_key = *cas::LoadPublicKey(keys.Path("cas.pub"));
  o.remote.client_public_key = pair->public_key;
  o.remote.client_secret_key = pair->secret_key;
  auto remote_cas = cas::OpenCas("tcp://10.99.0.3:7100", o);
  ASSERT_TRUE(remote_cas);
  for (std::string e : {"busybox.bst", "base.bst", "left.bst", "right.bst", "middle.bst", "all.bst"}) {
    auto key = RunCmd(cf + " show --format '%{full-key}' " + e).output;
    key = key.substr(0, key.find('\n'));
    auto a = (*local_cas)->GetRef("artifacts/" + key);
    auto b = (*remote_cas)->GetRef("artifacts/" + key);
    ASSERT_TRUE(a && b) << e;
    EXPECT_EQ(a->root, b->root) << e;
  }
}

// Issue 7: a cluster with a native-only worker (`--emulate none`) and an
// emulating one. Every aarch64 job must go to the emulating worker and really
// run as aarch64; the native worker still takes x86_64 work.
TEST(ClusterNetnsTest, Aarch64JobsGoOnlyToTheEmulatingWorker) {
  TempTree dir("netns-emu");
  fs::path d = dir.path();
  ClusterKeys keys(d);
  fs::path proj = d / "project";
  WriteFile(proj / "project.conf", "name: netnsemu\nelement-path: elements\nvariables:\n  strip-binaries: \"\"\n"
                                   "environment:\n  PATH: /usr/bin:/bin\n");
  fs::create_directories(proj / "files/links/usr/bin");
  for (const char* applet : {"sh", "echo", "mkdir", "uname", "sleep"})
    fs::create_symlink("busybox", proj / "files/links/usr/bin" / applet);
  WriteFile(proj / "elements/links.bst", "kind: import\nsources:\n- kind: local\n  path: files/links\n");
  for (std::string deb : {"amd64", "arm64"}) {
    WriteFile(proj / "elements" / ("busybox-" + deb + ".bst"),
              "kind: import\nsources:\n- kind: deb\n  arch: " + deb + "\n  packages: [busybox-static]\n");
    WriteFile(proj / "elements" / ("base-" + deb + ".bst"),
              "kind: stack\ndepends:\n- busybox-" + deb + ".bst\n- links.bst\n");
  }
  // `sandbox: build-arch` is how an element tells the scheduler (before
  // anything is staged) which arch its sandbox runs: BuildStream 1.6's key.
  auto part = [&](const std::string& name, const std::string& deb, const std::string& arch) {
    WriteFile(proj / "elements" / (name + ".bst"),
              "kind: manual\nbuild-depends:\n- base-" + deb + ".bst\nsandbox:\n  build-arch: " + arch +
              "\nconfig:\n  build-commands:\n  - mkdir -p %{install-root}/share\n"
              "  - uname -m > %{install-root}/share/" + name + "\n  - sleep 1\n");
  };
  std::vector<std::string> arm = {"arm-a", "arm-b", "arm-c"}, x86 = {"x86-a", "x86-b", "x86-c"};
  for (const auto& n : arm) part(n, "arm64", "aarch64");
  for (const auto& n : x86) part(n, "amd64", "x86_64");
  std::string all = "kind: stack\ndepends:\n";
  for (const auto& n : arm) all += "- " + n + ".bst\n";
  for (const auto& n : x86) all += "- " + n + ".bst\n";
  WriteFile(proj / "elements/all.bst", all);
  std::string cf = BuildBin("client/crossfarm") + " -C " + proj.string() + " --mirror-dir " + TestCache() + "/mirror";
  auto tracked = RunCmd(cf + " source track --save busybox-amd64.bst busybox-arm64.bst");
  ASSERT_EQ(tracked.exit_code, 0) << tracked.output;
  ASSERT_EQ(RunCmd(BuildBin("client/crossfarm") + " setup binfmt").exit_code, 0);

  Namespaces ns(std::to_string(::getpid() % 100000 + 1), "sched cas native emu");
  ASSERT_EQ(ns.up().exit_code, 0) << ns.up().output;
  auto p = [&](const std::string& n) { return (d / n).string(); };
  CoreDaemons core = StartCore(ns, keys, d);
  ASSERT_TRUE(core.error.empty()) << core.error;
  Daemon& sched = *core.sched;
  auto worker = [&](const std::string& ns_name, const std::string& key, const std::string& emulate) {
    return std::make_unique<Daemon>(
        ns.In(ns_name, {BuildBin("worker/crossfarm-worker"), "--name", ns_name, "--scheduler",
                        "tcp://10.99.0.2:7101", "--scheduler-key", keys.Path("sched.pub"), "--cas",
                        "tcp://10.99.0.3:7100", "--cas-key", keys.Path("cas.pub"), "--key", keys.Path(key),
                        "--slots", "2", "--cache", p(ns_name + "-cache"), "--heartbeat-ms", "200", "--emulate",
                        emulate}),
        p(ns_name + ".out"), p(ns_name + ".err"));
  };
  auto native = worker("native", "w1.key", "none");
  auto emu = worker("emu", "w2.key", "aarch64");
  std::string remote = cf + " --cache-dir " + p("client-cache") + " --remote tcp://10.99.0.2:7101 --remote-key " +
                       keys.Path("sched.pub") + " --key " + keys.Path("client.key");
  ASSERT_TRUE(WaitFor([&] {
    return RunCmd(remote + " status").output.find("workers: 2") != std::string::npos;
  }, 30s)) << sched.Log() << native->Log() << emu->Log();
  auto build = RunCmd(remote + " build all.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output << sched.Log();

  // The DONE line of each element names the worker that built it.
  auto done_line = [&](const std::string& element) {
    auto pos = build.output.find("DONE   " + element + ".bst");
    if (pos == std::string::npos) return std::string();
    return build.output.substr(pos, build.output.find('\n', pos) - pos);
  };
  for (const auto& n : arm) {
    std::string line = done_line(n);
    EXPECT_NE(line.find("on emu"), std::string::npos) << n << ": " << line << "\n" << build.output;
    EXPECT_NE(line.find("aarch64 emulated"), std::string::npos) << line;
  }
  int on_native = 0;
  for (const auto& n : x86) {
    std::string line = done_line(n);
    ASSERT_FALSE(line.empty()) << n << "\n" << build.output;
    EXPECT_NE(line.find("x86_64 native"), std::string::npos) << line;
    on_native += line.find("on native") != std::string::npos;
  }
  EXPECT_GT(on_native, 0) << "the native worker took no x86_64 job:\n" << build.output;

  // The outputs say where they ran: uname in the sandbox reports its arch.
  auto remote_checkout = [&](const std::string& element, const std::string& file) {
    fs::path out = d / ("out-" + element);
    auto r = RunCmd(remote + " checkout " + element + ".bst " + out.string());
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return ReadFile(out / "share" / file);
  };
  EXPECT_EQ(remote_checkout("arm-a", "arm-a"), "aarch64\n");
  EXPECT_EQ(remote_checkout("x86-a", "x86-a"), "x86_64\n");
}

// Issue 8: a distcc pool across machines. An emulating worker builds an
// aarch64 element with `--accel distcc`; a native worker in another namespace
// offers cross-compile slots (--distcc-slots) and accepts only the emulating
// worker's address. The compile must go over the relay to that member, and a
// connection from anywhere else must be refused.
TEST(ClusterNetnsTest, EmulatedJobsCompileOnANativeWorkersDistccPool) {
  TempTree dir("netns-pool");
  fs::path d = dir.path();
  ClusterKeys keys(d);
  fs::path proj = d / "project";
  ASSERT_EQ(RunCmd("cp -a " + std::string(CROSSFARM_SOURCE_DIR) + "/examples/hello/. " + proj.string()).exit_code, 0);
  WriteFile(proj / "elements/objects.bst",
            "kind: manual\nbuild-depends:\n- base.bst\nsources:\n- kind: local\n  path: files/hello.c\n"
            "config:\n  build-commands:\n  - gcc -O2 -c hello.c -o hello.o\n  - gcc -o hello hello.o\n"
            "  install-commands:\n  - install -D -m 0755 hello %{install-root}/usr/bin/hello\n");
  std::string cf = BuildBin("client/crossfarm") + " -C " + proj.string() + " --mirror-dir " + TestCache() + "/mirror";
  auto tracked = RunCmd(cf + " source track --save base/arm64.bst accel/tools-debs.bst accel/cross-debs/aarch64.bst");
  ASSERT_EQ(tracked.exit_code, 0) << tracked.output;
  ASSERT_EQ(RunCmd(BuildBin("client/crossfarm") + " setup binfmt").exit_code, 0);

  // sched 10.99.0.2, cas .3, emu .4, pool .5
  Namespaces ns(std::to_string(::getpid() % 100000 + 2), "sched cas emu pool");
  ASSERT_EQ(ns.up().exit_code, 0) << ns.up().output;
  auto p = [&](const std::string& n) { return (d / n).string(); };
  CoreDaemons core = StartCore(ns, keys, d);
  ASSERT_TRUE(core.error.empty()) << core.error;
  Daemon& sched = *core.sched;
  std::vector<std::string> common = {"--scheduler", "tcp://10.99.0.2:7101", "--scheduler-key", keys.Path("sched.pub"),
                                     "--cas", "tcp://10.99.0.3:7100", "--cas-key", keys.Path("cas.pub"),
                                     "--heartbeat-ms", "200"};
  auto worker_argv = [&](const std::string& name, const std::string& key, std::vector<std::string> extra) {
    std::vector<std::string> argv = {BuildBin("worker/crossfarm-worker"), "--name", name, "--key", keys.Path(key),
                                     "--cache", p(name + "-cache")};
    argv.insert(argv.end(), common.begin(), common.end());
    argv.insert(argv.end(), extra.begin(), extra.end());
    return ns.In(name, argv);
  };
  Daemon emu(worker_argv("emu", "w1.key", {"--emulate", "aarch64", "--slots", "1"}), p("emu.out"), p("emu.err"));
  Daemon pool(worker_argv("pool", "w2.key",
                          {"--emulate", "none", "--slots", "1", "--distcc-slots", "2", "--distcc-address",
                           "10.99.0.5"}),
              p("pool.out"), p("pool.err"));
  std::string remote = cf + " --cache-dir " + p("client-cache") + " --remote tcp://10.99.0.2:7101 --remote-key " +
                       keys.Path("sched.pub") + " --key " + keys.Path("client.key") + " --arch aarch64";
  ASSERT_TRUE(WaitFor([&] {
    return RunCmd(remote + " status").output.find("workers: 2") != std::string::npos;
  }, 30s)) << sched.Log() << emu.Log() << pool.Log();

  auto build = RunCmd(remote + " --accel distcc build objects.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output << emu.Log() << pool.Log();
  auto log = RunCmd(remote + " --accel distcc log objects.bst");
  ASSERT_EQ(log.exit_code, 0) << log.output;
  EXPECT_NE(log.output.find("remote pool members pool (10.99.0.5)"), std::string::npos) << log.output;
  EXPECT_NE(log.output.find("relayed 1 compiles to pool members on other workers"), std::string::npos)
      << log.output;
  // The member's distccd did the compile (its log is on the member).
  std::string member_logs = RunCmd("cat " + p("pool-cache") + "/distcc-pool/distccd-*.log").output;
  EXPECT_NE(member_logs.find("COMPILE_OK"), std::string::npos) << member_logs << pool.Log();

  // The emulating worker got in by the scheduler's pool key (no address list
  // here); the root namespace (10.99.0.1), no worker of this scheduler, is
  // refused: it cannot answer the gateway's nonce.
  EXPECT_NE(pool.Log().find("distcc pool key"), std::string::npos) << pool.Log();
  RunCmd("timeout 5 bash -c 'exec 3<>/dev/tcp/10.99.0.5/3700 && printf \"crossfarm-distcc 1\\ncrossfarm-pool-auth 00\\n\" >&3 && cat <&3'");
  EXPECT_TRUE(WaitFor([&] {
    return pool.Log().find("refused connection from 10.99.0.1: it did not prove the cluster's pool key") !=
           std::string::npos;
  }, 5s)) << pool.Log();
}

}  // namespace
}  // namespace crossfarm::e2e
