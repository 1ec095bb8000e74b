#include "worker/accel.h"
#include "worker/pool_crypto.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include "common/accel.h"
#include "common/arch.h"
#include "common/digest.h"
#include "worker/elf_compare.h"
#include "worker/staging.h"

namespace crossfarm::worker {

namespace fs = std::filesystem;

namespace {

// The host path `rel` resolves to inside `root` (symlinks followed inside it).
// `root` must be canonical (Canonical below): the result is compared with it.
Result<std::string> RealPathInRoot(const std::string& root, std::string_view rel) {
  CF_ASSIGN_OR_RETURN(UniqueFd fd, OpenInRoot(root, rel, O_PATH));
  char buf[PATH_MAX];
  std::string link = "/proc/self/fd/" + std::to_string(fd.get());
  ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n < 0) return Err(Status::FromErrno("readlink " + link, errno));
  std::string path(buf, static_cast<size_t>(n));
  if (path != root && !path.starts_with(root + "/"))
    return Err(Status::FailedPrecondition(std::string(rel) + " resolves outside " + root));
  return path;
}

// The root as /proc/self/fd links name it: a cache dir reached through a
// symlink or given relative still compares right.
Result<std::string> Canonical(const std::string& dir) {
  std::error_code ec;
  auto c = fs::canonical(dir, ec);
  if (ec) return Err(Status::IOError("cannot resolve " + dir + ": " + ec.message()));
  return c.string();
}

std::string Relative(const std::string& root, const std::string& host_path) {
  return host_path.size() > root.size() ? host_path.substr(root.size() + 1) : std::string();
}

Status LinkOrCopy(const std::string& from, const std::string& to) {
  if (::link(from.c_str(), to.c_str()) == 0) return Status::Ok();
  if (errno != EXDEV) return Status::FromErrno("link " + from + " -> " + to, errno);
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) return Status::IOError("copy " + from + " -> " + to + ": " + ec.message());
  return Status::Ok();
}

// Adds one entry of the accelerator at `rel` to the root unless the root has
// something there. Returns false when the root had it (a directory in the
// root is "had" only for non-directories: directories merge).
Result<bool> AddEntry(const std::string& root, const std::string& rel, const fs::path& src,
                      const struct stat& st) {
  fs::path r(rel);
  std::string parent = r.parent_path().string(), name = r.filename().string();
  CF_TRY(MakeDirsInRoot(root, parent));
  CF_ASSIGN_OR_RETURN(UniqueFd dir, OpenInRoot(root, parent, O_PATH | O_DIRECTORY));
  struct stat existing{};
  if (::fstatat(dir.get(), name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) return false;
  if (errno != ENOENT) return Err(Status::FromErrno("stat " + rel + " in " + root, errno));
  if (S_ISDIR(st.st_mode)) {
    if (::mkdirat(dir.get(), name.c_str(), 0755) != 0 && errno != EEXIST)
      return Err(Status::FromErrno("mkdir " + rel, errno));
  } else if (S_ISLNK(st.st_mode)) {
    std::error_code ec;
    fs::path target = fs::read_symlink(src, ec);
    if (ec) return Err(Status::IOError("readlink " + src.string() + ": " + ec.message()));
    if (::symlinkat(target.c_str(), dir.get(), name.c_str()) != 0)
      return Err(Status::FromErrno("symlink " + rel, errno));
  } else if (S_ISREG(st.st_mode)) {
    if (::linkat(AT_FDCWD, src.c_str(), dir.get(), name.c_str(), 0) != 0) {
      if (errno != EXDEV) return Err(Status::FromErrno("link " + rel, errno));
      std::string dest = "/proc/self/fd/" + std::to_string(dir.get()) + "/" + name;
      CF_TRY(LinkOrCopy(src.string(), dest));
    }
  } else {
    return false;  // devices, fifos: never part of a toolchain
  }
  return true;
}

// Adds the accelerator's tree at `path` (a host-paths entry). The programs it
// placed (executable regular files, as accelerator paths) go to `programs`.
Status AddHostPath(const std::string& root, const std::string& accel, const std::string& path,
                   AccelStageReport& report, std::set<std::string>& programs) {
  auto add = [&](const std::string& rel, const fs::path& src, const struct stat& st) -> Result<bool> {
    CF_ASSIGN_OR_RETURN(bool added, AddEntry(root, rel, src, st));
    if (added && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0) programs.insert(src.string());
    return added;
  };
  // The parent resolves inside the accelerator; the entry itself is taken as
  // it is (a symlink like /usr/lib64/ld-linux-x86-64.so.2 stays a symlink).
  fs::path p(path);
  auto parent = RealPathInRoot(accel, p.parent_path().string());
  if (!parent) {
    if (parent.error().IsNotFound()) return Status::Ok();  // e.g. no distcc in a tools-only accelerator
    return parent.error();
  }
  auto real = std::optional<std::string>((fs::path(*parent) / p.filename()).string());
  struct stat st{};
  if (::lstat(real->c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::FromErrno("stat " + *real, errno);
  }
  std::string rel = Relative(accel, *real);
  CF_ASSIGN_OR_RETURN(bool added, add(rel, *real, st));
  report.added += added;
  if (!S_ISDIR(st.st_mode)) return Status::Ok();
  if (!added) {
    // Merge only into a real directory of the root, never through its symlink.
    auto in_root = OpenInRoot(root, rel, O_PATH | O_NOFOLLOW);
    struct stat rst{};
    if (!in_root || ::fstat(in_root->get(), &rst) != 0 || !S_ISDIR(rst.st_mode)) return Status::Ok();
  }
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(*real, ec); !ec && it != fs::end(it); it.increment(ec)) {
    struct stat est{};
    if (::lstat(it->path().c_str(), &est) != 0) return Status::FromErrno("stat " + it->path().string(), errno);
    std::string erel = Relative(accel, it->path().string());
    CF_ASSIGN_OR_RETURN(bool a, add(erel, it->path(), est));
    report.added += a;
    if (S_ISDIR(est.st_mode) && !a) {
      // The root has something here: merge only into a real directory, never
      // through a symlink of the root (it would land elsewhere in the root).
      auto in_root = OpenInRoot(root, erel, O_PATH | O_NOFOLLOW);
      struct stat rst{};
      if (!in_root || ::fstat(in_root->get(), &rst) != 0 || !S_ISDIR(rst.st_mode))
        it.disable_recursion_pending();
    }
  }
  if (ec) return Status::IOError("walk " + *real + ": " + ec.message());
  return Status::Ok();
}

// Whether `rel` resolves inside `root` (symlinks followed there) to a file.
bool ResolvesToFile(const std::string& root, const std::string& rel) {
  auto fd = OpenInRoot(root, rel, O_PATH);
  struct stat st{};
  return fd && ::fstat(fd->get(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string JoinRel(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

// Makes the program interpreter `loader` (an absolute path, PT_INTERP of a
// host-arch program placed in the root) resolve inside the root. The kernel
// opens it by that path in the sandbox, so a root without it cannot start a
// single host tool (bwrap: "execvp sh: No such file or directory"). A Debian
// arm64 root made by mmdebstrap has no /lib64, the x86_64 loader's directory.
//
// The path is walked in the root. What is missing is created the way the
// accelerator has it (its /lib64 -> usr/lib64 link copied, a directory made,
// the file linked), then followed. What the root has is never replaced and
// never written through: a real directory is entered, a symlink only
// followed to see whether the rest already resolves (e.g. through the
// host-paths staged before). Returns why the loader cannot be provided, or "".
Result<std::string> ProvideLoader(const std::string& root, const std::string& accel,
                                  const std::string& loader, AccelStageReport& report) {
  if (ResolvesToFile(root, loader)) return std::string();
  auto split = [](const std::string& path) {
    std::deque<std::string> parts;
    std::stringstream in(path);
    for (std::string part; std::getline(in, part, '/');)
      if (!part.empty() && part != ".") parts.push_back(part);
    return parts;
  };
  std::deque<std::string> rest = split(loader);
  std::string dir;  // where the walk is: a real directory of the root, relative to it
  int links = 0;
  auto rest_of = [&](const std::string& here) {
    std::string path = here;
    for (const auto& part : rest) path += "/" + part;
    return path;
  };
  while (!rest.empty()) {
    std::string name = rest.front();
    rest.pop_front();
    if (name == "..") {
      dir = fs::path(dir).parent_path().string();
      continue;
    }
    std::string here = JoinRel(dir, name);
    CF_ASSIGN_OR_RETURN(UniqueFd dir_fd, OpenInRoot(root, dir, O_PATH | O_DIRECTORY));
    struct stat st{};
    if (::fstatat(dir_fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (S_ISDIR(st.st_mode) && !rest.empty()) {
        dir = here;
        continue;
      }
      if (S_ISREG(st.st_mode) && rest.empty()) return std::string();
      if (S_ISLNK(st.st_mode)) {
        if (ResolvesToFile(root, rest_of(here))) return std::string();
        std::error_code ec;
        std::string target = fs::read_symlink(root + "/" + here, ec).string();
        return "/" + here + " in the root is a symlink to " + target + ", where there is no " +
               (rest.empty() ? std::string("loader") : rest.back());
      }
      return "/" + here + " in the root is a " + (S_ISDIR(st.st_mode) ? "directory" : "file") +
             (rest.empty() ? "" : ", not a directory");
    }
    if (errno != ENOENT) return Err(Status::FromErrno("stat /" + here + " in " + root, errno));
    // Missing in the root: as the accelerator has it.
    auto accel_dir = RealPathInRoot(accel, dir);
    struct stat ast{};
    if (!accel_dir || ::lstat((*accel_dir + "/" + name).c_str(), &ast) != 0)
      return "the accelerator has no /" + rest_of(here);
    std::string src = *accel_dir + "/" + name;
    if (S_ISLNK(ast.st_mode)) {
      if (++links > 40) return "too many symlinks on the way to " + loader;
      std::error_code ec;
      fs::path target = fs::read_symlink(src, ec);
      if (ec) return Err(Status::IOError("readlink " + src + ": " + ec.message()));
      // A relative target means the same only from the same directory: where
      // the accelerator's link sits elsewhere (reached through its own
      // symlinks), name the place it points to absolutely.
      std::string accel_rel = Relative(accel, *accel_dir);
      if (target.is_relative() && accel_rel != dir)
        target = (fs::path("/") / accel_rel / target).lexically_normal();
      if (::symlinkat(target.c_str(), dir_fd.get(), name.c_str()) != 0)
        return Err(Status::FromErrno("symlink /" + here + " in " + root, errno));
      report.added += 1;
      report.loader_paths.push_back("/" + here + " -> " + target.string());
      std::deque<std::string> next = split(target.string());
      rest.insert(rest.begin(), next.begin(), next.end());
      if (target.is_absolute()) dir.clear();
      continue;
    }
    if ((S_ISDIR(ast.st_mode) && !rest.empty()) || (S_ISREG(ast.st_mode) && rest.empty())) {
      CF_TRY(AddEntry(root, here, src, ast));
      report.added += 1;
      report.loader_paths.push_back("/" + here);
      if (rest.empty()) return std::string();
      dir = here;
      continue;
    }
    return "the accelerator's /" + here + " is no " + (rest.empty() ? "file" : "directory");
  }
  return loader + " resolves to a directory in the root";
}

// The accelerator files a host-tools entry names: itself, or the matches of a
// glob in its last component.
Result<std::vector<std::string>> ExpandTool(const std::string& accel, const std::string& pattern) {
  if (pattern.find_first_of("*?[") == std::string::npos) return std::vector<std::string>{pattern};
  fs::path p(pattern);
  std::vector<std::string> out;
  auto dir = RealPathInRoot(accel, p.parent_path().string());
  if (!dir) return out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(*dir, ec))
    if (::fnmatch(p.filename().c_str(), entry.path().filename().c_str(), 0) == 0)
      out.push_back((p.parent_path() / entry.path().filename()).string());
  std::sort(out.begin(), out.end());
  return out;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The text of an object's .comment section ("GCC: (Debian 12.2.0-14) 12.2.0").
std::string CommentOf(const std::string& object) {
  auto elf = ReadElfFile(object);
  if (!elf) return "?";
  for (const auto& s : elf->sections)
    if (s.name == ".comment") {
      std::string text;
      for (char c : s.bytes) text += c == '\0' ? ' ' : c;
      while (!text.empty() && text.back() == ' ') text.pop_back();
      while (!text.empty() && text.front() == ' ') text.erase(0, 1);
      return text;
    }
  return "";
}

// A small program touching what target defaults change: integer and floating
// point code, a loop gcc vectorises at -O2, a jump table, data and strings.
// No #include: the pool's root has the compiler but no target headers (distcc
// sends preprocessed code), and the probe must compile in both.
constexpr const char* kProbe = R"(typedef unsigned long size_t;
struct pair { long a; double b; };
static const char *names[] = {"zero", "one", "two", "three", "four", "five"};
double dot(const double *x, const double *y, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += x[i] * y[i];
  return s;
}
void scale(int *v, int n, int k) { for (int i = 0; i < n; ++i) v[i] = v[i] * k + (v[i] >> 3); }
const char *name(unsigned i) {
  switch (i) { case 0: return names[0]; case 1: return names[1]; case 2: return names[2];
               case 3: return names[3]; case 4: return names[4]; default: return names[5]; }
}
long mix(struct pair p, long x) { return (long)(p.b * 3.5) + p.a * x / 7 + __builtin_popcountl(x); }
)";

// Dynamic stack allocation (a VLA and alloca): Debian 12's native gcc
// (12.2.0-14+deb12u1) has the CVE-2023-4039 fix for AArch64 frames with
// dynamic allocations, its cross gcc (12.2.0-14) does not, and their code
// differs here with or without -fstack-protector.
constexpr const char* kProbeDynamicStack = R"(char *strcpy(char *d, const char *s);
int use(char *p, int n);
int vla(int n, const char *s) { char buf[n]; strcpy(buf, s); return use(buf, n); }
int dyn(int n) { char *p = __builtin_alloca(n); p[0] = 0; return use(p, n); }
)";

// -fstack-protector on a fixed frame.
constexpr const char* kProbeStackProtector = R"(char *strcpy(char *d, const char *s);
int use(char *p, int n);
int fixed(const char *s) { char buf[64]; strcpy(buf, s); return use(buf, 64); }
)";

constexpr const char* kProbeScript = R"(set -ex
cd /crossfarm-probe
"$1" -dumpfullversion > "$2.version"
"$1" -dumpmachine >> "$2.version"
"$1" -O2 -c probe.c -o "$2.o"
"$1" -O2 -c probe-dyn.c -o "$2-dyn.o"
"$1" -O2 -fstack-protector-strong -c probe-sp.c -o "$2-sp.o"
)";

// Flags the cross compiler always gets. Debian's cross gcc keeps its own
// headers in /usr/lib/gcc-cross/, the native one in /usr/lib/gcc/: the paths
// end up in debug info (not in DW_AT_producer), so map them to the native
// ones. Warning options are not recorded either: -Werror=vla/alloca (the
// guard) leaves an output unchanged.
// `preprocessed`: distcc's server compiles the client's -E output, where a
// token from a system header's macro (glibc's `alloca`) is marked as system
// header code, whose warnings gcc drops: -Wsystem-headers keeps the guard's.
std::string CrossFlags(bool guard_dynamic_stack, bool preprocessed = false) {
  std::string guard = preprocessed ? " -Wsystem-headers -Werror=vla -Werror=alloca" : " -Werror=vla -Werror=alloca";
  return std::string(guard_dynamic_stack ? guard : "") + " -fdebug-prefix-map=/usr/lib/gcc-cross/=/usr/lib/gcc/";
}

// The compiler driver of a root with host tools: the cross compiler, or, where
// the two compilers differ on dynamic stack allocation and gcc finds a VLA or
// alloca in the code, the root's own (emulated) compiler.
std::string GuardScript(const std::string& cross, const std::string& root, bool guard_dynamic_stack) {
  std::string head = "#!/bin/sh\n"
                     "# crossfarm (docs/acceleration.md): the accelerator's cross compiler in place\n"
                     "# of the root's own, " + root + ".\n";
  if (!guard_dynamic_stack) return head + "exec " + cross + " \"$@\"" + CrossFlags(false) + "\n";
  // configure's conftest programs are thrown away (only whether they compile,
  // link or run matters, and the two compilers agree on that): no guard.
  return head +
         "case \" $* \" in *\" conftest\"*) exec " + cross + " \"$@\"" +
         CrossFlags(false) + ";; esac\n"
         "err=$(mktemp) || exit 1\n" +
         cross + " \"$@\"" + CrossFlags(true) + " 2>\"$err\"\n"
         "rc=$?\n"
         "if [ \"$rc\" -ne 0 ] && grep -q -e '-Werror=vla' -e '-Werror=alloca' \"$err\"; then\n"
         "  rm -f \"$err\"\n"
         "  exec " + root + " \"$@\"\n"
         "fi\n"
         "cat \"$err\" >&2\n"
         "rm -f \"$err\"\n"
         "exit \"$rc\"\n";
}

Status WriteExecutable(const std::string& path, const std::string& text) {
  {
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out) return Status::IOError("cannot write " + path);
  }
  if (::chmod(path.c_str(), 0755) != 0) return Status::FromErrno("chmod " + path, errno);
  return Status::Ok();
}

}  // namespace

// --- network ---

Result<PrivateNetwork> PrivateNetwork::Create() {
  // unshare() moves only the calling thread: do it on a thread of our own,
  // keep the namespace by its fd, and let the thread end.
  Status status;
  UniqueFd ns;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      status = Status::FromErrno("unshare(CLONE_NEWNET) (the distcc pool needs root)", errno);
      return;
    }
    ns.Reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!ns.valid()) {
      status = Status::FromErrno("open /proc/thread-self/ns/net", errno);
      return;
    }
    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    struct ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (!sock.valid() || ::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) {
      status = Status::FromErrno("SIOCGIFFLAGS lo", errno);
      return;
    }
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) status = Status::FromErrno("bring up lo", errno);
  });
  t.join();
  if (!status.ok()) return Err(status);
  return PrivateNetwork(std::move(ns));
}

Result<NetnsScope> NetnsScope::Enter(int ns_fd) {
  UniqueFd original(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!original.valid()) return Err(Status::FromErrno("open /proc/thread-self/ns/net", errno));
  if (::setns(ns_fd, CLONE_NEWNET) != 0) return Err(Status::FromErrno("setns(CLONE_NEWNET)", errno));
  return NetnsScope(std::move(original));
}

NetnsScope::~NetnsScope() {
  if (original_.valid()) (void)::setns(original_.get(), CLONE_NEWNET);
}

// --- staging ---

Result<AccelStageReport> StageAccelerator(const std::string& root_dir, const std::string& accel_dir,
                                          const AccelSpec& spec, bool guard_dynamic_stack) {
  CF_ASSIGN_OR_RETURN(std::string root, Canonical(root_dir));
  CF_ASSIGN_OR_RETURN(std::string accel, Canonical(accel_dir));
  AccelStageReport report;
  std::set<std::string> programs;  // accelerator paths of the host-arch programs placed
  for (const auto& p : spec.host_paths) CF_TRY(AddHostPath(root, accel, p, report, programs));

  // The host tools to place: (accelerator file, root file it replaces, path).
  struct Tool {
    std::string from, to, path;
  };
  std::vector<Tool> tools;
  std::set<std::string> done;
  const std::vector<std::string> no_tools;
  for (const auto& pattern : spec.substitute_tools ? spec.host_tools : no_tools) {
    CF_ASSIGN_OR_RETURN(auto paths, ExpandTool(accel, pattern));
    for (const auto& path : paths) {
      if (IsMachineReportingTool(path)) {
        report.refused.push_back(path);
        continue;
      }
      auto from = RealPathInRoot(accel, path);
      auto to = RealPathInRoot(root, path);
      if (!from || !to) continue;  // the root lacks it: the build keeps lacking it
      struct stat fst{}, tst{};
      if (::stat(from->c_str(), &fst) != 0 || ::lstat(to->c_str(), &tst) != 0) continue;
      if (!S_ISREG(fst.st_mode) || !S_ISREG(tst.st_mode) || !done.insert(*to).second) continue;
      tools.push_back({*from, *to, path});
      programs.insert(*from);
    }
  }

  // Every program placed must find its loader in the root. Provided before a
  // single tool replaces the root's: a root that cannot get one keeps all its
  // own programs, and the caller does not build in it.
  std::set<std::string> loaders;
  for (const auto& program : programs) {
    auto loader = ReadElfInterpreter(program);
    // A damaged ELF file runs nowhere: no loader to provide for it.
    if (!loader && loader.error().code() == StatusCode::kCorruption) continue;
    if (!loader) return Err(loader.error());
    if (!loader->empty()) loaders.insert(*loader);
  }
  for (const auto& loader : loaders) {
    CF_ASSIGN_OR_RETURN(std::string why, ProvideLoader(root, accel, loader, report));
    if (!why.empty()) {
      report.unusable = "the host tools' loader " + loader + " cannot be provided: " + why;
      return report;
    }
  }

  for (const Tool& tool : tools) {
    const std::string& path = tool.path;
    bool driver = path == spec.cc || (!spec.cxx.empty() && path == spec.cxx);
    if (driver) {
      // Both compilers stay in the root, beside the driver's path (gcc finds
      // cc1 relative to its own directory), which gets GuardScript.
      fs::path real(tool.to);
      std::string dir = real.parent_path().string(), name = real.filename().string();
      std::string in_root = "/" + Relative(root, dir);
      std::string own = ".crossfarm-root-" + name, cross = ".crossfarm-cross-" + name;
      CF_TRY(LinkOrCopy(tool.to, dir + "/" + own));
      CF_TRY(LinkOrCopy(tool.from, dir + "/" + cross));
      if (::unlink(tool.to.c_str()) != 0) return Err(Status::FromErrno("unlink " + tool.to, errno));
      CF_TRY(WriteExecutable(tool.to, GuardScript(in_root + "/" + cross, in_root + "/" + own, guard_dynamic_stack)));
      report.replaced.push_back("/" + Relative(root, tool.to));
      continue;
    }
    if (::unlink(tool.to.c_str()) != 0) return Err(Status::FromErrno("unlink " + tool.to, errno));
    CF_TRY(LinkOrCopy(tool.from, tool.to));
    report.replaced.push_back("/" + Relative(root, tool.to));
  }
  return report;
}

std::vector<std::pair<std::string, std::string>> MachineEnvironment(const ArchInfo& target) {
  // config.guess's vendor field: "ibm" for s390x, "unknown" elsewhere.
  std::string arch(target.name);
  std::string gnu = arch + (arch == "s390x" ? "-ibm" : "-unknown") + "-linux-gnu";
  return {{"MAKE_HOST", gnu}, {"HOSTTYPE", arch}, {"MACHTYPE", gnu}};
}

// --- probe ---

Result<ProbeResult> ProbeCompilers(const Sandbox& sandbox, const std::string& work_dir,
                                   const std::string& root, const ArchInfo& root_arch,
                                   const std::string& accel_root, const AccelSpec& spec,
                                   const std::string& log_path) {
  ProbeResult result;
  result.guarded_flags = {"-march=native", "-mcpu=native", "-mtune=native"};
  CF_ASSIGN_OR_RETURN(std::string canonical_root, Canonical(root));
  if (!RealPathInRoot(canonical_root, spec.cc)) {
    result.note = "the root has no " + spec.cc + " to compare with";
    return result;
  }
  CF_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create(work_dir, "probe-"));
  std::ofstream(dir.path() + "/probe.c") << kProbe;
  std::ofstream(dir.path() + "/probe-sp.c") << kProbeStackProtector;
  std::ofstream(dir.path() + "/probe-dyn.c") << kProbeDynamicStack;
  std::ofstream(dir.path() + "/run.sh") << kProbeScript;
  CF_ASSIGN_OR_RETURN(const ArchInfo* host, LookupArch(spec.host_arch));
  auto run = [&](const std::string& sandbox_root, const ArchInfo* arch,
                 const std::string& tag) -> Result<bool> {
    SandboxSpec sb;
    sb.root = sandbox_root;
    sb.arch = arch;
    sb.AddBind(dir.path(), "/crossfarm-probe", Access::kReadWrite);
    sb.cwd = "/crossfarm-probe";
    sb.SetEnv("PATH", "/usr/bin:/bin");
    sb.SetEnv("LC_ALL", "C");
    CF_ASSIGN_OR_RETURN(ExitInfo exit, sandbox.Run(sb, {"/bin/sh", "/crossfarm-probe/run.sh", spec.cc, tag},
                                                  LogSink{.path = log_path, .callback = {}}));
    return exit.ok();
  };
  CF_ASSIGN_OR_RETURN(bool native_ok, run(root, &root_arch, "native"));
  CF_ASSIGN_OR_RETURN(bool cross_ok, run(accel_root, host, "cross"));
  if (!native_ok || !cross_ok) {
    result.note = std::string("the probe did not compile with the ") +
                  (native_ok ? "accelerator's" : "root's") + " compiler (its output is in the job log)";
    return result;
  }
  std::string nv = ReadText(dir.path() + "/native.version"), cv = ReadText(dir.path() + "/cross.version");
  auto oneline = [](std::string s) {
    std::replace(s.begin(), s.end(), '\n', ' ');
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
  };
  if (nv != cv) {
    result.note = "compilers differ: root " + oneline(nv) + ", accelerator " + oneline(cv);
    return result;
  }
  CF_ASSIGN_OR_RETURN(ElfComparison code,
                      CompareElfFiles(dir.path() + "/native.o", dir.path() + "/cross.o"));
  if (code.verdict == ElfVerdict::kDifferent) {
    result.note = "the probe's code differs (" + code.first_difference + ")";
    return result;
  }
  result.same_code = true;
  result.note = "same code as the root's gcc " + oneline(nv);
  if (code.verdict == ElfVerdict::kEqualModuloIdents) {
    result.note += "; .comment differs: root '" + CommentOf(dir.path() + "/native.o") +
                   "', accelerator '" + CommentOf(dir.path() + "/cross.o") + "'";
  }
  CF_ASSIGN_OR_RETURN(ElfComparison dyn,
                      CompareElfFiles(dir.path() + "/native-dyn.o", dir.path() + "/cross-dyn.o"));
  CF_ASSIGN_OR_RETURN(ElfComparison sp,
                      CompareElfFiles(dir.path() + "/native-sp.o", dir.path() + "/cross-sp.o"));
  if (sp.verdict == ElfVerdict::kDifferent) {
    result.guarded_flags.push_back("-fstack-protector");
    result.note += "; code differs with -fstack-protector (jobs using it run unaccelerated)";
  }
  // The CVE-2023-4039 fix reworked AArch64 frame layout, for protected frames
  // and for frames with dynamic allocation; a small probe does not always show
  // the latter (GNU make's child_error, with alloca, schedules its register
  // saves differently). One compiler with the fix and one without: everything
  // with a VLA or alloca is compiled by the root's own gcc.
  if (dyn.verdict == ElfVerdict::kDifferent || sp.verdict == ElfVerdict::kDifferent) {
    result.dynamic_stack_differs = true;
    result.note += "; frame layout differs (one gcc has the CVE-2023-4039 fix): code with alloca or "
                   "VLAs is compiled by the root's own gcc";
  }
  return result;
}

std::string EncodeProbe(const ProbeResult& probe) {
  std::string text = std::string(probe.same_code ? "same" : "different") + "\n";
  for (const auto& f : probe.guarded_flags) text += f + " ";
  return text + "\n" + probe.note + "\n" + (probe.dynamic_stack_differs ? "dynamic-stack" : "") + "\n";
}

ProbeResult DecodeProbe(std::string_view text) {
  std::istringstream lines{std::string(text)};
  std::string verdict, flags, dynamic_stack;
  ProbeResult probe;
  std::getline(lines, verdict);
  std::getline(lines, flags);
  std::getline(lines, probe.note);
  std::getline(lines, dynamic_stack);
  probe.same_code = verdict == "same";
  std::istringstream words(flags);
  for (std::string f; words >> f;) probe.guarded_flags.push_back(f);
  probe.dynamic_stack_differs = dynamic_stack == "dynamic-stack";
  return probe;
}

bool UsesGuardedFlag(const JobSpec& spec, const std::vector<std::string>& guarded_flags) {
  auto uses = [&](const std::string& text) {
    return std::ranges::any_of(guarded_flags,
                               [&](const std::string& f) { return text.find(f) != std::string::npos; });
  };
  for (const auto& [phase, cmds] : spec.phases)
    for (const auto& c : cmds)
      if (uses(c)) return true;
  for (const auto& [k, v] : spec.environment)
    if (uses(v)) return true;
  return false;
}

// --- distcc ---

namespace {

// The names a build may call the cross compiler by: gcc, gcc-12,
// aarch64-linux-gnu-gcc, aarch64-linux-gnu-gcc-12 (and the C++ ones). `cc` is
// left out: distcc 3.4 crashes on a masquerade `cc` with no compiler behind it.
std::vector<std::pair<std::string, std::string>> CompilerNames(const AccelSpec& spec) {
  std::vector<std::pair<std::string, std::string>> out;  // name -> driver path
  auto add = [&](const std::string& driver, const std::string& generic) {
    if (driver.empty()) return;
    std::string base = fs::path(driver).filename().string();
    out.emplace_back(base, driver);
    std::string prefix = spec.triplet + "-";
    std::string plain = base.starts_with(prefix) ? base.substr(prefix.size()) : base;  // gcc-12
    out.emplace_back(plain, driver);
    out.emplace_back(generic, driver);                 // gcc
    out.emplace_back(prefix + generic, driver);        // aarch64-linux-gnu-gcc
  };
  add(spec.cc, "gcc");
  add(spec.cxx, "g++");
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end(),
                        [](const auto& a, const auto& b) { return a.first == b.first; }),
            out.end());
  return out;
}

Status ReplaceSymlink(int dir, const std::string& name, const std::string& target) {
  (void)::unlinkat(dir, name.c_str(), 0);
  if (::symlinkat(target.c_str(), dir, name.c_str()) != 0)
    return Status::FromErrno("symlink " + name + " -> " + target, errno);
  return Status::Ok();
}

bool Accepts(int port) {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
}

}  // namespace

Result<std::unique_ptr<DistccPool>> DistccPool::Start(const Sandbox& sandbox, int netns_fd,
                                                      const std::string& accel_root,
                                                      const AccelSpec& spec, int jobs,
                                                      const std::string& log_path,
                                                      bool guard_dynamic_stack) {
  std::unique_ptr<DistccPool> pool(new DistccPool());
  pool->log_path_ = log_path;
  pool->jobs_ = std::max(1, jobs);
  // distccd's whitelist: it runs a compiler name only if /usr/lib/distcc/NAME
  // exists, and finds NAME through PATH, where these links come first. The
  // accelerator's own /usr/lib/distcc is empty (no maintainer scripts ran).
  // The compiler it runs for NAME is /usr/lib/crossfarm-pool/NAME, first in
  // PATH (distccd drops directories named like its own masquerade dir): a
  // script adding CrossFlags. With the guard, code with dynamic stack
  // allocation fails there and the client compiles it again locally.
  CF_TRY(MakeDirsInRoot(accel_root, "usr/lib/distcc"));
  CF_TRY(MakeDirsInRoot(accel_root, "usr/lib/crossfarm-pool"));
  CF_ASSIGN_OR_RETURN(UniqueFd dir, OpenInRoot(accel_root, "usr/lib/distcc", O_PATH | O_DIRECTORY));
  CF_ASSIGN_OR_RETURN(std::string accel_root_c, Canonical(accel_root));
  CF_ASSIGN_OR_RETURN(std::string pool_dir, RealPathInRoot(accel_root_c, "usr/lib/crossfarm-pool"));
  for (const auto& [name, driver] : CompilerNames(spec)) {
    CF_TRY(WriteExecutable(pool_dir + "/" + name,
                           "#!/bin/sh\nexec " + driver + " \"$@\"" + CrossFlags(guard_dynamic_stack, true) + "\n"));
    CF_TRY(ReplaceSymlink(dir.get(), name, "/usr/lib/crossfarm-pool/" + name));
    pool->names_.push_back(name);
  }
  CF_ASSIGN_OR_RETURN(const ArchInfo* host, LookupArch(spec.host_arch));
  SandboxSpec sb;
  sb.root = accel_root;
  sb.arch = host;
  sb.uid = sb.gid = 65534;  // distccd will not run as root
  sb.network = Network::kCallerNamespace;
  sb.cwd = "/tmp";
  sb.SetEnv("PATH", "/usr/lib/crossfarm-pool:/usr/lib/distcc:/usr/bin:/bin");
  sb.SetEnv("HOME", "/tmp");
  sb.SetEnv("TMPDIR", "/tmp");
  std::vector<std::string> argv = {"/usr/bin/distccd", "--no-detach", "--daemon", "--listen",
                                   "127.0.0.1", "--port", std::to_string(kPort), "--allow",
                                   "127.0.0.1", "--jobs", std::to_string(pool->jobs_),
                                   "--log-stderr", "--log-level", "info"};
  pool->cancel_ = std::make_unique<CancelToken>();
  // Why the pool thread ended early, if it did (read by the waiting loop).
  struct Failure {
    std::mutex mu;
    std::string text;
  };
  auto failure = std::make_shared<Failure>();
  auto fail = [failure](std::string text) {
    std::lock_guard lock(failure->mu);
    failure->text = std::move(text);
  };
  pool->thread_ = std::thread([&sandbox, netns_fd, sb, argv, log_path, cancel = pool->cancel_.get(), fail] {
    auto scope = NetnsScope::Enter(netns_fd);
    if (!scope) return fail(scope.error().ToString());
    auto exit = sandbox.Run(sb, argv, LogSink{.path = log_path, .callback = {}},
                            RunControl{.timeout = std::chrono::milliseconds(0), .cancel = cancel});
    if (!exit) return fail(exit.error().ToString());
    if (!cancel->cancelled()) fail("distccd ended: " + exit->Describe());
  });
  // Ready when 127.0.0.1:3632 of the namespace accepts a connection.
  CF_ASSIGN_OR_RETURN(NetnsScope scope, NetnsScope::Enter(netns_fd));
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!Accepts(kPort)) {
    std::string why;
    {
      std::lock_guard lock(failure->mu);
      why = failure->text;
    }
    if (std::chrono::steady_clock::now() > until || !why.empty())
      return Err(Status::FailedPrecondition("distccd did not start" + (why.empty() ? "" : ": " + why) +
                                            " (log " + log_path + ")"));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pool;
}

DistccPool::~DistccPool() {
  if (cancel_) cancel_->Cancel();
  if (thread_.joinable()) thread_.join();
}

std::string DistccPool::hosts() const {
  return "127.0.0.1:" + std::to_string(kPort) + "/" + std::to_string(jobs_);
}

size_t DistccPool::compiles() const {
  std::ifstream in(log_path_);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find("COMPILE_OK") != std::string::npos;
  return n;
}

std::vector<std::string> DistccCompilerNames(const AccelSpec& spec) {
  std::vector<std::string> names;
  for (const auto& [name, driver] : CompilerNames(spec)) names.push_back(name);
  return names;
}

Result<std::string> InstallDistccMasquerade(const std::string& root_dir,
                                            const std::vector<std::string>& names) {
  constexpr const char* kDir = "usr/lib/crossfarm-distcc";
  CF_ASSIGN_OR_RETURN(std::string root, Canonical(root_dir));
  std::vector<std::string> present;
  for (const auto& name : names)
    if (RealPathInRoot(root, "usr/bin/" + name)) present.push_back(name);
  if (present.empty() || !RealPathInRoot(root, "usr/bin/distcc")) return std::string();
  CF_TRY(MakeDirsInRoot(root, kDir));
  CF_ASSIGN_OR_RETURN(UniqueFd dir, OpenInRoot(root, kDir, O_PATH | O_DIRECTORY));
  for (const auto& name : present) CF_TRY(ReplaceSymlink(dir.get(), name, "/usr/bin/distcc"));
  return std::string("/") + kDir;
}

std::vector<std::pair<std::string, std::string>> DistccEnvironment(const DistccPool& pool,
                                                                   const std::string& distcc_dir,
                                                                   bool guard_dynamic_stack) {
  if (guard_dynamic_stack)
    // A compile the pool refuses (dynamic stack allocation) must be retried
    // locally, by the root's compiler (or its guard).
    return {{"DISTCC_HOSTS", pool.hosts()},
            {"DISTCC_DIR", distcc_dir},
            {"DISTCC_NO_REWRITE_CROSS", "1"},
            {"DISTCC_BACKOFF_PERIOD", "0"}};
  return {
      {"DISTCC_HOSTS", pool.hosts()},
      {"DISTCC_DIR", distcc_dir},  // must exist, or distcc quietly compiles locally
      // The amd64 client would rename gcc to x86_64-linux-gnu-gcc.
      {"DISTCC_NO_REWRITE_CROSS", "1"},
      // configure compiles files that must fail; a failure must not take the
      // pool out of service for a minute, nor be retried locally (emulated).
      {"DISTCC_BACKOFF_PERIOD", "0"},
      {"DISTCC_SKIP_LOCAL_RETRY", "1"},
  };
}

}  // namespace crossfarm::worker

// --- a pool across machines ---

namespace crossfarm::worker {

namespace {

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads one '\n'-terminated line byte by byte (so nothing after it is
// consumed), at most 1 KiB, within 5 s.
std::optional<std::string> ReadLine(int fd) {
  std::string line;
  while (line.size() < 1024) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return std::nullopt;
    char c;
    ssize_t n = ::recv(fd, &c, 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    if (c == '\n') return line;
    line += c;
  }
  return std::nullopt;
}

// A TCP socket and the IPv4 address to bind or connect it to.
Result<std::pair<UniqueFd, sockaddr_in>> TcpSocket(const std::string& address, uint16_t port) {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) return Err(Status::FromErrno("socket", errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1)
    return Err(Status::InvalidArgument("not an IPv4 address: " + address));
  return std::pair<UniqueFd, sockaddr_in>(std::move(s), addr);
}

Result<UniqueFd> Listen(const std::string& address, uint16_t port) {
  CF_ASSIGN_OR_RETURN(auto sa, TcpSocket(address, port));
  auto& [s, addr] = sa;
  int one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(s.get(), 64) != 0)
    return Err(Status::FromErrno("listen on " + address + ":" + std::to_string(port), errno));
  return std::move(s);
}

Result<UniqueFd> Connect(const std::string& address, uint16_t port) {
  CF_ASSIGN_OR_RETURN(auto sa, TcpSocket(address, port));
  auto& [s, addr] = sa;
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return Err(Status::FromErrno("connect to " + address + ":" + std::to_string(port), errno));
  return std::move(s);
}

}  // namespace

void Splice(int a, int b, int stop_fd) {
  bool a_open = true, b_open = true;
  char buf[64 * 1024];
  while (a_open || b_open) {
    pollfd p[3] = {{a, static_cast<short>(a_open ? POLLIN : 0), 0},
                   {b, static_cast<short>(b_open ? POLLIN : 0), 0},
                   {stop_fd, POLLIN, 0}};
    if (::poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[2].revents) return;
    for (int i = 0; i < 2; ++i) {
      bool& open = i == 0 ? a_open : b_open;
      int from = i == 0 ? a : b, to = i == 0 ? b : a;
      if (!open || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::recv(from, buf, sizeof(buf), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        open = false;
        ::shutdown(to, SHUT_WR);
      } else if (!WriteAll(to, std::string_view(buf, static_cast<size_t>(n)))) {
        return;
      }
    }
  }
}

std::string PoolHeader(const Digest& accelerator, const AccelSpec& spec, bool guard_dynamic_stack) {
  return "crossfarm-distcc 1 " + accelerator.ToString() + " " + spec.host_arch + " " + spec.triplet + " " +
         spec.cc + " " + (spec.cxx.empty() ? "-" : spec.cxx) + " " + (guard_dynamic_stack ? "guard" : "-") +
         "\n";
}

namespace {

constexpr std::string_view kNoncePrefix = "crossfarm-pool-nonce ";
constexpr std::string_view kAuthPrefix = "crossfarm-pool-auth ";

}  // namespace

void PoolKey::Set(std::string key) {
  std::lock_guard lock(mu_);
  key_ = std::move(key);
}

std::string PoolKey::Get() const {
  std::lock_guard lock(mu_);
  return key_;
}

std::string PoolKey::Id() const { return PoolKeyId(Get()); }

struct PoolGateway::Instance {
  std::optional<StagedRoot> root;
  std::optional<PrivateNetwork> network;
  std::unique_ptr<DistccPool> pool;
};

PoolGateway::PoolGateway(const Sandbox& sandbox, Options options, CheckoutFn checkout)
    : sandbox_(sandbox), options_(std::move(options)), checkout_(std::move(checkout)) {}

Result<std::unique_ptr<PoolGateway>> PoolGateway::Start(const Sandbox& sandbox, Options options,
                                                        CheckoutFn checkout) {
  std::unique_ptr<PoolGateway> g(new PoolGateway(sandbox, std::move(options), std::move(checkout)));
  CF_ASSIGN_OR_RETURN(g->listen_, Listen(g->options_.address, g->options_.port));
  sockaddr_in bound{};
  socklen_t len = sizeof(bound);
  if (::getsockname(g->listen_.get(), reinterpret_cast<sockaddr*>(&bound), &len) != 0)
    return Err(Status::FromErrno("getsockname of the pool gateway", errno));
  g->port_ = ntohs(bound.sin_port);  // the kernel's choice for port 0
  std::error_code ec;
  std::filesystem::create_directories(g->options_.work_dir, ec);
  if (ec) return Err(Status::IOError("mkdir " + g->options_.work_dir + ": " + ec.message()));
  g->threads_.StartAcceptor([gw = g.get()] { gw->Serve(); });
  return g;
}

PoolGateway::~PoolGateway() {
  threads_.Stop();
  instances_.clear();  // stops each distccd
}

void ConnectionThreads::Add(std::function<void()> connection) {
  std::lock_guard lock(mu_);
  connections_.emplace_back(std::move(connection));
}

void ConnectionThreads::Stop() {
  stop_.Cancel();
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> conns;
  {
    std::lock_guard lock(mu_);
    conns.swap(connections_);
  }
  for (auto& t : conns) t.join();
}

void PoolGateway::Serve() {
  while (true) {
    pollfd p[2] = {{listen_.get(), POLLIN, 0}, {threads_.stop_fd(), POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents) return;
    sockaddr_in peer{};
    socklen_t len = sizeof(peer);
    UniqueFd conn(::accept4(listen_.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
    if (!conn.valid()) continue;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &peer.sin_addr, text, sizeof(text));
    // --distcc-allow: anyone else is closed on before a byte is read.
    if (!options_.allow.empty() &&
        std::ranges::find(options_.allow, std::string(text)) == options_.allow.end()) {
      ++refused_;
      spdlog::warn("distcc pool gateway: refused connection from {} (not in --distcc-allow)", text);
      continue;
    }
    ++accepted_;
    auto shared = std::make_shared<UniqueFd>(std::move(conn));
    threads_.Add([this, shared, peer_text = std::string(text)] { Handle(std::move(*shared), peer_text); });
  }
}

Result<int> PoolGateway::PoolFor(const std::string& header) {
  std::istringstream in(header);
  std::string magic, version, digest_text, cxx, guard;
  AccelSpec spec;
  spec.distcc = true;
  in >> magic >> version >> digest_text >> spec.host_arch >> spec.triplet >> spec.cc >> cxx >> guard;
  if (magic != "crossfarm-distcc" || version != "1" || spec.cc.empty())
    return Err(Status::InvalidArgument("not a crossfarm distcc pool request"));
  if (cxx != "-") spec.cxx = cxx;
  CF_ASSIGN_OR_RETURN(Digest digest, Digest::Parse(digest_text));
  std::lock_guard lock(mu_);
  auto& slot = instances_[digest.ToString() + " " + guard];
  if (slot) return slot->network->fd();
  auto inst = std::make_unique<Instance>();
  CF_ASSIGN_OR_RETURN(std::string checkout, checkout_(digest));
  std::vector<std::string> one = {checkout};
  CF_ASSIGN_OR_RETURN(StagedRoot root, StagedRoot::Create(options_.work_dir, one, StageMode::kHardLink));
  inst->root.emplace(std::move(root));
  CF_ASSIGN_OR_RETURN(PrivateNetwork net, PrivateNetwork::Create());
  inst->network.emplace(std::move(net));
  CF_ASSIGN_OR_RETURN(inst->pool, DistccPool::Start(sandbox_, inst->network->fd(), inst->root->path(), spec,
                                                    options_.slots,
                                                    options_.work_dir + "/distccd-" + digest.Hex() + ".log",
                                                    guard == "guard"));
  slot = std::move(inst);
  return slot->network->fd();
}

void PoolGateway::Handle(UniqueFd conn, std::string peer) {
  // Only the cluster's workers know the key the scheduler handed out.
  std::string key = options_.key ? options_.key->Get() : "";
  if (key.empty()) {
    ++refused_;
    spdlog::warn("distcc pool gateway: refused connection from {}: no pool key from the scheduler yet", peer);
    return;
  }
  std::string nonce = NewPoolNonce();
  if (nonce.empty() || !WriteAll(conn.get(), std::string(kNoncePrefix) + nonce + "\n")) return;
  auto header = ReadLine(conn.get());
  auto auth = header ? ReadLine(conn.get()) : std::nullopt;
  // "<prefix><answer> <relay's nonce>": the relay's nonce keys the session.
  std::string relay_nonce;
  if (auto space = auth ? auth->rfind(' ') : std::string::npos; space != std::string::npos && space >= kAuthPrefix.size()) {
    relay_nonce = auth->substr(space + 1);
    auth->resize(space);
  }
  std::string expected = std::string(kAuthPrefix) + (header ? PoolAuth(key, nonce, *header) : "");
  if (!auth || relay_nonce.empty() || auth->size() != expected.size() ||
      CRYPTO_memcmp(auth->data(), expected.data(), expected.size()) != 0) {
    ++refused_;
    spdlog::warn("distcc pool gateway: refused connection from {}: it did not prove the cluster's "
                 "pool key (not a worker of this scheduler, or its key is older)", peer);
    return;
  }
  ++authenticated_;
  auto netns = PoolFor(*header);
  if (!netns) return;  // the client's distcc falls back or fails the compile
  Result<UniqueFd> local = Err(Status::FailedPrecondition("no namespace"));
  {
    auto scope = NetnsScope::Enter(*netns);
    if (!scope) return;
    local = Connect("127.0.0.1", DistccPool::kPort);
  }
  if (!local) return;
  SealedSplice(local->get(), conn.get(), DerivePoolSession(key, nonce, relay_nonce, *header, PoolEnd::kGateway),
               threads_.stop_fd());
}

Result<std::unique_ptr<PoolRelay>> PoolRelay::Start(int netns_fd, const std::vector<PoolMember>& members,
                                                    std::string header, std::string key,
                                                    uint16_t first_port) {
  if (key.empty())
    return Err(Status::FailedPrecondition("no distcc pool key from the scheduler yet"));
  std::unique_ptr<PoolRelay> r(new PoolRelay());
  r->members_ = members;
  r->header_ = header.substr(0, header.find('\n'));  // the line the answer covers
  r->key_ = std::move(key);
  {
    // The listening sockets belong to the job's network; the connections to
    // the members are made from ours (Serve never enters the namespace).
    CF_ASSIGN_OR_RETURN(NetnsScope scope, NetnsScope::Enter(netns_fd));
    for (size_t i = 0; i < members.size(); ++i) {
      uint16_t port = static_cast<uint16_t>(first_port + i);
      CF_ASSIGN_OR_RETURN(UniqueFd l, Listen("127.0.0.1", port));
      r->listeners_.push_back(std::move(l));
      r->ports_.push_back(port);
    }
  }
  r->threads_.StartAcceptor([relay = r.get()] { relay->Serve(); });
  return r;
}

PoolRelay::~PoolRelay() { threads_.Stop(); }

std::string PoolRelay::hosts() const {
  std::string out;
  for (size_t i = 0; i < members_.size(); ++i)
    out += (out.empty() ? "" : " ") + std::string("127.0.0.1:") + std::to_string(ports_[i]) + "/" +
           std::to_string(std::max<uint32_t>(1, members_[i].slots));
  return out;
}

void PoolRelay::Serve() {
  std::vector<pollfd> p;
  for (const auto& l : listeners_) p.push_back({l.get(), POLLIN, 0});
  p.push_back({threads_.stop_fd(), POLLIN, 0});
  while (true) {
    for (auto& e : p) e.revents = 0;
    if (::poll(p.data(), p.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p.back().revents) return;
    for (size_t i = 0; i < listeners_.size(); ++i) {
      if (!p[i].revents) continue;
      UniqueFd conn(::accept4(listeners_[i].get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn.valid()) continue;
      ++relayed_;
      auto shared = std::make_shared<UniqueFd>(std::move(conn));
      threads_.Add([this, shared, m = members_[i]] {
        // Any failure: distcc sees a failed host and compiles elsewhere.
        auto remote = Connect(m.address, static_cast<uint16_t>(m.port));
        if (!remote) return;
        auto nonce = ReadLine(remote->get());
        if (!nonce || !nonce->starts_with(kNoncePrefix)) return;
        std::string gateway_nonce = nonce->substr(kNoncePrefix.size()), own_nonce = NewPoolNonce();
        std::string auth = std::string(kAuthPrefix) + PoolAuth(key_, gateway_nonce, header_) + " " + own_nonce;
        if (own_nonce.empty() || !WriteAll(remote->get(), header_ + "\n" + auth + "\n")) return;
        SealedSplice(shared->get(), remote->get(),
                     DerivePoolSession(key_, gateway_nonce, own_nonce, header_, PoolEnd::kRelay),
                     threads_.stop_fd());
      });
    }
  }
}

}  // namespace crossfarm::worker
