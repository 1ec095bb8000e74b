// The live view's text: each running job's phase and last log line, and the
// transfer lines of a remote build (client/progress.h, client/transfer_progress.h).
#include <gtest/gtest.h>

#include <cstdio>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <string>

#include "client/progress.h"
#include "client/transfer_progress.h"

namespace crossfarm::client {
namespace {

// What a FILE* received.
std::string Contents(FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) out.append(buf, n);
  return out;
}

TEST(ProgressTest, ARunningJobShowsItsPhaseAndLastLogLine) {
  FILE* out = std::tmpfile();
  Progress p(ProgressMode::kPlain, out);
  p.SetTotals(1, 0);
  p.JobStarted("hello.bst", "local");
  EXPECT_EQ(p.JobActivity("hello.bst"), "");
  p.JobLog("hello.bst", "# crossfarm: sandbox x86_64 (native)\n# crossfarm: phase configure-commands\n");
  EXPECT_EQ(p.JobActivity("hello.bst"), "configure");
  // A line split between chunks is shown once whole; crossfarm's own lines are not.
  p.JobLog("hello.bst", "checking for gcc... ");
  EXPECT_EQ(p.JobActivity("hello.bst"), "configure");
  p.JobLog("hello.bst", "gcc\r\n# crossfarm: running command 2/3\n");
  EXPECT_EQ(p.JobActivity("hello.bst"), "configure: checking for gcc... gcc");
  p.JobLog("hello.bst", "# crossfarm: phase build-commands\n");
  EXPECT_EQ(p.JobActivity("hello.bst"), "build");  // a new phase starts without a line
  p.JobLog("hello.bst", "make all\n" + std::string(300, 'x') + "\n");
  EXPECT_EQ(p.JobActivity("hello.bst"), "build: " + std::string(100, 'x') + "...");
  p.JobLog("hello.bst", "# crossfarm: phase integration of base.bst\nldconfig\n");
  EXPECT_EQ(p.JobActivity("hello.bst"), "integration of base.bst: ldconfig");
  p.JobLog("other.bst", "not running\n");  // ignored
  EXPECT_EQ(p.JobActivity("other.bst"), "");
  p.JobFinished("hello.bst", true);
  EXPECT_EQ(p.JobActivity("hello.bst"), "");
  p.Finish();
  std::fclose(out);
}

TEST(ProgressTest, ThePlainStatusLineNamesEachJobsPhaseAndLastLine) {
  ::setenv("CROSSFARM_PROGRESS_INTERVAL", "1", 1);
  FILE* out = std::tmpfile();
  {
    Progress p(ProgressMode::kPlain, out);
    p.SetTotals(1, 0);
    p.JobStarted("hello.bst", "local");
    p.JobLog("hello.bst", "# crossfarm: phase build-commands\ncc -c hello.c\n");
    // The status line comes on its own every interval: wait for it.
    for (int i = 0; i < 100 && Contents(out).find("running 1") == std::string::npos; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    p.JobFinished("hello.bst", true);
  }
  ::unsetenv("CROSSFARM_PROGRESS_INTERVAL");
  std::string text = Contents(out);
  EXPECT_NE(text.find("running 1 (hello.bst 00:0"), std::string::npos) << text;
  EXPECT_NE(text.find(" build: cc -c hello.c)"), std::string::npos) << text;
  std::fclose(out);
}

TEST(TransferProgressTest, BytesAndRateOfOnePhaseAreReported) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(5ull << 30), "5.0 GiB");
  auto stats = std::make_shared<TransferStats>();
  stats->Add(1000, 10);  // before the phase: not its bytes
  FILE* out = std::tmpfile();
  TransferProgress t("uploading sources", stats, ProgressMode::kPlain, out);
  stats->Add(3 << 20, 2048);
  std::string line = t.Line();
  EXPECT_TRUE(line.starts_with("uploading sources: 3.0 MiB up, 2.0 KiB down in ")) << line;
  EXPECT_NE(line.find("/s)"), std::string::npos) << line;
  t.Finish();
  t.Finish();  // idempotent
  std::string text = Contents(out);
  EXPECT_TRUE(text.starts_with("uploading sources: 3.0 MiB up")) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  std::fclose(out);
}

TEST(TransferProgressTest, APhaseThatMovedNothingPrintsNothing) {
  auto stats = std::make_shared<TransferStats>();
  FILE* out = std::tmpfile();
  { TransferProgress t("downloading artifacts", stats, ProgressMode::kPlain, out); }
  { TransferProgress local("downloading artifacts", nullptr, ProgressMode::kPlain, out); }
  EXPECT_EQ(Contents(out), "");
  std::fclose(out);
}

}  // namespace
}  // namespace crossfarm::client
