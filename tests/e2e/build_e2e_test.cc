// End-to-end: the real `crossfarm` binary builds real elements in bubblewrap
// on a busybox base imported from Debian's busybox-static package.
#include <gtest/gtest.h>
#include <httplib.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <thread>

#include "cas/cas.h"
#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;

const char* kProjectConf = R"(name: e2e
element-path: elements
variables:
  strip-binaries: ""
environment:
  PATH: /usr/bin:/bin
)";

const char* kApplets[] = {"sh", "echo", "cat", "ls", "mkdir", "test", "id", "wget", "sleep",
                          "touch", "grep", "uname", "cp", "true", "false", "printf"};

class BuildE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    project_ = new TempTree("project");
    fs::path p = project_->path();
    WriteFile(p / "project.conf", kProjectConf);
    WriteFile(p / "elements/busybox.bst",
              "kind: import\nsources:\n- kind: deb\n  arch: amd64\n  packages: [busybox-static]\n");
    for (const char* applet : kApplets) {
      fs::create_directories(p / "files/links/usr/bin");
      fs::create_symlink("busybox", p / "files/links/usr/bin" / applet);
    }
    WriteFile(p / "elements/links.bst", "kind: import\nsources:\n- kind: local\n  path: files/links\n");
    WriteFile(p / "elements/base.bst", "kind: stack\ndepends:\n- busybox.bst\n- links.bst\n");
    auto track = Cf("source track --save busybox.bst");
    if (track.exit_code != 0) setup_error_ = "source track failed:\n" + track.output;
  }
  static void TearDownTestSuite() {
    delete project_;
    project_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    cache_ = std::make_unique<TempTree>("cache");
  }

  static std::string Base() {
    return std::string(CROSSFARM_BIN) + " -C " + project_->path().string() + " --mirror-dir " +
           TestCache() + "/mirror";
  }
  static CommandResult Cf(const std::string& args) { return RunCmd(Base() + " " + args); }
  CommandResult CfCached(const std::string& args) {
    return RunCmd(Base() + " --cache-dir " + cache_->path().string() + " " + args);
  }
  void AddManual(const std::string& name, const std::vector<std::string>& commands) {
    std::string text = "kind: manual\nbuild-depends:\n- base.bst\nconfig:\n  build-commands:\n";
    for (const auto& c : commands) text += "  - |\n    " + c + "\n";
    WriteFile(project_->path() / "elements" / name, text);
  }

  // A failed suite setup must fail every test (gtest would report a fatal
  // failure in SetUpTestSuite as skipped tests, which CI counts as passing).
  static std::string setup_error_;
  static TempTree* project_;
  std::unique_ptr<TempTree> cache_;
};
TempTree* BuildE2ETest::project_ = nullptr;
std::string BuildE2ETest::setup_error_;

TEST_F(BuildE2ETest, BuildsChecksOutAndASecondBuildDoesNothing) {
  AddManual("ok.bst", {"mkdir -p %{install-root}/share && echo built-by-crossfarm > "
                       "%{install-root}/share/ok.txt"});
  auto first = CfCached("build ok.bst");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_NE(first.output.find("START  ok.bst"), std::string::npos) << first.output;
  auto second = CfCached("build ok.bst");
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(second.output.find("START"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("0 to build"), std::string::npos) << second.output;
  fs::path out = cache_->path() / "out";
  auto co = CfCached("checkout ok.bst " + out.string());
  ASSERT_EQ(co.exit_code, 0) << co.output;
  EXPECT_EQ(ReadFile(out / "share/ok.txt"), "built-by-crossfarm\n");
  auto show = CfCached("show --format '%{state} %{name}' ok.bst");
  EXPECT_NE(show.output.find("cached ok.bst"), std::string::npos) << show.output;
  fs::path tar = cache_->path() / "ok.tar.gz";
  auto co_tar = CfCached("checkout ok.bst --tar " + tar.string());
  ASSERT_EQ(co_tar.exit_code, 0) << co_tar.output;
  EXPECT_NE(RunCmd("tar -tzf " + tar.string()).output.find("share/ok.txt"), std::string::npos);
}

// Checkout as bst 1.6's (issue 21): --deps run (the default) stages the
// runtime closure in order, a stack's checkout holds what it stands for,
// --deps none only the element; a non-empty directory needs --force; --tar -
// writes to stdout; two tarballs of one artifact are byte-identical; files
// are the user's to edit unless --hardlinks.
TEST_F(BuildE2ETest, CheckoutStagesTheRuntimeClosureAsBstDoes) {
  AddManual("lib.bst", {"mkdir -p %{install-root}/usr/lib && echo lib-v1 > %{install-root}/usr/lib/lib.txt",
                        "echo from-lib > %{install-root}/usr/lib/shared.txt"});
  WriteFile(project_->path() / "elements/app.bst",
            "kind: manual\nbuild-depends:\n- base.bst\nruntime-depends:\n- lib.bst\nconfig:\n"
            "  build-commands:\n  - mkdir -p %{install-root}/usr/bin %{install-root}/usr/lib\n"
            "  - echo app > %{install-root}/usr/bin/app.txt\n"
            "  - echo from-app > %{install-root}/usr/lib/shared.txt\n");
  WriteFile(project_->path() / "elements/all.bst", "kind: stack\ndepends:\n- app.bst\n");
  auto build = CfCached("build all.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output;

  fs::path run = cache_->path() / "run";
  auto co = CfCached("checkout all.bst " + run.string());
  ASSERT_EQ(co.exit_code, 0) << co.output;
  EXPECT_EQ(ReadFile(run / "usr/bin/app.txt"), "app\n");
  EXPECT_EQ(ReadFile(run / "usr/lib/lib.txt"), "lib-v1\n");
  EXPECT_EQ(ReadFile(run / "usr/lib/shared.txt"), "from-app\n") << "a dependent overlaps its dependency";
  // The user's files: writable, unlike the store's.
  EXPECT_EQ(::access((run / "usr/bin/app.txt").c_str(), W_OK), 0);

  fs::path none = cache_->path() / "none";
  co = CfCached("checkout --deps none app.bst " + none.string());
  ASSERT_EQ(co.exit_code, 0) << co.output;
  EXPECT_TRUE(fs::exists(none / "usr/bin/app.txt"));
  EXPECT_FALSE(fs::exists(none / "usr/lib/lib.txt"));

  // Not into a non-empty directory unless --force.
  co = CfCached("checkout --deps none lib.bst " + none.string());
  EXPECT_EQ(co.exit_code, 2) << co.output;
  EXPECT_NE(co.output.find("--force"), std::string::npos) << co.output;
  co = CfCached("checkout --deps none --force lib.bst " + none.string());
  ASSERT_EQ(co.exit_code, 0) << co.output;
  EXPECT_EQ(ReadFile(none / "usr/lib/shared.txt"), "from-lib\n");
  EXPECT_TRUE(fs::exists(none / "usr/bin/app.txt"));

  // Tarballs: to stdout, and one artifact gives one tarball, byte for byte.
  fs::path t1 = cache_->path() / "t1.tar.gz", t2 = cache_->path() / "t2.tar";
  ASSERT_EQ(CfCached("checkout all.bst --tar " + t1.string()).exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // other mtimes, if they leaked
  auto piped = RunCmd("cd " + cache_->path().string() + " && " + Base() + " --cache-dir " +
                      cache_->path().string() + " checkout all.bst --tar - 2>/dev/null | gzip -n > t2.tar.gz");
  ASSERT_EQ(piped.exit_code, 0) << piped.output;
  EXPECT_FALSE(fs::exists(cache_->path() / "-"));
  auto cmp = RunCmd("zcat " + t1.string() + " > " + t2.string() + " && zcat " + t2.string() +
                    ".gz | cmp - " + t2.string());
  EXPECT_EQ(cmp.exit_code, 0) << "two tarballs of one artifact differ: " << cmp.output;
  auto t3 = cache_->path() / "t3.tar.gz";
  ASSERT_EQ(CfCached("checkout all.bst --tar " + t3.string()).exit_code, 0);
  EXPECT_EQ(RunCmd("cmp " + t1.string() + " " + t3.string()).exit_code, 0) << "gzip output differs";
  auto listing = RunCmd("tar -tvzf " + t1.string());
  EXPECT_NE(listing.output.find("usr/lib/lib.txt"), std::string::npos) << listing.output;
  EXPECT_NE(RunCmd("TZ=UTC tar -tvzf " + t1.string()).output.find("2011-11-10 15:00"), std::string::npos)
      << listing.output;

  // --hardlinks: the store's read-only files.
  fs::path links = cache_->path() / "links";
  ASSERT_EQ(CfCached("checkout --hardlinks all.bst " + links.string()).exit_code, 0);
  struct stat st {};
  ASSERT_EQ(::stat((links / "usr/bin/app.txt").c_str(), &st), 0);
  EXPECT_GT(st.st_nlink, 1u);
}

// A relative --cache-dir is the cwd's: it reached bwrap as a bind source,
// which must be absolute, and every job failed (issue 20's report, client side).
TEST_F(BuildE2ETest, RelativeCacheDirBuilds) {
  AddManual("rel.bst", {"mkdir -p %{install-root}/share && echo rel > %{install-root}/share/rel.txt"});
  auto build = RunCmd("cd " + cache_->path().string() + " && " + Base() + " --cache-dir rel-cache build rel.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output;
  EXPECT_TRUE(fs::exists(cache_->path() / "rel-cache/cas"));
}

// Several commands on one cache (issue 21): a shell held open holds the cache
// read-only, so show reads the real states, checkout and log work and a build
// runs beside it; a second build waits for the first (saying for whom) and
// then finds the first one's artifacts.
TEST_F(BuildE2ETest, CommandsShareOneCache) {
  AddManual("held.bst", {"mkdir -p %{install-root}/share && echo held > %{install-root}/share/held.txt"});
  AddManual("slow.bst", {"sleep 4", "mkdir -p %{install-root}/share && echo slow > %{install-root}/share/slow.txt"});
  AddManual("beside.bst", {"mkdir -p %{install-root}/share && echo beside > %{install-root}/share/beside.txt"});
  ASSERT_EQ(CfCached("build held.bst").exit_code, 0);

  const std::string cf = Base() + " --cache-dir " + cache_->path().string();
  const std::string shell_out = (cache_->path() / "shell.out").string();
  ASSERT_EQ(RunCmd("(" + cf + " shell held.bst -- sleep 6 > " + shell_out + " 2>&1 &)").exit_code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto show = CfCached("show --deps none --format '%{state} %{name}' held.bst beside.bst");
  EXPECT_EQ(show.exit_code, 0) << show.output;
  EXPECT_NE(show.output.find("cached held.bst"), std::string::npos) << show.output;
  EXPECT_NE(show.output.find(" beside.bst"), std::string::npos) << show.output;
  EXPECT_EQ(show.output.find("cached beside.bst"), std::string::npos) << show.output;
  auto co = CfCached("checkout held.bst " + (cache_->path() / "co").string());
  EXPECT_EQ(co.exit_code, 0) << co.output;
  EXPECT_EQ(ReadFile(cache_->path() / "co/share/held.txt"), "held\n");
  auto log = CfCached("log held.bst");
  EXPECT_EQ(log.exit_code, 0) << log.output;
  auto beside = CfCached("build beside.bst");
  EXPECT_EQ(beside.exit_code, 0) << "a build beside an open shell: " << beside.output;

  EXPECT_EQ(beside.output.find("waiting"), std::string::npos) << beside.output;
}

// Many files per artifact, each with its own content: a checkout that misses
// or mixes up any of them is caught.
std::string ManyFiles(const std::string& tag) {
  return "mkdir -p %{install-root}/share/" + tag + " && i=1 && while test $i -le 300; do echo " +
         tag + "-$i > %{install-root}/share/" + tag + "/f$i; i=$((i+1)); done";
}

void ExpectManyFiles(const fs::path& checkout, const std::string& tag) {
  for (int i = 1; i <= 300; ++i)
    ASSERT_EQ(ReadFile(checkout / "share" / tag / ("f" + std::to_string(i))),
              tag + "-" + std::to_string(i) + "\n") << checkout << " file " << i;
}

TEST_F(BuildE2ETest, TwoBuildsOfOneCacheRunAtOnce) {
  // `long` sleeps: the other build, show and checkout all happen while it runs
  // (before the cache service, they waited for it or read a stale state).
  AddManual("long.bst", {"sleep 8", ManyFiles("long")});
  AddManual("short.bst", {ManyFiles("short")});
  ASSERT_EQ(CfCached("build base.bst").exit_code, 0);
  const std::string cf = Base() + " --cache-dir " + cache_->path().string();
  const std::string long_out = (cache_->path() / "long.out").string();
  ASSERT_EQ(RunCmd("(" + cf + " build long.bst > " + long_out + " 2>&1; echo exit=$? >> " + long_out +
                   ") </dev/null >/dev/null 2>&1 &").exit_code, 0);
  for (int i = 0; i < 300 && ReadFile(long_out).find("START  long.bst") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_NE(ReadFile(long_out).find("START  long.bst"), std::string::npos) << ReadFile(long_out);

  auto show = CfCached("show --deps none --format '%{state} %{name}' long.bst base.bst");
  EXPECT_EQ(show.exit_code, 0) << show.output;
  // Read from the store the running build writes to: base is, long is not yet.
  EXPECT_NE(show.output.find(" long.bst"), std::string::npos) << show.output;
  EXPECT_EQ(show.output.find("cached long.bst"), std::string::npos) << show.output;
  EXPECT_EQ(show.output.find("unknown"), std::string::npos) << show.output;
  EXPECT_NE(show.output.find("cached base.bst"), std::string::npos) << show.output;
  auto second = CfCached("build short.bst");
  EXPECT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(second.output.find("waiting"), std::string::npos) << second.output;
  EXPECT_EQ(ReadFile(long_out).find("exit="), std::string::npos)
      << "the second build finished while the first still ran: " << ReadFile(long_out);
  auto co_short = CfCached("checkout short.bst " + (cache_->path() / "co-short").string());
  EXPECT_EQ(co_short.exit_code, 0) << co_short.output;

  for (int i = 0; i < 600 && ReadFile(long_out).find("exit=") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_NE(ReadFile(long_out).find("exit=0"), std::string::npos) << ReadFile(long_out);
  auto co_long = CfCached("checkout long.bst " + (cache_->path() / "co-long").string());
  EXPECT_EQ(co_long.exit_code, 0) << co_long.output;
  ExpectManyFiles(cache_->path() / "co-short", "short");
  ExpectManyFiles(cache_->path() / "co-long", "long");
  auto after = CfCached("show --deps none --format '%{state} %{name}' long.bst short.bst");
  EXPECT_NE(after.output.find("cached long.bst"), std::string::npos) << after.output;
  EXPECT_NE(after.output.find("cached short.bst"), std::string::npos) << after.output;
}

TEST_F(BuildE2ETest, ShowOfACacheItCannotReadSaysUnknown) {
  AddManual("held.bst", {"mkdir -p %{install-root}/share && echo held > %{install-root}/share/held.txt"});
  ASSERT_EQ(CfCached("build held.bst").exit_code, 0);
  // Stop the cache service, then break the store.
  ASSERT_TRUE(StopCacheService(cache_->path() / "cas"));
  WriteFile(cache_->path() / "cas/db/CURRENT", "not a manifest name\n");
  auto show = CfCached("show --deps none --format '%{state} %{name}' held.bst");
  EXPECT_NE(show.output.find("unknown held.bst"), std::string::npos) << show.output;
  EXPECT_EQ(show.output.find("buildable held.bst"), std::string::npos) << show.output;
}

TEST_F(BuildE2ETest, ArtifactListContentsLogAndDelete) {
  AddManual("art.bst", {"echo building-art-now",
                        "mkdir -p %{install-root}/share/art && echo a > %{install-root}/share/art/a.txt"});
  ASSERT_EQ(CfCached("build art.bst").exit_code, 0);
  auto list = CfCached("artifact list-contents art.bst");
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_NE(list.output.find("art.bst:\n\tshare\n\tshare/art\n\tshare/art/a.txt\n"), std::string::npos)
      << list.output;
  auto log = CfCached("artifact log art.bst");
  ASSERT_EQ(log.exit_code, 0) << log.output;
  EXPECT_NE(log.output.find("building-art-now"), std::string::npos) << log.output;
  auto del = CfCached("artifact delete art.bst");
  ASSERT_EQ(del.exit_code, 0) << del.output;
  auto show = CfCached("show --deps none --format '%{state} %{name}' art.bst");
  EXPECT_NE(show.output.find(" art.bst"), std::string::npos) << show.output;
  EXPECT_EQ(show.output.find("cached art.bst"), std::string::npos) << show.output;
  auto again = CfCached("artifact delete art.bst");
  EXPECT_EQ(again.exit_code, 2) << "nothing to delete: bad input, " << again.output;
  EXPECT_NE(again.output.find("art.bst is not built"), std::string::npos) << again.output;
}

TEST_F(BuildE2ETest, ShellRunsInTheBuildSandboxWithSourcesStaged) {
  WriteFile(project_->path() / "files/shell-src/input.txt", "from-the-sources\n");
  WriteFile(project_->path() / "elements/shelled.bst",
            "kind: manual\nbuild-depends:\n- base.bst\nsources:\n- kind: local\n"
            "  path: files/shell-src\n");
  auto shell = CfCached("shell shelled.bst -- sh -c 'id -u; cat input.txt; pwd'");
  ASSERT_EQ(shell.exit_code, 0) << shell.output;
  EXPECT_NE(shell.output.find("0\nfrom-the-sources\n/buildstream/e2e/shelled.bst"),
            std::string::npos) << shell.output;
  auto failing = CfCached("shell shelled.bst -- sh -c 'exit 4'");
  EXPECT_EQ(failing.exit_code, 4) << failing.output;
}

TEST_F(BuildE2ETest, SandboxHasNoNetworkAndNoHostUsr) {
  // A host-only file that must stay invisible, and a server the build must not reach.
  const std::string host_only = "/usr/lib/x86_64-linux-gnu/librocksdb.so";
  ASSERT_TRUE(fs::exists(host_only)) << "scripts/setup installs librocksdb-dev";
  httplib::Server server;
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("reachable", "text/plain");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  AddManual("isolated.bst",
            {"mkdir -p %{install-root}/out",
             "cat /proc/net/dev > %{install-root}/out/netdev",
             "if test -e " + host_only + "; then echo visible; else echo hidden; fi > "
                 "%{install-root}/out/usr",
             "if wget -q -T 3 -O - http://127.0.0.1:" + std::to_string(port) +
                 "/ ; then echo reached; else echo unreachable; fi > %{install-root}/out/net",
             "id -u > %{install-root}/out/uid"});
  auto build = CfCached("build isolated.bst");
  server.stop();
  t.join();
  ASSERT_EQ(build.exit_code, 0) << build.output;
  fs::path out = cache_->path() / "iso";
  ASSERT_EQ(CfCached("checkout isolated.bst " + out.string()).exit_code, 0);
  EXPECT_EQ(ReadFile(out / "out/usr"), "hidden\n");
  EXPECT_EQ(ReadFile(out / "out/net"), "unreachable\n");
  EXPECT_EQ(ReadFile(out / "out/uid"), "0\n");
  std::string netdev = ReadFile(out / "out/netdev");
  EXPECT_NE(netdev.find("lo:"), std::string::npos) << netdev;
  EXPECT_EQ(netdev.find("eth"), std::string::npos) << netdev;
  EXPECT_EQ(netdev.find("veth"), std::string::npos) << netdev;
}

TEST_F(BuildE2ETest, FailingCommandShowsTheLogTailAndExitsWithOne) {
  AddManual("fails.bst", {"echo about-to-fail-loudly", "exit 3"});
  AddManual("independent.bst", {"echo fine > %{install-root}/fine"});
  auto build = CfCached("build fails.bst independent.bst");
  EXPECT_EQ(build.exit_code, 1) << build.output;
  EXPECT_NE(build.output.find("FAILED fails.bst"), std::string::npos) << build.output;
  EXPECT_NE(build.output.find("about-to-fail-loudly"), std::string::npos) << build.output;
  EXPECT_NE(build.output.find("exit code 3"), std::string::npos) << build.output;
  EXPECT_NE(build.output.find("full log: "), std::string::npos) << build.output;
  // The independent element still finished (on-error continue).
  EXPECT_EQ(CfCached("checkout independent.bst " + (cache_->path() / "ind").string()).exit_code, 0);
  auto log = CfCached("log fails.bst");
  EXPECT_EQ(log.exit_code, 0) << log.output;
  EXPECT_NE(log.output.find("about-to-fail-loudly"), std::string::npos) << log.output;
}

// Without a terminal, a long job still shows it is alive: a status line at a
// steady interval (issue 21: 1 min 48 s of silence on GNU hello in CI).
TEST_F(BuildE2ETest, PlainProgressPrintsAStatusLineWhileJobsRun) {
  AddManual("long.bst", {"sleep 3", "echo z > %{install-root}/z"});
  auto build = RunCmd("CROSSFARM_PROGRESS_INTERVAL=1 " + Base() + " --cache-dir " + cache_->path().string() +
                      " build long.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output;
  EXPECT_NE(build.output.find("running 1 (long.bst 00:0"), std::string::npos) << build.output;
}

// "N elements" and the final summary's parts add up (issue 21: "8 elements ...
// 2 built, 0 cached, 1 failed, 0 skipped"), with --on-error quit too, and the
// failure is printed once.
TEST_F(BuildE2ETest, SummaryAddsUpToTheElementCount) {
  AddManual("fails-early.bst", {"exit 3"});
  WriteFile(project_->path() / "elements/after-failure.bst",
            "kind: manual\nbuild-depends:\n- base.bst\n- fails-early.bst\n");
  AddManual("slow-sibling.bst", {"sleep 2", "echo x > %{install-root}/x"});
  AddManual("late-sibling.bst", {"echo y > %{install-root}/y"});
  for (const char* mode : {"continue", "quit"}) {
    auto cache = std::make_unique<TempTree>("summary");
    auto build = RunCmd(Base() + " --cache-dir " + cache->path().string() + " build -j1 --on-error " + mode +
                        " fails-early.bst after-failure.bst slow-sibling.bst late-sibling.bst");
    EXPECT_EQ(build.exit_code, 1) << build.output;
    std::smatch total, parts;
    ASSERT_TRUE(std::regex_search(build.output, total, std::regex(R"((\d+) elements)"))) << build.output;
    ASSERT_TRUE(std::regex_search(build.output, parts,
                                  std::regex(R"(finished: (\d+) built, (\d+) cached, (\d+) failed, (\d+) skipped(, (\d+) not started)?)")))
        << build.output;
    int sum = 0;
    for (int i : {1, 2, 3, 4, 6}) sum += parts[i].matched ? std::stoi(parts[i]) : 0;
    EXPECT_EQ(sum, std::stoi(total[1])) << mode << ":\n" << build.output;
    EXPECT_EQ(std::stoi(parts[3]), 1) << build.output;
    size_t first = build.output.find("build failed:");
    EXPECT_NE(first, std::string::npos) << build.output;
    EXPECT_EQ(build.output.find("build failed:", first + 1), std::string::npos) << "printed twice:\n" << build.output;
  }
}

TEST_F(BuildE2ETest, WrongTarballSha256IsAClearErrorAndStoresNothing) {
  TempTree files("tarball");
  WriteFile(files.path() / "src/pkg-1.0/data.txt", "payload\n");
  ASSERT_EQ(RunCmd("tar -C " + (files.path() / "src").string() + " -czf " +
                (files.path() / "pkg-1.0.tar.gz").string() + " pkg-1.0").exit_code, 0);
  std::string tarball = ReadFile(files.path() / "pkg-1.0.tar.gz");
  httplib::Server server;
  int requests = 0;
  server.Get("/pkg-1.0.tar.gz", [&](const httplib::Request&, httplib::Response& res) {
    ++requests;
    res.set_content(tarball, "application/gzip");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  std::thread t([&] { server.listen_after_bind(); });
  std::string wrong(64, '0');
  WriteFile(project_->path() / "elements/tarball.bst",
            "kind: import\nsources:\n- kind: tar\n  url: http://127.0.0.1:" +
                std::to_string(port) + "/pkg-1.0.tar.gz\n  ref: " + wrong + "\n");
  TempTree mirror("mirror");
  auto build = RunCmd(std::string(CROSSFARM_BIN) + " -C " + project_->path().string() +
                   " --cache-dir " + cache_->path().string() + " --mirror-dir " +
                   mirror.path().string() + " build tarball.bst");
  server.stop();
  t.join();
  EXPECT_NE(build.exit_code, 0);
  EXPECT_GE(requests, 1);
  EXPECT_NE(build.output.find("tarball.bst"), std::string::npos) << build.output;
  EXPECT_NE(build.output.find(wrong), std::string::npos) << build.output;
  EXPECT_NE(build.output.find(RunCmd("sha256sum " + (files.path() / "pkg-1.0.tar.gz").string())
                                  .output.substr(0, 64)),
            std::string::npos)
      << build.output;
  size_t stored = 0;
  for (auto& entry : fs::recursive_directory_iterator(mirror.path()))
    if (entry.is_regular_file() && entry.path().string().find("tar") != std::string::npos) ++stored;
  EXPECT_EQ(stored, 0u) << "a tarball that failed verification was kept";
}

TEST_F(BuildE2ETest, KillingTheBuildNeverCorruptsTheCache) {
  AddManual("slow.bst", {"echo started", "sleep 60"});
  AddManual("after.bst", {"echo after > %{install-root}/after"});
  std::string log = (cache_->path() / "slow.out").string();
  pid_t pid = fork();
  if (pid == 0) {
    std::string cmd = Base() + " --cache-dir " + cache_->path().string() + " build slow.bst > " +
                      log + " 2>&1";
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), nullptr);
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (ReadFile(log).find("START  slow.bst") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_NE(ReadFile(log).find("START  slow.bst"), std::string::npos) << ReadFile(log);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  auto verify = CfCached("cas verify");
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  EXPECT_NE(verify.output.find("corrupt removed: 0\n"), std::string::npos) << verify.output;
  auto after = CfCached("build after.bst");
  EXPECT_EQ(after.exit_code, 0) << after.output;
}

// Issue 19, signed refs, embedded: the build signs with the user's own key
// (made 0600 in the cache on first use); a ref rewritten in the store without
// it is refused by checkout and built again by build, never used.
TEST_F(BuildE2ETest, ARefNotSignedByTheUsersKeyIsRefusedAndRebuilt) {
  AddManual("l1.bst", {"mkdir -p %{install-root}/l", "echo one > %{install-root}/l/which.txt"});
  AddManual("l3.bst", {"mkdir -p %{install-root}/l", "echo three > %{install-root}/l/which.txt"});
  auto built = CfCached("build l1.bst l3.bst");
  ASSERT_EQ(built.exit_code, 0) << built.output;
  struct stat st {};
  ASSERT_EQ(::stat((cache_->path() / "user.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto key_of = [&](const std::string& e) {
    auto r = CfCached("show --deps none --format '%{full-key}' " + e);
    return "artifacts/" + r.output.substr(0, r.output.find('\n'));
  };
  const std::string l1 = key_of("l1.bst"), l3 = key_of("l3.bst");
  {
    StopCacheService(cache_->path() / "cas");  // it holds the store
    auto store = cas::OpenCas((cache_->path() / "cas").string());
    ASSERT_TRUE(store) << store.error().ToString();
    auto r1 = (*store)->GetRef(l1);
    ASSERT_TRUE(r1) << r1.error().ToString();
    EXPECT_EQ(r1->signer.size(), 32u);
    ASSERT_TRUE((*store)->PutRef(l3, *r1).ok());  // l3 -> l1's files
  }
  auto out = CfCached("checkout l3.bst " + (cache_->path() / "out").string());
  EXPECT_NE(out.exit_code, 0) << out.output;
  EXPECT_NE(out.output.find(l3 + ": the signature of"), std::string::npos) << out.output;
  EXPECT_FALSE(fs::exists(cache_->path() / "out/l/which.txt"));
  auto rebuilt = CfCached("build l3.bst");
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.output;
  EXPECT_NE(rebuilt.output.find("refusing an artifact"), std::string::npos) << rebuilt.output;
  out = CfCached("checkout l3.bst " + (cache_->path() / "out").string());
  ASSERT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(ReadFile(cache_->path() / "out/l/which.txt"), "three\n");
}

TEST_F(BuildE2ETest, MissingRefIsABadInputError) {
  WriteFile(project_->path() / "elements/noref.bst",
            "kind: import\nsources:\n- kind: tar\n  url: http://127.0.0.1:1/x.tar.gz\n");
  auto build = CfCached("build noref.bst");
  EXPECT_EQ(build.exit_code, 2) << build.output;
  EXPECT_NE(build.output.find("source track"), std::string::npos) << build.output;
}

}  // namespace
}  // namespace crossfarm::e2e

namespace crossfarm::e2e {
namespace {

// Issue 17: an element of a junction's subproject builds like any other. The
// subproject reaches this project's busybox base through its own junction
// sys.bst (a copy of the parent's base inside it), and stages its own local source.
TEST_F(BuildE2ETest, JunctionedManualElementBuildsOnTheParentsBase) {
  fs::path p = project_->path();
  WriteFile(p / "elements/sub.bst", "kind: junction\nsources:\n- kind: local\n  path: sub\n"
                                    "config:\n  options:\n    greeting: hello-from-option\n");
  WriteFile(p / "sub/project.conf",
            "name: subproject\nelement-path: elements\noptions:\n  greeting:\n    type: enum\n"
            "    values: [plain, hello-from-option]\n    default: plain\n    description: x\n"
            "    variable: greeting\nvariables:\n  prefix: /opt/sub\n");
  // bst refuses a local path leaving the subproject ("first component must
  // not be '..'"), so the subproject carries a copy of the parent's base project.
  fs::create_directories(p / "sub/sys/elements");
  fs::copy_file(p / "project.conf", p / "sub/sys/project.conf");
  for (const char* e : {"busybox.bst", "links.bst", "base.bst"})
    fs::copy_file(p / "elements" / e, p / "sub/sys/elements" / e);
  fs::copy(p / "files", p / "sub/sys/files", fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  WriteFile(p / "sub/elements/sys.bst", "kind: junction\nsources:\n- kind: local\n  path: sys\n");
  WriteFile(p / "sub/files/hello/hello.txt", "hello source\n");
  WriteFile(p / "sub/elements/hello.bst",
            "kind: manual\nbuild-depends:\n- sys.bst:base.bst\nsources:\n- kind: local\n"
            "  path: files/hello\nconfig:\n  install-commands:\n"
            "  - mkdir -p %{install-root}%{prefix}\n"
            "  - cat hello.txt > %{install-root}%{prefix}/out.txt\n"
            "  - echo %{greeting} %{element-name} >> %{install-root}%{prefix}/out.txt\n");
  auto build = CfCached("build sub.bst:hello.bst");
  ASSERT_EQ(build.exit_code, 0) << build.output;
  EXPECT_NE(build.output.find("sub.bst:hello.bst"), std::string::npos) << build.output;
  fs::path out = cache_->path() / "out";
  auto co = CfCached("checkout --deps none sub.bst:hello.bst " + out.string());
  ASSERT_EQ(co.exit_code, 0) << co.output;
  EXPECT_EQ(ReadFile(out / "opt/sub/out.txt"), "hello source\nhello-from-option hello.bst\n");
  auto show = CfCached("show --format '%{state} %{name}' sub.bst:hello.bst");
  EXPECT_NE(show.output.find("cached sub.bst:hello.bst"), std::string::npos) << show.output;
}

}  // namespace
}  // namespace crossfarm::e2e
