// Embedded default YAML of BuildStream 1.6: the builtin project configuration
// (buildstream/data/projectconfig.yaml) and the defaults of each element kind
// plugin (buildstream/plugins/elements/<kind>.yaml), reproduced for the kinds
// crossfarm builds.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace crossfarm {

// bst 1.6 projectconfig.yaml.
std::string_view BuiltinProjectDefaultsYaml();

enum class KindSupport { kSupported, kUnsupported, kUnknown };
KindSupport ElementKindSupport(std::string_view kind);
// A BuildElement kind (manual, autotools, cmake, make, meson, pip, distutils,
// makemaker, modulebuild, qmake): runs config's configure-, build-, install-
// and strip-commands in a sandbox.
bool IsBuildElementKind(std::string_view kind);
// The keys the kind's bst 1.6 plugin accepts in `config:` (its configure()'s
// node_validate), or nullopt where the plugin checks none (import, stack).
std::optional<std::vector<std::string_view>> ElementConfigKeys(std::string_view kind);
// Default YAML of a supported element kind ("" for kinds without a .yaml).
std::string_view ElementKindDefaultsYaml(std::string_view kind);
// Supported and recognised-but-unsupported kinds, for did-you-mean.
std::vector<std::string_view> KnownElementKinds();

// Kinds of a project's plugins (buildstream-external 0.x: git_tag, git_module,
// cargo, collect_manifest, collect_integration) that crossfarm implements in
// C++: they load and build whether or not project.conf declares the plugin,
// and win over a Python plugin of the same kind (docs/plugins.md).
enum class KindCategory { kElement, kSource };
bool IsNativePluginKind(KindCategory category, std::string_view kind);

// Source kinds crossfarm accepts (bst's core kinds, deb / debian-source and
// the native plugin kinds).
bool IsKnownSourceKind(std::string_view kind);
std::vector<std::string_view> KnownSourceKinds();

}  // namespace crossfarm
