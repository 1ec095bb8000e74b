// The worker side of acceleration (worker/accel.h) on synthetic trees, and the
// private network namespace of the distcc pool (needs root).
#include "worker/accel.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "common/accel.h"
#include "common/arch.h"
#include "common/digest.h"
#include "tests/worker/elf_fixture.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;

void Write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Symlink(const std::string& target, const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  fs::create_symlink(target, path);
}

bool IsSymlink(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

bool Exists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

ino_t Inode(const std::string& path) {
  struct stat st{};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

// root: an "arm" root; accel: an "x86" accelerator; cache: a file the root's
// sed is hard-linked from (as staging from the artifact cache does).
struct Trees {
  TempDir dir;
  std::string root, accel, cache;
};

Trees MakeTrees() {
  auto d = TempDir::Create();
  EXPECT_TRUE(d.has_value());
  Trees t{std::move(*d), "", "", ""};
  std::string base = fs::canonical(t.dir.path()).string();
  t.root = base + "/root";
  t.accel = base + "/accel";
  t.cache = base + "/cache";
  Write(t.cache + "/sed", "arm");
  fs::create_directories(t.root + "/usr/bin");
  fs::create_hard_link(t.cache + "/sed", t.root + "/usr/bin/sed");
  Write(t.root + "/usr/bin/uname", "arm-uname");
  Symlink("usr/bin", t.root + "/bin");
  fs::create_directories(t.root + "/usr/share/doc/y");
  Symlink("y", t.root + "/usr/share/doc/x");

  Write(t.accel + "/usr/bin/sed", "x86");
  Write(t.accel + "/usr/bin/uname", "x86-uname");
  Write(t.accel + "/usr/bin/extra", "x86-extra");
  Write(t.accel + "/usr/lib/x86_64-linux-gnu/libc.so.6", "x86-libc");
  Write(t.accel + "/usr/lib/x86_64-linux-gnu/ld.so", "x86-ld");
  Symlink("../lib/x86_64-linux-gnu/ld.so", t.accel + "/usr/lib64/ld-linux-x86-64.so.2");
  Write(t.accel + "/usr/share/doc/x/file", "x86-doc");
  return t;
}

AccelSpec Spec(bool substitute_tools) {
  AccelSpec spec;
  spec.host_arch = "x86_64";
  spec.target_arch = "aarch64";
  spec.triplet = "aarch64-linux-gnu";
  spec.cc = "/usr/bin/aarch64-linux-gnu-gcc-12";
  spec.substitute_tools = substitute_tools;
  spec.host_paths = {"/usr/lib/x86_64-linux-gnu", "/usr/lib64/ld-linux-x86-64.so.2", "/usr/share/doc"};
  spec.host_tools = {"/usr/bin/*"};
  return spec;
}

TEST(StageAcceleratorTest, ReplacesToolsAndAddsHostPaths) {
  Trees t = MakeTrees();
  ino_t cache_inode = Inode(t.cache + "/sed");
  ASSERT_EQ(Inode(t.root + "/usr/bin/sed"), cache_inode);
  auto report = StageAccelerator(t.root, t.accel, Spec(true));
  ASSERT_TRUE(report.has_value()) << report.error().ToString();

  // sed: the accelerator's now, the original inode untouched.
  EXPECT_EQ(Read(t.root + "/usr/bin/sed"), "x86");
  EXPECT_EQ(report->replaced, std::vector<std::string>{"/usr/bin/sed"});
  EXPECT_EQ(Read(t.cache + "/sed"), "arm");
  EXPECT_NE(Inode(t.root + "/usr/bin/sed"), cache_inode);
  // uname: matched by the glob, refused, the root's own kept.
  EXPECT_EQ(report->refused, std::vector<std::string>{"/usr/bin/uname"});
  EXPECT_EQ(Read(t.root + "/usr/bin/uname"), "arm-uname");
  // extra: the root lacked it, so it still does.
  EXPECT_FALSE(Exists(t.root + "/usr/bin/extra"));
  // The root's own symlinks stay symlinks.
  EXPECT_TRUE(IsSymlink(t.root + "/bin"));
  EXPECT_TRUE(IsSymlink(t.root + "/usr/share/doc/x"));

  // host-paths: the libraries and the loader link are new in the root.
  EXPECT_EQ(Read(t.root + "/usr/lib/x86_64-linux-gnu/libc.so.6"), "x86-libc");
  EXPECT_EQ(Read(t.root + "/usr/lib/x86_64-linux-gnu/ld.so"), "x86-ld");
  ASSERT_TRUE(IsSymlink(t.root + "/usr/lib64/ld-linux-x86-64.so.2"));
  EXPECT_EQ(fs::read_symlink(t.root + "/usr/lib64/ld-linux-x86-64.so.2").string(),
            "../lib/x86_64-linux-gnu/ld.so");
  // Nothing went through the root's usr/share/doc/x -> y.
  EXPECT_FALSE(Exists(t.root + "/usr/share/doc/y/file"));
  EXPECT_TRUE(fs::is_empty(t.root + "/usr/share/doc/y"));
  // New: the x86_64-linux-gnu dir, libc.so.6, ld.so and the lib64 link.
  EXPECT_EQ(report->added, 4u);
  // The accelerator itself is not changed.
  EXPECT_EQ(Read(t.accel + "/usr/bin/sed"), "x86");
  EXPECT_EQ(Read(t.accel + "/usr/bin/uname"), "x86-uname");
  EXPECT_FALSE(Exists(t.accel + "/usr/share/doc/y"));
}

TEST(StageAcceleratorTest, WithoutSubstituteToolsNothingIsReplaced) {
  Trees t = MakeTrees();
  auto report = StageAccelerator(t.root, t.accel, Spec(false));
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_TRUE(report->replaced.empty());
  EXPECT_TRUE(report->refused.empty());
  EXPECT_EQ(Read(t.root + "/usr/bin/sed"), "arm");
  EXPECT_EQ(Inode(t.root + "/usr/bin/sed"), Inode(t.cache + "/sed"));
  EXPECT_EQ(Read(t.root + "/usr/bin/uname"), "arm-uname");
  EXPECT_FALSE(Exists(t.root + "/usr/bin/extra"));
  // host-paths are still added.
  EXPECT_EQ(Read(t.root + "/usr/lib/x86_64-linux-gnu/libc.so.6"), "x86-libc");
  EXPECT_TRUE(IsSymlink(t.root + "/usr/lib64/ld-linux-x86-64.so.2"));
  EXPECT_EQ(report->added, 4u);
}

TEST(StageAcceleratorTest, ExistingRootEntriesAreNeverReplacedByHostPaths) {
  Trees t = MakeTrees();
  Write(t.root + "/usr/lib/x86_64-linux-gnu/libc.so.6", "root-libc");
  auto report = StageAccelerator(t.root, t.accel, Spec(false));
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(Read(t.root + "/usr/lib/x86_64-linux-gnu/libc.so.6"), "root-libc");
  EXPECT_EQ(Read(t.root + "/usr/lib/x86_64-linux-gnu/ld.so"), "x86-ld");  // merged in
  EXPECT_EQ(report->added, 2u);  // ld.so and the lib64 link
}

TEST(StageAcceleratorTest, ExplicitToolsAndMissingHostPaths) {
  Trees t = MakeTrees();
  AccelSpec spec = Spec(true);
  // Named through the root's /bin -> usr/bin link, and twice.
  spec.host_tools = {"/bin/sed", "/usr/bin/sed", "/usr/bin/extra"};
  spec.host_paths = {"/usr/bin/distcc", "/opt/none/at/all"};  // not in the accelerator
  auto report = StageAccelerator(t.root, t.accel, spec);
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->replaced, std::vector<std::string>{"/usr/bin/sed"});
  EXPECT_EQ(Read(t.root + "/usr/bin/sed"), "x86");
  EXPECT_TRUE(IsSymlink(t.root + "/bin"));
  EXPECT_FALSE(Exists(t.root + "/usr/bin/extra"));
  EXPECT_FALSE(Exists(t.root + "/usr/bin/distcc"));
  EXPECT_FALSE(Exists(t.root + "/opt"));
  EXPECT_EQ(report->added, 0u);
}

TEST(StageAcceleratorTest, TreesNamedThroughASymlinkOrRelatively) {
  // A cache directory reached through a symlink (or given relative) names the
  // root and the checkout by a path that is not their canonical one.
  Trees t = MakeTrees();
  std::string via = fs::path(t.root).parent_path().string() + "/via";
  Symlink(".", via);
  auto report = StageAccelerator(via + "/root", via + "/accel", Spec(true));
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->replaced, std::vector<std::string>{"/usr/bin/sed"});
  EXPECT_EQ(Read(t.root + "/usr/bin/sed"), "x86");
  EXPECT_EQ(Read(t.root + "/usr/lib/x86_64-linux-gnu/libc.so.6"), "x86-libc");
  EXPECT_EQ(report->added, 4u);
}

// The host tools' loader (PT_INTERP) in roots shaped like Debian's: the
// accelerator is merged-/usr amd64 (lib64 -> usr/lib64, whose loader link
// points at /lib/x86_64-linux-gnu), the root an arm64 one, by default as
// mmdebstrap makes it: /lib -> usr/lib but no /lib64.
constexpr const char* kLoader = "/lib64/ld-linux-x86-64.so.2";

Trees MakeLoaderTrees(const std::string& loader_link = "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2") {
  auto d = TempDir::Create();
  EXPECT_TRUE(d.has_value());
  Trees t{std::move(*d), "", "", ""};
  std::string base = fs::canonical(t.dir.path()).string();
  t.root = base + "/root";
  t.accel = base + "/accel";
  Write(t.root + "/usr/bin/sed", "arm-sed");
  Write(t.root + "/usr/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1", "arm-ld");
  Symlink("usr/lib", t.root + "/lib");
  Symlink("usr/bin", t.root + "/bin");

  Write(t.accel + "/usr/bin/sed", testing::ProgramWithInterpreter(kLoader));
  ::chmod((t.accel + "/usr/bin/sed").c_str(), 0755);
  Write(t.accel + "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "x86-ld");
  Symlink(loader_link, t.accel + "/usr/lib64/ld-linux-x86-64.so.2");
  Symlink("usr/lib", t.accel + "/lib");
  Symlink("usr/lib64", t.accel + "/lib64");
  return t;
}

AccelSpec LoaderSpec() {
  AccelSpec spec = Spec(true);
  spec.host_paths = {"/usr/lib/x86_64-linux-gnu", "/usr/lib64/ld-linux-x86-64.so.2"};
  spec.host_tools = {"/usr/bin/sed"};
  return spec;
}

// Whether the kernel would find the loader: the path resolves inside the root.
bool LoaderResolves(const std::string& root) {
  auto fd = OpenInRoot(root, kLoader, O_RDONLY);
  if (!fd) return false;
  char buf[16] = {};
  return ::read(fd->get(), buf, sizeof buf) == 6 && std::string(buf) == "x86-ld";
}

TEST(StageAcceleratorLoaderTest, ARootWithoutLib64GetsTheAcceleratorsLink) {
  Trees t = MakeLoaderTrees();
  auto report = StageAccelerator(t.root, t.accel, LoaderSpec());
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->unusable, "");
  EXPECT_EQ(report->replaced, std::vector<std::string>{"/usr/bin/sed"});
  ASSERT_TRUE(IsSymlink(t.root + "/lib64"));
  EXPECT_EQ(fs::read_symlink(t.root + "/lib64").string(), "usr/lib64");
  EXPECT_EQ(report->loader_paths, std::vector<std::string>{"/lib64 -> usr/lib64"});
  EXPECT_TRUE(LoaderResolves(t.root));
  // The root's own links are untouched; nothing went into its arm64 dirs.
  EXPECT_EQ(fs::read_symlink(t.root + "/lib").string(), "usr/lib");
  EXPECT_FALSE(Exists(t.root + "/usr/lib/aarch64-linux-gnu/ld-linux-x86-64.so.2"));
}

TEST(StageAcceleratorLoaderTest, ARootThatHasTheLoaderPathGetsNothingMore) {
  // The example's base (deb sources create lib64 -> usr/lib64 on any arch).
  Trees t = MakeLoaderTrees();
  Symlink("usr/lib64", t.root + "/lib64");
  auto report = StageAccelerator(t.root, t.accel, LoaderSpec());
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->unusable, "");
  EXPECT_TRUE(report->loader_paths.empty());
  EXPECT_EQ(report->replaced, std::vector<std::string>{"/usr/bin/sed"});
  EXPECT_TRUE(LoaderResolves(t.root));
}

TEST(StageAcceleratorLoaderTest, ARealLib64DirGetsTheLoaderAsTheAcceleratorHasIt) {
  // The accelerator's link is relative to its /usr/lib64: named absolutely
  // in the root's /lib64, where the same text would point elsewhere.
  Trees t = MakeLoaderTrees("../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
  fs::create_directories(t.root + "/lib64");
  Write(t.root + "/lib64/other", "root-file");
  auto report = StageAccelerator(t.root, t.accel, LoaderSpec());
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->unusable, "");
  EXPECT_FALSE(IsSymlink(t.root + "/lib64"));
  EXPECT_EQ(fs::read_symlink(t.root + "/lib64/ld-linux-x86-64.so.2").string(),
            "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
  EXPECT_EQ(Read(t.root + "/lib64/other"), "root-file");
  EXPECT_TRUE(LoaderResolves(t.root));
}

TEST(StageAcceleratorLoaderTest, ALib64FileMakesTheRootUnusableAndNothingIsReplaced) {
  Trees t = MakeLoaderTrees();
  Write(t.root + "/lib64", "not a directory");
  auto report = StageAccelerator(t.root, t.accel, LoaderSpec());
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->unusable, std::string("the host tools' loader ") + kLoader +
                                  " cannot be provided: /lib64 in the root is a file, not a directory");
  EXPECT_TRUE(report->replaced.empty());
  EXPECT_EQ(Read(t.root + "/usr/bin/sed"), "arm-sed");
  EXPECT_EQ(Read(t.root + "/lib64"), "not a directory");
}

TEST(StageAcceleratorLoaderTest, ALib64LinkElsewhereIsNeverWrittenThrough) {
  Trees t = MakeLoaderTrees();
  Symlink("usr/lib/aarch64-linux-gnu", t.root + "/lib64");
  auto report = StageAccelerator(t.root, t.accel, LoaderSpec());
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_NE(report->unusable.find("/lib64 in the root is a symlink to usr/lib/aarch64-linux-gnu, "
                                  "where there is no ld-linux-x86-64.so.2"),
            std::string::npos)
      << report->unusable;
  EXPECT_TRUE(report->replaced.empty());
  EXPECT_EQ(Read(t.root + "/usr/bin/sed"), "arm-sed");
  EXPECT_FALSE(Exists(t.root + "/usr/lib/aarch64-linux-gnu/ld-linux-x86-64.so.2"));
  EXPECT_EQ(fs::read_symlink(t.root + "/lib64").string(), "usr/lib/aarch64-linux-gnu");
}

TEST(StageAcceleratorLoaderTest, AnAcceleratorWithoutTheLoaderIsUnusable) {
  Trees t = MakeLoaderTrees();
  fs::remove(t.accel + "/usr/lib64/ld-linux-x86-64.so.2");
  auto report = StageAccelerator(t.root, t.accel, LoaderSpec());
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_NE(report->unusable.find("the accelerator has no /usr/lib64/ld-linux-x86-64.so.2"), std::string::npos)
      << report->unusable;
  EXPECT_TRUE(report->replaced.empty());
}

TEST(StageAcceleratorLoaderTest, HostPathProgramsNeedTheLoaderToo) {
  // --accel distcc: no tool replaces the root's, but the distcc client added
  // as a host-path runs in the root all the same.
  Trees t = MakeLoaderTrees();
  Write(t.accel + "/usr/bin/distcc", testing::ProgramWithInterpreter(kLoader));
  ::chmod((t.accel + "/usr/bin/distcc").c_str(), 0755);
  AccelSpec spec = LoaderSpec();
  spec.substitute_tools = false;
  spec.host_paths.push_back("/usr/bin/distcc");
  auto report = StageAccelerator(t.root, t.accel, spec);
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->unusable, "");
  EXPECT_TRUE(report->replaced.empty());
  EXPECT_EQ(report->loader_paths, std::vector<std::string>{"/lib64 -> usr/lib64"});
  EXPECT_TRUE(LoaderResolves(t.root));
}

TEST(MachineEnvironmentTest, Aarch64AndS390x) {
  auto aarch64 = LookupArch("aarch64");
  ASSERT_TRUE(aarch64.has_value());
  using Env = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(MachineEnvironment(**aarch64), (Env{{"MAKE_HOST", "aarch64-unknown-linux-gnu"},
                                                {"HOSTTYPE", "aarch64"},
                                                {"MACHTYPE", "aarch64-unknown-linux-gnu"}}));
  auto s390x = LookupArch("s390x");
  ASSERT_TRUE(s390x.has_value());
  EXPECT_EQ(MachineEnvironment(**s390x), (Env{{"MAKE_HOST", "s390x-ibm-linux-gnu"},
                                              {"HOSTTYPE", "s390x"},
                                              {"MACHTYPE", "s390x-ibm-linux-gnu"}}));
}

TEST(UsesGuardedFlagTest, CommandsAndEnvironment) {
  const std::vector<std::string> guarded = {"-march=native", "-fstack-protector"};
  JobSpec spec;
  spec.phases = {{"configure", {"./configure --prefix=/usr"}},
                 {"build", {"make", "gcc -O2 -c x.c"}}};
  spec.environment = {{"CFLAGS", "-O2 -g"}, {"PATH", "/usr/bin:/bin"}};
  EXPECT_FALSE(UsesGuardedFlag(spec, guarded));

  JobSpec cmd = spec;
  cmd.phases[1].second.push_back("gcc -O2 -fstack-protector-strong -c y.c");
  EXPECT_TRUE(UsesGuardedFlag(cmd, guarded));
  EXPECT_FALSE(UsesGuardedFlag(cmd, {"-march=native"}));
  EXPECT_FALSE(UsesGuardedFlag(cmd, {}));

  JobSpec env = spec;
  env.environment["CFLAGS"] = "-O2 -fstack-protector-strong";
  EXPECT_TRUE(UsesGuardedFlag(env, guarded));
  // Only values count, not names.
  JobSpec name = spec;
  name.environment["-fstack-protector"] = "1";
  EXPECT_FALSE(UsesGuardedFlag(name, guarded));
}

ino_t ThreadNetns() {
  struct stat st{};
  EXPECT_EQ(::stat("/proc/thread-self/ns/net", &st), 0);
  return st.st_ino;
}

bool ConnectLoopback(uint16_t port) {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
}

std::vector<std::string> Interfaces() {
  std::vector<std::string> out;
  struct if_nameindex* list = ::if_nameindex();
  if (!list) return out;
  for (auto* i = list; i->if_index != 0; ++i) out.push_back(i->if_name);
  ::if_freenameindex(list);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(PrivateNetworkTest, OnlyLoopbackAndIsolated) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN)";
  auto net = PrivateNetwork::Create();
  ASSERT_TRUE(net.has_value()) << net.error().ToString();
  struct stat ns_st{};
  ASSERT_EQ(::fstat(net->fd(), &ns_st), 0);
  ino_t outside = ThreadNetns();
  EXPECT_NE(ns_st.st_ino, outside);
  // The host has more than lo (or at least the comparison below is meaningful).
  std::vector<std::string> host_ifs = Interfaces();

  std::promise<uint16_t> port_promise;
  std::promise<void> tried_outside;
  std::future<uint16_t> port_future = port_promise.get_future();
  std::future<void> tried = tried_outside.get_future();
  struct Seen {
    ino_t before = 0, inside = 0, after = 0;
    std::vector<std::string> ifs;
    bool lo_up = false, listening = false, connected_inside = false;
    std::string error;
  } seen;
  std::thread t([&] {
    seen.before = ThreadNetns();
    uint16_t port = 0;
    {
      auto scope = NetnsScope::Enter(net->fd());
      if (!scope) {
        seen.error = scope.error().ToString();
        port_promise.set_value(0);
        return;
      }
      seen.inside = ThreadNetns();
      seen.ifs = Interfaces();
      UniqueFd probe(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      struct ifreq ifr{};
      std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
      seen.lo_up = probe.valid() && ::ioctl(probe.get(), SIOCGIFFLAGS, &ifr) == 0 &&
                   (ifr.ifr_flags & IFF_UP) != 0;
      UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = 0;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      socklen_t len = sizeof(addr);
      seen.listening = listener.valid() &&
                       ::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                       ::listen(listener.get(), 4) == 0 &&
                       ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0;
      port = ntohs(addr.sin_port);
      seen.connected_inside = seen.listening && ConnectLoopback(port);
      port_promise.set_value(seen.listening ? port : 0);
      tried.wait();  // keep listening while the main thread tries from outside
    }
    seen.after = ThreadNetns();
  });
  uint16_t port = port_future.get();
  bool connected_outside = port != 0 && ConnectLoopback(port);
  tried_outside.set_value();
  t.join();

  ASSERT_EQ(seen.error, "");
  EXPECT_EQ(seen.inside, ns_st.st_ino);
  EXPECT_NE(seen.inside, seen.before);
  EXPECT_EQ(seen.ifs, std::vector<std::string>{"lo"}) << "host has " << host_ifs.size();
  EXPECT_TRUE(seen.lo_up);
  ASSERT_TRUE(seen.listening);
  EXPECT_NE(port, 0);
  EXPECT_TRUE(seen.connected_inside);
  EXPECT_FALSE(connected_outside);
  EXPECT_EQ(seen.before, outside);
  EXPECT_EQ(seen.after, seen.before);
  // The main thread never moved.
  EXPECT_EQ(ThreadNetns(), outside);
}

TEST(PrivateNetworkTest, EachCreateIsANewNamespace) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN)";
  auto a = PrivateNetwork::Create();
  auto b = PrivateNetwork::Create();
  ASSERT_TRUE(a.has_value()) << a.error().ToString();
  ASSERT_TRUE(b.has_value()) << b.error().ToString();
  struct stat sa{}, sb{};
  ASSERT_EQ(::fstat(a->fd(), &sa), 0);
  ASSERT_EQ(::fstat(b->fd(), &sb), 0);
  EXPECT_NE(sa.st_ino, sb.st_ino);
  EXPECT_NE(sa.st_ino, ThreadNetns());
}

// --- the pool gateway lets in only the cluster's workers ---

UniqueFd DialLoopback(uint16_t port) {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!s.valid() || ::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return UniqueFd();
  timeval tv{.tv_sec = 5, .tv_usec = 0};
  ::setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return s;
}

bool SendAll(int fd, const std::string& data) {
  return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
}

// One line without its newline; nullopt at EOF (or after 5 s).
std::optional<std::string> RecvLine(int fd) {
  std::string line;
  char c;
  while (::recv(fd, &c, 1, 0) == 1) {
    if (c == '\n') return line;
    line += c;
  }
  return std::nullopt;
}

// True when the peer closes the connection (recv sees EOF) within 5 s.
bool ClosedByPeer(int fd) {
  char c;
  return ::recv(fd, &c, 1, 0) == 0;
}

// Waits up to 5 s for `counter` to reach `want`.
bool Reaches(const std::function<size_t()>& counter, size_t want) {
  for (int i = 0; i < 500 && counter() < want; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return counter() == want;
}

constexpr const char* kNoncePrefix = "crossfarm-pool-nonce ";

struct GatewayUnderTest {
  TempDir dir = std::move(*TempDir::Create());
  Sandbox sandbox;
  PoolKey key;
  std::atomic<size_t> checkouts{0};
  std::unique_ptr<PoolGateway> gateway;
  std::string header = PoolHeader(Digest::OfBytes("accel"), AccelSpec{.host_arch = "x86_64",
                                                                     .triplet = "aarch64-linux-gnu",
                                                                     .cc = "/usr/bin/aarch64-linux-gnu-gcc-12"},
                                  false);
  std::string line = header.substr(0, header.size() - 1);

  Status Start(std::vector<std::string> allow) {
    PoolGateway::Options o{.address = "127.0.0.1", .port = 0, .allow = std::move(allow), .key = &key,
                           .slots = 1, .work_dir = dir.path() + "/pool"};
    // A request that gets this far would stage the accelerator: counted, then refused.
    auto g = PoolGateway::Start(sandbox, o, [this](const Digest&) -> Result<std::string> {
      ++checkouts;
      return Err(Status::NotFound("no accelerator in this test"));
    });
    if (!g) return g.error();
    gateway = std::move(*g);
    return Status::Ok();
  }
};

TEST(PoolGatewayTest, LetsInOnlyPeersThatProveThePoolKey) {
  GatewayUnderTest t;
  auto k = NewPoolKey();
  ASSERT_TRUE(k.has_value());
  t.key.Set(*k);
  ASSERT_TRUE(t.Start({}).ok());
  ASSERT_NE(t.gateway->port(), 0);
  auto authenticated = [&] { return t.gateway->authenticated(); };
  auto refused = [&] { return t.gateway->refused(); };

  // A worker: answers this connection's nonce with the key.
  UniqueFd good = DialLoopback(t.gateway->port());
  ASSERT_TRUE(good.valid());
  auto nonce = RecvLine(good.get());
  ASSERT_TRUE(nonce && nonce->starts_with(kNoncePrefix)) << nonce.value_or("EOF");
  std::string first_nonce = nonce->substr(std::strlen(kNoncePrefix));
  // The answer, then the relay's own nonce (worker/pool_crypto.h).
  std::string good_answer = "crossfarm-pool-auth " + PoolAuth(*k, first_nonce, t.line) + " 00ff";
  ASSERT_TRUE(SendAll(good.get(), t.header + good_answer + "\n"));
  EXPECT_TRUE(ClosedByPeer(good.get()));  // the test's checkout fails after that
  EXPECT_TRUE(Reaches(authenticated, 1));
  EXPECT_EQ(t.checkouts.load(), 1u);

  // Someone with another key, and someone replaying the worker's answer:
  // closed before anything is staged.
  UniqueFd other = DialLoopback(t.gateway->port());
  nonce = RecvLine(other.get());
  ASSERT_TRUE(nonce && nonce->starts_with(kNoncePrefix));
  EXPECT_NE(nonce->substr(std::strlen(kNoncePrefix)), first_nonce);  // fresh per connection
  ASSERT_TRUE(SendAll(other.get(), t.header + "crossfarm-pool-auth " +
                                        PoolAuth("another key", nonce->substr(std::strlen(kNoncePrefix)), t.line) +
                                        " 00ff\n"));
  EXPECT_TRUE(ClosedByPeer(other.get()));
  EXPECT_TRUE(Reaches(refused, 1));

  UniqueFd replay = DialLoopback(t.gateway->port());
  ASSERT_TRUE(RecvLine(replay.get()).has_value());
  ASSERT_TRUE(SendAll(replay.get(), t.header + good_answer + "\n"));
  EXPECT_TRUE(ClosedByPeer(replay.get()));
  EXPECT_TRUE(Reaches(refused, 2));
  EXPECT_EQ(t.gateway->authenticated(), 1u);
  EXPECT_EQ(t.checkouts.load(), 1u);
}

TEST(PoolGatewayTest, RefusesAllWithoutAKeyAndOutsideTheAllowList) {
  GatewayUnderTest keyless;  // the scheduler has not sent a key yet
  ASSERT_TRUE(keyless.Start({}).ok());
  UniqueFd a = DialLoopback(keyless.gateway->port());
  ASSERT_TRUE(a.valid());
  EXPECT_FALSE(RecvLine(a.get()).has_value());  // closed, no nonce
  EXPECT_TRUE(Reaches([&] { return keyless.gateway->refused(); }, 1));

  GatewayUnderTest narrowed;
  narrowed.key.Set("k");
  ASSERT_TRUE(narrowed.Start({"10.99.0.1"}).ok());
  UniqueFd b = DialLoopback(narrowed.gateway->port());
  ASSERT_TRUE(b.valid());
  EXPECT_FALSE(RecvLine(b.get()).has_value());
  EXPECT_TRUE(Reaches([&] { return narrowed.gateway->refused(); }, 1));
  EXPECT_EQ(narrowed.gateway->accepted(), 0u);
  EXPECT_EQ(narrowed.checkouts.load(), 0u);
}

// A relay in a job's private network, to a gateway on this host's loopback:
// with the cluster's key it gets in, with another it does not.
TEST(PoolRelayTest, AnswersTheGatewaysNonceWithItsKey) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN)";
  GatewayUnderTest t;
  t.key.Set("the cluster's key");
  ASSERT_TRUE(t.Start({}).ok());
  auto net = PrivateNetwork::Create();
  ASSERT_TRUE(net.has_value()) << net.error().ToString();
  std::vector<PoolMember> members = {{"member", "127.0.0.1", t.gateway->port(), 2}};
  auto right = PoolRelay::Start(net->fd(), members, t.header, "the cluster's key", 3633);
  ASSERT_TRUE(right.has_value()) << right.error().ToString();
  auto wrong = PoolRelay::Start(net->fd(), members, t.header, "a guess", 3634);
  ASSERT_TRUE(wrong.has_value()) << wrong.error().ToString();
  EXPECT_EQ((*right)->hosts(), "127.0.0.1:3633/2");
  EXPECT_FALSE(PoolRelay::Start(net->fd(), members, t.header, "", 3635).has_value());

  // What distcc inside the job would do: connect to the relay's port.
  auto dial_inside = [&](uint16_t port) {
    bool closed = false;
    std::thread th([&] {
      auto scope = NetnsScope::Enter(net->fd());
      if (!scope) return;
      UniqueFd c = DialLoopback(port);
      closed = c.valid() && ClosedByPeer(c.get());
    });
    th.join();
    return closed;
  };
  EXPECT_TRUE(dial_inside(3633));
  EXPECT_TRUE(Reaches([&] { return t.gateway->authenticated(); }, 1));
  EXPECT_EQ(t.checkouts.load(), 1u);
  EXPECT_TRUE(dial_inside(3634));
  EXPECT_TRUE(Reaches([&] { return t.gateway->refused(); }, 1));
  EXPECT_EQ(t.gateway->authenticated(), 1u);
  EXPECT_EQ((*right)->relayed(), 1u);
}

}  // namespace
}  // namespace crossfarm::worker
