// JobRunner against the real thing: a LocalStore CAS, bubblewrap and a
// busybox artifact as the build base.
#include "worker/job_runner.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/worker/test_roots.h"
#include "worker/checkout_stamp.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using testing::MakeBusyboxArtifact;
using testing::ReadFile;
using testing::WriteFile;

class JobRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("", "job-runner-test-");
    ASSERT_TRUE(dir.has_value());
    dir_.emplace(std::move(*dir));
    auto cas = cas::OpenCas(dir_->path() + "/cas");
    ASSERT_TRUE(cas.has_value()) << cas.error().ToString();
    cas_ = std::move(*cas);
    runner_.emplace(*cas_, JobRunnerOptions{.work_dir = dir_->path() + "/tmp",
                                            .checkout_dir = dir_->path() + "/checkouts",
                                            .log_dir = dir_->path() + "/logs"});
    auto busybox = MakeBusyboxArtifact();
    ASSERT_TRUE(busybox.has_value());
    auto root = cas_->ImportTree(busybox->path());
    ASSERT_TRUE(root.has_value()) << root.error().ToString();
    base_ = *root;
  }

  Digest ImportFiles(const std::map<std::string, std::string>& files) {
    auto d = TempDir::Create("", "files-");
    for (const auto& [name, content] : files) WriteFile(d->path() + "/" + name, content);
    return *cas_->ImportTree(d->path());
  }

  JobSpec SandboxJob(std::vector<std::string> build_commands) {
    JobSpec spec;
    spec.element = "test.bst";
    spec.cache_key = std::string(64, 'a');
    spec.inputs.push_back({"base.bst", base_, {}, {}});
    spec.build_root = "/buildstream/test/test.bst";
    spec.install_root = "/buildstream-install";
    spec.environment = {{"PATH", "/bin"}};
    spec.phases = {{"build-commands", std::move(build_commands)}};
    return spec;
  }

  std::string Export(const Digest& root) {
    std::string out = dir_->path() + "/out-" + root.Hex().substr(0, 8);
    EXPECT_TRUE(cas_->ExportTree(root, out).ok());
    return out;
  }

  std::optional<TempDir> dir_;
  std::unique_ptr<cas::Cas> cas_;
  std::optional<JobRunner> runner_;
  Digest base_;
};

TEST_F(JobRunnerTest, SandboxJobInstallsIntoTheArtifact) {
  JobSpec spec = SandboxJob({"mkdir -p /buildstream-install/usr/bin",
                             "cat greeting.txt > /buildstream-install/usr/bin/hello"});
  spec.sources.push_back({ImportFiles({{"greeting.txt", "hi from the sources\n"}}), ""});
  auto outcome = runner_->Run(spec);
  ASSERT_TRUE(outcome.has_value()) << outcome.error().ToString();
  ASSERT_TRUE(outcome->success) << outcome->failure.ToString();
  EXPECT_EQ(outcome->sandbox_arch, "x86_64");
  EXPECT_FALSE(outcome->emulated);
  ASSERT_TRUE(outcome->artifact.has_value());
  EXPECT_EQ(ReadFile(Export(*outcome->artifact) + "/usr/bin/hello"), "hi from the sources\n");
  ASSERT_TRUE(outcome->log.has_value());
  auto log = cas_->Get(*outcome->log);
  ASSERT_TRUE(log.has_value());
  EXPECT_NE(log->find("phase build-commands"), std::string::npos) << *log;
}

TEST_F(JobRunnerTest, FailingCommandIsAFailedOutcomeWithItsLog) {
  auto outcome = runner_->Run(SandboxJob({"echo before-the-failure", "exit 7", "echo never"}));
  ASSERT_TRUE(outcome.has_value()) << outcome.error().ToString();
  EXPECT_FALSE(outcome->success);
  EXPECT_EQ(outcome->failure.code(), StatusCode::kBuildFailed);
  EXPECT_NE(outcome->failure.message().find("exit code 7"), std::string::npos)
      << outcome->failure.message();
  std::string log = ReadFile(outcome->log_path);
  EXPECT_NE(log.find("before-the-failure"), std::string::npos);
  EXPECT_EQ(log.find("never\n"), std::string::npos);
}

TEST_F(JobRunnerTest, BuildCannotModifyTheStagedBaseInTheCache) {
  auto outcome = runner_->Run(SandboxJob({"echo corrupted > /bin/busybox"}));
  ASSERT_TRUE(outcome.has_value()) << outcome.error().ToString();
  EXPECT_FALSE(outcome->success);
  auto checkout = runner_->Checkout(base_);
  ASSERT_TRUE(checkout.has_value());
  auto d = Digest::OfFile(*checkout + "/bin/busybox");
  ASSERT_TRUE(d.has_value());
  EXPECT_NE(d->size, 10u) << "busybox was overwritten through a hard link";
  EXPECT_TRUE(cas_->Verify().has_value());
  EXPECT_EQ(cas_->Verify()->corrupt_removed, 0u);
}

TEST_F(JobRunnerTest, IntegrationCommandsRunBeforeTheBuildInAPrivateRoot) {
  JobSpec spec = SandboxJob({"cat /etc/integrated > /buildstream-install/seen"});
  spec.inputs[0].integration_commands = {"mkdir -p /etc && echo integrated > /etc/integrated"};
  auto outcome = runner_->Run(spec);
  ASSERT_TRUE(outcome.has_value()) << outcome.error().ToString();
  ASSERT_TRUE(outcome->success) << outcome->failure.ToString();
  EXPECT_EQ(ReadFile(Export(*outcome->artifact) + "/seen"), "integrated\n");
  // The private root was a copy: the base's checkout did not change.
  auto checkout = runner_->Checkout(base_);
  ASSERT_TRUE(checkout.has_value());
  EXPECT_FALSE(fs::exists(*checkout + "/etc/integrated"));
}

TEST_F(JobRunnerTest, ImportJobTakesASubdirectoryToATarget) {
  JobSpec spec;
  spec.element = "import.bst";
  spec.cache_key = std::string(64, 'b');
  spec.kind = JobKind::kImport;
  spec.sources.push_back({ImportFiles({{"files/etc/motd", "welcome\n"}}), ""});
  spec.import_source = "/files";
  spec.import_target = "/opt/data";
  auto outcome = runner_->Run(spec);
  ASSERT_TRUE(outcome.has_value()) << outcome.error().ToString();
  ASSERT_TRUE(outcome->success) << outcome->failure.ToString();
  EXPECT_EQ(ReadFile(Export(*outcome->artifact) + "/opt/data/etc/motd"), "welcome\n");
}

TEST_F(JobRunnerTest, FilterKeepsOnlyTheIncludedDomain) {
  Digest lib = ImportFiles({{"usr/lib/libz.so.1", "lib"}, {"usr/include/zlib.h", "header"}});
  JobSpec spec;
  spec.element = "filter.bst";
  spec.cache_key = std::string(64, 'c');
  spec.kind = JobKind::kFilter;
  spec.include_orphans = false;
  spec.inputs.push_back({"zlib.bst", lib, {},
                         {{"runtime", {"/usr/lib/lib*.so*"}}, {"devel", {"/usr/include/**"}}}});
  spec.include_domains = {"runtime"};
  auto outcome = runner_->Run(spec);
  ASSERT_TRUE(outcome.has_value()) << outcome.error().ToString();
  ASSERT_TRUE(outcome->success) << outcome->failure.ToString();
  std::string out = Export(*outcome->artifact);
  EXPECT_TRUE(fs::exists(out + "/usr/lib/libz.so.1"));
  EXPECT_FALSE(fs::exists(out + "/usr/include/zlib.h"));
}

// A compose whose inputs hold absolute symlinks to paths that exist on this
// host (merged /usr, alternatives): each stays a symlink of the artifact, the
// later input wins an overlap, and nothing is written outside the output.
TEST_F(JobRunnerTest, ComposeKeepsAbsoluteSymlinksAndLaterInputsWin) {
  auto a_dir = TempDir::Create("", "compose-a-");
  ASSERT_TRUE(a_dir.has_value());
  WriteFile(a_dir->path() + "/usr/lib/tool/cc1", "old cc1");
  fs::create_directories(a_dir->path() + "/usr/sbin");
  fs::create_symlink("/usr/bin/env", a_dir->path() + "/usr/sbin/rmt");  // exists on the host
  fs::create_symlink("usr/sbin", a_dir->path() + "/sbin");
  Digest a = *cas_->ImportTree(a_dir->path());
  Digest b = ImportFiles({{"usr/lib/tool/cc1", "new cc1"}});
  JobSpec spec;
  spec.element = "compose.bst";
  spec.cache_key = std::string(64, 'd');
  spec.kind = JobKind::kCompose;
  spec.integrate = false;
  spec.include_orphans = true;
  spec.inputs.push_back({"a.bst", a, {}, {}});
  spec.inputs.push_back({"b.bst", b, {}, {}});
  auto outcome = runner_->Run(spec);
  ASSERT_TRUE(outcome.has_value()) << outcome.error().ToString();
  ASSERT_TRUE(outcome->success) << outcome->failure.ToString();
  std::string out = Export(*outcome->artifact);
  EXPECT_EQ(ReadFile(out + "/usr/lib/tool/cc1"), "new cc1");
  ASSERT_TRUE(fs::is_symlink(out + "/usr/sbin/rmt"));
  EXPECT_EQ(fs::read_symlink(out + "/usr/sbin/rmt"), "/usr/bin/env");
  ASSERT_TRUE(fs::is_symlink(out + "/sbin"));
  EXPECT_EQ(fs::read_symlink(out + "/sbin"), "usr/sbin");
}

// Shared roots are bounded: the least recently used go first, never one a
// job holds, and nothing but roots is touched.
TEST(PruneSharedRootsTest, RemovesTheOldestUnheldRoots) {
  auto dir = TempDir::Create("", "roots-");
  ASSERT_TRUE(dir.has_value());
  std::vector<std::string> names;
  for (int i = 0; i < 5; ++i) {
    std::string name(64, static_cast<char>('a' + i));
    names.push_back(name);
    WriteFile(dir->path() + "/" + name + "/usr/bin/tool", "x");
    WriteFile(dir->path() + "/" + name + ".note", "note");
    // Oldest first: a, b, c, d, e.
    timespec times[2] = {{1000 + i, 0}, {1000 + i, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, (dir->path() + "/" + name).c_str(), times, 0), 0);
  }
  fs::create_directories(dir->path() + "/staging-123");
  // A job holds the oldest.
  UniqueFd held(::open((dir->path() + "/" + names[0] + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  ASSERT_TRUE(held.valid());
  ASSERT_EQ(::flock(held.get(), LOCK_SH), 0);

  auto removed = PruneSharedRoots(dir->path(), 2);
  ASSERT_TRUE(removed.has_value()) << removed.error().ToString();
  EXPECT_EQ(*removed, 2u);
  EXPECT_TRUE(fs::exists(dir->path() + "/" + names[0] + "/usr/bin/tool"));  // held
  EXPECT_FALSE(fs::exists(dir->path() + "/" + names[1]));
  EXPECT_FALSE(fs::exists(dir->path() + "/" + names[1] + ".note"));
  EXPECT_FALSE(fs::exists(dir->path() + "/" + names[2]));
  EXPECT_TRUE(fs::exists(dir->path() + "/" + names[3]));
  EXPECT_TRUE(fs::exists(dir->path() + "/" + names[4]));
  EXPECT_TRUE(fs::exists(dir->path() + "/staging-123"));
  for (const auto& e : fs::directory_iterator(dir->path()))
    EXPECT_FALSE(e.path().filename().string().starts_with("trash-")) << e.path();

  held.Reset();  // the job ended
  removed = PruneSharedRoots(dir->path(), 2);
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(*removed, 1u);
  EXPECT_FALSE(fs::exists(dir->path() + "/" + names[0]));
}

// Through the runner: with room for one shared root, a job on other inputs
// replaces the previous one, and a job on the first inputs stages it again.
TEST_F(JobRunnerTest, SharedRootsStayWithinTheirBound) {
  auto dir = TempDir::Create("", "bounded-");
  ASSERT_TRUE(dir.has_value());
  JobRunner runner(*cas_, JobRunnerOptions{.work_dir = dir->path() + "/tmp",
                                           .checkout_dir = dir->path() + "/checkouts",
                                           .log_dir = dir->path() + "/logs",
                                           .max_shared_roots = 1});
  auto count_roots = [&] {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir->path() + "/tmp/roots"))
      n += e.is_directory() && e.path().filename().string().size() == 64;
    return n;
  };
  JobSpec first = SandboxJob({"echo one > %{install-root}/one"});
  first.phases = {{"build-commands", {"echo one > /buildstream-install/one"}}};
  auto a = runner.Run(first);
  ASSERT_TRUE(a.has_value() && a->success) << (a ? a->failure.ToString() : a.error().ToString());
  EXPECT_EQ(count_roots(), 1u);
  JobSpec second = first;
  second.cache_key = std::string(64, 'e');
  second.inputs.push_back({"extra.bst", ImportFiles({{"etc/extra", "x"}}), {}, {}});
  auto b = runner.Run(second);
  ASSERT_TRUE(b.has_value() && b->success) << (b ? b->failure.ToString() : b.error().ToString());
  EXPECT_EQ(count_roots(), 1u);
  first.cache_key = std::string(64, 'f');
  auto c = runner.Run(first);
  ASSERT_TRUE(c.has_value() && c->success) << (c ? c->failure.ToString() : c.error().ToString());
  EXPECT_EQ(count_roots(), 1u);
  EXPECT_EQ(ReadFile(Export(*c->artifact) + "/one"), "one\n");
}

TEST(SplitGlobTest, MatchesLikeBuildStream) {
  struct Case { const char* pattern; const char* path; bool match; };
  const Case cases[] = {
      {"/usr/bin/*", "/usr/bin/hello", true},
      {"/usr/bin/*", "/usr/bin/sub/hello", false},
      {"/usr/include/**", "/usr/include/a/b.h", true},
      {"/usr/lib/lib*.so*", "/usr/lib/libz.so.1.2.13", true},
      {"/usr/lib/lib*.so*", "/usr/lib/libz.a", false},
      {"/usr/lib/?.so", "/usr/lib/a.so", true},
      {"/usr/share/doc", "/usr/share/doc", true},
      {"/usr/share/doc", "/usr/share/doc2", false},
  };
  for (const auto& c : cases)
    EXPECT_EQ(SplitGlobMatch(c.pattern, c.path), c.match) << c.pattern << " vs " << c.path;
}

}  // namespace
}  // namespace crossfarm::worker

namespace crossfarm::worker {
namespace {

// Issue 19: a file edited in <cache>/checkouts/<root>/ (a hard link into the
// store) went into the next dependent build.
TEST_F(JobRunnerTest, AnEditedCheckoutIsRemadeFromTheStoreBeforeItIsUsedAgain) {
  Digest dep = ImportFiles({{"data.txt", "original\n"}});
  auto first = runner_->Checkout(dep);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  std::string file = *first + "/data.txt";
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  { std::ofstream(file, std::ios::trunc) << "tampered\n"; }
  auto second = runner_->Checkout(dep);
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  EXPECT_EQ(ReadFile(*second + "/data.txt"), "original\n");
  // And again, unchanged: the stamp of the re-made checkout holds.
  EXPECT_EQ(ReadFile(runner_->Checkout(dep).value_or("") + "/data.txt"), "original\n");
}

TEST_F(JobRunnerTest, CasVerifyScrubDropsCheckoutsWhoseFilesNoLongerMatch) {
  Digest dep = ImportFiles({{"data.txt", "original\n"}});
  Digest other = ImportFiles({{"other.txt", "kept\n"}});
  auto c = runner_->Checkout(dep);
  ASSERT_TRUE(c.has_value());
  ASSERT_TRUE(runner_->Checkout(other).has_value());
  std::string file = *c + "/data.txt";
  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  { std::ofstream(file, std::ios::trunc) << "tampered\n"; }
  auto removed = ScrubCheckouts(*cas_, dir_->path() + "/checkouts");
  ASSERT_TRUE(removed.has_value()) << removed.error().ToString();
  EXPECT_EQ(*removed, std::vector<std::string>{dep.Hex()});
  EXPECT_FALSE(fs::exists(*c));
  EXPECT_TRUE(fs::exists(dir_->path() + "/checkouts/" + other.Hex() + "/other.txt"));
  EXPECT_EQ(ScrubCheckouts(*cas_, dir_->path() + "/checkouts")->size(), 0u);
}

}  // namespace
}  // namespace crossfarm::worker
