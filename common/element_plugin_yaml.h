// The default YAML of BuildStream 1.6's element plugins
// (buildstream/plugins/elements/<kind>.yaml), embedded so that kinds compose
// exactly as bst composes them. Used by common/kind_defaults.
#pragma once

#include <string_view>

namespace crossfarm {

// The plugin YAML of `kind`, or "" for a kind without one (stack, junction)
// or unknown to crossfarm.
std::string_view ElementPluginYaml(std::string_view kind);

}  // namespace crossfarm
