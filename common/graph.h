// The element graph: loading targets and their dependencies, cycle detection,
// bst's dependency sort and `bst show --deps` ordering.
//
// All traversals are iterative (deep chains do not exhaust the stack) and
// linear in the size of the graph.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/element.h"
#include "common/status.h"

namespace crossfarm {

using ElementMap = std::unordered_map<std::string, std::unique_ptr<Element>>;

// Loads `targets` (names relative to element-path) and everything they depend
// on into `elements` (elements already there are reused), links deps, checks
// for cycles and sorts dependencies. Returns the targets in the given order and
// appends the newly loaded elements, dependencies first, to `loaded`.
// Errors: missing files (naming the referencing .bst:line:col), cycles
// ("Dependency chain: a.bst -> b.bst -> a.bst"), and any element error.
Result<std::vector<Element*>> LoadElementGraph(ProjectConfig& project, ElementMap& elements,
                                               const std::vector<std::string>& targets,
                                               std::vector<Element*>& loaded);

// The subproject of junction `name` (an element of `p`), loaded on first use.
// Errors: the junction is missing (reported at `where`), is not a junction,
// or its subproject does not load.
Result<ProjectConfig*> OpenJunction(ProjectConfig& p, const std::string& name,
                                    const Provenance& where);

// Elements reachable from `roots`, dependencies before dependents.
std::vector<Element*> TopologicalOrder(const std::vector<Element*>& roots);

// `bst show --deps` order (bst 1.6 _pipeline.py get_selection):
//   none  - the targets;
//   run   - targets and their runtime closure;
//   build - the build deps of the targets and their runtime closures (not the
//           targets themselves);
//   all   - everything the targets depend on, in any way, and the targets;
//   plan  - what must be built to build the targets, deepest build first.
std::vector<Element*> PlanElements(const std::vector<Element*>& targets, Scope scope);

// `bst show`'s states, less "fetch needed" (source caches are the caller's):
// no reference (a source of the element itself has no ref), cached
// (is_cached), buildable (everything in its build scope is cached), waiting.
enum class ElementState { kNoReference, kWaiting, kBuildable, kCached };
std::string_view ElementStateName(ElementState state);  // "no reference", ...
ElementState StateOf(const Element& e, const std::function<bool(const Element&)>& is_cached);

// bst's loader dependency sort (fills Element::sorted_deps) for `elements`.
void SortDependencies(const std::vector<Element*>& elements);

}  // namespace crossfarm
