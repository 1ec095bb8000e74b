// The YAML loader with composition: a whole project (project.conf, elements,
// includes) from one input, loaded and keyed as `crossfarm show` would.
//
// Input: project.conf's text, then any number of files, each introduced by a
// line "#### <relative path>" (fuzz/corpus/project holds the test projects in
// this form). Paths with ".." or a leading '/' are skipped.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "common/project.h"
#include "fuzz/fuzz_util.h"

namespace crossfarm::fuzz {
namespace {

constexpr std::string_view kFileMarker = "#### ";
constexpr size_t kMaxTargets = 32;  // keeps one run well under a second

bool SafeRelativePath(std::string_view p) {
  if (p.empty() || p.front() == '/' || p.size() > 200) return false;
  if (p.find("..") != std::string_view::npos) return false;
  for (char c : p)
    if (c == '\0' || c == '\n' || c == '\\') return false;
  return true;
}

// Writes project.conf and the "#### path" files below `dir`.
void WriteProject(const std::string& dir, std::string_view in) {
  std::string path = "project.conf";
  while (true) {
    size_t next = in.find(std::string("\n") + std::string(kFileMarker));
    std::string_view body = in.substr(0, next);
    if (SafeRelativePath(path)) {
      std::string full = dir + "/" + path;
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(full).parent_path(), ec);
      if (!ec) WriteFile(full, body);
    }
    if (next == std::string_view::npos) return;
    in.remove_prefix(next + 1 + kFileMarker.size());
    size_t eol = in.find('\n');
    path = std::string(in.substr(0, eol));
    in = eol == std::string_view::npos ? std::string_view() : in.substr(eol + 1);
  }
}

void LoadAndKey(const std::string& dir) {
  LoadOptions options;
  options.project_dir = dir;
  auto arch = ArchConfig::Make("x86_64", "", "");
  if (!arch) std::abort();  // the host arch must be known
  options.arch = *arch;
  options.max_jobs = 4;
  auto project = Project::Load(options);
  if (!project) return;  // an error is a fine answer to bad input; a crash is not
  auto names = (*project)->AllElementNames();
  if (!names) return;
  if (names->size() > kMaxTargets) names->resize(kMaxTargets);
  auto targets = (*project)->LoadTargets(*names);
  if (targets) (void)(*project)->Plan(*targets, Scope::kAll);
}

}  // namespace
}  // namespace crossfarm::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fz = crossfarm::fuzz;
  crossfarm::worker::TempDir dir = fz::ScratchDir("cf-fuzz-project-");
  fz::WriteProject(dir.path(), fz::AsView(data, size));
  fz::LoadAndKey(dir.path());
  return 0;
}
