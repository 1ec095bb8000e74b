// bench_show: times `crossfarm show --deps all` on generated layered DAGs of
// 1,000 / 10,000 / 100,000 elements, next to `bst show` (BuildStream 1.6 from
// Debian) on the same project in the same run, up to a size bst finishes in a
// few minutes.
//
// Each element depends on 3 elements of the layer below and has variables, a
// `(?)` conditional on the arch option and a tar source with a ref.
//
// Wall time needs an idle machine; the CPU time (user + sys of the command,
// from getrusage of the waited children) is printed beside it because on a
// loaded machine it is the steadier figure (wall time then measures the load).
//
// Usage: bench_show [--crossfarm PATH] [--bst-max N] [--sizes 1000,10000,100000]
#include <sys/resource.h>

#include <fstream>
#include <map>
#include <iostream>
#include <sstream>
#include <vector>

#include "bench/bench_util.h"
#include "common/digest.h"

namespace fs = std::filesystem;
using crossfarm::bench::BenchDir;
using crossfarm::bench::TimeCommand;

namespace {

constexpr int kWidth = 100;  // elements per layer

std::string ElementName(int layer, int index) {
  return "layer-" + std::to_string(layer) + "/e-" + std::to_string(index) + ".bst";
}

void WriteElement(const fs::path& dir, int layer, int index) {
  std::ostringstream o;
  o << "kind: manual\n"
    << "description: element " << layer << "/" << index << "\n";
  if (layer > 0) {
    o << "build-depends:\n";
    for (int k = 0; k < 3; ++k) o << "- " << ElementName(layer - 1, (index + k) % kWidth) << "\n";
  }
  o << "variables:\n"
    << "  layer: '" << layer << "'\n"
    << "  flags: -O2 -DLAYER=%{layer}\n"
    << "(?):\n"
    << "- arch == \"aarch64\":\n"
    << "    variables:\n"
    << "      flags: -O3 -DLAYER=%{layer}\n"
    << "sources:\n"
    << "- kind: tar\n"
    << "  url: mirror:pkg-" << layer << "-" << index << ".tar.gz\n"
    << "  ref: " << crossfarm::Sha256Hex(ElementName(layer, index)) << "\n"
    << "config:\n"
    << "  build-commands:\n"
    << "  - echo %{flags} > %{install-root}/e-" << layer << "-" << index << "\n";
  fs::path p = dir / "elements" / ElementName(layer, index);
  fs::create_directories(p.parent_path());
  std::ofstream(p) << o.str();
}

// Writes the project; returns the names of the top layer's elements.
std::vector<std::string> Generate(const fs::path& dir, int count) {
  std::ofstream(dir / "project.conf") << "name: bench\n"
                                         "element-path: elements\n"
                                         "aliases:\n"
                                         "  mirror: https://mirror.invalid/\n"
                                         "options:\n"
                                         "  arch:\n"
                                         "    type: arch\n"
                                         "    description: Target arch\n"
                                         "    values: [x86_64, aarch64]\n";
  int layers = (count + kWidth - 1) / kWidth;
  for (int l = 0; l < layers; ++l)
    for (int i = 0; i < kWidth && l * kWidth + i < count; ++i) WriteElement(dir, l, i);
  std::vector<std::string> top;
  int last = layers - 1;
  for (int i = 0; i < kWidth && last * kWidth + i < count; ++i) top.push_back(ElementName(last, i));
  return top;
}

// User + system CPU seconds of every child waited for so far.
double ChildrenCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (auto& s : v) out += " " + s;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string crossfarm = (crossfarm::bench::SelfDir() / "../client/crossfarm").string();
  std::vector<int> sizes = {1000, 10000, 100000};
  int bst_max = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--crossfarm") crossfarm = argv[i + 1];
    if (a == "--bst-max") bst_max = std::stoi(argv[i + 1]);
    if (a == "--sizes") {
      sizes.clear();
      std::stringstream ss(argv[i + 1]);
      for (std::string s; std::getline(ss, s, ',');) sizes.push_back(std::stoi(s));
    }
  }
  bool have_bst = TimeCommand("command -v bst").exit_code == 0;
  std::map<int, double> cf_time, cf_cpu, bst_time;
  for (int n : sizes) {
    BenchDir dir("show");
    auto top = Generate(dir.path(), n);
    std::string targets = Join(top);
    std::string fmt = "'%{name} %{full-key}'";
    double cpu0 = ChildrenCpuSeconds();
    auto cf = TimeCommand(crossfarm + " -C " + dir.path().string() + " show --deps all --format " +
                          fmt + targets);
    if (cf.exit_code != 0) {
      std::cerr << "crossfarm show failed on " << n << " elements (exit " << cf.exit_code << ")\n";
      return 1;
    }
    cf_time[n] = cf.seconds;
    cf_cpu[n] = ChildrenCpuSeconds() - cpu0;
    std::printf("crossfarm show --deps all: %7d elements %8.3f s (%.1f us/element), CPU %.3f s\n",
                n, cf.seconds, cf.seconds * 1e6 / n, cf_cpu[n]);
    if (have_bst && n <= bst_max) {
      auto b = TimeCommand("cd " + dir.path().string() +
                           " && XDG_CACHE_HOME=" + dir.path().string() +
                           "/.bstcache bst --no-interactive show --deps all --format " + fmt +
                           targets);
      if (b.exit_code == 0) {
        bst_time[n] = b.seconds;
        std::printf("bst 1.6 show --deps all:   %7d elements %8.3f s (%.1f us/element)\n", n,
                    b.seconds, b.seconds * 1e6 / n);
      } else {
        std::printf("bst show failed on %d elements (exit %d)\n", n, b.exit_code);
      }
    }
  }
  std::printf("RESULT");
  for (auto& [n, t] : cf_time) std::printf(" crossfarm_show_%d_s=%.3f", n, t);
  for (auto& [n, t] : cf_cpu) std::printf(" crossfarm_show_%d_cpu_s=%.3f", n, t);
  for (auto& [n, t] : bst_time) {
    std::printf(" bst_show_%d_s=%.3f", n, t);
    if (cf_time.count(n)) std::printf(" bst_over_crossfarm_%d=%.1f", n, t / cf_time[n]);
  }
  if (cf_time.count(10000) && cf_time.count(100000))
    std::printf(" growth_10k_to_100k=%.2f", cf_time[100000] / cf_time[10000]);
  std::printf("\n");
  return 0;
}
