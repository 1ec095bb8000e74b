// `crossfarm show`: the elements of a plan in dependency order, like `bst show`.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <map>

#include "client/commands.h"
#include "client/element_state.h"
#include "common/kind_defaults.h"
#include "common/project.h"

namespace crossfarm::client {
namespace {

constexpr const char* kDefaultFormat = "%{state: >12} %{key} %{name} [%{arch} %{sandbox}]";

struct ShowArgs {
  std::string deps = "all";
  std::string format = kDefaultFormat;
  bool json = false;
  std::vector<std::string> targets;
};

Result<Scope> ParseScope(const std::string& s) {
  static const std::map<std::string, Scope> kScopes = {
      {"none", Scope::kNone}, {"plan", Scope::kPlan}, {"run", Scope::kRun},
      {"build", Scope::kBuild}, {"all", Scope::kAll}};
  auto it = kScopes.find(s);
  if (it == kScopes.end())
    return Err(Status::InvalidArgument("--deps " + s +
                                       ": expected one of none, plan, run, build, all"));
  return it->second;
}

// Applies a Python-style format spec "[[fill]align][width]" (the subset bst's
// default formats use, e.g. "%{state: >12}").
std::string ApplySpec(const std::string& value, const std::string& spec) {
  if (spec.empty()) return value;
  char fill = ' ', align = '<';
  size_t i = 0;
  if (spec.size() >= 2 && (spec[1] == '<' || spec[1] == '>' || spec[1] == '^')) {
    fill = spec[0];
    align = spec[1];
    i = 2;
  } else if (spec[0] == '<' || spec[0] == '>' || spec[0] == '^') {
    align = spec[0];
    i = 1;
  }
  size_t width = 0;
  for (; i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i])); ++i)
    width = width * 10 + static_cast<size_t>(spec[i] - '0');
  if (value.size() >= width) return value;
  size_t pad = width - value.size();
  if (align == '>') return std::string(pad, fill) + value;
  if (align == '^') return std::string(pad / 2, fill) + value + std::string(pad - pad / 2, fill);
  return value + std::string(pad, fill);
}

// A YAML mapping, as bst prints %{vars} and %{env} (ruamel's round-trip dump):
// a script can parse it. Multi-line values are double-quoted with escapes,
// so one value is one YAML scalar whatever it holds.
std::string VarsText(const std::map<std::string, std::string>& vars) {
  if (vars.empty()) return "{}";
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const auto& [k, v] : vars) {
    out << YAML::Key << k << YAML::Value;
    if (v.find('\n') != std::string::npos) out << YAML::DoubleQuoted << v;
    else out << v;
  }
  out << YAML::EndMap;
  return out.c_str();
}

// bst's %{public}: split rules substituted, integration commands not.
std::string PublicText(const Element& e) {
  if (!e.public_tree) return "{}";
  YAML::Node pub = ToYaml(*e.public_tree);
  if (e.unsubstituted_integration_commands && pub["bst"])
    pub["bst"]["integration-commands"] = ToYaml(*e.unsubstituted_integration_commands);
  return YAML::Dump(pub);
}

std::string DepNames(const std::vector<Element*>& deps) {
  std::string out;
  for (auto* d : deps) out += (out.empty() ? "" : " ") + d->name;
  return out;
}

// Which implementation runs a kind (docs/building.md, `%{plugin}`): "core"
// (bst 1.6's kinds and crossfarm's deb/debian-source), "native"
// (buildstream-external's, in C++) or "opaque" (a declared plugin crossfarm
// cannot run: shown, never built).
// Which implementation runs a kind (docs/building.md "Which plugin runs"):
// "python:<file relative to the project>" for a local Python plugin run by the
// plugin host (docs/plugins.md), else native / core / opaque.
std::string PluginOf(KindCategory category, const std::string& kind, const std::string& opaque,
                     const PythonPlugin* python, const Element& e) {
  if (python) {
    std::string file = python->file;
    if (e.project && file.starts_with(e.project->directory + "/"))
      file = file.substr(e.project->directory.size() + 1);
    return "python:" + file;
  }
  if (!opaque.empty()) return "opaque";
  return IsNativePluginKind(category, kind) ? "native" : "core";
}
std::string PluginOf(const Element& e) {
  return PluginOf(KindCategory::kElement, e.kind, e.opaque_plugin, e.python_plugin, e);
}

// Value of one %{field} for an element; nullopt for an unknown field.
std::optional<std::string> Field(const std::string& name, const ElementView& v) {
  const Element& e = *v.element;
  if (name == "name") return e.name;
  if (name == "key") return e.cache_key ? e.cache_key->substr(0, 8) : std::string(8, '-');
  if (name == "full-key") return e.cache_key ? *e.cache_key : std::string(64, '-');
  if (name == "state") return v.state;
  if (name == "arch") return v.arch;
  if (name == "sandbox") return v.sandbox;
  if (name == "accel") return v.accel.empty() ? std::string("-") : v.accel;
  if (name == "kind") return e.kind;
  if (name == "plugin") return PluginOf(e);
  if (name == "vars") return VarsText(e.variables);
  if (name == "env") return VarsText(e.environment);
  if (name == "config")  // bst prints it before variable substitution
    return e.unsubstituted_config ? YAML::Dump(ToYaml(*e.unsubstituted_config)) : std::string("{}");
  if (name == "public") return PublicText(e);
  if (name == "deps") return DepNames(e.RuntimeDeps());
  if (name == "runtime-deps") return DepNames(e.RuntimeDeps());
  if (name == "build-deps") return DepNames(e.BuildDeps());
  if (name == "description") return e.description;
  if (name == "workspaced") return std::string(e.workspace ? "(workspaced)" : "");
  if (name == "workspace-dirs")
    return e.workspace ? "Workspace: " + e.workspace->directory : std::string();
  return std::nullopt;
}

Result<std::string> Render(const std::string& fmt, const ElementView& v) {
  std::string out;
  size_t pos = 0;
  while (pos < fmt.size()) {
    size_t start = fmt.find("%{", pos);
    if (start == std::string::npos) {
      out += fmt.substr(pos);
      break;
    }
    out += fmt.substr(pos, start - pos);
    size_t end = fmt.find('}', start);
    if (end == std::string::npos)
      return Err(Status::InvalidArgument("--format: unterminated '%{' in \"" + fmt + "\""));
    std::string field = fmt.substr(start + 2, end - start - 2), spec;
    if (auto colon = field.find(':'); colon != std::string::npos) {
      spec = field.substr(colon + 1);
      field = field.substr(0, colon);
    }
    auto value = Field(field, v);
    if (!value)
      return Err(Status::InvalidArgument(
          "--format: unknown field %{" + field +
          "}\n  hint: use name, key, full-key, state, arch, sandbox, accel, kind, vars, env, "
          "config, public, deps, build-deps, runtime-deps, description, workspaced, workspace-dirs"));
    out += ApplySpec(*value, spec);
    pos = end + 1;
  }
  return out;
}

// The loader's tree as JSON: scalars are strings, as in the YAML.
nlohmann::json TreeJson(const Node* n) {
  if (!n || n->IsNull()) return nullptr;
  if (n->IsScalar()) return n->scalar;
  nlohmann::json out = n->IsSequence() ? nlohmann::json::array() : nlohmann::json::object();
  for (const auto& item : n->items) out.push_back(TreeJson(item.get()));
  for (const auto& [k, item] : n->map) out[k] = TreeJson(item.get());
  return out;
}

nlohmann::json SourcesJson(const Element& e) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : e.sources)
    out.push_back({{"kind", s.kind},
                   {"plugin", PluginOf(KindCategory::kSource, s.kind, s.opaque_plugin, s.python_plugin, e)},
                   {"config", TreeJson(s.tree.get())},
                   {"ref", s.ref_text ? nlohmann::json(*s.ref_text) : nlohmann::json()}});
  return out;
}

nlohmann::json ToJson(const ElementView& v) {
  const Element& e = *v.element;
  nlohmann::json j;
  j["name"] = e.name;
  j["kind"] = e.kind;
  j["plugin"] = PluginOf(e);
  j["key"] = e.cache_key ? nlohmann::json(e.cache_key->substr(0, 8)) : nlohmann::json();
  j["full-key"] = e.cache_key ? nlohmann::json(*e.cache_key) : nlohmann::json();
  j["state"] = v.state;
  j["arch"] = v.arch;
  j["sandbox"] = v.sandbox;
  j["accel"] = v.accel;
  j["variables"] = e.variables;
  j["environment"] = e.environment;
  j["config"] = TreeJson(e.config_tree.get());
  j["public"] = TreeJson(e.public_tree.get());
  j["sources"] = SourcesJson(e);
  auto names = [](const std::vector<Element*>& ds) {
    std::vector<std::string> out;
    for (auto* d : ds) out.push_back(d->name);
    return out;
  };
  j["build-deps"] = names(e.BuildDeps());
  j["runtime-deps"] = names(e.RuntimeDeps());
  return j;
}

int ShowOneArch(const GlobalOptions& g, const ShowArgs& a, Scope scope, nlohmann::json* json) {
  auto project = LoadProject(g);
  if (!project) return ReportError(project.error());
  auto targets = (*project)->LoadTargets(a.targets);
  if (!targets) return ReportError(targets.error());
  auto plan = (*project)->Plan(*targets, scope);
  auto views = ComputeStates(**project, plan, g);
  int rc = kExitOk;
  if (json) {
    for (const auto& v : views) json->push_back(ToJson(v));
  } else {
    for (const auto& v : views) {
      auto line = Render(a.format, v);
      if (!line) {
        rc = ReportError(line.error());
        break;
      }
      // The default format says how an emulated build is accelerated, only
      // where the project declares an accelerator.
      if (a.format == kDefaultFormat && !v.accel.empty()) *line += " accel: " + v.accel;
      // As bst's default format: where a workspace replaces the sources.
      if (a.format == kDefaultFormat && v.element->workspace)
        *line += " Workspace: " + v.element->workspace->directory;
      std::printf("%s\n", line->c_str());
    }
  }
  // The process ends right after: freeing tens of thousands of element trees
  // one by one costs a fifth of `show`'s time and gives nothing back (ninja
  // skips its teardown for the same reason).
  (void)project->release();
  return rc;
}

int RunShow(const GlobalOptions& g, const ShowArgs& a) {
  auto scope = ParseScope(a.deps);
  if (!scope) return ReportError(scope.error());
  nlohmann::json arr = nlohmann::json::array();
  for (const GlobalOptions& one : PerArch(g))
    if (int rc = ShowOneArch(one, a, *scope, a.json ? &arr : nullptr); rc != kExitOk) return rc;
  if (a.json) std::printf("%s\n", arr.dump(2).c_str());
  return kExitOk;
}

}  // namespace

Action AddShowCommand(CLI::App& app, const GlobalOptions& g) {
  auto args = std::make_shared<ShowArgs>();
  auto* cmd = app.add_subcommand("show", "Show elements of the pipeline in dependency order");
  cmd->add_option("-d,--deps", args->deps, "Dependencies to show: none, plan, run, build, all")
      ->capture_default_str();
  auto* format = cmd->add_option(
      "-f,--format", args->format,
      "Format string with %{name} %{key} %{full-key} %{state} %{arch} %{sandbox} %{accel} "
      "%{kind} %{plugin} %{vars} ...");
  cmd->add_flag("--json", args->json, "Print a JSON array instead of formatted lines")
      ->excludes(format);
  cmd->add_option("targets", args->targets, "Target elements (.bst)")->required();
  return [&g, args] { return RunShow(g, *args); };
}

}  // namespace crossfarm::client
