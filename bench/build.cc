// bench_build: the embedded build's overhead and its scaling.
//
//  1. zlib (examples/hello/elements/zlib.bst, Debian's source package) built by
//     crossfarm in bubblewrap, next to the same configure + make + install run
//     directly on the host on the same source tree, in the same run. The base and
//     the sources are cached first, so both sides time the same work.
//  2. A layered DAG of small `manual` elements (each depends on 3 elements of
//     the layer below) on a busybox base: built from scratch, then again fully
//     cached; and BuildStream 1.6 (`bst` from Debian) on the same project, for
//     a size it finishes in minutes.
//
// Usage: bench_build [--elements 1000] [--bst-elements 100] [--skip-zlib]
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "bench/bench_util.h"
#include "bench/dag_project.h"

namespace fs = std::filesystem;
using crossfarm::bench::BenchDir;
using crossfarm::bench::TimeCommand;
using crossfarm::bench::GenerateDag;
using crossfarm::bench::TopTargets;
using crossfarm::bench::Quote;

namespace {

std::string g_crossfarm;

// zlib: crossfarm vs host. Returns {crossfarm seconds, host seconds}.
std::pair<double, double> BenchZlib(const fs::path& work) {
  fs::path project = work / "hello", cache = work / "cache", mirror = work / "mirror";
  const char* env_mirror = std::getenv("CROSSFARM_TEST_CACHE");
  if (env_mirror) mirror = fs::path(env_mirror) / "mirror";
  TimeCommand("cp -a " + Quote(fs::path(CROSSFARM_SOURCE_DIR) / "examples/hello") + " " +
              Quote(project));
  std::string cf = g_crossfarm + " -C " + Quote(project) + " --cache-dir " + Quote(cache) +
                   " --mirror-dir " + Quote(mirror);
  if (TimeCommand(cf + " source track --save base/amd64.bst").exit_code != 0 ||
      TimeCommand(cf + " build zlib.bst").exit_code != 0) {
    std::cerr << "zlib warm-up build failed\n";
    return {0, 0};
  }
  // A variable that changes the key but not the work: the timed build redoes
  // zlib only, with base and sources in the cache.
  std::ofstream(project / "elements/zlib.bst", std::ios::app) << "variables:\n  bench-run: '1'\n";
  auto crossfarm = TimeCommand(cf + " build zlib.bst");
  // The host run: the same Debian source package, unpacked by apt, the same
  // commands; its output goes to a scratch DESTDIR.
  fs::path src = work / "zlib-src";
  if (TimeCommand("cd " + Quote(work) + " && apt-get source -qq -o APT::Sandbox::User=root "
                  "zlib=1:1.2.13.dfsg-1 && mv zlib-1.2.13.dfsg " + Quote(src)).exit_code != 0) {
    std::cerr << "apt-get source zlib failed\n";
    return {crossfarm.seconds, 0};
  }
  auto host = TimeCommand("cd " + Quote(src) + " && ./configure --prefix=/usr --libdir=/usr/lib && "
                          "make -j" + std::to_string(std::thread::hardware_concurrency()) +
                          " && make install DESTDIR=" + Quote(work / "host-install"));
  if (crossfarm.exit_code != 0 || host.exit_code != 0) {
    std::cerr << "zlib timed build failed (crossfarm " << crossfarm.exit_code << ", host "
              << host.exit_code << ")\n";
    return {0, 0};
  }
  return {crossfarm.seconds, host.seconds};
}

}  // namespace

int main(int argc, char** argv) {
  g_crossfarm = (crossfarm::bench::SelfDir() / "../client/crossfarm").string();
  int elements = 1000, bst_elements = 100;
  bool skip_zlib = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--elements" && i + 1 < argc) elements = std::stoi(argv[++i]);
    else if (a == "--bst-elements" && i + 1 < argc) bst_elements = std::stoi(argv[++i]);
    else if (a == "--skip-zlib") skip_zlib = true;
    else if (a == "--crossfarm" && i + 1 < argc) g_crossfarm = argv[++i];
  }
  std::map<std::string, double> r;
  if (!skip_zlib) {
    BenchDir work("zlib");
    auto [cf, host] = BenchZlib(work.path());
    std::printf("zlib: crossfarm %.2f s, host configure+make %.2f s, overhead x%.2f\n", cf, host,
                host > 0 ? cf / host : 0);
    r["zlib_crossfarm_s"] = cf;
    r["zlib_host_s"] = host;
    r["zlib_overhead"] = host > 0 ? cf / host : 0;
  }
  {
    BenchDir dag("dag");
    GenerateDag(dag.path(), elements);
    std::string cf = g_crossfarm + " -C " + Quote(dag.path()) + " --cache-dir " +
                     Quote(dag.path() / ".cache");
    auto scratch = TimeCommand(cf + " build" + TopTargets(elements));
    auto cached = TimeCommand(cf + " build" + TopTargets(elements));
    std::printf("dag %d elements: crossfarm from scratch %.2f s (exit %d), cached %.3f s\n",
                elements, scratch.seconds, scratch.exit_code, cached.seconds);
    r["dag_elements"] = elements;
    r["dag_scratch_s"] = scratch.seconds;
    r["dag_cached_s"] = cached.seconds;
  }
  if (bst_elements > 0 && TimeCommand("command -v bst").exit_code == 0) {
    BenchDir dag("dag-bst");
    GenerateDag(dag.path(), bst_elements);
    std::string cf = g_crossfarm + " -C " + Quote(dag.path()) + " --cache-dir " +
                     Quote(dag.path() / ".cache");
    auto cf_scratch = TimeCommand(cf + " build" + TopTargets(bst_elements));
    std::string bst = "cd " + Quote(dag.path()) + " && XDG_CACHE_HOME=" +
                      Quote(dag.path() / ".bstcache") + " bst --no-interactive build" +
                      TopTargets(bst_elements);
    auto b_scratch = TimeCommand(bst);
    auto b_cached = TimeCommand(bst);
    std::printf("dag %d elements: bst 1.6 from scratch %.2f s (exit %d), cached %.2f s; "
                "crossfarm %.2f s\n",
                bst_elements, b_scratch.seconds, b_scratch.exit_code, b_cached.seconds,
                cf_scratch.seconds);
    r["bst_dag_elements"] = bst_elements;
    r["bst_scratch_s"] = b_scratch.exit_code == 0 ? b_scratch.seconds : -1;
    r["bst_cached_s"] = b_cached.exit_code == 0 ? b_cached.seconds : -1;
    r["crossfarm_same_dag_s"] = cf_scratch.seconds;
    if (b_scratch.exit_code == 0) r["bst_over_crossfarm"] = b_scratch.seconds / cf_scratch.seconds;
  }
  std::printf("RESULT");
  for (auto& [k, v] : r) std::printf(" %s=%.3f", k.c_str(), v);
  std::printf("\n");
  return 0;
}
