#include "common/project.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "common/cache_key.h"
#include "common/directives.h"
#include "common/kind_defaults.h"
#include "common/yaml_loader.h"

namespace crossfarm {
namespace fs = std::filesystem;
namespace {

const std::vector<std::string_view> kProjectKeys = {
    "name",        "format-version",  "min-version",     "element-path",  "aliases",
    "options",     "variables",       "environment",     "environment-nocache",
    "split-rules", "sandbox",         "plugins",         "fail-on-overlap",
    "artifacts",   "elements",        "sources",         "ref-storage",   "shell",
    "fatal-warnings", "mirrors",      "remote-execution", "defaults"};

void SetVar(Node& vars, const std::string& k, std::string_view v) {
  vars.Set(k, Node::MakeScalar(std::string(v)));
}

// crossfarm's arch variables, as the lowest layer (projects may override).
void AddArchVariables(Node& vars, const ArchConfig& a) {
  const ArchInfo* roles[] = {a.host, a.target, a.build};
  const char* names[] = {"host", "target", "build"};
  for (int i = 0; i < 3; ++i) {
    const ArchInfo& info = roles[i] ? *roles[i] : HostArch();
    std::string n = names[i];
    SetVar(vars, n + "-arch", info.name);
    SetVar(vars, n + "-triplet", info.triplet);
    SetVar(vars, n + "-debian-arch", info.debian);
  }
}

int DefaultMaxJobs() {
  // bst 1.6: the usable CPU count, at most 8 (more rarely helps one build).
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return static_cast<int>(std::clamp<long>(n, 1, 8));
}

Result<int> FormatVersion(const Node& config) {
  NodePtr v = config.Get("format-version");
  if (!v || !v->IsScalar()) return 0;
  try {
    size_t used = 0;
    int n = std::stoi(v->scalar, &used);
    if (used == v->scalar.size()) return n;
  } catch (...) {  // std::stoi: invalid_argument / out_of_range
  }
  return Err(UserError(v->Where(), "format-version must be an integer"));
}

}  // namespace

Result<std::unique_ptr<Project>> Project::Load(const LoadOptions& options) {
  std::unique_ptr<Project> p(new Project());
  CF_TRY(p->LoadConf(options));
  return p;
}

Result<NodePtr> Project::ReadConf(const LoadOptions& options) {
  std::error_code ec;
  fs::path dir = fs::absolute(options.project_dir.empty() ? "." : options.project_dir, ec);
  config_.directory = dir.lexically_normal().string();
  while (config_.directory.size() > 1 && config_.directory.back() == '/')
    config_.directory.pop_back();
  auto conf = ParseYamlFile(config_.directory + "/project.conf", "project.conf");
  if (!conf && conf.error().IsNotFound())
    return Err(Status::NotFound("no project.conf in " + config_.directory +
                                "\n  hint: run crossfarm from the project directory or pass "
                                "the directory holding project.conf"));
  return conf;
}

Status Project::LoadConf(const LoadOptions& options) {
  load_options_ = options;
  config_.open_junction = [this](const Element& j) { return OpenJunction(j); };
  config_.arch = options.arch;
  config_.accel_mode = options.accel;
  if (!config_.arch.host) config_.arch.host = &HostArch();
  if (!config_.arch.target) config_.arch.target = config_.arch.host;
  if (!config_.arch.build) config_.arch.build = config_.arch.host;
  CF_ASSIGN_OR_RETURN(NodePtr raw, ReadConf(options));
  // bst 1.6 Project._load: a first pass composes project.conf without the
  // includes from junctions ("j.bst:file.yml"); its settings load the
  // junctions, and a second pass composes project.conf again with them.
  NodePtr original = raw->Clone();
  bool from_junctions = false;
  CF_TRY(ComposeConf(raw, options, [&](const std::string& f, const Provenance& w) -> Result<NodePtr> {
    if (f.find(':') == std::string::npos) return config_.LoadInclude(f, w);
    from_junctions = true;
    return Node::MakeMapping();
  }));
  if (!from_junctions) return Status::Ok();
  Status second = ComposeConf(original, options, [this](const std::string& f, const Provenance& w) {
    return config_.LoadInclude(f, w);
  });
  // The junctions keep what the first pass resolved (bst resolves junction
  // elements with its first_pass_config); the caches the elements use start
  // again from the final settings.
  config_.kind_defaults.clear();
  config_.kind_variables.clear();
  config_.split_rules_memo.clear();
  config_.split_rule_refs.clear();
  return second;
}

Status Project::ComposeConf(NodePtr raw, const LoadOptions& options, const IncludeLoader& include) {
  std::vector<std::string> chain = {"project.conf"};
  CF_TRY(ProcessIncludes(*raw, include, chain));
  CF_TRY(ValidateKeys(*raw, kProjectKeys, "project.conf"));
  CF_ASSIGN_OR_RETURN(int version, FormatVersion(*raw));
  if (version > kMaxFormatVersion)
    return UserError(raw->KeyProvenance("format-version"),
                     "project requires format-version " + std::to_string(version) +
                         ", crossfarm supports up to " + std::to_string(kMaxFormatVersion));
  CF_ASSIGN_OR_RETURN(NodePtr config, ParseYamlString(BuiltinProjectDefaultsYaml(),
                                                      "<builtin projectconfig.yaml>"));
  AddArchVariables(*config->Get("variables"), config_.arch);
  CF_TRY(Composite(*config, *raw));
  CF_ASSIGN_OR_RETURN(NodePtr opts, GetMapping(*config, "options"));
  config_.options = OptionPool();
  CF_TRY(config_.options.Declare(opts.get(), config_.arch));
  CF_TRY(config_.options.ApplyOverrides(options.option_overrides));
  CF_TRY(config_.options.Validate());
  CF_TRY(ProcessConditionals(
      *config, [this](const std::string& x) { return config_.options.Evaluate(x); }));
  return ExtractSettings(*config, *raw, options);
}

Status Project::ExtractSettings(Node& config, const Node& raw, const LoadOptions& options) {
  CF_ASSIGN_OR_RETURN(config_.name, GetString(config, "name", std::nullopt));
  CF_ASSIGN_OR_RETURN(config_.element_overrides, GetMapping(config, "elements"));
  CF_ASSIGN_OR_RETURN(config_.source_overrides, GetMapping(config, "sources"));
  tracked_refs_dir_ = options.tracked_refs_dir;
  if (!options.tracked_refs_dir.empty()) {
    CF_ASSIGN_OR_RETURN(TrackedRefs tracked,
                        TrackedRefs::Load(tracked_refs_path()));
    if (!tracked.empty()) config_.tracked_refs = std::make_shared<const TrackedRefs>(std::move(tracked));
  }
  CF_ASSIGN_OR_RETURN(ProjectPlugins plugins, ReadProjectPlugins(config, config_.directory));
  config_.plugin_kinds = std::move(plugins.foreign);
  config_.python_plugins = std::move(plugins.python);
  config.Erase("elements");
  config.Erase("sources");
  CF_TRY(FinalAssertions(config));
  CF_ASSIGN_OR_RETURN(std::string epath, GetString(config, "element-path", "."));
  config_.element_path = NormaliseElementName(epath);
  if (config_.element_path.empty() && epath != "." && epath != "./")
    return UserError(config.KeyProvenance("element-path"),
                     "element-path '" + epath + "' must be inside the project directory");
  CF_ASSIGN_OR_RETURN(NodePtr aliases, GetMapping(config, "aliases"));
  aliases_.clear();
  if (aliases)
    for (const auto& [k, v] : aliases->map) {
      if (!v->IsScalar()) return UserError(v->Where(), "alias '" + k + "' must be a URL");
      aliases_[k] = v->scalar;
    }
  config_.aliases = aliases_;
  if (NodePtr rv = raw.Get("variables"); rv && rv->IsMapping())
    for (std::string_view v : {"project-name", "element-name", "max-jobs"})
      if (rv->Has(v))
        return UserError(rv->KeyProvenance(v),
                         "invalid redefinition of protected variable '" + std::string(v) + "'");
  CF_ASSIGN_OR_RETURN(config_.variables, GetMapping(config, "variables"));
  SetVar(*config_.variables, "project-name", config_.name);
  SetVar(*config_.variables, "max-jobs",
         std::to_string(options.max_jobs > 0 ? options.max_jobs : DefaultMaxJobs()));
  config_.options.ExportVariables(*config_.variables);
  CF_ASSIGN_OR_RETURN(config_.environment, GetMapping(config, "environment"));
  CF_ASSIGN_OR_RETURN(config_.environment_nocache, GetStringList(config, "environment-nocache"));
  CF_ASSIGN_OR_RETURN(config_.sandbox, GetMapping(config, "sandbox"));
  CF_ASSIGN_OR_RETURN(config_.split_rules, GetMapping(config, "split-rules"));
  split_rules_ = ToYaml(*config_.split_rules);
  CF_ASSIGN_OR_RETURN(fail_on_overlap_, GetBool(config, "fail-on-overlap", false));
  CF_ASSIGN_OR_RETURN(std::string refs, GetString(config, "ref-storage", "inline"));
  if (refs != "inline")
    return UserError(config.KeyProvenance("ref-storage"),
                     "ref-storage '" + refs + "' is not supported",
                     "keep refs in the element files (ref-storage: inline)");
  return Status::Ok();
}

Result<std::vector<Element*>> Project::LoadTargets(const std::vector<std::string>& targets) {
  std::vector<std::string> names;
  std::string prefix = config_.element_path.empty() ? "" : config_.element_path + "/";
  for (const auto& t : targets) {
    std::string n = NormaliseElementName(t);
    std::error_code ec;
    if (!prefix.empty() && n.starts_with(prefix) &&
        !fs::exists(config_.directory + "/" + prefix + n, ec))
      n = n.substr(prefix.size());
    names.push_back(n.empty() ? t : n);
  }
  std::vector<Element*> loaded;
  CF_ASSIGN_OR_RETURN(auto out, LoadElementGraph(config_, elements_, names, loaded));
  CF_TRY(AttachWorkspaces(loaded));
  CF_TRY(ResolveAccelerators(loaded));
  for (Element* e : loaded) {
    CF_TRY(PythonKeys(*e));
    ComputeCacheKey(*e);
  }
  return out;
}

Status Project::AttachWorkspaces(const std::vector<Element*>& loaded) {
  const Workspaces& open = load_options_.workspaces;
  for (Element* e : loaded) {
    const WorkspaceEntry* w = open.Find(e->name);
    if (!w) continue;
    const std::string dir = open.AbsolutePath(*w);
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
      return UserError(w->where, "the workspace of " + e->name + " is missing: " + dir +
                                     " is not a directory",
                       "restore it, run `crossfarm workspace reset " + e->name +
                           "` to check the sources out there again, or `crossfarm workspace "
                           "close " + e->name + "` to build from the sources");
    auto scan = ScanWorkspace(dir, WorkspaceStatCache(load_options_.workspace_cache_dir, dir));
    if (!scan) return scan.error().WithContext("workspace of " + e->name);
    e->workspace = ElementWorkspace{dir, scan->key};
  }
  return Status::Ok();
}

Status Project::PythonKeys(Element& e) const {
  const PythonPlugin* py = e.python_plugin;
  for (const SourceSpec& s : e.sources) py = py ? py : s.python_plugin;
  if (!py) return Status::Ok();
  if (!load_options_.python_keys)
    return UserError(e.where, e.name + " uses the Python plugin '" + py->kind + "' (" +
                                  py->where.ToString() + "), which this command cannot run",
                     "use `crossfarm show` or `crossfarm build`");
  return load_options_.python_keys(e);
}

namespace {

// Kinds that run commands in a sandbox: the only ones an accelerator helps.
bool RunsSandbox(const Element& e) { return IsBuildElementKind(e.kind) || e.kind == "script"; }

}  // namespace

Result<std::shared_ptr<const AcceleratorInfo>> Project::Accelerator(const std::string& name,
                                                                   const Element& user) {
  if (auto it = accelerators_.find(name); it != accelerators_.end()) return it->second;
  std::vector<Element*> loaded;
  auto graph = LoadElementGraph(config_, elements_, {NormaliseElementName(name)}, loaded);
  if (!graph)
    return Err(graph.error().WithContext("accelerator " + name + " (named in the public data of a "
                                         "dependency of " + user.name + ")"));
  // An accelerator and its dependencies are host-arch imports: never
  // accelerated themselves. They may have been loaded (not keyed yet) by the
  // same LoadTargets call: key the closure now, dependencies first.
  for (Element* e : PlanElements(*graph, Scope::kAll))
    if (!e->cache_key) ComputeCacheKey(*e);
  CF_ASSIGN_OR_RETURN(AcceleratorInfo info, ParseAcceleratorInfo(*graph->front()));
  auto shared = std::make_shared<const AcceleratorInfo>(std::move(info));
  accelerators_[name] = shared;
  return shared;
}

Status Project::ResolveAccelerators(const std::vector<Element*>& loaded) {
  // Merges the accelerators declared by e's dependencies of the kind that
  // counts (`skip` is the other kind) into `name`; one per root at most.
  auto merge = [](const Element& e, DepType skip, std::string& name) -> Status {
    for (auto [d, t] : e.deps) {
      if (t == skip || d->declared_accelerator.empty()) continue;
      if (name.empty()) name = d->declared_accelerator;
      else if (name != d->declared_accelerator)
        return UserError(e.where, e.name + " stages two accelerators: " + name + " and " +
                                      d->declared_accelerator + " (via " + d->name + ")",
                         "declare one accelerator per base");
    }
    return Status::Ok();
  };
  // What each element's runtime closure declares (a dependent's staged root).
  for (Element* e : loaded) {
    CF_ASSIGN_OR_RETURN(e->declared_accelerator, DeclaredAccelerator(*e));
    CF_TRY(merge(*e, DepType::kBuild, e->declared_accelerator));
  }
  for (Element* e : loaded) {
    if (!RunsSandbox(*e)) continue;
    std::string name;  // what its staged root (build deps + their runtime closure) declares
    CF_TRY(merge(*e, DepType::kRuntime, name));
    if (name.empty()) continue;
    // --no-accel does not even load the accelerator: it also works around a
    // broken one.
    if (config_.accel_mode == AccelMode::kNone) {
      e->accel_note = "off (--accel none)";
      continue;
    }
    CF_ASSIGN_OR_RETURN(auto info, Accelerator(name, *e));
    if (!e->sandbox_build_arch.empty() && e->sandbox_build_arch != info->target_arch) {
      e->accel_note = "none: " + name + " is for " + info->target_arch + ", the sandbox is " +
                      e->sandbox_build_arch;
      continue;
    }
    e->accel = EffectiveAccel(config_.accel_mode, *info);
    if (e->accel.empty()) {
      e->accel_note = std::string("none: ") + name + " offers nothing --accel " +
                      AccelModeName(config_.accel_mode) + " allows";
      continue;
    }
    e->accelerator = Find(name);
    e->accel_info = info;
  }
  return Status::Ok();
}

// Where the junction's sources are: a single `local` source in place, other
// sources fetched and staged by the client (bst stages them in its build dir).
Result<std::string> Project::JunctionRoot(const Element& junction) {
  if (junction.sources.empty())
    return Err(UserError(junction.where, "junction " + junction.name + " has no sources",
                         "point a local source at the subproject's directory"));
  const SourceSpec& src = junction.sources[0];
  if (junction.sources.size() == 1 && src.kind == "local" && src.directory.empty()) {
    CF_ASSIGN_OR_RETURN(std::string path, GetString(*src.tree, "path", std::nullopt));
    return config_.directory + "/" + path;
  }
  for (const auto& s : junction.sources)
    if (!s.ref_text)
      return Err(UserError(s.where, "Subproject has no ref for junction: " + junction.name,
                           "add the source's ref to " + junction.name));
  if (!load_options_.stage_junction)
    return Err(UserError(junction.where, "junction " + junction.name +
                                             " needs its sources fetched, which this command "
                                             "cannot do",
                         "use a single local source"));
  return load_options_.stage_junction(junction);
}

// bst 1.6 plugins/elements/junction.py: the subproject is the junction's
// staged sources at `config: path:`, with `config: options:` as its option
// values (already substituted with the junction's variables).
Result<ProjectConfig*> Project::OpenJunction(const Element& junction) {
  CF_ASSIGN_OR_RETURN(std::string root, JunctionRoot(junction));
  CF_ASSIGN_OR_RETURN(std::string sub, GetString(*junction.config_tree, "path", ""));
  LoadOptions o = load_options_;
  o.project_dir = root + (sub.empty() ? "" : "/" + sub);
  o.option_overrides.clear();
  CF_ASSIGN_OR_RETURN(NodePtr opts, GetMapping(*junction.config_tree, "options"));
  if (opts)
    for (const auto& [k, v] : opts->map) {
      if (!v->IsScalar()) return Err(UserError(v->Where(), "option '" + k + "' must be a scalar"));
      o.option_overrides.emplace_back(k, v->scalar);
    }
  std::error_code ec;
  if (!fs::exists(o.project_dir + "/project.conf", ec))
    return Err(UserError(junction.where, "Could not find the project.conf file for " +
                                             junction.name + ". Expecting a project at path '" +
                                             (sub.empty() ? "." : sub) + "'"));
  CF_ASSIGN_OR_RETURN(auto project, Load(o));
  ProjectConfig* c = &project->config_;
  c->parent = &config_;
  c->junction_name = junction.name;
  c->key_prefix = config_.key_prefix + junction.name + ":";
  subprojects_[junction.name] = std::move(project);
  return c;
}

Result<std::vector<std::string>> Project::AllElementNames() const {
  fs::path root = fs::path(config_.directory) / config_.element_path;
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec))
    if (it->is_regular_file() && it->path().extension() == ".bst")
      out.push_back(it->path().lexically_relative(root).string());
  if (ec) return Err(Status::IOError("cannot list " + root.string() + ": " + ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

Element* Project::Find(const std::string& name) const {
  auto it = elements_.find(NormaliseElementName(name));
  return it == elements_.end() ? nullptr : it->second.get();
}

std::vector<Element*> Project::Plan(const std::vector<Element*>& targets, Scope scope) const {
  return PlanElements(targets, scope);
}

std::string Project::TranslateUrl(const std::string& url) const {
  return TranslateAlias(aliases_, url);
}

std::string TranslateAlias(const std::map<std::string, std::string>& aliases,
                           const std::string& url) {
  size_t colon = url.find(':');
  if (colon == std::string::npos) return url;
  auto it = aliases.find(url.substr(0, colon));
  if (it == aliases.end()) return url;
  return it->second + url.substr(colon + 1);
}

}  // namespace crossfarm
