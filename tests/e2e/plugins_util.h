// The plugins test project (tests/data/projects/plugins) made buildable for
// x86_64 and aarch64: busybox from Debian for both, an `arch` option, and
// echo.bst, an element of the local Python plugin sandbox_echo (it calls
// sandbox.run) on them. Shared by the local and the cluster plugin tests.
#pragma once

#include <filesystem>
#include <string>

#include "tests/e2e/bst_compare.h"
#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {

// Copies the project to `p` and adds the elements above; the busybox
// elements' refs are still to be tracked.
inline void WritePluginsProject(const std::filesystem::path& p) {
  namespace fs = std::filesystem;
  fs::copy(ProjectDir("plugins"), p, fs::copy_options::recursive);
  WriteFile(p / "project.conf",
            ReadFile(p / "project.conf") +
                "variables:\n  strip-binaries: ''\nenvironment:\n  PATH: /usr/bin:/bin\n"
                "options:\n  arch:\n    type: arch\n    description: target\n"
                "    values: [x86_64, aarch64]\n");
  for (const char* deb : {"amd64", "arm64"})
    WriteFile(p / "elements" / (std::string("busybox-") + deb + ".bst"),
              std::string("kind: import\nsources:\n- kind: deb\n  arch: ") + deb +
                  "\n  packages: [busybox-static]\n");
  fs::create_directories(p / "files/links/usr/bin");
  for (const char* applet : {"sh", "mkdir", "uname", "echo"})
    fs::create_symlink("busybox", p / "files/links/usr/bin" / applet);
  WriteFile(p / "elements/links.bst", "kind: import\nsources:\n- kind: local\n  path: files/links\n");
  WriteFile(p / "elements/echo.bst",
            "kind: sandbox_echo\n"
            "build-depends: [links.bst]\n"
            "(?):\n"
            "- arch == \"x86_64\":\n    build-depends:\n      (>): [busybox-amd64.bst]\n"
            "- arch == \"aarch64\":\n    build-depends:\n      (>): [busybox-arm64.bst]\n"
            "config:\n  message: built by %{element-name}\n");
}

// An element whose source is of the local Python plugin upstream_file
// (plugins/sources/upstream_file.py), with `content` as its upstream file
// files/upstream.txt; its ref is still to be tracked.
inline void WriteUpstreamFileElement(const std::filesystem::path& p, const std::string& content) {
  WriteFile(p / "files/upstream.txt", content);
  WriteFile(p / "elements/upstream.bst",
            "kind: import\n# the upstream file, tracked by its sha256\nsources:\n"
            "- kind: upstream_file\n  path: files/upstream.txt\n");
}

}  // namespace crossfarm::e2e
