// The client's side of local Python plugins (docs/plugins.md): the data of an
// element the plugin host needs, its unique keys for the cache key (one host
// pool per command, so one Python start serves every element of a `show`),
// and the plugin's format version checked as bst does.
#pragma once

#include <memory>
#include <mutex>
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
  explicit PythonPlugins(worker::PluginHostOptions options) : pool_(std::move(options)) {}
  // LoadOptions::python_keys: checks the format version of each plugin once,
  // sets e.python_key (element.key) and each plugin source's (source.key).
  // Errors name the element (or the source's line) and the plugin.
  Status Keys(Element& e);
  size_t hosts_started() const { return pool_.started(); }

 private:
  Status CheckFormat(worker::PluginHost& host, const PythonPlugin& plugin);
  worker::PluginHostPool pool_;
  std::mutex mu_;
  std::set<std::string> checked_;  // plugin files whose format version was checked
};

// JobSpec::python of an element of a local Python plugin (reads its module).
Result<PythonElementJob> MakePythonElementJob(const Element& e);

// "plugin 'KIND' (PATH relative to the project)" for messages.
std::string DescribePlugin(const Element& e, const PythonPlugin& plugin);

}  // namespace crossfarm::client
