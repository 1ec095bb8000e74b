// Helpers shared by the bench/ programs: timing, running commands, temp dirs.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

namespace crossfarm::bench {

// A path in single quotes for a shell command line.
inline std::string Quote(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

inline double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Runs a shell command, returns {exit code, wall seconds}. Output goes to
// /dev/null unless `keep_output`.
struct RunResult {
  int exit_code;
  double seconds;
};
inline RunResult TimeCommand(const std::string& cmd, bool keep_output = false) {
  std::string full = keep_output ? cmd : "(" + cmd + ") >/dev/null 2>&1";
  double t0 = NowSeconds();
  int rc = std::system(full.c_str());
  double t1 = NowSeconds();
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : 128, t1 - t0};
}

// Runs `cmd` with its output in `log`; on failure prints the exit code and the
// log's last lines, so a failed step says why.
inline RunResult RunLogged(const std::string& what, const std::string& cmd,
                           const std::filesystem::path& log) {
  const std::string quoted = "'" + log.string() + "'";
  RunResult r = TimeCommand("(" + cmd + ") >" + quoted + " 2>&1", true);
  if (r.exit_code != 0) {
    std::cerr << what << " failed, exit " << r.exit_code << "; last lines of " << log << ":\n";
    std::system(("tail -n 25 " + quoted + " >&2").c_str());
  }
  return r;
}

// a/b for two measured times, -1 if either is missing (a failed step).
inline double Ratio(double a, double b) { return a > 0 && b > 0 ? a / b : -1; }

// The directory of the running program (to find sibling binaries of the build).
inline std::filesystem::path SelfDir() {
  return std::filesystem::read_symlink("/proc/self/exe").parent_path();
}

// A temp dir removed on destruction.
class BenchDir {
 public:
  explicit BenchDir(const std::string& tag) {
    std::string tmpl = (std::filesystem::temp_directory_path() / ("crossfarm-bench-" + tag + "-XXXXXX")).string();
    path_ = mkdtemp(tmpl.data());
  }
  ~BenchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace crossfarm::bench
