#include "common/graph.h"

#include <algorithm>
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include "common/parse_prefetch.h"
#include "common/yaml_loader.h"

namespace crossfarm {
namespace {

struct Pending {
  std::string name;
  Provenance referenced_at;  // empty file: a command line target
};

Status MissingElement(const ProjectConfig& p, const Pending& want, const std::string& name) {
  if (!p.junction_name.empty())
    return UserError(want.referenced_at, "could not find element '" + name +
                                             "' in project referred to by junction element '" +
                                             p.junction_name + "'",
                     "names after 'junction.bst:' are relative to the subproject's element-path");
  std::string dir = p.element_path.empty() ? "." : p.element_path;
  return UserError(want.referenced_at,
                   "could not find element '" + name + "' in elements directory '" + dir + "'",
                   "element names are relative to the project's element-path");
}

std::string ElementFile(const ProjectConfig& p, const std::string& name) {
  return p.element_path.empty() ? name : p.element_path + "/" + name;
}

// The subproject of junction `name` of `p`, loaded on first use (bst 1.6
// Loader._get_loader).
Result<ProjectConfig*> OpenJunction(ProjectConfig& p, const std::string& name,
                                    const Pending& want) {
  return OpenJunction(p, name, want.referenced_at);
}

}  // namespace

Result<ProjectConfig*> OpenJunction(ProjectConfig& p, const std::string& name,
                                    const Provenance& where) {
  Pending want{name, where};
  if (auto it = p.subprojects.find(name); it != p.subprojects.end()) return it->second;
  std::string rel = ElementFile(p, name);
  auto node = ParseYamlFile(p.directory + "/" + rel, rel);
  if (!node && node.error().IsNotFound()) return Err(MissingElement(p, want, name));
  if (!node) return Err(node.error());
  CF_ASSIGN_OR_RETURN(auto junction, ResolveElement(p, name, *node));
  if (junction->kind != "junction")
    return Err(UserError(junction->where, name + ": Expected junction but element kind is " +
                                              junction->kind));
  if (!p.open_junction)
    return Err(UserError(junction->where, "cannot load the subproject of junction " + name));
  junction->project = &p;
  junction->local_name = name;
  auto sub = p.open_junction(*junction);
  if (!sub) return Err(sub.error().WithContext("junction " + name));
  p.junction_elements[name] = std::move(junction);
  p.subprojects[name] = *sub;
  return *sub;
}

namespace {

// The ElementMap key of a dependency of an element of `p`. A junction that an
// ancestor project also has is the ancestor's (bst: "junctions in the parent
// take precedence"), the topmost one winning.
std::string DepKey(const ProjectConfig& p, const DepSpec& d) {
  if (d.junction.empty()) return p.key_prefix + d.name;
  const ProjectConfig* owner = &p;
  std::error_code ec;
  for (const ProjectConfig* a = p.parent; a; a = a->parent)
    if (a->subprojects.count(d.junction) ||
        std::filesystem::exists(a->directory + "/" + ElementFile(*a, d.junction), ec))
      owner = a;
  return owner->key_prefix + d.junction + ":" + d.name;
}

// The file of element `local` of `p` and the name provenance shows: as bst
// names the files of a subproject, "j.bst:elements/y.bst".
std::pair<std::string, std::string> ElementPath(const ProjectConfig& p, const std::string& local) {
  std::string rel = ElementFile(p, local);
  return {p.directory + "/" + rel, p.junction_name.empty() ? rel : p.junction_name + ":" + rel};
}

Result<Element*> LoadOne(ProjectConfig& top, ElementMap& elements, const Pending& want,
                         ParsePrefetcher& prefetch) {
  // "j.bst:k.bst:y.bst": y.bst of the subproject of k.bst of the subproject of j.bst.
  ProjectConfig* p = &top;
  std::string local = want.name;
  for (size_t colon; (colon = local.find(':')) != std::string::npos;) {
    CF_ASSIGN_OR_RETURN(p, OpenJunction(*p, local.substr(0, colon), want));
    local = local.substr(colon + 1);
  }
  auto [path, display] = ElementPath(*p, local);
  auto node = prefetch.Take(path, display);
  if (!node && node.error().IsNotFound()) return Err(MissingElement(*p, want, local));
  if (!node) return Err(node.error());
  CF_ASSIGN_OR_RETURN(auto element, ResolveElement(*p, local, *node));
  if (element->kind == "junction")
    return Err(UserError(want.referenced_at, want.referenced_at.file.empty()
                                                 ? local + " is a junction: it cannot be loaded"
                                                 : "Cannot depend on junction",
                         "name an element of the subproject: '" + local + ":ELEMENT.bst'"));
  element->local_name = local;
  element->junction = p->junction_name;
  element->project = p;
  if (!p->junction_name.empty()) element->name = p->junction_name + ":" + local;
  for (DepSpec& d : element->dep_specs) d.name = DepKey(*p, d);
  Element* raw = element.get();
  elements[want.name] = std::move(element);
  return raw;
}

Status CheckCycles(const std::vector<Element*>& roots) {
  std::unordered_map<const Element*, int> color;  // 1 on stack, 2 done
  for (Element* root : roots) {
    if (color[root] == 2) continue;
    std::vector<std::pair<Element*, size_t>> stack = {{root, 0}};
    color[root] = 1;
    while (!stack.empty()) {
      auto& [e, i] = stack.back();
      if (i == e->deps.size()) {
        color[e] = 2;
        stack.pop_back();
        continue;
      }
      const size_t index = i++;
      Element* d = e->deps[index].first;
      int& c = color[d];
      if (c == 2) continue;
      if (c == 1) {
        std::string chain;
        bool on = false;
        for (auto& [s, _] : stack) {
          on = on || s == d;
          if (on) chain += s->name + " -> ";
        }
        // The line of the dependency that closes the cycle (deps mirror dep_specs).
        const Provenance& at = index < e->dep_specs.size() ? e->dep_specs[index].where : e->where;
        return UserError(at, "circular dependency detected at element: " + d->name +
                                       "\nDependency chain: " + chain + d->name,
                         "remove one of the dependencies in this chain");
      }
      c = 1;
      stack.emplace_back(d, 0);
    }
  }
  return Status::Ok();
}

}  // namespace

namespace {

Result<std::vector<Element*>> LoadGraphInner(ProjectConfig& p, ElementMap& elements,
                                             const std::vector<std::string>& targets,
                                             std::vector<Element*>& fresh,
                                             std::vector<Element*>& loaded) {
  // Files of this project's elements parse ahead on helper threads; those
  // through a junction (a ':' in the name) need their subproject open first.
  ParsePrefetcher prefetch(p.key_prefix.empty() ? ParsePrefetcher::DefaultThreads() : 0);
  auto request = [&](const std::string& name) {
    if (name.find(':') != std::string::npos) return;
    auto [path, display] = ElementPath(p, name);
    prefetch.Request(path, display);
  };
  std::vector<Pending> work;
  for (auto it = targets.rbegin(); it != targets.rend(); ++it) {
    std::string name = NormaliseElementName(*it);
    if (name.empty())
      return Err(UserError(Provenance{}, "invalid element name '" + *it + "'",
                           "name elements relative to the project's element-path"));
    work.push_back({name, Provenance{}});
    request(name);
  }
  while (!work.empty()) {
    Pending want = std::move(work.back());
    work.pop_back();
    if (elements.count(want.name)) continue;
    CF_ASSIGN_OR_RETURN(Element * e, LoadOne(p, elements, want, prefetch));
    fresh.push_back(e);
    for (auto it = e->dep_specs.rbegin(); it != e->dep_specs.rend(); ++it)
      if (!elements.count(it->name)) {
        work.push_back({it->name, it->where});
        request(it->name);
      }
  }
  for (Element* e : fresh)
    for (const auto& spec : e->dep_specs) e->deps.emplace_back(elements.at(spec.name).get(), spec.type);
  CF_TRY(CheckCycles(fresh));
  SortDependencies(fresh);
  std::vector<Element*> out;
  for (const auto& t : targets) out.push_back(elements.at(NormaliseElementName(t)).get());
  std::unordered_set<Element*> is_fresh(fresh.begin(), fresh.end());
  for (Element* e : TopologicalOrder(fresh))
    if (is_fresh.count(e)) loaded.push_back(e);
  return out;
}

}  // namespace

Result<std::vector<Element*>> LoadElementGraph(ProjectConfig& p, ElementMap& elements,
                                               const std::vector<std::string>& targets,
                                               std::vector<Element*>& loaded) {
  std::vector<Element*> fresh;
  auto out = LoadGraphInner(p, elements, targets, fresh, loaded);
  if (!out) {
    // Leave the map as it was: half-loaded elements have no links or keys.
    for (Element* e : fresh) {
      // An element of project p has the key p.key_prefix + its local name.
      std::string name = e->project ? e->project->key_prefix + e->local_name : e->name;
      elements.erase(name);
    }
    loaded.clear();
  }
  return out;
}

std::vector<Element*> TopologicalOrder(const std::vector<Element*>& roots) {
  std::vector<Element*> out;
  std::unordered_set<Element*> seen;
  for (Element* root : roots) {
    if (!seen.insert(root).second) continue;
    std::vector<std::pair<Element*, size_t>> stack = {{root, 0}};
    while (!stack.empty()) {
      auto& [e, i] = stack.back();
      if (i == e->deps.size()) {
        out.push_back(e);
        stack.pop_back();
        continue;
      }
      Element* d = e->deps[i++].first;
      if (seen.insert(d).second) stack.emplace_back(d, 0);
    }
  }
  return out;
}

namespace {

// "a depends on b", transitively. Heights (longest path to a leaf) prune the
// search: a dependency of b's height or lower cannot lead to b.
class Reachability {
 public:
  explicit Reachability(const std::vector<Element*>& order) {
    for (Element* e : order) {  // dependencies first
      int h = 0;
      for (auto [d, _] : e->deps) h = std::max(h, height_[d] + 1);
      height_[e] = h;
    }
  }
  bool Depends(Element* a, Element* b) {
    int hb = height_[b];
    if (height_[a] <= hb) return false;
    std::vector<Element*> stack = {a};
    std::unordered_set<Element*> seen = {a};
    while (!stack.empty()) {
      Element* e = stack.back();
      stack.pop_back();
      for (auto [d, _] : e->deps) {
        if (d == b) return true;
        if (height_[d] > hb && seen.insert(d).second) stack.push_back(d);
      }
    }
    return false;
  }

 private:
  std::unordered_map<Element*, int> height_;
};

using DepEntry = std::pair<Element*, DepType>;

const std::string& SortName(const Element& e) { return e.local_name.empty() ? e.name : e.local_name; }

// bst 1.6 _loader/loader.py dependency_cmp.
// Names compare as written in the dependency: the name inside its project,
// then the junction (an element through a junction before a local one).
int CompareDeps(Reachability& r, const DepEntry& a, const DepEntry& b) {
  if (r.Depends(a.first, b.first)) return 1;
  if (r.Depends(b.first, a.first)) return -1;
  if (a.second != b.second) {
    if (a.second == DepType::kRuntime) return 1;
    if (b.second == DepType::kRuntime) return -1;
  }
  const Element& x = *a.first;
  const Element& y = *b.first;
  if (int c = SortName(x).compare(SortName(y)); c != 0) return c > 0 ? 1 : -1;
  if (!x.junction.empty() && !y.junction.empty()) {
    if (int c = x.junction.compare(y.junction); c != 0) return c > 0 ? 1 : -1;
  } else if (!x.junction.empty()) {
    return -1;
  } else if (!y.junction.empty()) {
    return 1;
  }
  return 0;
}

// CPython's list.sort for short lists (count_run + binary insertion sort), so
// that a comparator that is not a strict weak order still gives bst's result.
template <typename Less>
void PythonSort(std::vector<DepEntry>& v, Less less) {
  size_t n = v.size();
  if (n < 2) return;
  if (n >= 64) {
    std::stable_sort(v.begin(), v.end(), less);
    return;
  }
  size_t run = 2;
  if (less(v[1], v[0])) {
    while (run < n && less(v[run], v[run - 1])) ++run;
    std::reverse(v.begin(), v.begin() + static_cast<long>(run));
  } else {
    while (run < n && !less(v[run], v[run - 1])) ++run;
  }
  for (size_t start = run; start < n; ++start) {
    DepEntry pivot = v[start];
    size_t l = 0, r = start;
    while (l < r) {
      size_t m = l + ((r - l) >> 1);
      if (less(pivot, v[m])) r = m;
      else l = m + 1;
    }
    for (size_t k = start; k > l; --k) v[k] = v[k - 1];
    v[l] = pivot;
  }
}

std::vector<Element*> Unique(const std::vector<Element*>& v) {
  std::vector<Element*> out;
  std::unordered_set<Element*> seen;
  for (Element* e : v)
    if (seen.insert(e).second) out.push_back(e);
  return out;
}

// bst 1.6 Element.dependencies(scope) with one `visited` map shared by all
// targets (_pipeline.py dependencies()): an element is visited again only for a
// scope it was not visited in yet, and yielded only on its first visit, after
// its dependencies; a BUILD-scope visit never yields the element itself.
class ScopeWalker {
 public:
  void Walk(Element* target, Scope scope) {
    Visit(target, scope);
    while (!stack_.empty()) {
      Frame& f = stack_.back();
      if (f.next == f.children.size()) {
        if (f.should_yield && f.scope != Scope::kBuild) out_.push_back(f.element);
        stack_.pop_back();
        continue;
      }
      Element* d = f.children[f.next++];
      Visit(d, f.scope == Scope::kAll ? Scope::kAll : Scope::kRun);
    }
  }
  std::vector<Element*> out_;

 private:
  static constexpr uint8_t kBuildBit = 1, kRunBit = 2;
  struct Frame {
    Element* element;
    Scope scope;
    bool should_yield;
    std::vector<Element*> children;
    size_t next = 0;
  };
  void Visit(Element* e, Scope scope) {
    uint8_t bits = scope == Scope::kAll ? (kBuildBit | kRunBit)
                   : scope == Scope::kBuild ? kBuildBit : kRunBit;
    auto [it, first] = visited_.try_emplace(e, 0);
    if (!first && (bits & ~it->second) == 0) return;
    it->second |= bits;
    Frame f{e, scope, first, {}, 0};
    if (scope == Scope::kAll) {
      for (auto [d, t] : e->sorted_deps)
        if (t != DepType::kRuntime) f.children.push_back(d);
      for (auto [d, t] : e->sorted_deps)
        if (t == DepType::kRuntime) f.children.push_back(d);
    } else if (scope == Scope::kBuild) {
      f.children = e->BuildDeps();
    } else {
      f.children = e->RuntimeDeps();
    }
    stack_.push_back(std::move(f));
  }
  std::vector<Frame> stack_;
  std::unordered_map<Element*, uint8_t> visited_;
};

// bst 1.6 _Planner: deepest build first; ties in first-visit post-order.
std::vector<Element*> PlanOrder(const std::vector<Element*>& targets) {
  std::vector<Element*> post;
  std::unordered_set<Element*> seen;
  auto children = [](Element* e) {
    std::vector<std::pair<Element*, int>> c;
    for (auto [d, t] : e->sorted_deps)
      if (t != DepType::kBuild) c.emplace_back(d, 0);
    for (auto [d, t] : e->sorted_deps)
      if (t != DepType::kRuntime) c.emplace_back(d, 1);
    return c;
  };
  for (Element* root : targets) {
    if (!seen.insert(root).second) continue;
    std::vector<std::pair<Element*, size_t>> stack = {{root, 0}};
    std::vector<std::vector<std::pair<Element*, int>>> kids = {children(root)};
    while (!stack.empty()) {
      auto& [e, i] = stack.back();
      if (i == kids.back().size()) {
        post.push_back(e);
        stack.pop_back();
        kids.pop_back();
        continue;
      }
      Element* d = kids.back()[i++].first;
      if (seen.insert(d).second) {
        stack.emplace_back(d, 0);
        kids.push_back(children(d));
      }
    }
  }
  std::unordered_map<Element*, int> depth;
  for (Element* t : targets) depth[t] = 0;
  for (auto it = post.rbegin(); it != post.rend(); ++it)
    for (auto [d, w] : children(*it)) depth[d] = std::max(depth[d], depth[*it] + w);
  std::stable_sort(post.begin(), post.end(),
                   [&](Element* a, Element* b) { return depth[a] > depth[b]; });
  return post;
}

}  // namespace

void SortDependencies(const std::vector<Element*>& elements) {
  Reachability reach(TopologicalOrder(elements));
  for (Element* e : elements) {
    e->sorted_deps = e->deps;
    PythonSort(e->sorted_deps, [&](const DepEntry& a, const DepEntry& b) {
      return CompareDeps(reach, a, b) < 0;
    });
  }
}

std::vector<Element*> PlanElements(const std::vector<Element*>& targets, Scope scope) {
  switch (scope) {
    case Scope::kNone: return Unique(targets);
    case Scope::kPlan: return PlanOrder(targets);
    default: break;
  }
  ScopeWalker w;
  for (Element* t : targets) w.Walk(t, scope);
  return w.out_;
}

std::string_view ElementStateName(ElementState state) {
  switch (state) {
    case ElementState::kNoReference: return "no reference";
    case ElementState::kWaiting: return "waiting";
    case ElementState::kBuildable: return "buildable";
    case ElementState::kCached: return "cached";
  }
  return "?";
}

ElementState StateOf(const Element& e, const std::function<bool(const Element&)>& is_cached) {
  if (!e.HasAllRefs()) return ElementState::kNoReference;
  if (e.cache_key && is_cached(e)) return ElementState::kCached;
  for (Element* d : PlanElements({const_cast<Element*>(&e)}, Scope::kBuild))
    if (!d->cache_key || !is_cached(*d)) return ElementState::kWaiting;
  return ElementState::kBuildable;
}

}  // namespace crossfarm
