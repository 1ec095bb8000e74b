// Elements of a BuildStream 1.6-format project and how one `.bst` file becomes
// a resolved Element (composition order of bst's format_intro):
//   builtin defaults -> project.conf -> kind plugin defaults ->
//   project.conf `elements: <kind>:` -> the element file.
// Sources get only the project's `sources: <kind>:` defaults, and no variable
// substitution (as in bst).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/accel.h"
#include "common/arch.h"
#include "common/node.h"
#include "common/options.h"
#include "common/project_plugins.h"
#include "common/provenance.h"
#include "common/status.h"
#include "common/tracked_refs.h"
#include "common/variables.h"

namespace crossfarm {

enum class DepType { kBuild, kRuntime, kAll };
enum class Scope { kNone, kPlan, kRun, kBuild, kAll };  // `--deps`

struct SourceSpec {
  std::string kind;
  Provenance where;
  // Canonical text of `ref` (a scalar as is, a mapping/list as canonical JSON);
  // for `local` and `patch` the content digest ("sha256:HEX") of the files.
  // nullopt: no reference (the element cannot be built until tracked).
  std::optional<std::string> ref_text;
  std::string directory;  // `directory:` or ""
  NodePtr tree;           // the source's keys (incl. kind, directory), no substitution; read-only
  // `tree` as the source plugins take it (worker::MakeSource). Converted on
  // demand: the loader never needs it, and converting every source of a big
  // project cost ~9% of `show` (bench_show).
  YAML::Node Config() const { return ToYaml(*tree); }
  // TrackedRefBase() of the element file's own ref, and whether `ref_text`
  // comes from the user's tracked refs instead (common/tracked_refs.h).
  std::string own_ref_base;
  bool tracked_in_cache = false;
  // Where the kind comes from when it is a kind of a declared plugin crossfarm
  // cannot run ("pip package 'x' (project.conf:L:C)"), else "": an opaque
  // source (keyed by its config, never fetched).
  std::string opaque_plugin;
  // A kind of a local Python plugin (common/project_plugins.h), else null; its
  // get_unique_key() as canonical JSON, set before keying (LoadOptions::python_keys).
  const PythonPlugin* python_plugin = nullptr;
  std::string python_key;
};

// Canonical text of a `ref:` (a scalar as is, a mapping/list as canonical
// JSON); nullopt when there is none. What SourceSpec::ref_text holds.
std::optional<std::string> SourceRefText(const NodePtr& ref);

struct DepSpec {
  // Relative to element-path, normalised. After loading (LoadElementGraph) the
  // element's key in the ElementMap: "j.bst:y.bst" through a junction.
  std::string name;
  std::string junction;  // `junction:` or the "j.bst:" of "j.bst:y.bst"; "" = this project
  DepType type = DepType::kAll;
  Provenance where;
};

struct ProjectConfig;

// An open workspace of an element (common/workspaces.h): its directory
// replaces the element's sources, and its content key their refs.
struct ElementWorkspace {
  std::string directory;  // absolute
  std::string key;        // WorkspaceScan::key when the element was loaded
};

struct Element {
  // "hello.bst", relative to element-path; bst's full name "j.bst:hello.bst"
  // for an element of the subproject of junction j.bst.
  std::string name;
  std::string local_name;  // relative to its own project's element-path
  std::string junction;    // the junction of its project ("" for the top project)
  const ProjectConfig* project = nullptr;  // the project it belongs to
  std::string kind;
  std::string description;
  Provenance where;  // the .bst file
  std::vector<DepSpec> dep_specs;                   // as declared
  std::vector<std::pair<Element*, DepType>> deps;   // declaration order
  // bst's loader order (_sort_dependencies): a dependency that depends on
  // another one comes after it, runtime-only last, then by name. Staging and
  // planning use this order.
  std::vector<std::pair<Element*, DepType>> sorted_deps;
  std::vector<SourceSpec> sources;
  VariableMap variables;                           // fully resolved (common/variables.h)
  std::map<std::string, std::string> environment;  // resolved
  std::set<std::string> environment_nocache;
  // The resolved `config:` (variables substituted, e.g. config()["build-commands"]
  // is a sequence of strings) and `public:` (bst.split-rules, substituted
  // integration-commands) as yaml-cpp trees, built on first use (thread-safe)
  // because yaml-cpp trees are costly and most callers read few elements.
  const YAML::Node& config() const;
  const YAML::Node& public_data() const;
  // The same two trees in loader form (read-only), with provenance.
  NodePtr config_tree;
  NodePtr public_tree;
  // `config:` and bst.integration-commands before variable substitution: what
  // bst's `show` prints for %{config} and %{public} (split rules it substitutes).
  NodePtr unsubstituted_config;
  NodePtr unsubstituted_integration_commands;
  std::string sandbox_build_arch;  // canonical arch name, or "" when not set
  std::optional<std::string> cache_key;  // 64 hex; nullopt = no reference here or below
  std::optional<ElementWorkspace> workspace;  // set by Project::LoadTargets

  // Acceleration (common/accel.h), set by Project::LoadTargets. The
  // accelerator is not a dependency: it is built first and used by the worker
  // only when the sandbox is emulated. Part of the cache key.
  std::string declared_accelerator;  // named in this element's runtime closure
  const Element* accelerator = nullptr;
  std::shared_ptr<const AcceleratorInfo> accel_info;
  std::string accel;       // "distcc+host-tools", "distcc", "host-tools" or ""
  std::string accel_note;  // why there is none despite a declaration, for `show`

  // As SourceSpec::opaque_plugin, for the element's kind: loaded for `show`
  // (key from its config), refused by `build` (docs/building.md).
  std::string opaque_plugin;
  Provenance kind_where;  // the `kind:` key, for errors about the kind
  // A kind of a local Python plugin (common/project_plugins.h), run by the
  // plugin host (docs/plugins.md), else null. python_key: canonical JSON of
  // the plugin's get_unique_key() and its file digest, part of the cache key.
  const PythonPlugin* python_plugin = nullptr;
  std::string python_key;

  // In sorted_deps order, each element once.
  std::vector<Element*> BuildDeps() const;
  std::vector<Element*> RuntimeDeps() const;
  // True when every source has a ref (its own sources only), or when a
  // workspace replaces the sources.
  bool HasAllRefs() const;
  // First 8 hex digits of the key ("" without a key), as bst's %{key}.
  std::string ShortKey() const;

 private:
  mutable std::once_flag config_once_, public_once_;
  mutable YAML::Node config_yaml_, public_yaml_;
};

// Project-wide state the element loader needs, owned by Project.
struct ProjectConfig {
  std::string name;
  std::string directory;      // absolute project directory
  std::string element_path;   // relative to directory, "" for the root
  ArchConfig arch;
  OptionPool options;
  NodePtr variables;          // base variables incl. automatic ones
  NodePtr environment;
  std::vector<std::string> environment_nocache;
  NodePtr sandbox;
  AccelMode accel_mode = AccelMode::kAuto;  // --accel
  NodePtr split_rules;
  NodePtr element_overrides;  // `elements:` (may be null)
  NodePtr source_overrides;   // `sources:` (may be null)
  std::shared_ptr<const TrackedRefs> tracked_refs;  // refs tracked into the cache (may be null)
  // Kinds that project.conf `plugins:` declares ("element:NAME" / "source:NAME")
  // -> where from ("pip package 'x' (project.conf:L:C)"), for errors: kinds of
  // pip plugins crossfarm cannot run.
  std::map<std::string, std::string> plugin_kinds;
  // Local Python plugins by "element:KIND" / "source:KIND" (project.conf `plugins:`).
  std::map<std::string, PythonPlugin> python_plugins;
  std::map<std::string, NodePtr> include_cache;     // parsed include files
  std::map<std::string, NodePtr> kind_defaults;     // plugin yaml <- overrides
  // Per kind: project variables <- kind defaults, resolved once and reused by
  // each element for the variables it does not change (nullptr: the layer
  // alone does not resolve, e.g. it needs a variable elements define).
  std::map<std::string, std::shared_ptr<const Variables>> kind_variables;
  std::map<std::string, std::string> local_digests; // path -> "sha256:HEX"
  // Resolved project split rules, shared by elements whose referenced
  // variables have the same values (key: those values).
  std::map<std::string, NodePtr> split_rules_memo;  // read-only once stored
  std::vector<std::string> split_rule_refs;  // variables the split rules use

  std::map<std::string, std::string> aliases;

  // Junctions (docs/element-format.md). `parent` is null for the top project;
  // `key_prefix` ("j.bst:", "" at the top) starts the ElementMap keys of this
  // project's elements; `junction_name` is the junction's name in the parent.
  ProjectConfig* parent = nullptr;
  std::string key_prefix;
  std::string junction_name;
  // Loads the subproject of a junction element of this project (set by Project).
  std::function<Result<ProjectConfig*>(const Element& junction)> open_junction;
  // Junction elements of this project by name, and their subprojects.
  std::map<std::string, std::unique_ptr<Element>> junction_elements;
  std::map<std::string, ProjectConfig*> subprojects;

  // Loads an include file relative to the project directory (parsed once).
  // "junction.bst:file.yml" is file.yml of the junction's subproject (opened
  // on first use), already processed with the subproject's options.
  Result<NodePtr> LoadInclude(const std::string& path, const Provenance& where);
  Result<NodePtr> LoadJunctionInclude(const std::string& path, const Provenance& where);
};

// Loads and resolves the element `name` (relative to element-path) from
// `node` (its parsed file). Dependencies are left as dep_specs.
Result<std::unique_ptr<Element>> ResolveElement(ProjectConfig& project, const std::string& name,
                                                NodePtr node);

// Lexically normalised element name ("./a//b.bst" -> "a/b.bst"); empty when
// the name is absolute or leaves element-path ("..").
std::string NormaliseElementName(std::string_view name);

}  // namespace crossfarm
