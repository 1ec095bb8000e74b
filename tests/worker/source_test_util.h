// Shared helpers of the source plugin tests: scratch dirs, files, contexts.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "worker/source.h"

namespace crossfarm::worker::testing {

// A fresh directory under $TMPDIR, removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cf-source-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& rel) const {
    const std::string p = path_ + "/" + rel;
    std::filesystem::create_directories(p);
    return p;
  }

 private:
  std::string path_;
};

inline void WriteFile(const std::string& path, const std::string& content, bool exec = false) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  chmod(path.c_str(), exec ? 0755 : 0644);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline YAML::Node Yaml(const std::string& text) { return YAML::Load(text); }

// The element position every test source claims to come from.
inline Provenance TestWhere() { return {"elements/test.bst", 7, 3}; }

inline std::unique_ptr<Source> MustMake(const std::string& yaml, const SourceContext& ctx) {
  const YAML::Node config = Yaml(yaml);
  auto source = MakeSource(config["kind"].as<std::string>(), config, TestWhere(), ctx);
  EXPECT_TRUE(source.has_value()) << source.error().ToString();
  return source ? std::move(*source) : nullptr;
}

// Cache shared by test runs for real Debian downloads (CI keeps it between runs).
inline std::string SharedTestCache() {
  const char* env = std::getenv("CROSSFARM_TEST_CACHE");
  const std::string dir = env != nullptr && env[0] != '\0' ? env : "/var/cache/crossfarm-test";
  std::filesystem::create_directories(dir);
  return dir;
}

// Number of entries (not counting hidden temp dirs) directly in dir.
inline int CountVisibleEntries(const std::string& dir) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (!e.path().filename().string().starts_with(".")) ++n;
  }
  return n;
}

// Runs a shell command for fixtures (git repos); fails the test when it fails.
inline std::string Sh(const std::string& cmd) {
  auto r = source_internal::RunProcess({"sh", "-c", cmd});
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(r->exit_code, 0) << cmd << "\n" << r->output;
  std::string out = r ? r->output : "";
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace crossfarm::worker::testing
