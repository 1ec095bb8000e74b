// `%{name}` variable expansion (common/variables.h). The input is a YAML
// `variables:` mapping; every variable is resolved (as for an element), the
// result is resolved again as a base layer and reused, and one more text is
// substituted: the three ways the loader expands variables.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/variables.h"
#include "common/yaml_loader.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace crossfarm;
  auto node = ParseYamlString(fuzz::AsView(data, size), "vars.yml");
  if (!node || !(*node)->IsMapping()) return 0;
  auto vars = Variables::Resolve(**node);
  if (!vars) return 0;
  // Resolving over a base of the very same layer reuses every value: the
  // result must not differ from a resolution from scratch.
  auto base = Variables::ResolveBase(*node);
  if (!base) std::abort();
  auto over = Variables::ResolveOver(**node, *base, {"element-name"});
  if (!over || over->values() != vars->values()) std::abort();
  for (const auto& [name, value] : vars->values())
    (void)vars->Subst("%{" + name + "}/" + value, (*node)->Where());
  return 0;
}
