// A loaded BuildStream 1.6-format project: project.conf plus the elements
// loaded so far. docs/element-format.md describes the supported format.
//
// Not thread-safe. Element pointers stay valid for the Project's lifetime.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/arch.h"
#include "common/directives.h"
#include "common/element.h"
#include "common/graph.h"
#include "common/options.h"
#include "common/status.h"
#include "common/workspaces.h"

namespace crossfarm {

struct LoadOptions {
  std::string project_dir;  // directory holding project.conf
  ArchConfig arch;          // null members = the host arch
  std::vector<std::pair<std::string, std::string>> option_overrides;  // -o NAME VALUE
  int max_jobs = 0;  // 0 = bst's default: the CPU count, at most 8
  AccelMode accel = AccelMode::kAuto;  // --accel / --no-accel
  // Where the user's tracked refs live (common/tracked_refs.h): the project
  // reads <dir>/<project name>.yaml. "" = use the project's own refs only.
  std::string tracked_refs_dir;
  // Fetches and stages the sources of a junction that has other sources than
  // one `local` (tar, git...) and returns the directory holding them (the
  // client's, client/sources.h StageJunction). Unset: such junctions are errors.
  std::function<Result<std::string>(const Element& junction)> stage_junction;
  // Open workspaces (common/workspaces.h): each loaded element that has one
  // gets Element::workspace, its directory scanned with stat caches kept in
  // `workspace_cache_dir` ("" = none, every file is hashed).
  Workspaces workspaces;
  std::string workspace_cache_dir;
  // Runs the local Python plugins of an element (its kind and its sources) to
  // set Element::python_key / SourceSpec::python_key before it is keyed (the
  // client's, through the plugin host, docs/plugins.md). Unset: an element
  // using one is an error naming it.
  std::function<Status(Element& e)> python_keys;
};

// "alias:path" -> aliases[alias] + "path"; other URLs unchanged.
std::string TranslateAlias(const std::map<std::string, std::string>& aliases,
                           const std::string& url);

// Oldest / newest project format-version accepted (bst 1.6's BST_FORMAT_VERSION).
inline constexpr int kMaxFormatVersion = 18;

class Project {
 public:
  // Reads and validates project.conf (options, conditionals, includes).
  static Result<std::unique_ptr<Project>> Load(const LoadOptions& options);

  // Loads, resolves and keys the targets and everything they depend on.
  // Targets are names relative to element-path ("hello.bst"); a name that
  // starts with element-path ("elements/hello.bst") is accepted too.
  Result<std::vector<Element*>> LoadTargets(const std::vector<std::string>& targets);
  // Every .bst file under element-path, sorted (bst's default targets).
  Result<std::vector<std::string>> AllElementNames() const;
  // An already loaded element, or nullptr.
  Element* Find(const std::string& name) const;

  // Dependency order for `--deps` (see PlanElements in common/graph.h).
  std::vector<Element*> Plan(const std::vector<Element*>& targets, Scope scope) const;

  const std::string& name() const { return config_.name; }
  const std::string& directory() const { return config_.directory; }
  const std::string& element_path() const { return config_.element_path; }
  const std::map<std::string, std::string>& aliases() const { return aliases_; }
  // "alias:path" -> aliases[alias] + "path"; other URLs unchanged.
  std::string TranslateUrl(const std::string& url) const;
  const YAML::Node& split_rules() const { return split_rules_; }
  const ArchConfig& arch() const { return config_.arch; }
  const OptionPool& options() const { return config_.options; }
  bool fail_on_overlap() const { return fail_on_overlap_; }
  // The file of the user's tracked refs for this project ("" = none).
  std::string tracked_refs_path() const { return tracked_refs_dir_.empty() ? "" : tracked_refs_dir_ + "/" + config_.name + ".yaml"; }
  // Where the stat caches of workspace scans live ("" = none).
  const std::string& workspace_cache_dir() const { return load_options_.workspace_cache_dir; }
  // Project-level variables before element composition (unresolved text).
  const Node& base_variables() const { return *config_.variables; }

 private:
  Project() = default;
  Status LoadConf(const LoadOptions& options);
  Result<NodePtr> ReadConf(const LoadOptions& options);
  // One pass of bst's project.conf loading: includes (through `include`),
  // builtin defaults, options, conditionals, then ExtractSettings.
  Status ComposeConf(NodePtr raw, const LoadOptions& options, const IncludeLoader& include);
  Status ExtractSettings(Node& config, const Node& raw, const LoadOptions& options);
  // Sets the accel fields of newly loaded elements (common/accel.h), loading
  // and keying the accelerators they name. Before their keys are computed.
  Status ResolveAccelerators(const std::vector<Element*>& loaded);
  // Sets Element::workspace of the loaded elements that have an open one.
  Status AttachWorkspaces(const std::vector<Element*>& loaded);
  // Element::python_key and its sources' through LoadOptions::python_keys.
  Status PythonKeys(Element& e) const;
  Result<std::shared_ptr<const AcceleratorInfo>> Accelerator(const std::string& name,
                                                            const Element& user);

  ProjectConfig config_;
  std::map<std::string, std::string> aliases_;
  YAML::Node split_rules_;
  bool fail_on_overlap_ = false;
  std::string tracked_refs_dir_;
  std::map<std::string, std::shared_ptr<const AcceleratorInfo>> accelerators_;
  ElementMap elements_;
  // Subprojects by junction name (their elements live in elements_).
  Result<ProjectConfig*> OpenJunction(const Element& junction);
  Result<std::string> JunctionRoot(const Element& junction);
  std::map<std::string, std::unique_ptr<Project>> subprojects_;
  LoadOptions load_options_;
};

}  // namespace crossfarm
