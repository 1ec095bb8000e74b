// Registry: a daemon's Prometheus metrics (counters, gauges, histograms with
// labels) and their text exposition format 0.0.4, which /metrics serves
// (docs/operations.md "Metrics").
//
// A metric is declared once (Describe*) with its name, help and label names;
// updating an undeclared metric, or with the wrong number of label values, is
// a bug (asserted). Thread-safe: one mutex, held for a map lookup and an add,
// so job threads, socket threads and the HTTP thread may all use it.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace crossfarm::metrics {

enum class Type { kCounter, kGauge, kHistogram };

// Bucket upper bounds (seconds) for job durations and waits: 1 s .. 4 h.
std::vector<double> DurationBuckets();
// Bucket upper bounds (seconds) for short latencies: 100 µs .. 10 s.
std::vector<double> LatencyBuckets();

class Registry {
 public:
  void DescribeCounter(std::string name, std::string help, std::vector<std::string> labels = {});
  void DescribeGauge(std::string name, std::string help, std::vector<std::string> labels = {});
  void DescribeHistogram(std::string name, std::string help, std::vector<std::string> labels,
                         std::vector<double> buckets);

  // Counters only grow: `delta` must be >= 0.
  void Add(std::string_view name, const std::vector<std::string>& values, double delta = 1);
  void Set(std::string_view name, const std::vector<std::string>& values, double value);
  // Drops every series of a gauge: for gauges recomputed from a snapshot, so a
  // label set that disappeared (an arch with no queue left) is not kept stale.
  void ClearGauge(std::string_view name);
  void Observe(std::string_view name, const std::vector<std::string>& values, double value);

  // A counter whose total is kept elsewhere (an atomic in a store), copied
  // in by a collector. `total` must not go down.
  void SetCounter(std::string_view name, const std::vector<std::string>& values, double total);
  // `collect` runs at the start of every Render(), on the caller's thread,
  // without the registry's lock: it Sets gauges from a snapshot. Register
  // collectors before the HTTP listener starts.
  void AddCollector(std::function<void()> collect);

  // The current value of one series (0 when it has no sample yet); for a
  // histogram, its sample count. For tests and the status page.
  double Value(std::string_view name, const std::vector<std::string>& values) const;

  // Every metric in declaration order, in Prometheus text format.
  std::string Render();

 private:
  struct Series {
    double value = 0;             // counter/gauge; histogram: sum
    uint64_t count = 0;           // histogram
    std::vector<uint64_t> hits;   // histogram: per bucket, not cumulative
  };
  struct Family {
    Type type;
    std::string help;
    std::vector<std::string> labels;
    std::vector<double> buckets;
    std::map<std::vector<std::string>, Series> series;
  };
  void Describe(std::string name, Type type, std::string help, std::vector<std::string> labels,
                std::vector<double> buckets);
  Series& At(std::string_view name, Type type, const std::vector<std::string>& values);

  std::vector<std::function<void()>> collectors_;
  mutable std::mutex mu_;
  std::vector<std::string> order_;
  std::map<std::string, Family, std::less<>> families_;
};

// `value` escaped for a label value: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);

}  // namespace crossfarm::metrics
