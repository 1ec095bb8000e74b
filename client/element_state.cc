#include "client/element_state.h"

#include <unordered_map>

#include "common/arch.h"
#include "common/project.h"

namespace crossfarm::client {

namespace {

// The sandbox arch known before staging: `sandbox: build-arch` or the project's
// build arch. (Staged ELF detection refines it at build time.)
const ArchInfo* SandboxArch(const Project& project, const Element& e) {
  if (!e.sandbox_build_arch.empty()) {
    if (auto a = LookupArch(e.sandbox_build_arch)) return *a;
  }
  return project.arch().build;
}

}  // namespace

std::vector<ElementView> ComputeStates(const Project& project, const std::vector<Element*>& plan,
                                       const GlobalOptions& /*g*/) {
  std::unordered_map<const Element*, std::string> states;
  std::vector<ElementView> out;
  out.reserve(plan.size());
  for (const Element* e : plan) {
    ElementView v;
    v.element = e;
    const ArchInfo* arch = SandboxArch(project, *e);
    v.arch = std::string(arch->name);
    v.sandbox = RunsNatively(HostArch(), *arch) ? "native" : "emulated";
    if (!e->cache_key) {
      v.state = "no reference";
    } else {
      v.state = "buildable";
      for (const Element* d : e->BuildDeps()) {
        auto it = states.find(d);
        if (it == states.end() || it->second != "cached") v.state = "waiting";
      }
    }
    states[e] = v.state;
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace crossfarm::client
