// metrics::Registry: the text exposition format, checked by reading it and by
// Debian's promtool (`promtool check metrics`, the linter Prometheus ships).
#include "metrics/registry.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/e2e/e2e_util.h"

namespace crossfarm::metrics {
namespace {

TEST(RegistryTest, CountersAndGaugesRenderWithHelpTypeAndLabels) {
  Registry r;
  r.DescribeCounter("x_requests_total", "Requests served", {"op"});
  r.DescribeGauge("x_queue_jobs", "Queued jobs", {"arch", "state"});
  r.Add("x_requests_total", {"get"});
  r.Add("x_requests_total", {"get"}, 2);
  r.Set("x_queue_jobs", {"aarch64", "ready"}, 4);
  EXPECT_EQ(r.Render(),
            "# HELP x_requests_total Requests served\n# TYPE x_requests_total counter\n"
            "x_requests_total{op=\"get\"} 3\n"
            "# HELP x_queue_jobs Queued jobs\n# TYPE x_queue_jobs gauge\n"
            "x_queue_jobs{arch=\"aarch64\",state=\"ready\"} 4\n");
  EXPECT_EQ(r.Value("x_requests_total", {"get"}), 3);
}

TEST(RegistryTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry r;
  r.DescribeHistogram("x_seconds", "Durations", {}, {1, 10});
  r.Observe("x_seconds", {}, 0.5);
  r.Observe("x_seconds", {}, 5);
  r.Observe("x_seconds", {}, 50);
  EXPECT_EQ(r.Render(),
            "# HELP x_seconds Durations\n# TYPE x_seconds histogram\n"
            "x_seconds_bucket{le=\"1\"} 1\nx_seconds_bucket{le=\"10\"} 2\n"
            "x_seconds_bucket{le=\"+Inf\"} 3\nx_seconds_sum 55.5\nx_seconds_count 3\n");
  EXPECT_EQ(r.Value("x_seconds", {}), 3);
}

TEST(RegistryTest, LabelValuesAreEscaped) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  Registry r;
  r.DescribeGauge("x", "x", {"element"});
  r.Set("x", {"we\"ird\n.bst"}, 1);
  EXPECT_NE(r.Render().find("x{element=\"we\\\"ird\\n.bst\"} 1\n"), std::string::npos) << r.Render();
}

TEST(RegistryTest, ClearedGaugeForgetsLabelSetsThatWentAway) {
  Registry r;
  r.DescribeGauge("q", "q", {"arch"});
  r.Set("q", {"s390x"}, 2);
  r.ClearGauge("q");
  r.Set("q", {"aarch64"}, 1);
  EXPECT_EQ(r.Render().find("s390x"), std::string::npos) << r.Render();
  EXPECT_NE(r.Render().find("q{arch=\"aarch64\"} 1"), std::string::npos);
}

TEST(RegistryTest, CollectorsRunAtEachRender) {
  Registry r;
  r.DescribeGauge("g", "g");
  r.DescribeCounter("c_total", "c");
  int calls = 0;
  r.AddCollector([&] {
    ++calls;
    r.Set("g", {}, calls);
    r.SetCounter("c_total", {}, calls * 10);
  });
  r.Render();
  std::string text = r.Render();
  EXPECT_EQ(calls, 2);
  EXPECT_NE(text.find("g 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("c_total 20\n"), std::string::npos) << text;
}

TEST(RegistryTest, ConcurrentUpdatesAreAllCounted) {
  Registry r;
  r.DescribeCounter("n_total", "n", {"t"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) r.Add("n_total", {"x"});
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(r.Value("n_total", {"x"}), 4000);
}

TEST(RegistryTest, PromtoolAcceptsTheOutput) {
  Registry r;
  r.DescribeCounter("crossfarm_test_requests_total", "Requests served", {"op"});
  r.DescribeGauge("crossfarm_test_queue_jobs", "Queued jobs", {"arch", "state"});
  r.DescribeHistogram("crossfarm_test_job_duration_seconds", "Durations", {"arch"}, DurationBuckets());
  r.Add("crossfarm_test_requests_total", {"get"});
  r.Set("crossfarm_test_queue_jobs", {"x86_64", "ready"}, 2);
  r.Observe("crossfarm_test_job_duration_seconds", {"x86_64"}, 42);
  e2e::TempTree dir("registry");
  e2e::WriteFile(dir.path() / "metrics.txt", r.Render());
  auto check = e2e::RunCmd("promtool check metrics < " + (dir.path() / "metrics.txt").string());
  EXPECT_EQ(check.exit_code, 0) << check.output;
  EXPECT_EQ(check.output, "") << "promtool lint findings";
}

}  // namespace
}  // namespace crossfarm::metrics
