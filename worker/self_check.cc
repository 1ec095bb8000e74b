#include "worker/self_check.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/arch.h"
#include "worker/fs_util.h"

namespace crossfarm::worker {

namespace {

namespace fs = std::filesystem;

// What a command needs from the host to run in an otherwise empty root.
constexpr const char* kHostDirs[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64"};
constexpr const char* kBuildDir = "/buildstream/self-check";

Status MakeDir(const std::string& path) {
  // A relative dir would reach bwrap as a relative bind mount source and fail
  // there with a message that names neither the dir nor the fix.
  if (!fs::path(path).is_absolute())
    return Status::InvalidArgument("'" + path + "' is not an absolute path");
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return Status::FromErrno("create " + path, ec.value());
  return Status::Ok();
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

Status SandboxSelfCheck(const Sandbox& sandbox, const JobRunnerOptions& dirs) {
  for (const std::string* dir : {&dirs.work_dir, &dirs.checkout_dir, &dirs.log_dir}) CF_TRY(MakeDir(*dir));
  CF_ASSIGN_OR_RETURN(TempDir check, TempDir::Create(dirs.work_dir, "self-check-"));
  std::string root = check.path() + "/root", build = check.path() + "/build";
  CF_TRY(MakeDir(root));
  CF_TRY(MakeDir(build));
  SandboxSpec spec;
  spec.root = root;
  spec.arch = &HostArch();
  std::error_code ec;
  for (const char* dir : kHostDirs)
    if (fs::is_directory(dir, ec)) spec.AddBind(dir, dir, Access::kReadOnly);
  spec.SetBuildDir(build, kBuildDir);
  spec.SetEnv("PATH", "/usr/bin:/bin");
  std::string output;
  LogSink log{.path = "", .callback = [&output](std::string_view chunk) { output += chunk; }};
  // A hung sandbox must not hang the worker's start.
  RunControl control{.timeout = std::chrono::seconds(60), .cancel = nullptr};
  auto exit = sandbox.Run(spec, {"/bin/sh", "-c", "echo ok > self-check"}, log, control);
  // Its directories exist and are writable by now: an error here is the
  // sandbox's (bwrap missing, ...), not the cache dir's.
  if (!exit) return Status::FailedPrecondition("starting the sandbox: " + exit.error().ToString());
  while (!output.empty() && output.back() == '\n') output.pop_back();
  if (!exit->ok() || ReadAll(build + "/self-check") != "ok\n")
    return Status::FailedPrecondition("`sh -c 'echo ok > self-check'` in a sandbox with its build dir in " +
                                      dirs.work_dir + " ended with " + exit->Describe() +
                                      (output.empty() ? "" : ": " + output));
  return check.Remove();
}

}  // namespace crossfarm::worker
