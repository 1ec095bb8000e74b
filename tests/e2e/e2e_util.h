// Helpers for end-to-end tests that drive the real `crossfarm` binary.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace crossfarm::e2e {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line, capturing its combined output.
inline CommandResult RunCmd(const std::string& cmd) {
  CommandResult r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

inline void WriteFile(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// $CROSSFARM_TEST_CACHE (scripts/test sets it): downloads reused across runs.
// Stops the per-user cache service of `cas_dir` (its pid is in service/lock;
// docs/cas.md "Several commands on one cache") and waits until its lock is
// free, so the store's files are closed and flushed (a zombie would still
// answer kill(pid, 0), so the lock is what says it is gone). False if none ran.
inline bool StopCacheService(const std::filesystem::path& cas_dir) {
  const auto service = cas_dir / "service";
  pid_t pid = std::atoi(ReadFile(service / "lock").c_str());
  if (pid <= 0 || ::kill(pid, SIGTERM) != 0) return false;
  int lock = ::open((service / "lock").c_str(), O_RDWR | O_CLOEXEC);
  if (lock < 0) return false;
  bool freed = false;
  for (int i = 0; i < 300 && !(freed = ::flock(lock, LOCK_EX | LOCK_NB) == 0); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ::close(lock);
  return freed;
}

inline std::string TestCache() {
  const char* env = std::getenv("CROSSFARM_TEST_CACHE");
  return env && *env ? env : "/var/cache/crossfarm-test";
}

// A temp dir removed at the end of the test.
class TempTree {
 public:
  explicit TempTree(const std::string& tag) {
    std::string tmpl = (std::filesystem::temp_directory_path() / ("cf-e2e-" + tag + "-XXXXXX")).string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : "";
  }
  ~TempTree() {
    // Artifact checkouts are read-only: make them writable before removing.
    std::system(("chmod -R u+w '" + path_.string() + "' 2>/dev/null; rm -rf '" + path_.string() + "'").c_str());
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace crossfarm::e2e
