// bench_concurrency: two builds of one cache at once against the same two
// builds one after the other (docs/cas.md "Several commands on one cache").
//
// The project (generated like bench_build's, on a busybox base) has two
// independent chains a1 <- a2 <- ... and b1 <- b2 <- ...; each element sleeps
// (a compiler waiting on I/O, not a CPU: the point is the cache, not the
// cores) and installs many small files (CAS imports, checkouts of its deps).
// The same work is timed twice on fresh caches: `build a` then `build b`, and
// `build a & build b`. Before the cache service the second build waited for
// the first (ratio ~1); with it both run at once (ratio ~0.5).
//
// Usage: bench_concurrency [--chain 6] [--files 400] [--sleep 1] [--crossfarm PATH]
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "bench/bench_util.h"

namespace fs = std::filesystem;
using crossfarm::bench::BenchDir;
using crossfarm::bench::NowSeconds;
using crossfarm::bench::Quote;
using crossfarm::bench::RunLogged;

namespace {

struct Shape {
  int chain = 6;
  int files = 400;
  int sleep = 1;
};

void GenerateChains(const fs::path& dir, const Shape& shape) {
  fs::create_directories(dir / "files/base/usr/bin");
  fs::copy_file("/bin/busybox", dir / "files/base/usr/bin/busybox");
  for (const char* applet : {"sh", "mkdir", "echo", "seq", "sleep", "true"})
    fs::create_symlink("busybox", dir / "files/base/usr/bin" / applet);
  fs::create_symlink("usr/bin", dir / "files/base/bin");
  std::ofstream(dir / "project.conf") << "name: chains\nelement-path: elements\n"
                                         "variables:\n  strip-binaries: ''\n"
                                         "environment:\n  PATH: /usr/bin:/bin\n";
  fs::create_directories(dir / "elements");
  std::ofstream(dir / "elements/base.bst")
      << "kind: import\nsources:\n- kind: local\n  path: files/base\n";
  for (const char* chain : {"a", "b"}) {
    for (int i = 1; i <= shape.chain; ++i) {
      std::string name = std::string(chain) + std::to_string(i);
      std::ofstream o(dir / "elements" / (name + ".bst"));
      o << "kind: manual\nbuild-depends:\n- base.bst\n";
      if (i > 1) o << "depends:\n- " << chain << (i - 1) << ".bst\n";
      o << "config:\n  build-commands:\n  - sleep " << shape.sleep << "\n"
        << "  - mkdir -p %{install-root}/" << name << " && for i in $(seq 1 " << shape.files
        << "); do echo " << name << "-$i > %{install-root}/" << name << "/f$i; done\n";
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string crossfarm = (crossfarm::bench::SelfDir() / "../client/crossfarm").string();
  Shape shape;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--chain" && i + 1 < argc) shape.chain = std::stoi(argv[++i]);
    else if (a == "--files" && i + 1 < argc) shape.files = std::stoi(argv[++i]);
    else if (a == "--sleep" && i + 1 < argc) shape.sleep = std::stoi(argv[++i]);
    else if (a == "--crossfarm" && i + 1 < argc) crossfarm = argv[++i];
  }
  BenchDir work("concurrency");
  GenerateChains(work.path(), shape);
  auto cf = [&](const std::string& cache) {
    return crossfarm + " -C " + Quote(work.path()) + " --cache-dir " + Quote(work.path() / cache);
  };
  std::string a = "a" + std::to_string(shape.chain) + ".bst";
  std::string b = "b" + std::to_string(shape.chain) + ".bst";
  // Both caches start with the base built, so both sides time the chains only.
  for (const char* cache : {"seq", "par"})
    if (RunLogged("base build", cf(cache) + " build base.bst", work.path() / "base.log").exit_code)
      return 1;

  double t0 = NowSeconds();
  int seq_a = RunLogged("build a", cf("seq") + " build " + a, work.path() / "seq-a.log").exit_code;
  int seq_b = RunLogged("build b", cf("seq") + " build " + b, work.path() / "seq-b.log").exit_code;
  double sequential = NowSeconds() - t0;

  t0 = NowSeconds();
  int par_a = 0, par_b = 0;
  std::thread other([&] {
    par_a = RunLogged("build a", cf("par") + " build " + a, work.path() / "par-a.log").exit_code;
  });
  par_b = RunLogged("build b", cf("par") + " build " + b, work.path() / "par-b.log").exit_code;
  other.join();
  double concurrent = NowSeconds() - t0;

  // The artifacts of the concurrent run must be whole: check both out.
  int co = RunLogged("checkout", cf("par") + " checkout --deps none " + a + " " +
                     Quote(work.path() / "co-a") + " && " + cf("par") + " checkout --deps none " +
                     b + " " + Quote(work.path() / "co-b"), work.path() / "co.log").exit_code;
  bool whole = co == 0;
  for (const char* chain : {"a", "b"}) {
    std::string name = chain + std::to_string(shape.chain);
    fs::path dir = work.path() / (std::string("co-") + chain) / name;
    for (int i = 1; whole && i <= shape.files; ++i) {
      std::ifstream in(dir / ("f" + std::to_string(i)));
      std::string line;
      whole = std::getline(in, line) && line == name + "-" + std::to_string(i);
    }
  }
  bool ok = seq_a == 0 && seq_b == 0 && par_a == 0 && par_b == 0 && whole;
  std::printf("two chains of %d elements (%d files, sleep %d s each): one after the other %.2f s, "
              "at once %.2f s (x%.2f)%s\n",
              shape.chain, shape.files, shape.sleep, sequential, concurrent,
              crossfarm::bench::Ratio(concurrent, sequential), ok ? "" : "; A BUILD FAILED");
  std::printf("RESULT sequential_s=%.3f concurrent_s=%.3f concurrent_over_sequential=%.3f "
              "artifacts_complete=%d\n",
              sequential, concurrent, crossfarm::bench::Ratio(concurrent, sequential), whole ? 1 : 0);
  return ok ? 0 : 1;
}
