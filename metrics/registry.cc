#include "metrics/registry.h"

#include <fmt/format.h>

#include <cassert>
#include <cmath>

namespace crossfarm::metrics {

std::vector<double> DurationBuckets() {
  return {1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400};
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

namespace {

const char* TypeName(Type t) {
  switch (t) {
    case Type::kCounter: return "counter";
    case Type::kGauge: return "gauge";
    case Type::kHistogram: return "histogram";
  }
  return "untyped";
}

// Help text escapes only backslash and newline (exposition format 0.0.4).
std::string EscapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// Go's strconv.FormatFloat(v, 'g', -1, 64) style that Prometheus parses:
// integers without a fraction, +Inf/-Inf/NaN spelled out.
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

// `{a="x",b="y"}` for the label names and values, plus an optional `le`.
std::string LabelText(const std::vector<std::string>& names, const std::vector<std::string>& values,
                      const std::string& le = "") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i)
    out += fmt::format("{}{}=\"{}\"", out.empty() ? "" : ",", names[i], EscapeLabelValue(values[i]));
  if (!le.empty()) out += fmt::format("{}le=\"{}\"", out.empty() ? "" : ",", le);
  return out.empty() ? "" : "{" + out + "}";
}

}  // namespace

void Registry::Describe(std::string name, Type type, std::string help, std::vector<std::string> labels,
                        std::vector<double> buckets) {
  std::lock_guard lock(mu_);
  assert(!families_.contains(name) && "metric declared twice");
  order_.push_back(name);
  families_.emplace(std::move(name), Family{type, std::move(help), std::move(labels), std::move(buckets), {}});
}

void Registry::DescribeCounter(std::string name, std::string help, std::vector<std::string> labels) {
  Describe(std::move(name), Type::kCounter, std::move(help), std::move(labels), {});
}

void Registry::DescribeGauge(std::string name, std::string help, std::vector<std::string> labels) {
  Describe(std::move(name), Type::kGauge, std::move(help), std::move(labels), {});
}

void Registry::DescribeHistogram(std::string name, std::string help, std::vector<std::string> labels,
                                 std::vector<double> buckets) {
  Describe(std::move(name), Type::kHistogram, std::move(help), std::move(labels), std::move(buckets));
}

Registry::Series& Registry::At(std::string_view name, Type type, const std::vector<std::string>& values) {
  auto it = families_.find(name);
  assert(it != families_.end() && "metric not declared");
  assert(it->second.type == type && "metric used as another type");
  assert(values.size() == it->second.labels.size() && "wrong number of label values");
  (void)type;
  Series& s = it->second.series[values];
  if (it->second.type == Type::kHistogram && s.hits.empty()) s.hits.assign(it->second.buckets.size(), 0);
  return s;
}

void Registry::Add(std::string_view name, const std::vector<std::string>& values, double delta) {
  assert(delta >= 0 && "a counter only grows");
  std::lock_guard lock(mu_);
  At(name, Type::kCounter, values).value += delta;
}

void Registry::Set(std::string_view name, const std::vector<std::string>& values, double value) {
  std::lock_guard lock(mu_);
  At(name, Type::kGauge, values).value = value;
}

void Registry::ClearGauge(std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  assert(it != families_.end() && it->second.type == Type::kGauge);
  it->second.series.clear();
}

void Registry::Observe(std::string_view name, const std::vector<std::string>& values, double value) {
  std::lock_guard lock(mu_);
  Series& s = At(name, Type::kHistogram, values);
  const auto& bounds = families_.find(name)->second.buckets;
  for (size_t i = 0; i < bounds.size(); ++i)
    if (value <= bounds[i]) {
      ++s.hits[i];
      break;
    }
  s.value += value;
  ++s.count;
}

double Registry::Value(std::string_view name, const std::vector<std::string>& values) const {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto s = it->second.series.find(values);
  if (s == it->second.series.end()) return 0;
  return it->second.type == Type::kHistogram ? static_cast<double>(s->second.count) : s->second.value;
}

void Registry::SetCounter(std::string_view name, const std::vector<std::string>& values, double total) {
  std::lock_guard lock(mu_);
  Series& s = At(name, Type::kCounter, values);
  assert(total >= s.value && "a counter only grows");
  s.value = total;
}

void Registry::AddCollector(std::function<void()> collect) { collectors_.push_back(std::move(collect)); }

std::string Registry::Render() {
  for (const auto& collect : collectors_) collect();
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& name : order_) {
    const Family& f = families_.find(name)->second;
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, EscapeHelp(f.help), name, TypeName(f.type));
    for (const auto& [values, s] : f.series) {
      if (f.type != Type::kHistogram) {
        out += fmt::format("{}{} {}\n", name, LabelText(f.labels, values), FormatValue(s.value));
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t i = 0; i < f.buckets.size(); ++i) {
        cumulative += s.hits[i];
        out += fmt::format("{}_bucket{} {}\n", name, LabelText(f.labels, values, FormatValue(f.buckets[i])),
                           cumulative);
      }
      out += fmt::format("{}_bucket{} {}\n", name, LabelText(f.labels, values, "+Inf"), s.count);
      out += fmt::format("{}_sum{} {}\n", name, LabelText(f.labels, values), FormatValue(s.value));
      out += fmt::format("{}_count{} {}\n", name, LabelText(f.labels, values), s.count);
    }
  }
  return out;
}

}  // namespace crossfarm::metrics
