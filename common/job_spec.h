// JobSpec: everything a worker needs to build one element, with no reference to
// the project files. The client (embedded or remote) derives it from the loaded
// element; the worker executes it; proto/ serialises it for the cluster.
//
// A JobSpec is self-contained: inputs are CAS digests, commands are resolved
// strings, so the same spec gives the same artifact on any worker.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/digest.h"

namespace crossfarm {

// How the artifact is produced.
enum class JobKind : uint8_t {
  kSandbox,  // stage deps + sources, run commands in the sandbox, collect install-root
  kImport,   // sources (or a subdir of them) become the artifact; no sandbox
  kCompose,  // staged deps (optionally integrated) filtered by split domains
  kFilter,   // one dependency's artifact filtered by split domains
  kStack,    // empty artifact; exists for its dependencies
  kCollect,  // the files the client generated (collect_manifest, collect_integration)
};

const char* JobKindName(JobKind k);

// One artifact staged into the sandbox root (or the compose/filter input).
struct StagedArtifact {
  std::string element;   // name, for logs and overlap warnings
  Digest root;           // CAS digest of the artifact's files tree
  std::vector<std::string> integration_commands;  // from its public bst data
  // Split-rule domains: name -> glob patterns (already variable-substituted).
  std::map<std::string, std::vector<std::string>> split_rules;
  // The job's accelerator (JobSpec::accel): not staged into the root like the
  // others; the worker uses it only for an emulated sandbox (docs/acceleration.md).
  bool accelerator = false;
};

// A distcc pool member on another worker (filled in by the scheduler).
struct PoolMember {
  std::string worker;
  std::string address;  // its pool gateway, reachable from the job's worker
  uint32_t port = 0;
  uint32_t slots = 0;
  friend bool operator==(const PoolMember&, const PoolMember&) = default;
};

// How an emulated job is accelerated (docs/acceleration.md). The accelerator
// artifact is the spec's input with `accelerator` set: host-arch executables
// (shell tools, a cross compiler, distcc) for the sandbox's target arch.
struct AccelSpec {
  bool distcc = false;      // distccd with the cross compiler + masquerade links
  bool substitute_tools = false;  // host_tools paths of the root replaced by the accelerator's
  std::string host_arch;    // arch the accelerator's executables run on
  std::string target_arch;  // arch of the root it accelerates
  std::string triplet;      // GNU triplet the cross compiler produces code for
  std::string cc, cxx;      // cross compiler drivers (absolute paths in the accelerator)
  std::vector<std::string> host_tools;  // root paths replaced (globs over the accelerator)
  std::vector<std::string> host_paths;  // accelerator paths added where the root has none
  // Not part of the job's identity: where the scheduler found pool members
  // for this attempt (empty in embedded builds).
  std::vector<PoolMember> remote_pool;
  friend bool operator==(const AccelSpec&, const AccelSpec&) = default;
};

struct StagedSource {
  Digest root;            // CAS tree of the staged source
  std::string directory;  // subdir of the build root (`directory:` key)
};

// A file a kCollect job writes into its artifact (made by the client from the
// element graph: client/collect_elements.h).
struct GeneratedFile {
  std::string path;  // absolute in the artifact ("/usr/manifest.json")
  std::string content;
  bool executable = false;
  friend bool operator==(const GeneratedFile&, const GeneratedFile&) = default;
};

// An element of a local Python plugin (docs/plugins.md): after staging, the
// worker's plugin host runs the plugin's configure_sandbox/stage/assemble with
// a Sandbox whose run() executes in the job's sandbox.
struct PythonElementJob {
  std::string kind;
  std::string plugin;   // "plugin 'KIND' (plugins/x.py)", for messages
  std::string module;   // the plugin's Python source (so any worker can run it)
  std::string element;  // JSON: the "element" object of the host's requests
  std::string where;    // the element file, for messages
  friend bool operator==(const PythonElementJob&, const PythonElementJob&) = default;
};

struct JobSpec {
  std::string element;    // "hello.bst"
  std::string cache_key;  // full hex key: the artifact ref name
  JobKind kind = JobKind::kSandbox;
  std::string sandbox_arch;  // canonical arch name of the sandbox (from build-arch or ELF)
  std::vector<StagedArtifact> inputs;  // dependency order (later overwrite earlier)
  std::vector<StagedSource> sources;
  std::map<std::string, std::string> environment;
  std::string build_root;    // %{build-root}
  std::string install_root;  // %{install-root}
  std::string command_subdir;  // %{command-subdir}, relative to build_root
  // Commands in phases (configure, build, install, strip), each run by `sh -e -c`.
  std::vector<std::pair<std::string, std::vector<std::string>>> phases;
  bool network = false;       // sandbox gets the host network (element opt-in)
  bool integrate = true;      // run the inputs' integration commands before building
  // compose / filter / import options.
  std::vector<std::string> include_domains, exclude_domains;
  bool include_orphans = true;
  std::string import_source = "/", import_target = "/";
  uint32_t max_jobs = 0;
  std::optional<AccelSpec> accel;  // set when the project declares an accelerator
  std::vector<GeneratedFile> files;  // kCollect: the artifact's files
  // Embedded builds of an open workspace (client/workspace_build.h): a host
  // directory kept across builds, used as the build dir as it is (no sources
  // staged), so make rebuilds only what changed. Never sent to a cluster.
  std::string persistent_build_dir;
  std::optional<PythonElementJob> python;  // set for an element of a Python plugin
};

// The CAS ref under which a worker records the compiler probe of an
// accelerated job (a short text blob; `crossfarm show` prints it).
inline std::string AccelProbeRef(const std::string& cache_key) { return "accel-probes/" + cache_key; }

}  // namespace crossfarm
