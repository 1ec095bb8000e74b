// bench_cross: what building for aarch64 in an emulated sandbox costs, against
// a plain cross compile, in one run. zlib (Debian's source package
// zlib=1:1.2.13.dfsg-1, the commands of examples/hello/elements/zlib.bst):
//
//  1. cross: configure + make + install on the host with aarch64-linux-gnu-gcc,
//     outside crossfarm (CC and CHOST set), libz.so checked to be aarch64;
//  2. crossfarm emulated: `--arch aarch64 --accel none build zlib.bst` (qemu-user,
//     no acceleration: bench_accel measures that);
//  3. crossfarm native: the same for x86_64;
//  4. bst 1.6 emulated: a project of its own (an `import` of the aarch64 base
//     checked out of crossfarm, a `manual` zlib from the unpacked source tree)
//     with `sandbox: build-arch: aarch64`, which bst runs through arch-test.
//
// crossfarm and bst build the base and import the sources first; only the
// zlib rebuild is timed (for crossfarm with its key changed by a variable).
//
// Usage: bench_cross [--crossfarm PATH] [--skip-bst] [--logs DIR]
// --logs keeps every step's output in DIR (else they go with the temp dir).
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "bench/bench_util.h"
#include "common/arch.h"

namespace fs = std::filesystem;
using crossfarm::bench::BenchDir;
using crossfarm::bench::Quote;
using crossfarm::bench::Ratio;
using crossfarm::bench::RunLogged;
using crossfarm::bench::RunResult;
using crossfarm::bench::TimeCommand;

namespace {

constexpr const char* kZlibVersion = "1:1.2.13.dfsg-1";
constexpr const char* kZlibDir = "zlib-1.2.13.dfsg";
// Same configure/make/install as examples/hello/elements/zlib.bst.
constexpr const char* kConfigure = "./configure --prefix=/usr --libdir=/usr/lib";
constexpr const char* kMake = "make -j2";


// The ELF arch of `path` ("?" if unreadable or not ELF).
std::string ElfArch(const fs::path& path) {
  auto ident = crossfarm::ReadElfIdent(path.string());
  if (!ident || !ident->arch) return "?";
  return std::string(ident->arch->name);
}

// The seconds of a step that succeeded and produced aarch64 (or the expected
// arch) code, else -1.
double Checked(const RunResult& r, const fs::path& lib, std::string_view want) {
  if (r.exit_code != 0) return -1;
  std::string got = ElfArch(lib);
  if (got != want) {
    std::cerr << lib << " is " << got << ", expected " << want << "\n";
    return -1;
  }
  return r.seconds;
}

struct Bench {
  fs::path work;
  std::string crossfarm;  // the binary
  std::string cf;         // crossfarm -C project --cache-dir --mirror-dir
  fs::path logs;          // where the steps' outputs go (kept if --logs)

  fs::path Log(const std::string& name) const { return logs / ("log-" + name + ".txt"); }
};

// Unpacks the Debian source package (patches applied by dpkg-source) into
// work/zlib-src, the pristine tree every side starts from.
bool FetchZlibSource(const Bench& b) {
  auto r = RunLogged("apt-get source zlib",
                     "cd " + Quote(b.work) + " && apt-get source -o APT::Sandbox::User=root " +
                         "zlib=" + kZlibVersion + " && mv " + kZlibDir + " zlib-src",
                     b.Log("apt-source"));
  return r.exit_code == 0;
}

// 1. The plain cross compile, on a copy of the pristine tree.
double BenchCross(const Bench& b) {
  fs::path src = b.work / "zlib-cross", dest = b.work / "cross-install";
  if (TimeCommand("cp -a " + Quote(b.work / "zlib-src") + " " + Quote(src)).exit_code != 0)
    return -1;
  // CHOST makes configure use aarch64-linux-gnu-ar/ranlib too.
  auto r = RunLogged("cross compile",
                     "cd " + Quote(src) + " && CHOST=aarch64-linux-gnu CC=aarch64-linux-gnu-gcc " +
                         kConfigure + " && " + kMake + " && make install DESTDIR=" + Quote(dest),
                     b.Log("cross"));
  return Checked(r, dest / "usr/lib/libz.so", "aarch64");
}

// Copies the hello example, pins the bases and builds zlib once per arch so
// that base and sources are cached; then changes zlib's key.
bool WarmCrossfarm(const Bench& b) {
  fs::path project = b.work / "hello";
  if (TimeCommand("cp -a " + Quote(fs::path(CROSSFARM_SOURCE_DIR) / "examples/hello") + " " +
                  Quote(project)).exit_code != 0)
    return false;
  for (const char* base : {"base/amd64.bst", "base/arm64.bst"})
    if (RunLogged("crossfarm source track", b.cf + " source track --save " + base, b.Log("track"))
            .exit_code != 0)
      return false;
  if (RunLogged("crossfarm warm-up (aarch64)", b.cf + " --arch aarch64 build zlib.bst",
                b.Log("warm-aarch64")).exit_code != 0 ||
      RunLogged("crossfarm warm-up (x86_64)", b.cf + " build zlib.bst", b.Log("warm-x86_64"))
              .exit_code != 0)
    return false;
  // Changes the key, not the work: the timed builds redo zlib only.
  std::ofstream(project / "elements/zlib.bst", std::ios::app) << "variables:\n  bench-run: '1'\n";
  return true;
}

// 2. and 3.: the timed rebuild of zlib for `arch`, its artifact checked.
double BenchCrossfarm(const Bench& b, const std::string& arch) {
  auto r = RunLogged("crossfarm build (" + arch + ")",
                     b.cf + " --arch " + arch + " build zlib.bst", b.Log("cf-" + arch));
  fs::path out = b.work / ("cf-checkout-" + arch);
  if (r.exit_code == 0 &&
      RunLogged("crossfarm checkout", b.cf + " --arch " + arch + " checkout zlib.bst " + Quote(out),
                b.Log("checkout-" + arch)).exit_code != 0)
    return -1;
  return Checked(r, out / "usr/lib/libz.so", arch);
}

// bst's project: base.bst imports the aarch64 root checked out of crossfarm,
// zlib.bst builds the unpacked source tree with the same commands.
bool WriteBstProject(const Bench& b, const fs::path& dir) {
  fs::create_directories(dir / "elements");
  fs::create_directories(dir / "files");
  if (RunLogged("crossfarm checkout base/arm64.bst",
                b.cf + " --arch aarch64 checkout base/arm64.bst " + Quote(dir / "files/base"),
                b.Log("checkout-base")).exit_code != 0 ||
      TimeCommand("cp -a " + Quote(b.work / "zlib-src") + " " + Quote(dir / "files/zlib"))
              .exit_code != 0)
    return false;
  std::ofstream(dir / "project.conf")
      << "name: cross\nelement-path: elements\n"
         "variables:\n  strip-binaries: ''\n"
         "environment:\n  LC_ALL: C.UTF-8\n  PATH: /usr/bin:/bin:/usr/sbin:/sbin\n";
  std::ofstream(dir / "elements/base.bst")
      << "kind: import\nsources:\n- kind: local\n  path: files/base\n";
  // build-os stays bst's default, uname's "Linux": a "linux" would not match
  // the host and bst would fall back to its dummy sandbox.
  std::ofstream(dir / "elements/zlib.bst")
      << "kind: manual\nbuild-depends:\n- base.bst\n"
         "sources:\n- kind: local\n  path: files/zlib\n"
         "sandbox:\n  build-arch: aarch64\n"
         "config:\n"
         "  configure-commands:\n  - ./configure --prefix=%{prefix} --libdir=%{libdir}\n"
         "  build-commands:\n  - make -j%{max-jobs}\n"
         "  install-commands:\n  - make install DESTDIR=%{install-root}\n";
  return true;
}

// 4. bst 1.6, emulated. The base import is untimed, the zlib build timed.
double BenchBst(const Bench& b) {
  fs::path dir = b.work / "bst";
  if (!WriteBstProject(b, dir)) return -1;
  std::string bst = "cd " + Quote(dir) + " && XDG_CACHE_HOME=" + Quote(b.work / "bst-cache") +
                    " XDG_CONFIG_HOME=" + Quote(b.work / "bst-config") + " bst --no-interactive ";
  if (RunLogged("bst build base.bst", bst + "build base.bst", b.Log("bst-base")).exit_code != 0)
    return -1;
  auto r = RunLogged("bst build zlib.bst", bst + "build zlib.bst", b.Log("bst-zlib"));
  fs::path out = b.work / "bst-checkout";
  if (r.exit_code == 0 &&
      RunLogged("bst checkout", bst + "checkout zlib.bst " + Quote(out), b.Log("bst-checkout"))
              .exit_code != 0)
    return -1;
  return Checked(r, out / "usr/lib/libz.so", "aarch64");
}

}  // namespace

int main(int argc, char** argv) {
  Bench b;
  b.crossfarm = (crossfarm::bench::SelfDir() / "../client/crossfarm").string();
  bool skip_bst = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--crossfarm" && i + 1 < argc) b.crossfarm = argv[++i];
    else if (a == "--skip-bst") skip_bst = true;
    else if (a == "--logs" && i + 1 < argc) b.logs = argv[++i];
  }
  BenchDir work("cross");
  b.work = work.path();
  if (b.logs.empty()) b.logs = b.work;
  fs::create_directories(b.logs);
  const char* env_cache = std::getenv("CROSSFARM_TEST_CACHE");
  fs::path mirror = fs::path(env_cache ? env_cache : "/var/cache/crossfarm-test") / "mirror";
  b.cf = b.crossfarm + " -C " + Quote(b.work / "hello") + " --cache-dir " +
         Quote(b.work / "cache") + " --mirror-dir " + Quote(mirror);
  // The plain emulated baseline: bench_accel measures the accelerated builds.
  b.cf += " --accel none";

  std::map<std::string, double> r = {{"cross_s", -1}, {"crossfarm_emulated_s", -1},
                                     {"crossfarm_native_s", -1}, {"bst_emulated_s", -1}};
  bool have_src = FetchZlibSource(b);
  if (have_src) r["cross_s"] = BenchCross(b);
  std::printf("cross compile on the host (aarch64-linux-gnu-gcc): %.2f s\n", r["cross_s"]);
  if (WarmCrossfarm(b)) {
    r["crossfarm_emulated_s"] = BenchCrossfarm(b, "aarch64");
    r["crossfarm_native_s"] = BenchCrossfarm(b, "x86_64");
  }
  std::printf("crossfarm aarch64 emulated (qemu-user): %.2f s\n", r["crossfarm_emulated_s"]);
  std::printf("crossfarm x86_64 native: %.2f s\n", r["crossfarm_native_s"]);
  if (have_src && !skip_bst) r["bst_emulated_s"] = BenchBst(b);
  std::printf("bst 1.6 aarch64 emulated: %.2f s\n", r["bst_emulated_s"]);
  double emulated = Ratio(r["crossfarm_emulated_s"], r["cross_s"]);
  double native = Ratio(r["crossfarm_native_s"], r["cross_s"]);
  std::printf("emulated/cross x%.2f, native/cross x%.2f, bst emulated/crossfarm emulated x%.2f\n",
              emulated, native, Ratio(r["bst_emulated_s"], r["crossfarm_emulated_s"]));
  std::printf("RESULT cross_s=%.3f crossfarm_emulated_s=%.3f crossfarm_native_s=%.3f "
              "bst_emulated_s=%.3f emulated_over_cross=%.3f native_over_cross=%.3f\n",
              r["cross_s"], r["crossfarm_emulated_s"], r["crossfarm_native_s"],
              r["bst_emulated_s"], emulated, native);
  return 0;
}
