#include "tests/worker/test_roots.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace crossfarm::worker::testing {

namespace fs = std::filesystem;

std::string TestCacheDir() {
  const char* env = std::getenv("CROSSFARM_TEST_CACHE");
  return (env && *env) ? env : "/var/cache/crossfarm-test";
}

std::string Arm64Busybox() { return TestCacheDir() + "/busybox-arm64/bin/busybox"; }

Result<TempDir> MakeBusyboxArtifact(const std::string& busybox) {
  CF_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create("", "crossfarm-artifact-"));
  std::error_code ec;
  fs::create_directories(dir.path() + "/bin", ec);
  fs::copy_file(busybox, dir.path() + "/bin/busybox", ec);
  if (ec) return Err(Status::IOError("copy " + busybox + ": " + ec.message()));
  for (const char* applet : {"sh", "echo", "cat", "id", "uname", "sleep", "ls", "ip", "wc",
                             "grep", "touch", "rm", "chmod", "mkdir", "kill", "ps", "true",
                             "false", "hostname", "env", "ln", "test", "nc", "pwd"}) {
    fs::create_symlink("busybox", dir.path() + "/bin/" + applet, ec);
  }
  ::chmod((dir.path() + "/bin/busybox").c_str(), 0555);
  MakeReadOnly(dir.path());
  return dir;
}

void WriteFile(const std::string& path, const std::string& content, unsigned mode) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  ::chmod(path.c_str(), mode);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void MakeReadOnly(const std::string& path) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(path, ec); it != fs::end(it); it.increment(ec)) {
    if (it->is_symlink()) continue;
    struct stat st{};
    if (::lstat(it->path().c_str(), &st) == 0) ::chmod(it->path().c_str(), st.st_mode & 07555);
  }
  ::chmod(path.c_str(), 0555);
}

}  // namespace crossfarm::worker::testing
