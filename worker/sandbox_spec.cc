#include "worker/sandbox_spec.h"

#include <algorithm>

namespace crossfarm::worker {

SandboxSpec& SandboxSpec::AddBind(std::string source, std::string dest, Access access) {
  mounts.push_back({MountKind::kBind, std::move(source), std::move(dest), access});
  return *this;
}

SandboxSpec& SandboxSpec::AddTmpfs(std::string dest) {
  mounts.push_back({MountKind::kTmpfs, "", std::move(dest), Access::kReadWrite});
  return *this;
}

SandboxSpec& SandboxSpec::SetBuildDir(std::string source, std::string dest) {
  cwd = dest;
  return AddBind(std::move(source), std::move(dest), Access::kReadWrite);
}

SandboxSpec& SandboxSpec::SetInstallDir(std::string source, std::string dest) {
  return AddBind(std::move(source), std::move(dest), Access::kReadWrite);
}

SandboxSpec& SandboxSpec::SetEnv(std::string key, std::string value) {
  auto it = std::find_if(env.begin(), env.end(), [&](const auto& kv) { return kv.first == key; });
  if (it != env.end()) {
    it->second = std::move(value);
  } else {
    env.emplace_back(std::move(key), std::move(value));
  }
  return *this;
}

namespace {

bool HasDotDot(const std::string& path) {
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string::npos) end = path.size();
    if (path.compare(pos, end - pos, "..") == 0 && end - pos == 2) return true;
    pos = end + 1;
  }
  return false;
}

Status CheckSandboxPath(const std::string& what, const std::string& path) {
  if (path.empty() || path.front() != '/' || HasDotDot(path))
    return Status::InvalidArgument(what + " '" + path +
                                   "' must be an absolute path without '..'");
  return Status::Ok();
}

}  // namespace

Status ValidateSpec(const SandboxSpec& spec) {
  if (spec.root.empty()) return Status::InvalidArgument("sandbox root is not set");
  CF_TRY(CheckSandboxPath("sandbox cwd", spec.cwd));
  for (const auto& m : spec.mounts) {
    CF_TRY(CheckSandboxPath("mount destination", m.dest));
    if (m.dest.find_first_not_of('/') == std::string::npos)
      return Status::InvalidArgument("a mount over the sandbox root '/' is not allowed");
    if (m.kind == MountKind::kBind && (m.source.empty() || m.source.front() != '/'))
      return Status::InvalidArgument("bind mount source '" + m.source +
                                     "' must be an absolute host path");
  }
  for (const auto& [k, v] : spec.env) {
    if (k.empty() || k.find('=') != std::string::npos)
      return Status::InvalidArgument("bad environment variable name '" + k + "'");
  }
  return Status::Ok();
}

std::vector<std::string> BwrapArgs(const SandboxSpec& spec) {
  std::vector<std::string> a = {"--die-with-parent"};
  // A new session stops a build from pushing input into our terminal (TIOCSTI);
  // an interactive shell needs the terminal as its controlling tty.
  if (spec.interaction == Interaction::kBatch) a.push_back("--new-session");
  a.push_back("--unshare-all");
  if (spec.network != Network::kNone) a.push_back("--share-net");
  // --unshare-all only *tries* the user namespace; --uid needs it for sure.
  // Capabilities dropped so a root worker and an unprivileged one behave alike.
  a.insert(a.end(), {"--unshare-user", "--uid", std::to_string(spec.uid), "--gid",
                     std::to_string(spec.gid), "--cap-drop", "ALL"});
  a.insert(a.end(), {"--hostname", spec.hostname});
  a.insert(a.end(), {spec.root_access == Access::kReadOnly ? "--ro-bind" : "--bind",
                     spec.root, "/"});
  a.insert(a.end(), {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"});
  for (const auto& m : spec.mounts) {
    if (m.kind == MountKind::kTmpfs) {
      a.insert(a.end(), {"--tmpfs", m.dest});
    } else {
      a.insert(a.end(), {m.access == Access::kReadOnly ? "--ro-bind" : "--bind", m.source, m.dest});
    }
  }
  a.insert(a.end(), {"--chdir", spec.cwd, "--clearenv"});
  for (const auto& [k, v] : spec.env) a.insert(a.end(), {"--setenv", k, v});
  return a;
}

}  // namespace crossfarm::worker
