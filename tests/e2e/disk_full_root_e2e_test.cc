// End-to-end, as root: a cache on a nearly full file system (issue 19 point 2).
// The cache lives on a 20 MiB tmpfs mounted for the test; a file fills it to
// several levels. Every command must end with one clear "disk full" error
// naming the path (or work, if it only reads), never abort on RocksDB's
// assertion (exit 134) or leave OPTIONS-*.dbtmp; what was stored stays intact,
// and once space is freed the next command works.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;

// A tmpfs of `size` mounted on a temp dir; unmounted (lazily) on destruction.
class TmpfsMount {
 public:
  explicit TmpfsMount(const std::string& size) : dir_("tmpfs") {
    mounted_ = ::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
    error_ = mounted_ ? "" : std::string("mount tmpfs (needs root): ") + std::strerror(errno);
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
  }
  const fs::path& path() const { return dir_.path(); }
  const std::string& error() const { return error_; }

 private:
  TempTree dir_;
  bool mounted_ = false;
  std::string error_;
};

uint64_t FreeOn(const fs::path& p) {
  struct statvfs s {};
  ::statvfs(p.c_str(), &s);
  return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
}

// Writes `path` until only `leave` bytes are free on its file system.
void FillLeaving(const fs::path& path, uint64_t leave) {
  fs::remove(path);
  uint64_t free_now = FreeOn(path.parent_path());
  if (free_now <= leave) return;
  std::ofstream out(path, std::ios::binary);
  std::string block(1 << 16, '\0');
  for (uint64_t left = free_now - leave; left > 0;) {
    uint64_t n = std::min<uint64_t>(left, block.size());
    out.write(block.data(), static_cast<std::streamsize>(n));
    left -= n;
  }
}

std::string RandomBytes(size_t n) {
  std::string s(n, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (auto& c : s) {  // incompressible and not deduplicated
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  return s;
}

class DiskFullAsRootE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(mount_.error().empty()) << mount_.error();
    fs::path p = project_.path();
    WriteFile(p / "project.conf", "name: df\nelement-path: elements\n");
    WriteFile(p / "files/u1/blob", RandomBytes(3 << 20));
    WriteFile(p / "files/u3/blob", RandomBytes(3 << 20));
    WriteFile(p / "elements/u1.bst", "kind: import\nsources:\n- kind: local\n  path: files/u1\n");
    WriteFile(p / "elements/u3.bst", "kind: import\nsources:\n- kind: local\n  path: files/u3\n");
    cache_ = mount_.path() / "cache";
  }
  CommandResult Cf(const std::string& args) {
    return RunCmd(std::string(CROSSFARM_BIN) + " -C " + project_.path().string() + " --cache-dir " +
                  cache_.string() + " " + args);
  }
  // No abort, no half-written RocksDB options file.
  void ExpectNoCrashLeftovers(const CommandResult& r, const std::string& what) {
    EXPECT_NE(r.exit_code, 134) << what << "\n" << r.output;
    EXPECT_EQ(r.output.find("Assertion"), std::string::npos) << what << "\n" << r.output;
    for (const auto& e : fs::recursive_directory_iterator(cache_))
      EXPECT_FALSE(e.path().filename().string().ends_with(".dbtmp")) << what << ": " << e.path();
  }
  // Fails with one "disk full" error naming the cache's file system.
  void ExpectDiskFull(const CommandResult& r, const std::string& what) {
    ExpectNoCrashLeftovers(r, what);
    EXPECT_NE(r.exit_code, 0) << what << "\n" << r.output;
    EXPECT_NE(r.output.find("disk full"), std::string::npos) << what << "\n" << r.output;
    EXPECT_NE(r.output.find(cache_.string()), std::string::npos) << what << "\n" << r.output;
  }

  TmpfsMount mount_{"20m"};
  TempTree project_{"disk-full-project"};
  fs::path cache_;
};

TEST_F(DiskFullAsRootE2ETest, EveryCommandSaysDiskFullAndTheCacheSurvives) {
  auto first = Cf("build u1.bst");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const fs::path fill = mount_.path() / "fill";
  // 0 and 64 KiB: the levels (RocksDB aborted opening the store);
  // 600 KiB: below the store's reserve; 4 MiB: room to open, not to store u3.
  for (uint64_t leave : {uint64_t{0}, uint64_t{64} << 10, uint64_t{600} << 10, uint64_t{4} << 20}) {
    FillLeaving(fill, leave);
    const std::string level = std::to_string(FreeOn(mount_.path())) + " bytes free";
    ExpectDiskFull(Cf("build u3.bst"), "build u3.bst, " + level);
    if (leave < (1 << 20)) ExpectDiskFull(Cf("cas verify"), "cas verify, " + level);
    // Reading needs no space: stats and show open the store read-only.
    auto stats = Cf("cas stats");
    ExpectNoCrashLeftovers(stats, "cas stats, " + level);
    EXPECT_EQ(stats.exit_code, 0) << level << "\n" << stats.output;
    EXPECT_NE(stats.output.find("refs: "), std::string::npos) << stats.output;
    auto show = Cf("show u1.bst");
    ExpectNoCrashLeftovers(show, "show u1.bst, " + level);
    EXPECT_EQ(show.exit_code, 0) << level << "\n" << show.output;
    EXPECT_NE(show.output.find("cached"), std::string::npos) << level << "\n" << show.output;
  }
  // Space freed: everything works, and u1 was kept.
  fs::remove(fill);
  auto again = Cf("build u1.bst u3.bst");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("1 built, 1 cached"), std::string::npos) << again.output;
  auto verify = Cf("cas verify");
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  ExpectNoCrashLeftovers(verify, "cas verify after freeing space");
}

// ENOSPC inside the sandbox: the build's own command fills the cache's file
// system. That is "disk full", not a failed build of the element.
TEST_F(DiskFullAsRootE2ETest, EnospcInTheSandboxIsDiskFullNotAFailedCommand) {
  fs::path p = project_.path();
  WriteFile(p / "project.conf", "name: df\nelement-path: elements\nenvironment:\n  PATH: /usr/bin:/bin\n");
  WriteFile(p / "elements/busybox.bst",
            "kind: import\nsources:\n- kind: deb\n  arch: amd64\n  packages: [busybox-static]\n");
  for (const char* applet : {"sh", "head", "mkdir"}) {
    fs::create_directories(p / "files/links/usr/bin");
    fs::create_symlink("busybox", p / "files/links/usr/bin" / applet);
  }
  WriteFile(p / "elements/links.bst", "kind: import\nsources:\n- kind: local\n  path: files/links\n");
  WriteFile(p / "elements/fill.bst",
            "kind: manual\nbuild-depends:\n- busybox.bst\n- links.bst\nconfig:\n  install-commands:\n"
            "  - mkdir -p %{install-root}\n  - head -c 64000000 /dev/zero > %{install-root}/big\n");
  const std::string mirror = " --mirror-dir " + TestCache() + "/mirror ";
  auto track = Cf(mirror + "source track --save busybox.bst");
  ASSERT_EQ(track.exit_code, 0) << track.output;
  auto r = Cf(mirror + "build fill.bst");
  ExpectDiskFull(r, "build fill.bst");
  EXPECT_NE(r.output.find("fill.bst"), std::string::npos) << r.output;
  // The job's scratch went with it: the next build has room again.
  WriteFile(p / "elements/fill.bst",
            "kind: manual\nbuild-depends:\n- busybox.bst\n- links.bst\nconfig:\n  install-commands:\n"
            "  - mkdir -p %{install-root}\n  - head -c 1000 /dev/zero > %{install-root}/small\n");
  auto again = Cf(mirror + "build fill.bst");
  EXPECT_EQ(again.exit_code, 0) << again.output;
}

// The daemons' stores on a full disk: one "disk full" error at start, no abort.
TEST_F(DiskFullAsRootE2ETest, DaemonsRefuseToStartOnAFullDiskWithOneError) {
  ASSERT_EQ(Cf("build u1.bst").exit_code, 0);  // a store with data, as a CAS host has
  FillLeaving(mount_.path() / "fill", 0);
  for (const std::string& cmd :
       {std::string(CROSSFARM_CAS_BIN) + " --listen tcp://127.0.0.1:* --dir " + (cache_ / "cas").string(),
        std::string(CROSSFARM_SCHEDULER_BIN) + " --listen tcp://127.0.0.1:* --cas tcp://127.0.0.1:1 --state " +
            (mount_.path() / "state").string()}) {
    auto r = RunCmd(cmd);
    EXPECT_NE(r.exit_code, 0) << cmd << "\n" << r.output;
    EXPECT_NE(r.exit_code, 134) << cmd << "\n" << r.output;
    EXPECT_NE(r.output.find("disk full"), std::string::npos) << cmd << "\n" << r.output;
    EXPECT_NE(r.output.find(mount_.path().string()), std::string::npos) << cmd << "\n" << r.output;
  }
}

}  // namespace
}  // namespace crossfarm::e2e
