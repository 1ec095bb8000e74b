// Test helper: a throw-away project directory written from strings, removed
// when the object goes out of scope.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

namespace crossfarm::testing {

class TempProject {
 public:
  explicit TempProject(const std::map<std::string, std::string>& files = {}) {
    char tmpl[] = "/tmp/cf-loader-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    for (const auto& [path, text] : files) Write(path, text);
  }
  ~TempProject() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempProject(const TempProject&) = delete;
  TempProject& operator=(const TempProject&) = delete;

  void Write(const std::string& path, const std::string& text) const {
    std::filesystem::path p = std::filesystem::path(dir_) / path;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace crossfarm::testing

#include <memory>
#include <utility>
#include <vector>

#include "common/project.h"

namespace crossfarm::testing {

struct Loaded {
  std::unique_ptr<Project> project;
  std::vector<Element*> targets;
};

inline Result<Loaded> LoadProject(const std::string& dir, const std::vector<std::string>& targets,
                                  const char* arch = "x86_64",
                                  std::vector<std::pair<std::string, std::string>> overrides = {},
                                  int max_jobs = 4) {
  LoadOptions o;
  o.project_dir = dir;
  CF_ASSIGN_OR_RETURN(o.arch, ArchConfig::Make(arch, "", ""));
  o.option_overrides = std::move(overrides);
  o.max_jobs = max_jobs;
  Loaded l;
  CF_ASSIGN_OR_RETURN(l.project, Project::Load(o));
  CF_ASSIGN_OR_RETURN(l.targets, l.project->LoadTargets(targets));
  return l;
}

// The error message of a load that must fail ("" when it succeeded).
inline std::string LoadError(const std::map<std::string, std::string>& files,
                             const std::vector<std::string>& targets = {"e.bst"},
                             std::vector<std::pair<std::string, std::string>> overrides = {}) {
  TempProject p(files);
  auto l = LoadProject(p.dir(), targets, "x86_64", std::move(overrides));
  if (l) return "";
  // Temp directories differ per run: show them as <dir>.
  std::string msg = l.error().message();
  for (size_t pos; (pos = msg.find(p.dir())) != std::string::npos;)
    msg.replace(pos, p.dir().size(), "<dir>");
  return msg;
}

}  // namespace crossfarm::testing
