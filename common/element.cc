#include "common/element.h"
#include "common/path_flags.h"

#include <algorithm>
#include <filesystem>

#include "common/digest.h"
#include "common/directives.h"
#include "common/graph.h"
#include "common/kind_defaults.h"
#include "common/variables.h"
#include "common/yaml_loader.h"

namespace crossfarm {
namespace fs = std::filesystem;

std::vector<Element*> Element::BuildDeps() const {
  std::vector<Element*> out;
  for (auto [e, t] : sorted_deps)
    if (t != DepType::kRuntime && std::find(out.begin(), out.end(), e) == out.end())
      out.push_back(e);
  return out;
}

std::vector<Element*> Element::RuntimeDeps() const {
  std::vector<Element*> out;
  for (auto [e, t] : sorted_deps)
    if (t != DepType::kBuild && std::find(out.begin(), out.end(), e) == out.end())
      out.push_back(e);
  return out;
}

bool Element::HasAllRefs() const {
  return workspace || std::all_of(sources.begin(), sources.end(),
                     [](const SourceSpec& s) { return s.ref_text.has_value(); });
}

const YAML::Node& Element::config() const {
  std::call_once(config_once_, [this] {
    config_yaml_ = config_tree ? ToYaml(*config_tree) : YAML::Node(YAML::NodeType::Map);
  });
  return config_yaml_;
}

const YAML::Node& Element::public_data() const {
  std::call_once(public_once_, [this] {
    public_yaml_ = public_tree ? ToYaml(*public_tree) : YAML::Node(YAML::NodeType::Map);
  });
  return public_yaml_;
}

std::string Element::ShortKey() const { return cache_key ? cache_key->substr(0, 8) : ""; }

std::string NormaliseElementName(std::string_view name) {
  if (name.empty() || name.front() == '/') return {};
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= name.size()) {
    size_t slash = name.find('/', pos);
    if (slash == std::string_view::npos) slash = name.size();
    std::string_view part = name.substr(pos, slash - pos);
    if (part == "..") return {};
    if (!part.empty() && part != ".") parts.emplace_back(part);
    pos = slash + 1;
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

Result<NodePtr> ProjectConfig::LoadInclude(const std::string& path, const Provenance& where) {
  if (size_t colon = path.find(':'); colon != std::string::npos) return LoadJunctionInclude(path, where);
  auto it = include_cache.find(path);
  if (it == include_cache.end()) {
    auto parsed = ParseYamlFile(directory + "/" + path, path);
    if (!parsed && parsed.error().IsNotFound())
      return Err(UserError(where, "include file '" + path + "' not found",
                           "(@) paths are relative to the project directory"));
    if (!parsed) return Err(parsed.error());
    it = include_cache.emplace(path, *parsed).first;
  }
  return it->second->Clone();
}

// bst 1.6 _includes.py: "j.bst:file.yml" is file.yml of j.bst's subproject,
// its (?) evaluated with the subproject's options and its own includes
// relative to the subproject.
Result<NodePtr> ProjectConfig::LoadJunctionInclude(const std::string& path,
                                                   const Provenance& where) {
  size_t colon = path.find(':');
  std::string junction = NormaliseElementName(path.substr(0, colon));
  if (junction.empty() || !open_junction)
    return Err(UserError(where, "cannot include '" + path + "' here",
                         "junction includes name a junction element of this project"));
  if (!variables)  // still reading project.conf: its junctions cannot load yet
    return Err(UserError(where, "cannot include '" + path + "': includes from junctions in "
                                "project.conf are not supported",
                         "include the file from the elements that need it"));
  CF_ASSIGN_OR_RETURN(ProjectConfig * sub, OpenJunction(*this, junction, where));
  std::string file = path.substr(colon + 1);
  CF_ASSIGN_OR_RETURN(NodePtr node, sub->LoadInclude(file, where));
  std::vector<std::string> chain = {file};
  ConditionEvaluator eval = [sub](const std::string& x) { return sub->options.Evaluate(x); };
  CF_TRY(ProcessConditionals(*node, eval));
  CF_TRY(ProcessIncludes(
      *node, [sub](const std::string& f, const Provenance& w) { return sub->LoadInclude(f, w); },
      chain, &eval));
  return node;
}

namespace {

const std::vector<std::string_view> kElementKeys = {
    "kind",   "description", "depends", "build-depends", "runtime-depends", "sources",
    "config", "variables",   "environment", "environment-nocache", "public", "sandbox"};

// The local Python plugin of a kind crossfarm has no native implementation
// of (native wins, docs/plugins.md), or null.
const PythonPlugin* FindPythonPlugin(const ProjectConfig& p, bool element, const std::string& kind) {
  if (element ? ElementKindSupport(kind) == KindSupport::kSupported : IsKnownSourceKind(kind))
    return nullptr;
  auto it = p.python_plugins.find((element ? "element:" : "source:") + kind);
  return it == p.python_plugins.end() ? nullptr : &it->second;
}

Result<NodePtr> KindDefaults(ProjectConfig& p, const std::string& kind) {
  auto it = p.kind_defaults.find(kind);
  if (it != p.kind_defaults.end()) return it->second;
  NodePtr defaults = Node::MakeMapping();
  std::string_view yaml = ElementKindDefaultsYaml(kind);
  if (!yaml.empty()) {
    CF_ASSIGN_OR_RETURN(defaults, ParseYamlString(yaml, "<builtin " + kind + ".yaml>"));
  }
  // bst: a local plugin's defaults are <kind>.yaml beside its module, if any.
  std::error_code ec;
  if (const PythonPlugin* py = FindPythonPlugin(p, true, kind);
      py && std::filesystem::exists(py->defaults_file, ec)) {
    std::string shown = std::filesystem::path(py->defaults_file)
                            .lexically_relative(p.directory).string();
    CF_ASSIGN_OR_RETURN(defaults, ParseYamlFile(py->defaults_file, shown));
    if (!defaults->IsMapping()) defaults = Node::MakeMapping();
  }
  if (p.element_overrides) {
    CF_ASSIGN_OR_RETURN(NodePtr over, GetMapping(*p.element_overrides, kind));
    if (over) {
      CF_TRY(ValidateKeys(*over, {"variables", "config", "environment", "environment-nocache",
                                  "public", "sandbox"},
                          "elements: " + kind));
      CF_TRY(Composite(*defaults, *over));
    }
  }
  p.kind_defaults[kind] = defaults;
  return defaults;
}

// Where a kind of project.conf `plugins:` that crossfarm cannot run comes from
// ("pip package 'x' (project.conf:L:C)"), or "" for other kinds. Such kinds
// load as opaque elements and sources (`show` works, `build` refuses them).
std::string OpaquePlugin(const ProjectConfig& p, std::string_view what, const std::string& kind) {
  auto it = p.plugin_kinds.find(std::string(what) + ":" + kind);
  return it == p.plugin_kinds.end() ? std::string() : it->second;
}

constexpr std::string_view kSupportedElementKinds =
    "import, manual, autotools, cmake, make, meson, pip, distutils, makemaker, modulebuild, qmake, "
    "compose, stack, script, filter, collect_manifest, collect_integration";

Status CheckKind(const ProjectConfig& p, const Node& node, const std::string& kind) {
  if (FindPythonPlugin(p, true, kind)) return Status::Ok();  // local Python plugins first
  switch (ElementKindSupport(kind)) {
    case KindSupport::kSupported: return Status::Ok();
    case KindSupport::kUnsupported:
      return UserError(node.KeyProvenance("kind"),
                       "element kind '" + kind + "' is recognised but not supported by crossfarm",
                       "use a supported kind");
    case KindSupport::kUnknown: break;
  }
  if (!OpaquePlugin(p, "element", kind).empty()) return Status::Ok();
  std::string near = DidYouMean(kind, KnownElementKinds());
  return UserError(node.KeyProvenance("kind"), "unknown element kind '" + kind + "'",
                   near.empty() ? "supported kinds: " + std::string(kSupportedElementKinds)
                                : "did you mean '" + near + "'?");
}

// Composes `key` of the layers into a fresh mapping.
Result<NodePtr> Layer(std::initializer_list<const Node*> layers, std::string_view key) {
  NodePtr out = Node::MakeMapping();
  for (const Node* layer : layers) {
    if (!layer) continue;
    CF_ASSIGN_OR_RETURN(NodePtr m, GetMapping(*layer, key));
    if (m) CF_TRY(Composite(*out, *m));
  }
  return out;
}

// bst 1.6 _loader/types.py Dependency: "j.bst:y.bst" names y.bst of junction
// j.bst unless `junction:` is given (then a ':' is an error).
Status SplitJunction(const Node& dep, std::string& raw, DepSpec& spec) {
  size_t colons = std::count(raw.begin(), raw.end(), ':');
  if (!spec.junction.empty() && colons > 0)
    return UserError(dep.Where(), "Dependency " + raw +
                                      " contains `:` in its name. `:` characters are not allowed "
                                      "in filename when junction attribute is specified.");
  if (colons > 1)
    return UserError(dep.Where(), "Dependency " + raw +
                                      " contains multiple `:` in its name. Recursive lookups for "
                                      "cross-junction elements is not allowed.",
                     "declare the inner junction in this project and depend through it");
  if (colons == 1) {
    size_t colon = raw.find(':');
    spec.junction = raw.substr(0, colon);
    raw = raw.substr(colon + 1);
  }
  if (!spec.junction.empty()) {
    std::string j = NormaliseElementName(spec.junction);
    if (j.empty()) return UserError(dep.Where(), "invalid junction name '" + spec.junction + "'");
    spec.junction = j;
  }
  return Status::Ok();
}

Status ParseDeps(const Node& node, std::string_view key, std::optional<DepType> fixed,
                 std::vector<DepSpec>& out) {
  NodePtr list = node.Get(key);
  if (!list || list->IsNull()) return Status::Ok();
  if (!list->IsSequence())
    return UserError(node.KeyProvenance(key), "'" + std::string(key) + "' must be a list");
  for (const auto& dep : list->items) {
    DepSpec spec;
    spec.where = dep->Where();
    spec.type = fixed.value_or(DepType::kAll);
    std::string raw;
    if (dep->IsScalar()) {
      raw = dep->scalar;
    } else if (dep->IsMapping()) {
      std::vector<std::string_view> allowed = {"filename", "junction"};
      if (!fixed) allowed.push_back("type");
      CF_TRY(ValidateKeys(*dep, allowed, "dependency"));
      CF_ASSIGN_OR_RETURN(spec.junction, GetString(*dep, "junction", ""));
      CF_ASSIGN_OR_RETURN(raw, GetString(*dep, "filename", std::nullopt));
      CF_ASSIGN_OR_RETURN(std::string type, GetString(*dep, "type", "all"));
      if (type == "build") spec.type = DepType::kBuild;
      else if (type == "runtime") spec.type = DepType::kRuntime;
      else if (type != "all")
        return UserError(dep->KeyProvenance("type"),
                         "dependency type '" + type + "' is not 'build', 'runtime' or 'all'");
    } else {
      return UserError(dep->Where(), "a dependency must be a file name or a mapping");
    }
    CF_TRY(SplitJunction(*dep, raw, spec));
    spec.name = NormaliseElementName(raw);
    if (spec.name.empty())
      return UserError(dep->Where(), "invalid dependency name '" + raw + "'",
                       "name elements relative to the project's element-path");
    out.push_back(std::move(spec));
  }
  return Status::Ok();
}

Result<std::string> DigestLocalPath(ProjectConfig& p, const std::string& rel, const Node& src) {
  auto cached = p.local_digests.find(rel);
  if (cached != p.local_digests.end()) return cached->second;
  // Never read outside the project into a key: `show` used to, while the
  // source plugin refused the same path at build time.
  if (PathLeavesDir(p.directory, rel))
    return Err(UserError(src.KeyProvenance("path"), "path '" + rel + "' is outside the project",
                         "use a path relative to the project directory that stays inside it "
                         "(no '..', no symlink leading out)"));
  fs::path root = fs::path(p.directory) / rel;
  std::error_code ec;
  auto status = fs::symlink_status(root, ec);
  if (ec || !fs::exists(status))
    return Err(UserError(src.KeyProvenance("path"), "path '" + rel + "' does not exist",
                         "paths of local and patch sources are relative to the project directory"));
  std::vector<fs::path> entries;
  if (fs::is_directory(status)) {
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
         it.increment(ec))
      entries.push_back(it->path());
    if (ec) return Err(Status::IOError("cannot list " + root.string() + ": " + ec.message()));
  } else {
    entries.push_back(root);
  }
  std::vector<std::pair<std::string, fs::path>> named;
  for (const auto& e : entries) {
    std::string name = e == root ? root.filename().string() : e.lexically_relative(root).string();
    named.emplace_back(std::move(name), e);
  }
  std::sort(named.begin(), named.end());
  Sha256 h;
  for (const auto& [name, path] : named) {
    auto st = fs::symlink_status(path, ec);
    std::string line;
    if (fs::is_symlink(st)) {
      line = "l " + name + '\0' + fs::read_symlink(path, ec).string();
    } else if (fs::is_directory(st)) {
      line = "d " + name;
    } else {
      CF_ASSIGN_OR_RETURN(Digest d, Digest::OfFile(path.string()));
      bool exec = (st.permissions() & fs::perms::owner_exec) != fs::perms::none;
      line = std::string(exec ? "x " : "f ") + name + '\0' + d.ToString();
    }
    h.Update(line);
    h.Update(std::string_view("\n", 1));
  }
  std::string key = "sha256:" + h.FinishHex();
  p.local_digests[rel] = key;
  return key;
}

// Source #index of element `element`.
Result<SourceSpec> ParseSource(ProjectConfig& p, const Node& src, const std::string& element,
                               size_t index) {
  SourceSpec s;
  s.where = src.Where();
  if (!src.IsMapping()) return Err(UserError(src.Where(), "a source must be a mapping"));
  CF_ASSIGN_OR_RETURN(s.kind, GetString(src, "kind", std::nullopt));
  s.python_plugin = FindPythonPlugin(p, false, s.kind);
  if (!IsKnownSourceKind(s.kind) && !s.python_plugin) {
    std::string supported;
    for (std::string_view k : KnownSourceKinds()) {
      supported += (supported.empty() ? "" : ", ") + std::string(k);
    }
    s.opaque_plugin = OpaquePlugin(p, "source", s.kind);
    std::string near = DidYouMean(s.kind, KnownSourceKinds());
    if (s.opaque_plugin.empty())
      return Err(UserError(src.KeyProvenance("kind"), "unknown source kind '" + s.kind + "'",
                           near.empty() ? "supported: " + supported
                                        : "did you mean '" + near + "'?"));
  }
  NodePtr config = Node::MakeMapping(src.mark);
  if (p.source_overrides) {
    CF_ASSIGN_OR_RETURN(NodePtr over, GetMapping(*p.source_overrides, s.kind));
    if (over) {
      CF_ASSIGN_OR_RETURN(NodePtr oc, GetMapping(*over, "config"));
      if (oc) CF_TRY(Composite(*config, *oc));
    }
  }
  CF_TRY(Composite(*config, src));
  CF_TRY(FinalAssertions(*config));
  CF_ASSIGN_OR_RETURN(s.directory, GetString(*config, "directory", ""));
  if (s.kind == "local" || s.kind == "patch") {
    CF_ASSIGN_OR_RETURN(std::string path, GetString(*config, "path", std::nullopt));
    CF_ASSIGN_OR_RETURN(s.ref_text, DigestLocalPath(p, path, *config));
  } else {
    s.ref_text = SourceRefText(config->Get("ref"));
    s.own_ref_base = TrackedRefBase(s.ref_text);
    // A ref tracked into the user's cache replaces the element's own while the
    // element still has the ref it was tracked from (common/tracked_refs.h).
    if (p.tracked_refs) {
      if (const auto* t = p.tracked_refs->Find(element, index, s.own_ref_base)) {
        config->Set("ref", t->ref->Clone());
        s.ref_text = SourceRefText(t->ref);
        s.tracked_in_cache = true;
      }
    }
  }
  s.tree = config;
  return s;
}

Status CheckProtected(const Node& vars) {
  for (std::string_view v : {"project-name", "element-name", "max-jobs"})
    if (vars.Has(v))
      return UserError(vars.KeyProvenance(v),
                       "invalid redefinition of protected variable '" + std::string(v) + "'");
  return Status::Ok();
}

// Python's str.strip().
std::string_view Stripped(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  size_t start = s.find_first_not_of(kSpace);
  if (start == std::string_view::npos) return {};
  return s.substr(start, s.find_last_not_of(kSpace) - start + 1);
}

Status ResolveEnvironment(Element& e, const Variables& vars, const Node& env,
                          std::initializer_list<const Node*> nocache_layers,
                          const std::vector<std::string>& project_nocache) {
  for (const auto& [k, v] : env.map) {
    if (!v->IsScalar() && !v->IsNull())
      return UserError(v->Where(), "environment variable '" + k + "' must be a string");
    // bst reads every string stripped (_yaml.node_get): meson's NINJAJOBS is
    // "%{max-jobs}\n" in its YAML.
    CF_ASSIGN_OR_RETURN(e.environment[k], vars.Subst(Stripped(v->scalar), v->Where()));
  }
  e.environment_nocache.insert(project_nocache.begin(), project_nocache.end());
  for (const Node* layer : nocache_layers) {
    if (!layer) continue;
    CF_ASSIGN_OR_RETURN(auto list, GetStringList(*layer, "environment-nocache"));
    e.environment_nocache.insert(list.begin(), list.end());
  }
  return Status::Ok();
}

Status ResolveSandbox(Element& e, const Variables& vars, const ProjectConfig& p,
                      const Node& defaults, const Node& node) {
  NodePtr sandbox = p.sandbox ? p.sandbox->Clone() : Node::MakeMapping();
  CF_ASSIGN_OR_RETURN(NodePtr extra, Layer({&defaults, &node}, "sandbox"));
  CF_TRY(Composite(*sandbox, *extra));
  CF_TRY(ValidateKeys(*sandbox, {"build-uid", "build-gid", "build-os", "build-arch"}, "sandbox"));
  CF_ASSIGN_OR_RETURN(std::string arch, GetString(*sandbox, "build-arch", ""));
  if (arch.empty()) return Status::Ok();
  CF_ASSIGN_OR_RETURN(arch, vars.Subst(arch, sandbox->KeyProvenance("build-arch")));
  e.sandbox_build_arch = CanonicalArchName(arch);
  if (e.sandbox_build_arch.empty())
    return UserError(sandbox->KeyProvenance("build-arch"), "unknown build-arch '" + arch + "'",
                     "use an arch name such as x86_64, aarch64, riscv64, armv7, i686, ppc64le, "
                     "s390x");
  return Status::Ok();
}

// The domain -> rules mapping: project <- kind <- element, substituted and
// stripped. Returns nullptr when neither the kind nor the element adds rules
// (the shared, memoised project rules apply).
Result<NodePtr> ExtraSplitRules(const Node& defaults, const Node& node) {
  NodePtr extra;
  for (const Node* layer : {&defaults, &node}) {
    NodePtr lp = layer->Get("public");
    NodePtr bst = lp && lp->IsMapping() ? lp->Get("bst") : nullptr;
    NodePtr s = bst && bst->IsMapping() ? bst->Get("split-rules") : nullptr;
    if (!s || s->IsNull()) continue;
    if (!s->IsMapping()) return Err(UserError(s->Where(), "split-rules must be a mapping"));
    if (!extra) extra = Node::MakeMapping();
    CF_TRY(Composite(*extra, *s));
  }
  return extra;
}

Status SubstSplitRules(const Variables& vars, Node& splits) {
  CF_TRY(FinalAssertions(splits));
  for (auto& [domain, rules] : splits.map) {
    if (!rules->IsSequence())
      return UserError(rules->Where(), "split rules of domain '" + domain + "' must be a list");
    for (auto& r : rules->items) {
      CF_TRY(vars.SubstTree(*r));
      r->scalar = std::string(Stripped(r->scalar));
    }
  }
  return Status::Ok();
}

// Project split rules resolved once per distinct set of referenced values.
Result<NodePtr> SharedSplitRules(ProjectConfig& p, const Variables& vars) {
  if (p.split_rule_refs.empty() && p.split_rules) {
    std::string all;
    AppendCanonicalJson(*p.split_rules, all);
    p.split_rule_refs = VariableReferences(all);
    p.split_rule_refs.push_back("");  // non-empty marks "computed"
  }
  std::string signature;
  for (const auto& name : p.split_rule_refs) {
    auto it = vars.values().find(name);
    signature += (it == vars.values().end() ? std::string("\x01") : it->second) + '\0';
  }
  auto hit = p.split_rules_memo.find(signature);
  if (hit != p.split_rules_memo.end()) return hit->second;
  NodePtr splits = p.split_rules ? p.split_rules->Clone() : Node::MakeMapping();
  CF_TRY(SubstSplitRules(vars, *splits));
  p.split_rules_memo.emplace(std::move(signature), splits);
  return splits;
}

// public: defaults <- element, with bst.split-rules = project <- kind <- element
// and split rules / integration commands substituted.
Status ResolvePublic(Element& e, const Variables& vars, ProjectConfig& p, const Node& defaults,
                     const Node& node) {
  CF_ASSIGN_OR_RETURN(NodePtr pub, Layer({&defaults, &node}, "public"));
  NodePtr bst = pub->Get("bst");
  if (!bst || !bst->IsMapping()) {
    bst = Node::MakeMapping();
    pub->Set("bst", bst);
  }
  bst->Erase("split-rules");
  if (NodePtr ic = bst->Get("integration-commands")) {
    e.unsubstituted_integration_commands = ic->Clone();  // bst's show prints these
    CF_TRY(vars.SubstTree(*ic));
  }
  CF_TRY(FinalAssertions(*pub));
  CF_ASSIGN_OR_RETURN(NodePtr extra, ExtraSplitRules(defaults, node));
  NodePtr splits;
  if (extra) {
    splits = p.split_rules ? p.split_rules->Clone() : Node::MakeMapping();
    CF_TRY(Composite(*splits, *extra));
    CF_TRY(SubstSplitRules(vars, *splits));
  } else {
    CF_ASSIGN_OR_RETURN(splits, SharedSplitRules(p, vars));
  }
  // Each element gets its own yaml-cpp tree: sharing nodes across trees merges
  // their memory holders, which is quadratic in yaml-cpp.
  bst->Set("split-rules", splits);
  e.public_tree = pub;
  return Status::Ok();
}

// Variables are scalars: layers share the parsed nodes instead of cloning.
Status OverlayVariables(Node& target, const Node& source) {
  for (size_t i = 0; i < source.map.size(); ++i) {
    const auto& [k, v] = source.map[i];
    if (v->IsMapping() || v->IsSequence())
      return UserError(v->Where(), "variable '" + k + "' must be a string, not a " +
                                       std::string(KindName(v->kind)));
    target.Set(k, v, i < source.key_marks.size() ? source.key_marks[i] : NodeMark{});
  }
  return Status::Ok();
}

// project variables <- kind defaults (shallow: value nodes are shared).
Result<NodePtr> KindVariableLayer(const ProjectConfig& p, const Node& defaults) {
  auto layer = std::make_shared<Node>(*p.variables);
  if (NodePtr kv = defaults.Get("variables")) CF_TRY(OverlayVariables(*layer, *kv));
  layer->Set("element-name", Node::MakeScalar(""));
  return layer;
}

Result<Variables> ResolveVariables(ProjectConfig& p, const Element& e, const Node& defaults,
                                   const Node& node) {
  auto it = p.kind_variables.find(e.kind);
  if (it == p.kind_variables.end()) {
    CF_ASSIGN_OR_RETURN(NodePtr layer, KindVariableLayer(p, defaults));
    auto base = Variables::ResolveBase(layer);
    it = p.kind_variables
             .emplace(e.kind, base ? std::make_shared<const Variables>(std::move(*base)) : nullptr)
             .first;
  }
  NodePtr vars_node;
  if (it->second) {
    vars_node = std::make_shared<Node>(*it->second->layer());  // shallow
  } else {
    CF_ASSIGN_OR_RETURN(vars_node, KindVariableLayer(p, defaults));
  }
  CF_ASSIGN_OR_RETURN(NodePtr ev, GetMapping(node, "variables"));
  if (ev) {
    CF_TRY(CheckProtected(*ev));
    CF_TRY(OverlayVariables(*vars_node, *ev));
  }
  vars_node->Set("element-name", Node::MakeScalar(e.name));
  // bst: `notparallel: True` limits the element to one job.
  if (NodePtr np = vars_node->Get("notparallel"); np && np->IsScalar()) {
    const std::string& v = np->scalar;
    if (v == "True" || v == "true" || v == "yes" || v == "1")
      vars_node->Set("max-jobs", Node::MakeScalar("1", np->mark));
  }
  // bst 1.6 loads junctions with project.conf's first pass, whose variables
  // may refer to ones a junction include defines later: only a use is an error.
  if (e.kind == "junction") return Variables::ResolveWhatResolves(*vars_node);
  if (!it->second) return Variables::Resolve(*vars_node);
  // Values come from the cached layer's nodes, so reuse is decided by identity.
  auto* base_layer = it->second.get();
  return Variables::ResolveOver(*vars_node, *base_layer, {"element-name"});
}

Status ResolveBody(ProjectConfig& p, Element& e, const Node& defaults, const Node& node) {
  CF_ASSIGN_OR_RETURN(Variables vars, ResolveVariables(p, e, defaults, node));

  NodePtr env = p.environment->Clone();
  CF_ASSIGN_OR_RETURN(NodePtr extra_env, Layer({&defaults, &node}, "environment"));
  CF_TRY(Composite(*env, *extra_env));
  CF_TRY(ResolveEnvironment(e, vars, *env, {&defaults, &node}, p.environment_nocache));

  CF_ASSIGN_OR_RETURN(NodePtr config, Layer({&defaults, &node}, "config"));
  // bst's plugins reject unknown config keys (a typo would silently drop commands).
  if (auto keys = ElementConfigKeys(e.kind))
    CF_TRY(ValidateKeys(*config, *keys, "the config of kind '" + e.kind + "'"));
  CF_TRY(FinalAssertions(*config));
  e.unsubstituted_config = config->Clone();  // what `show %{config}` prints, as bst
  CF_TRY(vars.SubstTree(*config));
  e.config_tree = config;
  CF_TRY(ResolveSandbox(e, vars, p, defaults, node));
  CF_TRY(ResolvePublic(e, vars, p, defaults, node));
  e.variables = std::move(vars).TakeValues();
  return Status::Ok();
}

}  // namespace

std::optional<std::string> SourceRefText(const NodePtr& ref) {
  if (!ref || ref->IsNull()) return std::nullopt;
  if (ref->IsScalar()) return ref->scalar;
  std::string text;
  AppendCanonicalJson(*ref, text);
  return text;
}

Result<std::unique_ptr<Element>> ResolveElement(ProjectConfig& p, const std::string& name,
                                                NodePtr node) {
  auto e = std::make_unique<Element>();
  e->name = name;
  e->where = node->Where();
  e->where.line = e->where.column = 0;
  // bst 1.6's element order (common/directives.h): conditionals, then includes.
  std::vector<std::string> chain = {e->where.file};
  ConditionEvaluator eval = [&p](const std::string& x) { return p.options.Evaluate(x); };
  CF_TRY(ProcessConditionals(*node, eval));
  CF_TRY(ProcessIncludes(
      *node, [&p](const std::string& f, const Provenance& w) { return p.LoadInclude(f, w); },
      chain, &eval));
  CF_TRY(ValidateKeys(*node, kElementKeys, "element"));
  CF_ASSIGN_OR_RETURN(e->kind, GetString(*node, "kind", std::nullopt));
  CF_TRY(CheckKind(p, *node, e->kind));
  e->kind_where = node->KeyProvenance("kind");
  e->python_plugin = FindPythonPlugin(p, true, e->kind);
  if (!e->python_plugin && ElementKindSupport(e->kind) != KindSupport::kSupported)
    e->opaque_plugin = OpaquePlugin(p, "element", e->kind);
  CF_ASSIGN_OR_RETURN(e->description, GetString(*node, "description", ""));
  CF_TRY(ParseDeps(*node, "build-depends", DepType::kBuild, e->dep_specs));
  CF_TRY(ParseDeps(*node, "runtime-depends", DepType::kRuntime, e->dep_specs));
  CF_TRY(ParseDeps(*node, "depends", std::nullopt, e->dep_specs));
  CF_ASSIGN_OR_RETURN(NodePtr defaults, KindDefaults(p, e->kind));
  CF_TRY(ResolveBody(p, *e, *defaults, *node));
  if (NodePtr srcs = node->Get("sources"); srcs && !srcs->IsNull()) {
    if (!srcs->IsSequence())
      return Err(UserError(node->KeyProvenance("sources"), "'sources' must be a list"));
    for (const auto& s : srcs->items) {
      CF_ASSIGN_OR_RETURN(SourceSpec spec, ParseSource(p, *s, e->name, e->sources.size()));
      e->sources.push_back(std::move(spec));
    }
  }
  return e;
}

}  // namespace crossfarm
