#include "client/job_builder.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <unordered_set>

#include "client/collect_elements.h"
#include "client/python_plugins.h"
#include "common/graph.h"
#include "common/kind_defaults.h"
#include "common/provenance.h"

namespace crossfarm::client {

namespace {

std::vector<std::string> StringList(const YAML::Node& n) {
  std::vector<std::string> out;
  if (n && n.IsSequence())
    for (const auto& item : n) out.push_back(item.as<std::string>());
  return out;
}

std::string StringOr(const YAML::Node& n, const std::string& fallback) {
  return n && n.IsScalar() ? n.as<std::string>() : fallback;
}

bool BoolOr(const YAML::Node& n, bool fallback) {
  if (!n || !n.IsScalar()) return fallback;
  std::string v = n.as<std::string>();
  return v == "true" || v == "True" || v == "yes" || v == "1";
}

std::string VarOr(const Element& e, const std::string& name, const std::string& fallback) {
  auto it = e.variables.find(name);
  return it == e.variables.end() ? fallback : it->second;
}

StagedArtifact MakeInput(const Element& dep, const Digest& root) {
  StagedArtifact a;
  a.element = dep.name;
  a.root = root;
  YAML::Node bst = dep.public_data()["bst"];
  if (bst) {
    a.integration_commands = StringList(bst["integration-commands"]);
    YAML::Node rules = bst["split-rules"];
    if (rules && rules.IsMap())
      for (const auto& kv : rules) a.split_rules[kv.first.as<std::string>()] = StringList(kv.second);
  }
  return a;
}

// BuildStream's BuildElement command lists, in the order they run.
constexpr const char* kBuildPhases[] = {"configure-commands", "build-commands",
                                        "install-commands", "strip-commands"};

Status FillKind(const Element& e, JobSpec& spec) {
  const YAML::Node& c = e.config();
  const std::string& k = e.kind;
  if (IsBuildElementKind(k)) {
    spec.kind = JobKind::kSandbox;
    for (const char* phase : kBuildPhases) spec.phases.emplace_back(phase, StringList(c[phase]));
  } else if (k == "script") {
    spec.kind = JobKind::kSandbox;
    for (const auto& item : c["layout"]) {
      std::string dest = StringOr(item["destination"], "/");
      if (dest != "/")
        return UserError(e.where, "script layout destination '" + dest + "' is not supported",
                         "stage script dependencies at / (crossfarm stages all build "
                         "dependencies at the root)");
    }
    spec.phases.emplace_back("commands", StringList(c["commands"]));
  } else if (k == "import") {
    spec.kind = JobKind::kImport;
    spec.import_source = StringOr(c["source"], "/");
    spec.import_target = StringOr(c["target"], "/");
  } else if (k == "compose" || k == "filter") {
    spec.kind = k == "compose" ? JobKind::kCompose : JobKind::kFilter;
    spec.include_domains = StringList(c["include"]);
    spec.exclude_domains = StringList(c["exclude"]);
    spec.include_orphans = BoolOr(c["include-orphans"], k == "compose");
    spec.integrate = k == "compose" && BoolOr(c["integrate"], true);
    if (k == "filter" && e.BuildDeps().size() != 1)
      return UserError(e.where, "a filter element needs exactly one build dependency",
                       "list the element to filter under build-depends");
  } else if (k == "stack") {
    spec.kind = JobKind::kStack;
  } else if (e.python_plugin) {  // docs/plugins.md: the worker's plugin host runs it
    spec.kind = JobKind::kSandbox;
    CF_ASSIGN_OR_RETURN(spec.python, MakePythonElementJob(e));
  } else if (IsCollectKind(k)) {  // client/collect_elements.h
    spec.kind = JobKind::kCollect;
    auto files = CollectElementFiles(e);
    if (!files) return files.error();
    spec.files = std::move(*files);
  } else {
    return UserError(e.where, "element kind '" + k + "' cannot be built by crossfarm");
  }
  return Status::Ok();
}

}  // namespace

Status CheckRunnable(const std::vector<Element*>& plan) {
  const std::string fix =
      "crossfarm runs bst's core kinds, buildstream-external's git_tag, git_module, cargo, "
      "collect_manifest and collect_integration (docs/building.md); build the elements that "
      "do not need this plugin";
  for (const Element* e : plan) {
    if (!e->opaque_plugin.empty())
      return UserError(e->kind_where, "element kind '" + e->kind + "' comes from a plugin, " +
                                     e->opaque_plugin + ", that crossfarm cannot run",
                       fix);
    for (const SourceSpec& s : e->sources)
      if (!s.opaque_plugin.empty())
        return UserError(s.where, "source kind '" + s.kind + "' comes from a plugin, " +
                                      s.opaque_plugin + ", that crossfarm cannot run",
                         fix);
  }
  return Status::Ok();
}

std::string ArtifactRef(const Element& e) { return "artifacts/" + e.cache_key.value_or(""); }

std::vector<Element*> StagingSet(const Element& e) {
  std::vector<Element*> target{const_cast<Element*>(&e)};
  return PlanElements(target, Scope::kBuild);
}

std::vector<Element*> JobDependencies(const Element& e) {
  std::vector<Element*> deps = StagingSet(e);
  if (e.accelerator) deps.push_back(const_cast<Element*>(e.accelerator));
  return deps;
}

std::vector<Element*> BuildPlan(const Project& project, const std::vector<Element*>& targets) {
  std::vector<Element*> plan = project.Plan(targets, Scope::kAll);
  std::vector<Element*> accelerators;
  for (const Element* e : plan)
    if (e->accelerator && std::find(accelerators.begin(), accelerators.end(), e->accelerator) ==
                              accelerators.end())
      accelerators.push_back(const_cast<Element*>(e->accelerator));
  if (accelerators.empty()) return plan;
  std::vector<Element*> out = project.Plan(accelerators, Scope::kAll);
  std::unordered_set<const Element*> seen(out.begin(), out.end());
  for (Element* e : plan)
    if (seen.insert(e).second) out.push_back(e);
  return out;
}

Result<JobSpec> MakeJobSpec(const Element& e, std::optional<Digest> sources_root,
                            const ArtifactLookup& artifacts) {
  JobSpec spec;
  spec.element = e.name;
  spec.cache_key = e.cache_key.value_or("");
  spec.sandbox_arch = e.sandbox_build_arch;
  CF_TRY(FillKind(e, spec));
  // Filter and compose take their build deps only (not their runtime closure).
  std::vector<Element*> staged = spec.kind == JobKind::kFilter ? e.BuildDeps() : StagingSet(e);
  for (const Element* dep : staged) {
    auto root = artifacts(*dep);
    if (!root)
      return Err(Status::FailedPrecondition(dep->name + " (needed by " + e.name +
                                            ") is not built"));
    spec.inputs.push_back(MakeInput(*dep, *root));
  }
  if (e.accelerator && e.accel_info) {
    auto root = artifacts(*e.accelerator);
    if (!root)
      return Err(Status::FailedPrecondition("accelerator " + e.accelerator->name + " (needed by " +
                                            e.name + ") is not built"));
    StagedArtifact a;
    a.element = e.accelerator->name;
    a.root = *root;
    a.accelerator = true;
    spec.inputs.push_back(std::move(a));
    const AcceleratorInfo& info = *e.accel_info;
    spec.accel = AccelSpec{.distcc = e.accel.find("distcc") != std::string::npos,
                           .substitute_tools = e.accel.find("host-tools") != std::string::npos,
                           .host_arch = info.host_arch,
                           .target_arch = info.target_arch,
                           .triplet = info.triplet,
                           .cc = info.cc,
                           .cxx = info.cxx,
                           .host_tools = info.host_tools,
                           .host_paths = info.host_paths,
                           .remote_pool = {}};
  }
  if (sources_root) spec.sources.push_back({*sources_root, ""});
  spec.environment = e.environment;
  spec.build_root = VarOr(e, "build-root", "/buildstream/build");
  spec.install_root = VarOr(e, "install-root", "/buildstream-install");
  spec.command_subdir = VarOr(e, "command-subdir", "");
  spec.max_jobs = static_cast<uint32_t>(std::stoul(VarOr(e, "max-jobs", "1")));
  return spec;
}

}  // namespace crossfarm::client
