// Deployment with ansible (issue 20), for real: Debian's ansible-core runs
// ansible/site.yml over SSH against three "machines" made on this one
// (tests/e2e/ansible_hosts.sh: a network namespace each, its own Debian root
// from one cached mmdebstrap tarball, its own sshd). Then the examples build
// through the deployed cluster natively and for aarch64, a second run changes
// nothing, and a worker added to the inventory joins without restarting the
// workers that were running.
//
// This machine's PID 1 is not systemd, so the inventory sets
// crossfarm_service_manager=script: the roles install the same unit files
// (packaging/systemd) and start them with crossfarm-service, which runs each
// unit's ExecStart command line (flags from its EnvironmentFile) as its User=.
// Needs root (namespaces, mounts) like the other Netns tests.
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <regex>

#include "tests/e2e/cluster_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kSource = CROSSFARM_SOURCE_DIR;
const std::string kHosts = kSource + "/tests/e2e/ansible_hosts.sh";

// The hosts of one test, removed even when the test fails.
class Hosts {
 public:
  Hosts(const std::string& tag, const fs::path& dir, const std::string& root_tar, const fs::path& pubkey)
      : tag_(tag) {
    RunCmd(kHosts + " down " + tag_);
    up_ = RunCmd(kHosts + " up " + tag_ + " " + dir.string() + " " + root_tar + " " + pubkey.string() +
                 " core native emu");
  }
  ~Hosts() { RunCmd(kHosts + " down " + tag_); }
  const CommandResult& up() const { return up_; }

 private:
  std::string tag_;
  CommandResult up_;
};

// The cached host root (tests/e2e/ansible_fixtures.sh makes it once).
std::string RootTarball(std::string* error) {
  auto r = RunCmd(kSource + "/tests/e2e/ansible_fixtures.sh");
  auto pos = r.output.rfind("ansible host root ready: ");
  if (r.exit_code != 0 || pos == std::string::npos) {
    *error = r.output;
    return "";
  }
  std::string path = r.output.substr(pos + 25);
  return path.substr(0, path.find('\n'));
}

// "core : ok=12 changed=3 unreachable=0 failed=0 ..." lines of the recap.
struct HostRecap {
  int changed = -1, unreachable = -1, failed = -1;
};
std::map<std::string, HostRecap> Recap(const std::string& output) {
  std::map<std::string, HostRecap> recap;
  std::regex line(R"((\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+))");
  auto begin = output.find("PLAY RECAP");
  if (begin == std::string::npos) return recap;
  std::string tail = output.substr(begin);
  for (std::sregex_iterator it(tail.begin(), tail.end(), line), end; it != end; ++it)
    recap[(*it)[1]] = {std::stoi((*it)[2]), std::stoi((*it)[3]), std::stoi((*it)[4])};
  return recap;
}

class AnsibleNetnsTest : public ::testing::Test {
 protected:
  // The inventory of the test cluster: core (10.99.0.2) holds the CAS and the
  // scheduler, native (.3) is a native worker and distcc pool member, emu
  // (.4) an emulating worker for aarch64. `core_worker` adds a third worker
  // on core. The hosts have no mirror: their packages are in the root.
  void WriteInventory(bool core_worker) {
    std::string d = dir_.path().string();
    WriteFile(dir_.path() / "inventory.yml",
              "all:\n  vars:\n"
              "    ansible_user: root\n"
              "    ansible_ssh_private_key_file: " + d + "/id\n"
              "    ansible_ssh_common_args: -o UserKnownHostsFile=" + d +
              "/known_hosts -o StrictHostKeyChecking=accept-new\n"
              "    crossfarm_cluster: test\n"
              "    crossfarm_keys_dir: " + d + "/keys\n"
              "    crossfarm_bin_dir: " + d + "/bin\n"
              "    crossfarm_service_manager: script\n"
              "    crossfarm_apt_update: false\n"
              "    crossfarm_clients: [ops]\n"
              "  children:\n"
              "    crossfarm_cas:\n      hosts:\n        core: {ansible_host: 10.99.0.2}\n"
              "    crossfarm_scheduler:\n      hosts:\n        core:\n"
              "    crossfarm_workers:\n      hosts:\n"
              "        native: {ansible_host: 10.99.0.3, crossfarm_worker_slots: 2}\n"
              "        emu: {ansible_host: 10.99.0.4, crossfarm_worker_slots: 2}\n" +
              std::string(core_worker ? "        core:\n" : "") +
              "    crossfarm_emulating:\n      hosts:\n        emu: {crossfarm_emulate_archs: [aarch64]}\n"
              "    crossfarm_distcc_pool:\n      hosts:\n        native: {crossfarm_distcc_slots: 2}\n");
  }
  CommandResult Playbook() {
    return RunCmd("cd " + kSource + "/ansible && ANSIBLE_CONFIG=" + kSource +
                  "/ansible/ansible.cfg ANSIBLE_NOCOLOR=1 ansible-playbook -i " +
                  (dir_.path() / "inventory.yml").string() + " site.yml");
  }
  CommandResult Ssh(const std::string& ip, const std::string& command) {
    return RunCmd("ssh -i " + (dir_.path() / "id").string() + " -o UserKnownHostsFile=" +
                  (dir_.path() / "known_hosts").string() + " -o StrictHostKeyChecking=accept-new root@" + ip +
                  " '" + command + "'");
  }
  std::string Pid(const std::string& ip, const std::string& unit) {
    std::string pid = Ssh(ip, "cat /run/crossfarm-service/" + unit + ".pid").output;
    return pid.substr(0, pid.find('\n'));
  }
  std::string Client() {
    fs::path k = dir_.path() / "keys";
    return BuildBin("client/crossfarm") + " -C " + (dir_.path() / "project").string() + " --cache-dir " +
           (dir_.path() / "client-cache").string() + " --mirror-dir " + TestCache() +
           "/mirror --remote tcp://10.99.0.2:7071 --remote-key " + (k / "scheduler.pub").string() + " --key " +
           (k / "client-ops.key").string();
  }
  bool WaitForWorkers(int n) {
    return WaitFor([&] {
      return RunCmd(Client() + " status").output.find("workers: " + std::to_string(n)) != std::string::npos;
    }, 60s);
  }

  TempTree dir_{"ansible"};
};

TEST_F(AnsibleNetnsTest, PlaybookDeploysAClusterThatBuildsTheExamplesAndRerunsChangeNothing) {
  const fs::path& d = dir_.path();
  std::string fixture_error;
  std::string root_tar = RootTarball(&fixture_error);
  ASSERT_FALSE(root_tar.empty()) << fixture_error;
  ASSERT_EQ(RunCmd("ssh-keygen -q -t ed25519 -N '' -f " + (d / "id").string()).exit_code, 0);
  // The control node's "installed" crossfarm: this build's binaries.
  fs::create_directories(d / "bin");
  for (std::string bin : {"client/crossfarm", "cas/crossfarm-cas", "scheduler/crossfarm-scheduler",
                          "worker/crossfarm-worker"})
    fs::create_symlink(BuildBin(bin), d / "bin" / fs::path(bin).filename());
  ASSERT_EQ(RunCmd("cp -a " + kSource + "/examples/hello/. " + (d / "project").string()).exit_code, 0);

  Hosts hosts(std::to_string(::getpid() % 100000 + 3), d / "hosts", root_tar, d / "id.pub");
  ASSERT_EQ(hosts.up().exit_code, 0) << hosts.up().output;
  WriteInventory(false);
  auto first = Playbook();
  ASSERT_EQ(first.exit_code, 0) << first.output;
  auto recap = Recap(first.output);
  for (std::string host : {"localhost", "core", "native", "emu"}) {
    ASSERT_TRUE(recap.contains(host)) << host << "\n" << first.output;
    EXPECT_EQ(recap[host].failed, 0) << host;
    EXPECT_EQ(recap[host].unreachable, 0) << host;
  }

  // Secrets: 0600 and owned by the daemon's user on the hosts, a 0700
  // directory on the control node.
  EXPECT_EQ(Ssh("10.99.0.2", "stat -c \"%n %a %U\" /etc/crossfarm/keys/cas.key /etc/crossfarm/keys/scheduler.key")
                .output,
            "/etc/crossfarm/keys/cas.key 600 crossfarm\n/etc/crossfarm/keys/scheduler.key 600 crossfarm\n");
  EXPECT_EQ(Ssh("10.99.0.4", "stat -c \"%a %U\" /etc/crossfarm/keys/worker.key").output, "600 root\n");
  EXPECT_EQ(RunCmd("stat -c %a " + (d / "keys").string()).output, "700\n");
  // The allow lists come from the inventory: each worker pinned to its name.
  std::string workers = Ssh("10.99.0.2", "cat /etc/crossfarm/scheduler-workers").output;
  std::string emu_pub = ReadFile(d / "keys/worker-emu.pub");
  EXPECT_NE(workers.find(emu_pub.substr(0, emu_pub.find('\n')) + " worker name=emu"), std::string::npos)
      << workers;
  // The daemons run their units' command lines, as the units' users.
  std::string cas_pid = Pid("10.99.0.2", "crossfarm-cas");
  EXPECT_EQ(Ssh("10.99.0.2", "tr \"\\0\" \" \" < /proc/" + cas_pid + "/cmdline; echo; stat -c %U /proc/" + cas_pid).output,
            "/usr/local/bin/crossfarm-cas --listen tcp://10.99.0.2:7070 --dir /var/lib/crossfarm/cas --quota 0 "
            "--key /etc/crossfarm/keys/cas.key --allow /etc/crossfarm/cas-allow \ncrossfarm\n");

  // The examples, natively and for aarch64, through the deployed cluster.
  ASSERT_TRUE(WaitForWorkers(2)) << RunCmd(Client() + " status").output
                                 << Ssh("10.99.0.4", "cat /var/log/crossfarm/*.log").output;
  auto build = RunCmd(Client() + " --arch x86_64,aarch64 build --track-all hello.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output << Ssh("10.99.0.4", "cat /var/log/crossfarm/*.log").output;
  std::regex arm_on_emu(R"(DONE +hello\.bst[^\n]*aarch64 emulated[^\n]* on emu)");
  std::regex x86_native(R"(DONE +hello\.bst[^\n]*x86_64 native)");
  EXPECT_TRUE(std::regex_search(build.output, arm_on_emu)) << build.output;
  EXPECT_TRUE(std::regex_search(build.output, x86_native)) << build.output;
  fs::path arm = d / "out-arm";
  auto co = RunCmd(Client() + " --arch aarch64 checkout hello.bst " + arm.string());
  ASSERT_EQ(co.exit_code, 0) << co.output;
  EXPECT_NE(RunCmd("file " + (arm / "usr/bin/hello").string()).output.find("ARM aarch64"), std::string::npos);

  // Idempotent: nothing changes on a second run.
  auto second = Playbook();
  ASSERT_EQ(second.exit_code, 0) << second.output;
  for (const auto& [host, r] : Recap(second.output)) EXPECT_EQ(r.changed, 0) << host << "\n" << second.output;
  EXPECT_EQ(Recap(second.output).size(), 4u) << second.output;

  // A worker added to the inventory joins; running workers keep running.
  std::string native_pid = Pid("10.99.0.3", "crossfarm-worker"), emu_pid = Pid("10.99.0.4", "crossfarm-worker");
  ASSERT_FALSE(native_pid.empty());
  WriteInventory(true);
  auto third = Playbook();
  ASSERT_EQ(third.exit_code, 0) << third.output;
  EXPECT_EQ(Recap(third.output)["native"].changed, 0) << third.output;
  EXPECT_EQ(Recap(third.output)["emu"].changed, 0) << third.output;
  EXPECT_EQ(Pid("10.99.0.3", "crossfarm-worker"), native_pid);
  EXPECT_EQ(Pid("10.99.0.4", "crossfarm-worker"), emu_pid);
  EXPECT_TRUE(WaitForWorkers(3)) << RunCmd(Client() + " status").output;
}

// A wrong inventory stops the playbook on the control node, before any host
// is contacted, with one message naming the inventory and the fix.
TEST(AnsibleInventoryTest, AWrongInventoryIsRefusedBeforeAnyHostIsTouched) {
  TempTree dir("inventory");
  std::string example = ReadFile(kSource + "/ansible/inventory/example.yml");
  struct Case { std::string from, to, message; };
  for (const Case& c : {Case{"build2: {crossfarm_emulate_archs: [aarch64, s390x]}",
                             "build2: {crossfarm_emulate_archs: [arm64]}",
                             "crossfarm_emulate_archs of build2 holds arm64"},
                        Case{"build1: {crossfarm_distcc_slots: 8}", "build9: {crossfarm_distcc_slots: 8}",
                             "build9 is in crossfarm_emulating or crossfarm_distcc_pool but not in "
                             "crossfarm_workers; add it to crossfarm_workers"},
                        Case{"    crossfarm_scheduler:\n      hosts:\n        store1:\n", "",
                             "groups crossfarm_cas and crossfarm_scheduler must hold one host each"}}) {
    std::string text = example;
    auto pos = text.find(c.from);
    ASSERT_NE(pos, std::string::npos) << c.from;
    text.replace(pos, c.from.size(), c.to);
    fs::path inventory = dir.path() / "bad.yml";
    WriteFile(inventory, text);
    auto run = RunCmd("cd " + kSource + "/ansible && ANSIBLE_CONFIG=" + kSource +
                      "/ansible/ansible.cfg ANSIBLE_NOCOLOR=1 ansible-playbook -i " + inventory.string() +
                      " -e crossfarm_keys_dir=" + (dir.path() / "keys").string() + " site.yml");
    EXPECT_NE(run.exit_code, 0) << run.output;
    EXPECT_NE(run.output.find(inventory.string() + ": " + c.message), std::string::npos) << run.output;
    EXPECT_FALSE(fs::exists(dir.path() / "keys")) << "keys made before the inventory was checked";
    EXPECT_EQ(run.output.find("PLAY [Content-addressed store]"), std::string::npos) << run.output;
  }
}

// The units pass `systemd-analyze verify` (offline: PID 1 need not be
// systemd). Their ExecStart names /usr/local/bin, where the roles install
// the binaries; here it names this build's binaries instead.
TEST(AnsibleUnitsTest, SystemdAnalyzeVerifyIsClean) {
  TempTree dir("units");
  for (std::string unit : {"crossfarm-cas", "crossfarm-scheduler", "crossfarm-worker"}) {
    std::string text = ReadFile(kSource + "/packaging/systemd/" + unit + ".service");
    ASSERT_FALSE(text.empty()) << unit;
    std::string installed = "/usr/local/bin/" + unit;
    auto pos = text.find("ExecStart=" + installed);
    ASSERT_NE(pos, std::string::npos) << unit;
    std::string sub = unit.substr(10);  // cas, scheduler, worker
    text.replace(pos + 10, installed.size(), BuildBin(sub + "/" + unit));
    WriteFile(dir.path() / (unit + ".service"), text);
    auto verify = RunCmd("systemd-analyze verify --man=no " + (dir.path() / (unit + ".service")).string());
    EXPECT_EQ(verify.exit_code, 0) << unit << ":\n" << verify.output;
    EXPECT_EQ(verify.output, "") << unit;
  }
}

}  // namespace
}  // namespace crossfarm::e2e
