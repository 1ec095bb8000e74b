#include "common/project_plugins.h"

#include <filesystem>

namespace crossfarm {
namespace fs = std::filesystem;
namespace {

Result<int> FormatVersionOf(const Node& versions, const std::string& kind) {
  NodePtr v = versions.Get(kind);
  if (v && v->IsScalar()) {
    try {
      size_t used = 0;
      int n = std::stoi(v->scalar, &used);
      if (used == v->scalar.size() && n >= 0) return n;
    } catch (...) {  // std::stoi: invalid_argument / out_of_range
    }
  }
  return Err(UserError(v ? v->Where() : versions.Where(),
                       "the format version of plugin '" + kind + "' must be an integer",
                       "write `" + kind + ": 0` (the oldest format version the project needs)"));
}

// bst's node_get_project_path(check_is_dir=True): inside the project, a directory.
Result<std::string> LocalPluginDir(const Node& origin, const std::string& project_dir) {
  CF_ASSIGN_OR_RETURN(std::string path, GetString(origin, "path", std::nullopt));
  fs::path p = fs::path(path).lexically_normal();
  std::string rel = p.string();
  if (p.is_absolute() || rel == ".." || rel.starts_with("../"))
    return Err(UserError(origin.KeyProvenance("path"),
                         "plugin path '" + path + "' must be a directory inside the project",
                         "give a path relative to the directory of project.conf"));
  std::string dir = (fs::path(project_dir) / p).lexically_normal().string();
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Err(UserError(origin.KeyProvenance("path"),
                         "plugin path '" + path + "' is not a directory of the project",
                         "create it, holding <kind>.py, or fix the path"));
  return dir;
}

Status ReadOrigin(const Node& origin, const std::string& project_dir, ProjectPlugins& out) {
  if (!origin.IsMapping()) return UserError(origin.Where(), "a plugin origin must be a mapping");
  CF_TRY(ValidateKeys(origin, {"origin", "sources", "elements", "package-name", "path"},
                      "plugins"));
  CF_ASSIGN_OR_RETURN(std::string type, GetString(origin, "origin", std::nullopt));
  if (type != "core" && type != "local" && type != "pip")
    return UserError(origin.KeyProvenance("origin"),
                     "Origin '" + type + "' is not one of the allowed types",
                     "use origin: local, pip or core");
  std::string dir, from;
  if (type == "local") {
    CF_ASSIGN_OR_RETURN(dir, LocalPluginDir(origin, project_dir));
  } else if (type == "pip") {
    CF_ASSIGN_OR_RETURN(std::string package, GetString(origin, "package-name", std::nullopt));
    from = "pip package '" + package + "' (" + origin.Where().ToString() + ")";
  }
  for (std::string_view group : {"elements", "sources"}) {
    CF_ASSIGN_OR_RETURN(NodePtr kinds, GetMapping(origin, group));
    if (!kinds) continue;
    bool element = group == "elements";
    std::string prefix = element ? "element:" : "source:";
    for (const auto& [kind, _] : kinds->map) {
      CF_ASSIGN_OR_RETURN(int version, FormatVersionOf(*kinds, kind));
      std::string key = prefix + kind;
      if (out.python.count(key) || out.foreign.count(key))
        return UserError(kinds->KeyProvenance(kind),
                         "Duplicate listing of " + prefix.substr(0, prefix.size() - 1) + " '" +
                             kind + "'",
                         "declare each plugin kind once in project.conf");
      if (type == "core") continue;  // bst's own kinds: only their format version
      if (type == "pip") {
        out.foreign[key] = from;
        continue;
      }
      out.python[key] = PythonPlugin{.kind = kind,
                                     .element = element,
                                     .file = dir + "/" + kind + ".py",
                                     .defaults_file = dir + "/" + kind + ".yaml",
                                     .required_version = version,
                                     .where = kinds->KeyProvenance(kind)};
    }
  }
  return Status::Ok();
}

}  // namespace

Result<ProjectPlugins> ReadProjectPlugins(const Node& config, const std::string& project_dir) {
  ProjectPlugins out;
  NodePtr plugins = config.Get("plugins");
  if (!plugins || plugins->IsNull()) return out;
  if (!plugins->IsSequence())
    return Err(UserError(config.KeyProvenance("plugins"), "'plugins' must be a list of origins"));
  for (const auto& origin : plugins->items) CF_TRY(ReadOrigin(*origin, project_dir, out));
  return out;
}

}  // namespace crossfarm
