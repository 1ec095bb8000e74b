#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <filesystem>
#include <string_view>
#include <vector>

#include "client/commands.h"
#include "client/local_build.h"
#include "client/python_plugins.h"
#include "client/sources.h"
#include "common/node.h"
#include "common/project.h"

namespace crossfarm::client {

std::string GlobalOptions::CacheDir() const {
  if (!cache_dir.empty()) return cache_dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/crossfarm";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.cache/crossfarm";
}

void PrintError(const std::string& message) {
  std::fprintf(stderr, "crossfarm: error: %s\n", message.c_str());
}

int ReportError(const Status& s) {
  PrintError(s.code() == StatusCode::kInvalidArgument ? s.message() : s.ToString());
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
    case StatusCode::kFailedPrecondition:
      return kExitBadInput;
    case StatusCode::kCancelled:
      return kExitInterrupted;
    default:
      return kExitBuildFailed;
  }
}

void LoadUserConfig(GlobalOptions& g) {
  std::string path;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg)
    path = std::string(xdg) + "/crossfarm/config.yaml";
  else if (const char* home = std::getenv("HOME"))
    path = std::string(home) + "/.config/crossfarm/config.yaml";
  std::error_code ec;
  if (path.empty() || !std::filesystem::exists(path, ec)) return;
  try {
    YAML::Node cfg = YAML::LoadFile(path);
    auto set = [&](const char* key, std::string& out) {
      if (cfg[key]) out = cfg[key].as<std::string>();
    };
    // docs/building.md "User configuration" lists these keys.
    static const std::vector<std::string_view> kKeys = {"remote", "remote-key", "key", "cache-dir",
                                                        "mirror-dir", "accel"};
    if (!cfg.IsMap() && !cfg.IsNull()) {
      PrintError(path + ": must be a mapping of the keys in docs/building.md (ignoring this config file)");
      return;
    }
    for (const auto& kv : cfg) {
      const std::string key = kv.first.as<std::string>();
      if (std::find(kKeys.begin(), kKeys.end(), key) != kKeys.end()) continue;
      std::string near = DidYouMean(key, kKeys);
      PrintError(path + ":" + std::to_string(kv.first.Mark().line + 1) + ": unknown key '" + key +
                 "' (ignored)" + (near.empty() ? "" : "; did you mean '" + near + "'?"));
    }
    set("remote", g.remote);
    set("remote-key", g.remote_key);
    set("key", g.key);
    set("cache-dir", g.cache_dir);
    set("mirror-dir", g.mirror_dir);
    set("accel", g.accel);
  } catch (const YAML::Exception& e) {
    // A broken user config must not stop commands that don't need it; say so.
    PrintError(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg +
               " (ignoring this config file)");
  }
}

std::string CommandFor(const GlobalOptions& g, const std::string& rest) {
  std::string cmd = "crossfarm";
  if (g.directory != ".") cmd += " -C " + g.directory;
  if (!g.arch.empty()) cmd += " --arch " + g.arch;
  if (!g.host_arch.empty()) cmd += " --host-arch " + g.host_arch;
  if (!g.target_arch.empty()) cmd += " --target-arch " + g.target_arch;
  for (const auto& [name, value] : g.options) cmd += " -o " + name + " " + value;
  if (!g.cache_dir.empty()) cmd += " --cache-dir " + g.cache_dir;
  if (!g.remote.empty()) cmd += " --remote " + g.remote;
  if (g.accel != "auto") cmd += " --accel " + g.accel;
  return cmd + " " + rest;
}

std::vector<GlobalOptions> PerArch(const GlobalOptions& g) {
  std::vector<GlobalOptions> out;
  size_t start = 0;
  do {
    size_t comma = g.arch.find(',', start);
    GlobalOptions one = g;
    one.arch = g.arch.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    out.push_back(std::move(one));
    start = comma == std::string::npos ? std::string::npos : comma + 1;
  } while (start != std::string::npos);
  return out;
}

// bst searches upward for project.conf, so a command works from elements/ or
// any other subdirectory of the project. Without one, the directory itself
// (whose "no project.conf" error names it).
std::string FindProjectDir(const std::string& directory) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path start = fs::absolute(directory, ec).lexically_normal();
  if (start.has_filename() == false) start = start.parent_path();  // "a/b/" -> "a/b"
  for (fs::path dir = start;; dir = dir.parent_path()) {
    if (fs::exists(dir / "project.conf", ec)) return dir.string();
    if (dir == dir.root_path() || dir.empty()) break;
  }
  return start.string();
}

Result<std::unique_ptr<Project>> LoadProject(const GlobalOptions& g, WorkspaceUse use) {
  if (g.arch.find(',') != std::string::npos)
    return Err(Status::InvalidArgument("--arch " + g.arch +
                                       ": this command takes one arch\n  hint: only `build`, `show` "
                                       "and `checkout` accept a comma-separated list"));
  CF_ASSIGN_OR_RETURN(ArchConfig arch, ArchConfig::Make(g.arch, g.host_arch, g.target_arch));
  LoadOptions opts;
  opts.project_dir = FindProjectDir(g.directory);
  opts.arch = arch;
  opts.option_overrides = g.options;
  opts.tracked_refs_dir = CacheLayout(g).tracked_refs;
  // tar/git junctions: their sources are fetched and staged while loading.
  CacheLayout layout(g);
  opts.stage_junction = [layout](const Element& junction) {
    return StageJunction(junction, layout.sources, layout.tmp);
  };
  CF_ASSIGN_OR_RETURN(opts.accel, ParseAccelMode(g.accel));
  if (use == WorkspaceUse::kUse) {
    CF_ASSIGN_OR_RETURN(opts.workspaces, Workspaces::Load(opts.project_dir));
    opts.workspace_cache_dir = layout.workspaces + "/stat";
  }
  // Local Python plugins: one host pool for the command (docs/plugins.md).
  auto plugins = std::make_shared<PythonPlugins>(
      worker::PluginHostOptions{.timeout = worker::DefaultPluginTimeout()}, layout.plugin_keys);
  opts.python_keys = [plugins](Element& e) { return plugins->Keys(e); };
  return Project::Load(opts);
}

}  // namespace crossfarm::client
