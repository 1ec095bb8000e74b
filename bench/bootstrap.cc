// bench_bootstrap: examples/bootstrap end to end (docs/bootstrap.md). For each
// target arch: stage 1 (the cross toolchain), stage 2 (the target runtime) and
// the tests on it (C hello, GNU hello, zlib, built and checked emulated), each
// timed as one `crossfarm build`; then the whole bootstrap again from the
// cache, the figure a second user or a CI run pays. Hours of gcc builds per
// arch on a small machine: run it nice'd, and pass --cache-dir to resume.
//
// Usage: bench_bootstrap [--arch riscv64[,aarch64,s390x]] [--cache-dir DIR]
//                        [--until stage1|stage2|tests]
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>
#include <vector>

#include "bench/bench_util.h"
#include "common/version.h"

namespace fs = std::filesystem;
using crossfarm::bench::BenchDir;
using crossfarm::bench::Quote;
using crossfarm::bench::RunLogged;
using crossfarm::bench::RunResult;
using crossfarm::bench::SelfDir;

namespace {

struct Stage {
  const char* name;
  const char* target;
};
// In dependency order: each stage's build finds the previous ones cached.
constexpr Stage kStages[] = {{"stage1", "stage1/toolchain.bst"},
                             {"stage2", "stage2/runtime.bst"},
                             {"tests", "tests.bst"}};

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

constexpr const char* kUsage =
    "usage: bench_bootstrap [--arch riscv64[,aarch64,s390x]] [--cache-dir DIR] "
    "[--until stage1|stage2|tests]\n"
    "Builds examples/bootstrap's stages per target arch, then again from the cache;\n"
    "prints the time of each and one RESULT line. --cache-dir keeps (and resumes) the cache.\n";

int Usage() {
  std::cerr << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string archs = "riscv64", cache_arg, until = "tests";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    }
    if (a == "--version") {
      std::cout << crossfarm::VersionText("bench_bootstrap") << "\n";
      return 0;
    }
    if (i + 1 >= argc) return Usage();
    if (a == "--arch") archs = argv[++i];
    else if (a == "--cache-dir") cache_arg = argv[++i];
    else if (a == "--until") until = argv[++i];
    else return Usage();
  }
  if (until != "stage1" && until != "stage2" && until != "tests") return Usage();

  BenchDir work("bootstrap");
  fs::path cache = cache_arg.empty() ? work.path() / "cache" : fs::path(cache_arg);
  fs::path project = fs::path(CROSSFARM_SOURCE_DIR) / "examples/bootstrap";
  std::string cf = Quote(SelfDir().parent_path() / "client/crossfarm") + " -C " + Quote(project) +
                   " --cache-dir " + Quote(cache);

  std::ostringstream result;
  result << "RESULT bootstrap";
  bool all_ok = true;
  for (const std::string& arch : Split(archs)) {
    std::map<std::string, double> secs;
    bool ok = true;
    const char* last_target = nullptr;
    for (const Stage& s : kStages) {
      fs::path log = work.path() / (arch + "-" + s.name + ".log");
      RunResult r = RunLogged(arch + " " + s.name, cf + " --arch " + arch + " build " + s.target, log);
      secs[s.name] = r.exit_code == 0 ? r.seconds : -1;
      std::printf("%-8s %-7s %10.1f s  %s\n", arch.c_str(), s.name, r.seconds,
                  r.exit_code == 0 ? "ok" : "FAILED");
      std::fflush(stdout);
      last_target = s.target;
      if (r.exit_code != 0) {
        ok = false;
        break;
      }
      if (until == s.name) break;
    }
    // Everything built above again, from the cache: no job may run.
    double cached = -1;
    if (ok && last_target) {
      fs::path log = work.path() / (arch + "-cached.log");
      RunResult r = RunLogged(arch + " cached", cf + " --arch " + arch + " build " + last_target, log);
      cached = r.exit_code == 0 ? r.seconds : -1;
      std::printf("%-8s %-7s %10.1f s  (cached rebuild of %s)\n", arch.c_str(), "cached", r.seconds,
                  last_target);
    }
    double total = 0;
    for (const auto& [name, s] : secs) total += s > 0 ? s : 0;
    for (const Stage& s : kStages)
      result << " " << arch << "_" << s.name << "_s=" << (secs.count(s.name) ? secs[s.name] : -1);
    result << " " << arch << "_cached_s=" << cached << " " << arch
           << "_cached_over_cold=" << crossfarm::bench::Ratio(cached, total) << " " << arch
           << "_ok=" << (ok ? 1 : 0);
    all_ok = all_ok && ok;
  }
  std::cout << result.str() << "\n";
  return all_ok ? 0 : 1;
}
