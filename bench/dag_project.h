// The generated project of bench_build and bench_dispatch: a layered DAG of
// small `manual` elements (each depends on 3 elements of the layer below, 50
// per layer) on a busybox base copied from the host's busybox-static.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "bench/bench_util.h"

namespace crossfarm::bench {

constexpr int kDagWidth = 50;

inline std::string DagName(int layer, int i) {
  return "l" + std::to_string(layer) + "/e" + std::to_string(i) + ".bst";
}

inline void GenerateDag(const std::filesystem::path& dir, int count) {
  namespace fs = std::filesystem;
  fs::create_directories(dir / "files/base/usr/bin");
  fs::copy_file("/bin/busybox", dir / "files/base/usr/bin/busybox");
  for (const char* applet : {"sh", "mkdir", "echo", "cat", "cp", "ls", "rm", "true"})
    fs::create_symlink("busybox", dir / "files/base/usr/bin" / applet);
  fs::create_symlink("usr/bin", dir / "files/base/bin");
  std::ofstream(dir / "project.conf") << "name: dag\nelement-path: elements\n"
                                         "variables:\n  strip-binaries: ''\n"
                                         "environment:\n  PATH: /usr/bin:/bin\n";
  fs::create_directories(dir / "elements");
  std::ofstream(dir / "elements/base.bst")
      << "kind: import\nsources:\n- kind: local\n  path: files/base\n";
  for (int n = 0; n < count; ++n) {
    int layer = n / kDagWidth, i = n % kDagWidth;
    std::ostringstream o;
    o << "kind: manual\ndepends:\n";
    if (layer == 0) o << "- base.bst\n";
    else
      for (int k = 0; k < 3; ++k) o << "- " << DagName(layer - 1, (i + k) % kDagWidth) << "\n";
    o << "config:\n  build-commands:\n  - mkdir -p %{install-root}/data && echo " << layer << "-"
      << i << " > %{install-root}/data/" << layer << "-" << i << "\n";
    fs::create_directories(dir / "elements" / ("l" + std::to_string(layer)));
    std::ofstream(dir / "elements" / DagName(layer, i)) << o.str();
  }
}

// The elements of the top layer: building them builds the whole DAG.
inline std::string TopTargets(int count) {
  int last = (count - 1) / kDagWidth;
  std::string t;
  for (int i = 0; i < kDagWidth && last * kDagWidth + i < count; ++i) t += " " + DagName(last, i);
  return t;
}

}  // namespace crossfarm::bench
