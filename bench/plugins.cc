// bench_plugins: what running elements through the Python plugin host costs
// (docs/plugins.md), measured in one run against the same work done natively.
//
//  1. Build: N elements of a local Python BuildElement plugin (its assemble
//     runs the same commands through sandbox.run) against N `manual` elements
//     with the same commands, on a busybox base built first. Per-element
//     overhead = (python - manual) / N. Target: under 50 ms per element.
//  2. Show: `show` of a project of N Python-plugin elements against the same
//     project with `manual` elements (the plugin host keys every element),
//     then again ("warm": the keys come from the cache, no Python starts).
//
// Usage: bench_plugins [--elements 20]
#include <fstream>
#include <iostream>
#include <string>

#include "bench/bench_util.h"

namespace fs = std::filesystem;
using crossfarm::bench::BenchDir;
using crossfarm::bench::Quote;
using crossfarm::bench::RunLogged;
using crossfarm::bench::TimeCommand;

namespace {

constexpr const char* kPlugin = R"(from buildstream import BuildElement


class BenchElement(BuildElement):
    BST_FORMAT_VERSION = 0


def setup():
    return BenchElement
)";

void Write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// A project with N elements of `kind` (each: two install commands) on a base.
void MakeProject(const fs::path& dir, const std::string& kind, int n, int run) {
  Write(dir / "project.conf",
        "name: bench\nelement-path: elements\nvariables:\n  strip-binaries: ''\n"
        "environment:\n  PATH: /usr/bin:/bin\n"
        "plugins:\n- origin: local\n  path: plugins\n  elements:\n    bench_py: 0\n");
  Write(dir / "plugins/bench_py.py", kPlugin);
  Write(dir / "elements/busybox.bst",
        "kind: import\nsources:\n- kind: deb\n  arch: amd64\n  packages: [busybox-static]\n");
  fs::create_directories(dir / "files/links/usr/bin");
  for (const char* a : {"sh", "mkdir", "echo"}) {
    std::error_code ec;
    fs::create_symlink("busybox", dir / "files/links/usr/bin" / a, ec);
  }
  Write(dir / "elements/links.bst", "kind: import\nsources:\n- kind: local\n  path: files/links\n");
  Write(dir / "elements/base.bst", "kind: stack\ndepends:\n- busybox.bst\n- links.bst\n");
  std::string all = "kind: stack\ndepends:\n";
  for (int i = 0; i < n; ++i) {
    std::string name = "e" + std::to_string(i) + ".bst";
    Write(dir / "elements" / name,
          "kind: " + kind + "\nbuild-depends: [base.bst]\nvariables:\n  run: '" +
              std::to_string(run) + "'\nconfig:\n  install-commands:\n"
              "  - mkdir -p %{install-root}/out\n  - echo %{element-name} > %{install-root}/out/name\n");
    all += "- " + name + "\n";
  }
  Write(dir / "elements/all.bst", all);
}

}  // namespace

int main(int argc, char** argv) {
  int n = 20;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--elements") n = std::stoi(argv[i + 1]);
  std::string crossfarm = (crossfarm::bench::SelfDir().parent_path() / "client/crossfarm").string();
  const char* test_cache = std::getenv("CROSSFARM_TEST_CACHE");
  fs::path mirror = fs::path(test_cache ? test_cache : "/var/cache/crossfarm-test") / "mirror";
  BenchDir work("plugins");
  fs::path cache = work.path() / "cache";
  double build_s[2] = {0, 0}, show_s[2] = {0, 0}, warm_s[2] = {0, 0};
  const char* kinds[2] = {"manual", "bench_py"};
  for (int k = 0; k < 2; ++k) {
    fs::path project = work.path() / kinds[k];
    MakeProject(project, kinds[k], n, 0);
    std::string cf = crossfarm + " -C " + Quote(project) + " --cache-dir " + Quote(cache) +
                     " --mirror-dir " + Quote(mirror);
    if (RunLogged("track", cf + " source track --save busybox.bst", work.path() / "log").exit_code ||
        RunLogged("base", cf + " build base.bst", work.path() / "log").exit_code)
      return 1;
    auto show = TimeCommand(cf + " show all.bst");
    show_s[k] = show.seconds;
    // Again: the plugin's element keys now come from the cache, no Python.
    auto warm = TimeCommand(cf + " show all.bst");
    warm_s[k] = warm.seconds;
    auto build = RunLogged(std::string("build ") + kinds[k], cf + " build all.bst", work.path() / "log");
    if (build.exit_code) return 1;
    build_s[k] = build.seconds;
    std::cout << kinds[k] << ": build of " << n << " elements " << build.seconds << " s, show "
              << show.seconds << " s\n";
  }
  double manual_ms = build_s[0] * 1000 / n, python_ms = build_s[1] * 1000 / n;
  std::cout << "per element: manual " << manual_ms << " ms, python plugin " << python_ms
            << " ms, overhead " << python_ms - manual_ms << " ms (target < 50)\n";
  std::cout << "show: manual " << show_s[0] << " s, python " << show_s[1] << " s, ratio "
            << crossfarm::bench::Ratio(show_s[1], show_s[0]) << "\n";
  std::cout << "RESULT plugins elements=" << n << " manual_ms_per_element=" << manual_ms
            << " python_ms_per_element=" << python_ms
            << " overhead_ms_per_element=" << python_ms - manual_ms << " show_manual_s=" << show_s[0]
            << " show_python_s=" << show_s[1]
            << " show_ratio=" << crossfarm::bench::Ratio(show_s[1], show_s[0])
            << " warm_show_manual_s=" << warm_s[0] << " warm_show_python_s=" << warm_s[1]
            << " warm_show_ratio=" << crossfarm::bench::Ratio(warm_s[1], warm_s[0]) << "\n";
  return 0;
}
