#include "worker/binfmt.h"

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace crossfarm::worker {

namespace {

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

Result<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Err(Status::FromErrno("read " + path, errno));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// binfmt_misc's control files take one write(2) each.
Status WriteControl(const std::string& path, std::string_view text) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return Status::FromErrno("open " + path, errno);
  size_t n = std::fwrite(text.data(), 1, text.size(), f);
  int err = (n != text.size() || std::fflush(f) != 0) ? errno : 0;
  std::fclose(f);
  if (err != 0) return Status::FromErrno("write " + path, err);
  return Status::Ok();
}

// A register line ":name:type:offset:magic:mask:interpreter:flags".
struct ConfLine {
  std::string line;
  std::string interpreter;
};

Result<ConfLine> ReadConf(const std::string& path) {
  CF_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path));
  std::string line = text.substr(0, text.find('\n'));
  std::vector<std::string> fields;
  // The first char is the delimiter (usually ':').
  if (line.size() < 2) return Err(Status::Corruption(path + ": empty binfmt line"));
  char delim = line[0];
  std::string cur;
  for (size_t i = 1; i < line.size(); ++i) {
    if (line[i] == delim) {
      fields.push_back(cur);
      cur.clear();
    } else {
      cur += line[i];
    }
  }
  fields.push_back(cur);
  if (fields.size() != 7) return Err(Status::Corruption(path + ": not a binfmt_misc line"));
  if (fields[6].find('F') == std::string::npos) line += 'F';
  return ConfLine{line, fields[5]};
}

Status MountBinfmt(const std::string& dir) {
  if (Exists(dir + "/register")) return Status::Ok();
  if (::geteuid() != 0)
    return Status::PermissionDenied("mounting binfmt_misc at " + dir + " needs root");
  if (::mount("binfmt_misc", dir.c_str(), "binfmt_misc", 0, nullptr) != 0)
    return Status::FromErrno("mount binfmt_misc at " + dir, errno);
  return Status::Ok();
}

// The conf line of `arch`, checked to be installed with its interpreter.
Result<ConfLine> InstalledConf(const ArchInfo& arch, const std::string& conf_dir) {
  const std::string conf = conf_dir + "/" + BinfmtEntryName(arch) + ".conf";
  const std::string kFix = "qemu-user-static is not installed: apt-get install qemu-user-static";
  if (!Exists(conf)) return Err(Status::FailedPrecondition(kFix + " (missing " + conf + ")"));
  CF_ASSIGN_OR_RETURN(ConfLine c, ReadConf(conf));
  if (!Exists(c.interpreter))
    return Err(Status::FailedPrecondition(kFix + " (missing " + c.interpreter + ")"));
  return c;
}

Status RegisterOne(const ArchInfo& arch, const ConfLine& conf, const std::string& dir) {
  CF_ASSIGN_OR_RETURN(BinfmtState st, ProbeBinfmt(arch, dir));
  const std::string entry = dir + "/" + BinfmtEntryName(arch);
  if (st.registered && !st.fix_binary()) {
    // Registered without F (e.g. by binfmt-support): useless inside bwrap.
    CF_TRY(WriteControl(entry, "-1"));
    st.registered = false;
  }
  if (!st.registered) return WriteControl(dir + "/register", conf.line);
  if (!st.enabled) return WriteControl(entry, "1");
  return Status::Ok();
}

}  // namespace

BinfmtState ParseBinfmtEntry(std::string_view text) {
  BinfmtState st;
  st.registered = true;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (line == "enabled") st.enabled = true;
    if (line.starts_with("interpreter ")) st.interpreter = line.substr(12);
    if (line.starts_with("flags:")) {
      st.flags = line.substr(6);
      st.flags.erase(0, st.flags.find_first_not_of(' '));
    }
  }
  return st;
}

std::string BinfmtEntryName(const ArchInfo& arch) { return "qemu-" + std::string(arch.qemu); }

Result<BinfmtState> ProbeBinfmt(const ArchInfo& arch, std::string_view dir) {
  BinfmtState st;
  const std::string d(dir);
  if (!Exists(d + "/register")) return st;
  const std::string entry = d + "/" + BinfmtEntryName(arch);
  if (!Exists(entry)) {
    st.mounted = true;
    return st;
  }
  CF_ASSIGN_OR_RETURN(std::string text, ReadSmallFile(entry));
  st = ParseBinfmtEntry(text);
  st.mounted = true;
  return st;
}

Status CheckArchRunnable(const ArchInfo& arch, std::string_view dir) {
  if (RunsNatively(HostArch(), arch)) return Status::Ok();
  CF_ASSIGN_OR_RETURN(BinfmtState st, ProbeBinfmt(arch, dir));
  if (st.usable()) return Status::Ok();
  std::string what = !st.mounted      ? fmt::format("binfmt_misc is not mounted at {}", dir)
                     : !st.registered ? fmt::format("no qemu-user handler {} is registered",
                                                    BinfmtEntryName(arch))
                     : !st.enabled    ? fmt::format("the qemu-user handler {} is disabled",
                                                    BinfmtEntryName(arch))
                                      : fmt::format("the qemu-user handler {} lacks flag F "
                                                    "(flags: {})",
                                                    BinfmtEntryName(arch), st.flags);
  return Status::FailedPrecondition(fmt::format(
      "this {} worker cannot run the {} sandbox: {}\n  hint: run `crossfarm setup binfmt` "
      "(or `crossfarm-worker --setup-binfmt`) as root; it needs qemu-user-static",
      HostArch().name, arch.name, what));
}

std::vector<const ArchInfo*> ForeignArchs() {
  std::vector<const ArchInfo*> out;
  for (const auto& a : AllArchs())
    if (!RunsNatively(HostArch(), a)) out.push_back(&a);
  return out;
}

Status SetupBinfmt(std::string_view dir, std::string_view conf_dir) {
  const std::string d(dir), c(conf_dir);
  // Check the package first, so a machine without it is left untouched.
  std::vector<std::pair<const ArchInfo*, ConfLine>> confs;
  for (const ArchInfo* a : ForeignArchs()) {
    CF_ASSIGN_OR_RETURN(ConfLine line, InstalledConf(*a, c));
    confs.emplace_back(a, std::move(line));
  }
  CF_TRY(MountBinfmt(d));
  for (const auto& [arch, line] : confs)
    CF_TRY(RegisterOne(*arch, line, d).WithContext(fmt::format("binfmt for {}", arch->name)));
  return Status::Ok();
}

}  // namespace crossfarm::worker
