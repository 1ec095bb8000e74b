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
  explicit Namespaces(const std::string& tag) : tag_(tag) {
    RunCmd(kNetns + " down " + tag_);
    up_ = RunCmd(kNetns + " up " + tag_ + " sched cas w1 w2");
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
  ASSERT_EQ(RunCmd(cf + " source track busybox.bst").exit_code, 0);

  Namespaces ns(std::to_string(::getpid() % 100000));
  ASSERT_EQ(ns.up().exit_code, 0) << ns.up().output;
  auto p = [&](const std::string& n) { return (d / n).string(); };
  Daemon cas(ns.In("cas", {BuildBin("cas/crossfarm-cas"), "--listen", "tcp://10.99.0.3:7100", "--dir",
                           p("cas-store"), "--key", keys.Path("cas.key"), "--allow", keys.Path("cas-allow")}),
             p("cas.out"), p("cas.err"));
  ASSERT_EQ(cas.Endpoint(), "tcp://10.99.0.3:7100") << cas.Log();
  Daemon sched(ns.In("sched", {BuildBin("scheduler/crossfarm-scheduler"), "--listen", "tcp://10.99.0.2:7101",
                               "--state", p("state"), "--key", keys.Path("sched.key"), "--clients",
                               keys.Path("clients"), "--workers", keys.Path("workers"), "--cas",
                               "tcp://10.99.0.3:7100", "--cas-key", keys.Path("cas.pub")}),
               p("sched.out"), p("sched.err"));
  ASSERT_EQ(sched.Endpoint(), "tcp://10.99.0.2:7101") << sched.Log();
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
  auto local_cas = cas::OpenCas(p("embedded") + "/cas");
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

}  // namespace
}  // namespace crossfarm::e2e
