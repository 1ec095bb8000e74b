#include "client/python_plugins.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "common/digest.h"
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

Result<std::string> PythonPlugins::ModuleDigest(const PythonPlugin& plugin) {
  std::lock_guard lock(mu_);
  if (auto it = module_digests_.find(plugin.file); it != module_digests_.end()) return it->second;
  std::ifstream in(plugin.file, std::ios::binary);
  if (!in)
    return Err(UserError(plugin.where, "no plugin module " + plugin.file + " for kind '" +
                                           plugin.kind + "'",
                         "write " + plugin.kind + ".py with a setup() returning the plugin class"));
  std::ostringstream text;
  text << in.rdbuf();
  return module_digests_[plugin.file] = Sha256Hex(text.str());
}

std::optional<std::string> PythonPlugins::Cached(const std::string& name) const {
  if (key_cache_dir_.empty()) return std::nullopt;
  std::ifstream in(key_cache_dir_ + "/" + name, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void PythonPlugins::Remember(const std::string& name, const std::string& value) const {
  if (key_cache_dir_.empty()) return;
  // Best effort (a read-only cache just keys again next time); written to a
  // temp name and renamed, so a reader never sees half a key.
  std::error_code ec;
  std::filesystem::create_directories(key_cache_dir_, ec);
  const std::string file = key_cache_dir_ + "/" + name;
  const std::string tmp = file + ".tmp" + std::to_string(::getpid()) + "-" +
                          std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << value;
    if (!out.flush()) return;
  }
  std::filesystem::rename(tmp, file, ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

Status PythonPlugins::CheckFormat(const HostFn& host, const PythonPlugin& plugin) {
  {
    std::lock_guard lock(mu_);
    if (checked_.count(plugin.file)) return Status::Ok();
  }
  CF_ASSIGN_OR_RETURN(std::string digest, ModuleDigest(plugin));
  int version = 0;
  if (auto cached = Cached("format-" + digest)) {
    version = std::atoi(cached->c_str());
  } else {
    CF_ASSIGN_OR_RETURN(worker::PluginHost * h, host());
    auto loaded = h->Request({{"op", "load"}, {"plugin", PluginJson(plugin)}});
    if (!loaded)
      return UserError(plugin.where, "plugin '" + plugin.kind + "' (" + plugin.file +
                                         ") failed to load: " + loaded.error().message());
    version = loaded->value("format_version", 0);
    Remember("format-" + digest, std::to_string(version));
  }
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
  // A host only when a request must really reach Python: an element whose
  // key is cached starts none (the Python start is most of a `show`).
  std::optional<worker::PluginHostPool::Lease> lease;
  HostFn host = [&]() -> Result<worker::PluginHost*> {
    if (!lease) {
      CF_ASSIGN_OR_RETURN(auto l, pool_.Acquire());
      lease.emplace(std::move(l));
    }
    return &**lease;
  };
  worker::Json project = ProjectJson(e);
  if (const PythonPlugin* py = e.python_plugin) {
    CF_TRY(CheckFormat(host, *py));
    worker::Json req = project;
    req["op"] = "element.key";
    req["plugin"] = PluginJson(*py);
    req["element"] = PythonElementJson(e);
    // get_unique_key() as a function of the module and all the host is told
    // (docs/plugins.md "Keys cached").
    CF_ASSIGN_OR_RETURN(std::string digest, ModuleDigest(*py));
    const std::string name = "key-" + Sha256Hex(digest + "\n" + req.dump());
    if (auto cached = Cached(name)) {
      e.python_key = *cached;
    } else {
      CF_ASSIGN_OR_RETURN(worker::PluginHost * h, host());
      auto r = h->Request(req);
      if (!r)
        return UserError(e.where, e.name + ": " + DescribePlugin(e, *py) + " failed: " +
                                      r.error().message());
      e.python_key = r->dump();
      Remember(name, e.python_key);
    }
  }
  for (size_t i = 0; i < e.sources.size(); ++i) {
    SourceSpec& s = e.sources[i];
    if (!s.python_plugin) continue;
    CF_TRY(CheckFormat(host, *s.python_plugin));
    CF_ASSIGN_OR_RETURN(worker::PluginHost * h, host());
    worker::Json req = project;
    req["op"] = "source.key";
    req["plugin"] = PluginJson(*s.python_plugin);
    req["source"] = {{"element", e.name}, {"element_kind", e.kind}, {"index", i},
                     {"file", s.where.file}, {"directory", s.directory},
                     {"config", TreeJson(s.tree)}};
    // Not cached: its consistency depends on the mirror.
    auto r = h->Request(req);
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
