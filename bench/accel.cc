// bench_accel: what the accelerators of emulated builds buy, per target arch
// (--archs, default aarch64,s390x), against a plain cross compile, and whether
// they change the output. Three Debian source packages, the elements of
// examples/hello: zlib (zlib.bst, its own configure), GNU hello (gnu-hello.bst,
// autotools) and GNU make (gnu-make.bst, a config.h and makefile of its own),
// for each arch:
//
//  1. cross: the unpacked source (`apt-get source`) configured and built on the
//     host with Debian's TRIPLET-gcc, outside crossfarm;
//  2. crossfarm `--arch ARCH --accel none`: everything under qemu-user;
//  3. `--accel distcc`: compiles sent to the distcc pool of native cross gccs;
//  4. `--accel auto`: distcc and the x86_64 host tools (shell, make, sed, ...)
//     inside the emulated root.
//
// aarch64's cross compiler is `--accel_compiler debian-cross` (default, the
// example's default: Debian's cross gcc, one revision behind: the worker
// guards alloca/VLA compiles, which then run emulated) or `matched` (cc1
// rebuilt from the arm64 root gcc's own Debian revision, the element
// accel/gcc-12-cross-aarch64.bst, ~40 min the first time). Other archs use
// Debian's cross gcc (accel/cross.bst). The crossfarm cache persists across runs
// (--cache-dir, default $CROSSFARM_TEST_CACHE/bench-accel/cache) so that
// compiler is built once; each run stamps the three package elements with its
// own CROSSFARM_BENCH_RUN environment value, and each mode is part of the key,
// so each timed build is a real build. The base, the accelerator and the
// sources are built/fetched first, untimed. Every accelerated artifact is
// compared with the `--accel none` one: it must be equal modulo identification
// (.comment, build id; worker/elf_compare.h), or identical.
//
// Usage: bench_accel [--crossfarm PATH] [--archs aarch64,s390x]
//                    [--packages zlib,hello,make] [--modes none,distcc,auto] [--logs DIR]
//                    [--accel_compiler matched|debian-cross] [--cache-dir DIR]
// Modes: none, distcc, host-tools, auto. --logs keeps every step's output and
// the checkouts (out-ARCH-PACKAGE-MODE). RESULT keys start with the arch.
#include <elf.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <vector>

#include "bench/bench_util.h"
#include "worker/elf_compare.h"

namespace fs = std::filesystem;
using crossfarm::bench::BenchDir;
using crossfarm::bench::Quote;
using crossfarm::bench::Ratio;
using crossfarm::bench::RunLogged;
using crossfarm::bench::RunResult;
using crossfarm::bench::TimeCommand;

namespace {


struct Package {
  std::string name;     // as in --packages and the RESULT keys
  std::string element;  // in examples/hello/elements
  std::string apt;      // apt-get source argument, the element's version
  std::string dir;      // what dpkg-source unpacks it to
  std::string output;   // an installed file of the arch that shows the build worked
};

// A target arch of the example: crossfarm's name, its cross toolchain's
// triplet, the example's base element and the ELF machine of its outputs.
struct Arch {
  std::string name, triplet, base;
  int machine;
};

const std::vector<Arch> kArchs = {
    {"aarch64", "aarch64-linux-gnu", "base/arm64.bst", EM_AARCH64},
    {"s390x", "s390x-linux-gnu", "base/s390x.bst", EM_S390},
    {"ppc64le", "powerpc64le-linux-gnu", "base/ppc64el.bst", EM_PPC64},
};

const std::vector<Package> kPackages = {
    {"zlib", "zlib.bst", "zlib=1:1.2.13.dfsg-1", "zlib-1.2.13.dfsg", "usr/lib/libz.so"},
    {"hello", "gnu-hello.bst", "hello=2.10-3", "hello-2.10", "usr/bin/hello"},
    {"make", "gnu-make.bst", "make-dfsg=4.3-4.1", "make-dfsg-4.3", "usr/bin/make"},
};

// The RESULT key of each mode: "emulated" is the unaccelerated build.
std::string ModeKey(const std::string& mode) {
  if (mode == "none") return "emulated";
  if (mode == "auto") return "accel";
  if (mode == "host-tools") return "hosttools";
  return mode;
}

std::vector<std::string> SplitCommas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

struct Bench {
  fs::path work;
  std::string crossfarm;  // the binary
  std::string cf;         // crossfarm -C project --cache-dir --mirror-dir -o ... --arch ARCH
  std::string run_stamp;  // CROSSFARM_BENCH_RUN of this run's package elements
  fs::path logs;
  bool has_accel = false;  // the binary knows --accel

  Arch arch;              // of the current round
  fs::path Log(const std::string& name) const {
    return logs / ("log-" + (arch.name.empty() ? "" : arch.name + "-") + name + ".txt");
  }
  // Per arch: checkouts and the cross compile's trees.
  fs::path Out(const std::string& tag) const { return logs / ("out-" + arch.name + "-" + tag); }
  fs::path Project() const { return work / "hello"; }

  // The crossfarm command line of `mode`, or nullopt when the binary cannot
  // select it. A binary without --accel only ever builds unaccelerated.
  std::optional<std::string> Cf(const std::string& mode) const {
    if (has_accel) return cf + " --arch " + arch.name + " --accel " + mode;
    if (mode == "none") return cf + " --arch " + arch.name;
    return std::nullopt;
  }
};

// Whether `path` is an ELF file of `arch`; says why not.
bool IsOfArch(const fs::path& path, const Arch& arch) {
  auto elf = crossfarm::worker::ReadElfFile(path.string());
  if (!elf) {
    std::cerr << path << ": " << elf.error().ToString() << "\n";
    return false;
  }
  if (elf->header.machine != arch.machine) {
    std::cerr << path << " is ELF machine " << elf->header.machine << ", not " << arch.name << "\n";
    return false;
  }
  return true;
}

// %{name} -> value for the element commands run outside crossfarm; an unknown
// variable is an error, not an empty string, so a changed element shows up.
std::optional<std::string> Expand(std::string cmd, const std::map<std::string, std::string>& vars) {
  for (size_t at; (at = cmd.find("%{")) != std::string::npos;) {
    size_t end = cmd.find('}', at);
    if (end == std::string::npos) return std::nullopt;
    auto it = vars.find(cmd.substr(at + 2, end - at - 2));
    if (it == vars.end()) {
      std::cerr << "unknown variable in element command: " << cmd.substr(at, end - at + 1) << "\n";
      return std::nullopt;
    }
    cmd.replace(at, end - at + 1, it->second);
  }
  return cmd;
}

// gnu-make.bst writes its own config.h and makefile: the cross build runs the
// element's configure-commands, so both sides build the same thing.
std::optional<std::string> GnuMakeConfigure() {
  fs::path element = fs::path(CROSSFARM_SOURCE_DIR) / "examples/hello/elements/gnu-make.bst";
  std::map<std::string, std::string> vars = {{"prefix", "/usr"},
                                             {"libdir", "/usr/lib"},
                                             {"includedir", "/usr/include"},
                                             {"datadir", "/usr/share"}};
  std::string script;
  try {
    YAML::Node root = YAML::LoadFile(element.string());
    for (const auto& v : root["variables"]) vars[v.first.as<std::string>()] = v.second.as<std::string>();
    for (const auto& c : root["config"]["configure-commands"]) {
      auto cmd = Expand(c.as<std::string>(), vars);
      if (!cmd) return std::nullopt;
      script += *cmd + "\n";
    }
  } catch (const YAML::Exception& e) {
    std::cerr << element << ": " << e.what() << "\n";
    return std::nullopt;
  }
  return script;
}

// Unpacks the Debian source package (patches applied) to work/src-NAME.
bool FetchSource(const Bench& b, const Package& p) {
  return RunLogged("apt-get source " + p.apt,
                   "cd " + Quote(b.work) + " && apt-get source -o APT::Sandbox::User=root " + p.apt +
                       " && mv " + p.dir + " src-" + p.name,
                   b.Log("apt-source-" + p.name))
             .exit_code == 0;
}

// 1. The plain cross compile of one package on a copy of its pristine tree:
// configure + make + install, timed together as crossfarm's build is.
double BenchCross(const Bench& b, const Package& p) {
  const std::string t = b.arch.triplet;
  fs::path src = b.work / ("cross-" + b.arch.name + "-" + p.name),
           dest = b.work / ("cross-install-" + b.arch.name + "-" + p.name);
  if (TimeCommand("cp -a " + Quote(b.work / ("src-" + p.name)) + " " + Quote(src)).exit_code != 0)
    return -1;
  std::string build;
  if (p.name == "zlib") {
    // CHOST makes zlib's configure use TRIPLET-ar/ranlib too.
    build = "CHOST=" + t + " CC=" + t + "-gcc ./configure --prefix=/usr "
            "--libdir=/usr/lib && make -j2 && make install DESTDIR=" + Quote(dest);
  } else if (p.name == "hello") {
    build = "./configure --host=" + t + " --prefix=/usr && make -j2 && "
            "make install DESTDIR=" + Quote(dest);
  } else {
    auto configure = GnuMakeConfigure();
    if (!configure) return -1;
    std::ofstream(src / "bench-configure.sh") << *configure;
    build = "sh bench-configure.sh && make -j2 CC=" + t + "-gcc && "
            "install -D -m 0755 make " + Quote(dest / "usr/bin/make");
  }
  auto r = RunLogged("cross compile of " + p.name, "cd " + Quote(src) + " && " + build,
                     b.Log("cross-" + p.name));
  if (r.exit_code != 0 || !IsOfArch(dest / p.output, b.arch)) return -1;
  return r.seconds;
}

// Copies the example project once per run; a value of this run in the
// packages' build environment gives them keys no earlier run built (the cache
// outlives the run; none of the three elements has an `environment:` of its own).
bool CopyProject(const Bench& b, const std::vector<Package>& packages) {
  if (TimeCommand("cp -a " + Quote(fs::path(CROSSFARM_SOURCE_DIR) / "examples/hello") + " " +
                  Quote(b.Project())).exit_code != 0)
    return false;
  for (const auto& p : packages) {
    std::ofstream e(b.Project() / "elements" / p.element, std::ios::app);
    e << "\nenvironment:\n  CROSSFARM_BENCH_RUN: \"" << b.run_stamp << "\"\n";
    if (!e) return false;
  }
  return true;
}

// Pins the arch's base and accelerator to the Debian archive's current point
// release, builds them and fetches the sources (untimed).
bool WarmCrossfarm(const Bench& b, const std::vector<Package>& packages,
                   const std::vector<std::string>& modes) {
  // The accelerator costs a minute of unpacking: only when a mode uses it.
  bool accelerated = std::ranges::any_of(modes, [](const auto& m) { return m != "none"; });
  std::vector<std::string> warm = {b.arch.base};
  if (accelerated) {
    warm.push_back("accel/tools-debs.bst");
    warm.push_back("accel/cross-debs/" + b.arch.name + ".bst");
  }
  auto cf = b.Cf("none");
  for (const auto& e : warm) {
    std::string tag = fs::path(e).stem().string();
    if (RunLogged("crossfarm source track " + e, *cf + " source track --save " + e,
                  b.Log("track-" + tag)).exit_code != 0)
      return false;
  }
  std::string elements;
  for (const auto& p : packages) elements += " " + p.element;
  return RunLogged("crossfarm warm-up build",
                   *cf + " build base.bst" + (accelerated ? " accel/cross.bst" : ""),
                   b.Log("warm")).exit_code == 0 &&
         RunLogged("crossfarm source fetch", *cf + " source fetch" + elements, b.Log("fetch"))
                 .exit_code == 0;
}

// 2.-4.: the timed build of one package in one mode, then its checkout to
// out-ARCH-NAME-MODE in the logs dir. -1 if either fails or the output is not of the arch.
double BenchMode(const Bench& b, const Package& p, const std::string& mode) {
  auto cf = b.Cf(mode);
  if (!cf) {
    std::cerr << b.crossfarm << " has no --accel option: mode " << mode << " skipped\n";
    return -1;
  }
  const std::string tag = p.name + "-" + mode;
  auto r = RunLogged("crossfarm --arch " + b.arch.name + " build " + p.element + " (accel " + mode + ")",
                     *cf + " build " + p.element, b.Log("build-" + tag));
  if (r.exit_code != 0) return -1;
  fs::path out = b.Out(tag);  // kept with --logs, to look into differences
  if (RunLogged("crossfarm checkout " + p.element + " (accel " + mode + ")",
                *cf + " checkout " + p.element + " " + Quote(out), b.Log("checkout-" + tag))
          .exit_code != 0 ||
      !IsOfArch(out / p.output, b.arch))
    return -1;
  return r.seconds;
}

// Compares the checkout of `mode` with the unaccelerated one and prints what
// differs. 1 equal modulo identification, 0 not, -1 nothing to compare.
int CompareWithEmulated(const Bench& b, const Package& p, const std::string& mode) {
  fs::path none = b.Out(p.name + "-none"), other = b.Out(p.name + "-" + mode);
  if (!fs::exists(none) || !fs::exists(other)) return -1;
  auto t = crossfarm::worker::CompareTrees(none.string(), other.string());
  if (!t) {
    std::cerr << "comparing " << none << " with " << other << ": " << t.error().ToString() << "\n";
    return -1;
  }
  std::printf("  %s %s accel %s vs none: %zu identical, %zu equal modulo identification, "
              "%zu different, %zu only in none, %zu only in %s\n",
              b.arch.name.c_str(), p.name.c_str(), mode.c_str(), t->identical.size(), t->equal_modulo_idents.size(),
              t->different.size(), t->only_in_a.size(), t->only_in_b.size(), mode.c_str());
  constexpr size_t kShow = 8;  // enough to see the pattern, not a whole tree
  for (size_t i = 0; i < t->different.size() && i < kShow; ++i)
    std::printf("    differs: %s (%s)\n", t->different[i].path.c_str(),
                t->different[i].detail.c_str());
  for (size_t i = 0; i < t->only_in_a.size() && i < kShow; ++i)
    std::printf("    only in none: %s\n", t->only_in_a[i].c_str());
  for (size_t i = 0; i < t->only_in_b.size() && i < kShow; ++i)
    std::printf("    only in %s: %s\n", mode.c_str(), t->only_in_b[i].c_str());
  return t->EquivalentModuloIdents() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Bench b;
  b.crossfarm = (crossfarm::bench::SelfDir() / "../client/crossfarm").string();
  std::string package_list = "zlib,hello,make", mode_list = "none,distcc,auto";
  std::string accel_compiler = "debian-cross", arch_list = "aarch64,s390x";
  const char* env_cache = std::getenv("CROSSFARM_TEST_CACHE");
  const fs::path test_cache = env_cache ? env_cache : "/var/cache/crossfarm-test";
  fs::path cache_dir = test_cache / "bench-accel/cache";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--crossfarm" && i + 1 < argc) b.crossfarm = argv[++i];
    else if (a == "--packages" && i + 1 < argc) package_list = argv[++i];
    else if (a == "--archs" && i + 1 < argc) arch_list = argv[++i];
    else if (a == "--modes" && i + 1 < argc) mode_list = argv[++i];
    else if (a == "--logs" && i + 1 < argc) b.logs = argv[++i];
    else if (a == "--accel_compiler" && i + 1 < argc) accel_compiler = argv[++i];
    else if (a == "--cache-dir" && i + 1 < argc) cache_dir = argv[++i];
    else {
      std::cerr << "usage: bench_accel [--crossfarm PATH] [--archs aarch64,s390x,ppc64le] "
                   "[--packages zlib,hello,make] "
                   "[--modes none,distcc,host-tools,auto] [--logs DIR] "
                   "[--accel_compiler matched|debian-cross] [--cache-dir DIR]\n";
      return 2;
    }
  }
  if (accel_compiler != "matched" && accel_compiler != "debian-cross") {
    std::cerr << "unknown --accel_compiler " << accel_compiler << " (matched, debian-cross)\n";
    return 2;
  }
  std::vector<Package> packages;
  for (const auto& name : SplitCommas(package_list)) {
    auto it = std::ranges::find(kPackages, name, &Package::name);
    if (it == kPackages.end()) {
      std::cerr << "unknown package " << name << " (zlib, hello, make)\n";
      return 2;
    }
    packages.push_back(*it);
  }
  std::vector<Arch> archs;
  for (const auto& name : SplitCommas(arch_list)) {
    auto it = std::ranges::find(kArchs, name, &Arch::name);
    if (it == kArchs.end()) {
      std::cerr << "unknown arch " << name << " (aarch64, s390x, ppc64le)\n";
      return 2;
    }
    archs.push_back(*it);
  }
  std::vector<std::string> modes = SplitCommas(mode_list);
  for (const auto& m : modes)
    if (m != "none" && m != "distcc" && m != "host-tools" && m != "auto") {
      std::cerr << "unknown mode " << m << " (none, distcc, host-tools, auto)\n";
      return 2;
    }

  BenchDir work("accel");
  b.work = work.path();
  if (b.logs.empty()) b.logs = b.work;
  fs::create_directories(b.logs);
  fs::path mirror = test_cache / "mirror";
  b.cf = b.crossfarm + " -C " + Quote(b.Project()) + " --cache-dir " + Quote(cache_dir) +
         " --mirror-dir " + Quote(mirror) + " -o accel_compiler " + accel_compiler;
  b.run_stamp = std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  std::printf("accelerator compiler: %s; crossfarm cache %s\n", accel_compiler.c_str(),
              cache_dir.c_str());
  b.has_accel = TimeCommand(b.crossfarm + " --help | grep -q -e --accel").exit_code == 0;
  if (!b.has_accel)
    std::printf("note: %s has no --accel: only mode none, as a plain emulated build\n",
                b.crossfarm.c_str());

  // name=value pairs, in the order printed on the RESULT line.
  std::vector<std::string> result;
  auto add = [&](const std::string& name, double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", value);
    result.push_back(name + "=" + buf);
  };
  auto add_int = [&](const std::string& name, int value) {
    result.push_back(name + "=" + std::to_string(value));
  };
  add_int("accel_compiler_matched", accel_compiler == "matched" ? 1 : 0);
  const bool have_none = std::ranges::find(modes, "none") != modes.end();
  if (!CopyProject(b, packages)) {
    std::cerr << "copying examples/hello failed\n";
    return 1;
  }
  std::map<std::string, bool> fetched;  // the sources, shared by every arch's cross compile
  for (const auto& p : packages) fetched[p.name] = FetchSource(b, p);
  for (const Arch& arch : archs) {
    b.arch = arch;
    const std::string& an = arch.name;
    std::map<std::string, std::map<std::string, double>> seconds;  // package -> mode -> s
    // Each figure as it is measured: a long run cut short still says something.
    auto progress = [&](const Package& p, const std::string& what, double s) {
      std::printf("  [%s %s %s: %.2f s]\n", an.c_str(), p.name.c_str(), what.c_str(), s);
      std::fflush(stdout);
    };
    for (const auto& p : packages) {
      seconds[p.name]["cross"] = fetched[p.name] ? BenchCross(b, p) : -1;
      progress(p, "cross", seconds[p.name]["cross"]);
    }
    bool warm = WarmCrossfarm(b, packages, modes);
    for (const auto& p : packages)
      for (const auto& m : modes) {
        seconds[p.name][m] = warm ? BenchMode(b, p, m) : -1;
        progress(p, "--accel " + m, seconds[p.name][m]);
      }

    for (const auto& p : packages) {
      auto& s = seconds[p.name];
      const std::string k = an + "_" + p.name;
      std::printf("%s %s (%s):\n  cross compile on the host: %.2f s\n", an.c_str(), p.name.c_str(),
                  p.element.c_str(), s["cross"]);
      add(k + "_cross_s", s["cross"]);
      for (const auto& m : modes) {
        std::printf("  crossfarm --arch %s --accel %s: %.2f s (x%.2f the cross compile)\n", an.c_str(),
                    m.c_str(), s[m], Ratio(s[m], s["cross"]));
        add(k + "_" + ModeKey(m) + "_s", s[m]);
      }
      for (const auto& m : modes) {
        if (m == "none") continue;
        add(k + "_" + ModeKey(m) + "_over_cross", Ratio(s[m], s["cross"]));
        if (have_none) add(k + "_" + ModeKey(m) + "_speedup", Ratio(s["none"], s[m]));
      }
      // 1 only if every accelerated artifact matches the unaccelerated one.
      int identical = -1;
      for (const auto& m : modes) {
        if (m == "none") continue;
        int same = CompareWithEmulated(b, p, m);
        add_int(k + "_" + ModeKey(m) + "_identical", same);
        if (same == 0 || (same == 1 && identical == -1)) identical = same;
        if (same == -1 && identical == 1) identical = -1;
      }
      std::printf("  accelerated outputs identical modulo identification: %s\n",
                  identical == 1 ? "yes" : identical == 0 ? "NO" : "not compared");
      add_int(k + "_identical", identical);
    }
  }
  std::printf("RESULT");
  for (const auto& r : result) std::printf(" %s", r.c_str());
  std::printf("\n");
  return 0;
}
