#include "client/python_plugins.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/graph.h"
#include "common/node.h"

namespace crossfarm::client {
namespace {

worker::Json TreeJson(const NodePtr& node) {
  if (!node) return worker::Json::object();
  std::string text;
  AppendCanonicalJson(*node, text);
  return worker::Json::parse(text);
}

worker::Json DepsJson(const std::vector<Element*>& deps, const Element& self) {
  worker::Json out = worker::Json::array();
  for (const Element* d : deps) {
    if (d == &self) continue;
    out.push_back({{"name", d->name}, {"kind", d->kind}, {"public", TreeJson(d->public_tree)}});
  }
  return out;
}

worker::Json ProjectJson(const Element& e) {
  worker::Json j{{"project_name", e.project ? e.project->name : ""},
                 {"project_dir", e.project ? e.project->directory : ""},
                 {"aliases", e.project ? e.project->aliases : std::map<std::string, std::string>{}}};
  return j;
}

worker::Json PluginJson(const PythonPlugin& p) {
  return {{"kind", p.kind}, {"file", p.file}, {"element", p.element}};
}

}  // namespace

std::string DescribePlugin(const Element& e, const PythonPlugin& plugin) {
  std::string file = plugin.file;
  if (e.project)
    file = std::filesystem::path(plugin.file).lexically_relative(e.project->directory).string();
  return "plugin '" + plugin.kind + "' (" + file + ")";
}

worker::Json PythonElementJson(const Element& e) {
  std::vector<Element*> build_deps = e.BuildDeps();
  std::vector<Element*> self{const_cast<Element*>(&e)};
  return {{"name", e.name},
          {"file", e.where.file},
          {"config", TreeJson(e.unsubstituted_config)},
          {"variables", e.variables},
          {"environment", e.environment},
          {"public", TreeJson(e.public_tree)},
          {"build", DepsJson(PlanElements(build_deps, Scope::kRun), e)},
          {"run", DepsJson(PlanElements(self, Scope::kRun), e)}};
}

Status PythonPlugins::CheckFormat(worker::PluginHost& host, const PythonPlugin& plugin) {
  {
    std::lock_guard lock(mu_);
    if (checked_.count(plugin.file)) return Status::Ok();
  }
  std::error_code ec;
  if (!std::filesystem::exists(plugin.file, ec))
    return UserError(plugin.where, "no plugin module " + plugin.file + " for kind '" +
                                       plugin.kind + "'",
                     "write " + plugin.kind + ".py with a setup() returning the plugin class");
  auto loaded = host.Request({{"op", "load"}, {"plugin", PluginJson(plugin)}});
  if (!loaded)
    return UserError(plugin.where, "plugin '" + plugin.kind + "' (" + plugin.file +
                                       ") failed to load: " + loaded.error().message());
  int version = loaded->value("format_version", 0);
  // bst 1.6 _plugincontext.py _assert_plugin_format.
  if (version < plugin.required_version)
    return UserError(plugin.where, plugin.kind + ": Format version " + std::to_string(version) +
                                       " is too old for requested version " +
                                       std::to_string(plugin.required_version),
                     "lower the version in project.conf or update the plugin");
  std::lock_guard lock(mu_);
  checked_.insert(plugin.file);
  return Status::Ok();
}

Status PythonPlugins::Keys(Element& e) {
  CF_ASSIGN_OR_RETURN(auto host, pool_.Acquire());
  worker::Json project = ProjectJson(e);
  if (const PythonPlugin* py = e.python_plugin) {
    CF_TRY(CheckFormat(*host, *py));
    worker::Json req = project;
    req["op"] = "element.key";
    req["plugin"] = PluginJson(*py);
    req["element"] = PythonElementJson(e);
    auto r = host->Request(req);
    if (!r)
      return UserError(e.where, e.name + ": " + DescribePlugin(e, *py) + " failed: " +
                                    r.error().message());
    e.python_key = r->dump();
  }
  for (size_t i = 0; i < e.sources.size(); ++i) {
    SourceSpec& s = e.sources[i];
    if (!s.python_plugin) continue;
    CF_TRY(CheckFormat(*host, *s.python_plugin));
    worker::Json req = project;
    req["op"] = "source.key";
    req["plugin"] = PluginJson(*s.python_plugin);
    req["source"] = {{"element", e.name}, {"element_kind", e.kind}, {"index", i},
                     {"file", s.where.file}, {"directory", s.directory},
                     {"config", TreeJson(s.tree)}};
    auto r = host->Request(req);
    if (!r)
      return UserError(s.where, e.name + ": source " + DescribePlugin(e, *s.python_plugin) +
                                    " failed: " + r.error().message());
    s.python_key = r->dump();
    // bst: a source's key is its get_unique_key(); none while inconsistent.
    if (r->value("consistency", "") == "inconsistent") s.ref_text = std::nullopt;
    else s.ref_text = (*r)["key"].dump();
  }
  return Status::Ok();
}

Result<PythonElementJob> MakePythonElementJob(const Element& e) {
  std::ifstream in(e.python_plugin->file, std::ios::binary);
  if (!in)
    return Err(UserError(e.python_plugin->where, "cannot read " + e.python_plugin->file));
  std::ostringstream text;
  text << in.rdbuf();
  return PythonElementJob{.kind = e.python_plugin->kind,
                          .plugin = DescribePlugin(e, *e.python_plugin),
                          .module = text.str(),
                          .element = PythonElementJson(e).dump(),
                          .where = e.where.ToString()};
}

}  // namespace crossfarm::client
