// The client's side of local Python plugins (docs/plugins.md): the data of an
// element the plugin host needs, its unique keys for the cache key (one host
// pool per command, so one Python start serves every element of a `show`),
// and the plugin's format version checked as bst does.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "common/element.h"
#include "common/job_spec.h"
#include "worker/plugin_host.h"

namespace crossfarm::client {

// The "element" object of the host's element requests: name, file, the
// unsubstituted config, variables, environment, public data, and the
// dependencies of Scope.BUILD / Scope.RUN with their kinds and public data.
worker::Json PythonElementJson(const Element& e);

class PythonPlugins {
 public:
  // `key_cache_dir`: where element keys and format versions are kept across
  // commands ("": nowhere).
  PythonPlugins(worker::PluginHostOptions options, std::string key_cache_dir)
      : pool_(std::move(options)), key_cache_dir_(std::move(key_cache_dir)) {}
  // LoadOptions::python_keys: checks the format version of each plugin once,
  // sets e.python_key (element.key) and each plugin source's (source.key).
  // Errors name the element (or the source's line) and the plugin.
  Status Keys(Element& e);
  size_t hosts_started() const { return pool_.started(); }

 private:
  using HostFn = std::function<Result<worker::PluginHost*>()>;  // the host, started on first use
  Status CheckFormat(const HostFn& host, const PythonPlugin& plugin);
  Result<std::string> ModuleDigest(const PythonPlugin& plugin);  // sha256 of the module, once
  std::optional<std::string> Cached(const std::string& name) const;
  void Remember(const std::string& name, const std::string& value) const;
  worker::PluginHostPool pool_;
  std::string key_cache_dir_;
  std::mutex mu_;
  std::set<std::string> checked_;  // plugin files whose format version was checked
  std::map<std::string, std::string> module_digests_;  // GUARDED_BY(mu_)
};

// JobSpec::python of an element of a local Python plugin (reads its module).
Result<PythonElementJob> MakePythonElementJob(const Element& e);

// "plugin 'KIND' (PATH relative to the project)" for messages.
std::string DescribePlugin(const Element& e, const PythonPlugin& plugin);

}  // namespace crossfarm::client
