#include "common/variables.h"

#include <cctype>
#include <stdexcept>

namespace crossfarm {

VariableMap::const_iterator& VariableMap::const_iterator::operator++() {
  if (FromOwn()) {
    if (base_ != base_end_ && base_->first == own_->first) ++base_;  // hidden by own
    ++own_;
  } else {
    ++base_;
  }
  return *this;
}

const VariableMap::Map& VariableMap::BaseOrEmpty() const {
  static const Map kEmpty;
  return base_ ? *base_ : kEmpty;
}

VariableMap::const_iterator VariableMap::begin() const {
  const Map& b = BaseOrEmpty();
  return const_iterator(b.begin(), b.end(), own_.begin(), own_.end());
}

VariableMap::const_iterator VariableMap::end() const {
  const Map& b = BaseOrEmpty();
  return const_iterator(b.end(), b.end(), own_.end(), own_.end());
}

VariableMap::const_iterator VariableMap::find(const std::string& name) const {
  const Map& b = BaseOrEmpty();
  // An iterator positioned at `name`: the other map at its first later key
  // (or at `name` itself in base, which own then hides).
  if (auto o = own_.find(name); o != own_.end())
    return const_iterator(b.lower_bound(name), b.end(), o, own_.end());
  if (auto i = b.find(name); i != b.end())
    return const_iterator(i, b.end(), own_.lower_bound(name), own_.end());
  return end();
}

const std::string& VariableMap::at(const std::string& name) const {
  auto it = find(name);
  if (it == end()) throw std::out_of_range("no variable " + name);
  return it->second;
}

namespace {
// Python's str.strip(): spaces, tabs, newlines, CR, FF, VT at both ends.
std::string_view StripWhitespace(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  size_t b = s.find_first_not_of(kSpace);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(kSpace) - b + 1);
}
}  // namespace
namespace {

// Calls on_ref(name, begin, end) for each %{name} in text.
template <typename F>
void ScanRefs(std::string_view text, F on_ref) {
  size_t pos = 0;
  while ((pos = text.find("%{", pos)) != std::string_view::npos) {
    size_t i = pos + 2;
    if (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) {
      size_t j = i + 1;
      while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) ||
                                 text[j] == '_' || text[j] == '-'))
        ++j;
      if (j < text.size() && text[j] == '}') {
        on_ref(text.substr(i, j - i), pos, j + 1);
        pos = j + 1;
        continue;
      }
    }
    pos += 2;
  }
}

// Resolves variables by index in the layer mapping. With a base, entries at
// the same index as in the base layer (overlays keep positions) whose value
// node is shared and whose references are all reusable take the base's value.
// Larger than any real command line or path list; small enough to be held.
constexpr size_t kMaxVariableSize = 16u << 20;

struct Resolver {
  const Node& vars;
  std::vector<int> state;  // 0 new, 1 in progress, 2 done
  std::vector<std::string> out;
  // Each variable's value: &out[i], or the base's value when reused.
  std::vector<const std::string*> val;
  std::vector<int> stack;
  std::vector<std::vector<int>>* refs = nullptr;  // recorded for bases
  const Variables* base = nullptr;
  const Node* base_layer = nullptr;
  const std::vector<std::vector<int>>* base_refs = nullptr;
  const std::vector<const std::string*>* base_values = nullptr;
  std::vector<int8_t> reusable;  // -1 unknown, 0 no, 1 yes

  explicit Resolver(const Node& v)
      : vars(v),
        state(v.map.size(), 0),
        out(v.map.size()),
        val(v.map.size(), nullptr),
        reusable(v.map.size(), -1) {}

  int Index(std::string_view name) const { return vars.IndexOf(name); }

  std::vector<std::string_view> Names() const {
    std::vector<std::string_view> v;
    for (const auto& [k, _] : vars.map) v.push_back(k);
    return v;
  }

  bool Reusable(int i) {
    if (!base || static_cast<size_t>(i) >= base_layer->map.size()) return false;
    if (reusable[i] >= 0) return reusable[i] == 1;
    reusable[i] = 0;  // also breaks reference cycles
    const auto& mine = vars.map[static_cast<size_t>(i)];
    const auto& theirs = base_layer->map[static_cast<size_t>(i)];
    bool ok = mine.second == theirs.second && mine.first == theirs.first;
    if (ok)
      for (int ref : (*base_refs)[static_cast<size_t>(i)]) ok = ok && ref >= 0 && Reusable(ref);
    reusable[i] = ok ? 1 : 0;
    return ok;
  }

  Status Undefined(std::string_view ref, const Provenance& where, std::string_view in) const {
    std::string near = DidYouMean(ref, Names());
    return UserError(where,
                     "reference to undefined variable '" + std::string(ref) + "'" +
                         (in.empty() ? "" : " in variable '" + std::string(in) + "'"),
                     near.empty() ? "define it under `variables:`" : "did you mean '" + near + "'?");
  }

  Status Cycle(int i, const Provenance& where) const {
    std::string chain;
    bool on = false;
    for (int s : stack) {
      on = on || s == i;
      if (on) chain += vars.map[static_cast<size_t>(s)].first + " -> ";
    }
    return UserError(where, "circular variable reference: " + chain + vars.map[static_cast<size_t>(i)].first,
                     "one of these variables must not refer back to the others");
  }

  Result<const std::string*> Get(int i) {
    size_t u = static_cast<size_t>(i);
    if (state[u] == 2) return val[u];
    if (state[u] == 0 && Reusable(i)) {
      state[u] = 2;
      val[u] = (*base_values)[u];
      return val[u];
    }
    const auto& [name, value] = vars.map[u];
    if (state[u] == 1) return Err(Cycle(i, value->Where()));
    state[u] = 1;
    stack.push_back(i);
    // bst 1.x strips every string it reads from YAML (_yaml.node_get), so a
    // `|` block's leading blank line never splits `%{conf-cmd} %{conf-args}`.
    const std::string_view text = StripWhitespace(value->scalar);
    std::string result;
    size_t last = 0;
    Status error;
    std::vector<int>* my_refs = refs ? &(*refs)[u] : nullptr;
    ScanRefs(text, [&](std::string_view ref, size_t b, size_t e) {
      if (!error.ok()) return;
      int j = Index(ref);
      if (my_refs) my_refs->push_back(j);
      result.append(text, last, b - last);
      last = e;
      if (j < 0) {
        error = Undefined(ref, value->Where(), name);
        return;
      }
      auto r = Get(j);
      if (!r) {
        error = r.error();
      } else if (result.size() + (*r)->size() > kMaxVariableSize) {
        // 40 levels of `vN: "%{vN-1}%{vN-1}"` would ask for a terabyte.
        error = UserError(value->Where(), "variable '" + name + "' expands to more than " +
                                              std::to_string(kMaxVariableSize >> 20) + " MiB",
                          "a variable that references another one twice per level doubles "
                          "with each level; reference it fewer times");
      } else {
        result += **r;
      }
    });
    CF_TRY(error);
    result.append(text, last);
    stack.pop_back();
    state[u] = 2;
    out[u] = std::move(result);
    val[u] = &out[u];
    return val[u];
  }

  Status ResolveAll() {
    for (size_t i = 0; i < vars.map.size(); ++i) {
      const auto& [name, value] = vars.map[i];
      if (!value->IsScalar() && !value->IsNull())
        return UserError(value->Where(), "variable '" + name + "' must be a string, not a " +
                                             std::string(KindName(value->kind)));
      CF_TRY(Get(static_cast<int>(i)));
    }
    return Status::Ok();
  }

  // A failed variable keeps state 1 and no value: every later reference to
  // it fails too (as a "cycle"), and Take leaves it out.
  void ResolveWhatResolves() {
    for (size_t i = 0; i < vars.map.size(); ++i) {
      if (!vars.map[i].second->IsScalar() && !vars.map[i].second->IsNull()) continue;
      if (!Get(static_cast<int>(i))) stack.clear();
    }
  }

  // The values not reused from the base (all of them without a base).
  VariableMap::Map Take() {
    VariableMap::Map m;
    for (size_t i = 0; i < vars.map.size(); ++i)
      if (val[i] == &out[i]) m.emplace(vars.map[i].first, std::move(out[i]));
    return m;
  }
};

}  // namespace

std::vector<std::string> VariableReferences(std::string_view text) {
  std::vector<std::string> refs;
  ScanRefs(text, [&](std::string_view r, size_t, size_t) { refs.emplace_back(r); });
  return refs;
}

Result<Variables> Variables::Resolve(const Node& vars) {
  Resolver r(vars);
  CF_TRY(r.ResolveAll());
  Variables v;
  v.values_ = VariableMap(r.Take());
  return v;
}

Variables Variables::ResolveWhatResolves(const Node& vars) {
  Resolver r(vars);
  r.ResolveWhatResolves();
  Variables v;
  v.values_ = VariableMap(r.Take());
  return v;
}

Result<Variables> Variables::ResolveBase(NodePtr layer) {
  Variables v;
  Resolver r(*layer);
  v.refs_.resize(layer->map.size());
  r.refs = &v.refs_;
  CF_TRY(r.ResolveAll());
  auto shared = std::make_shared<const VariableMap::Map>(r.Take());
  for (const auto& [name, _] : layer->map) v.by_index_.push_back(&shared->at(name));
  v.values_ = VariableMap(std::move(shared), {});
  v.layer_ = std::move(layer);
  return v;
}

Result<Variables> Variables::ResolveOver(const Node& vars, const Variables& base,
                                         const std::vector<std::string>& always_fresh) {
  Resolver r(vars);
  r.base = &base;
  r.base_layer = base.layer_.get();
  r.base_refs = &base.refs_;
  r.base_values = &base.by_index_;
  for (const auto& name : always_fresh)
    if (int i = vars.IndexOf(name); i >= 0) r.reusable[static_cast<size_t>(i)] = 0;
  CF_TRY(r.ResolveAll());
  Variables v;
  v.values_ = VariableMap(base.values_.base(), r.Take());
  return v;
}

Result<std::string> Variables::Subst(std::string_view text, const Provenance& where) const {
  if (text.find("%{") == std::string_view::npos) return std::string(text);
  std::string result;
  size_t last = 0;
  Status error;
  ScanRefs(text, [&](std::string_view ref, size_t b, size_t e) {
    if (!error.ok()) return;
    result.append(text.substr(last, b - last));
    last = e;
    auto it = values_.find(std::string(ref));
    if (it == values_.end()) {
      std::vector<std::string_view> names;
      for (const auto& [k, _] : values_) names.push_back(k);
      std::string near = DidYouMean(ref, names);
      error = UserError(where, "reference to undefined variable '" + std::string(ref) + "'",
                        near.empty() ? "define it under `variables:`"
                                     : "did you mean '" + near + "'?");
      return;
    }
    result += it->second;
  });
  CF_TRY(error);
  result.append(text.substr(last));
  return result;
}

Status Variables::SubstTree(Node& node) const {
  switch (node.kind) {
    case Node::Kind::kScalar: {
      CF_ASSIGN_OR_RETURN(node.scalar, Subst(node.scalar, node.Where()));
      return Status::Ok();
    }
    case Node::Kind::kSequence:
      for (auto& it : node.items) CF_TRY(SubstTree(*it));
      return Status::Ok();
    case Node::Kind::kMapping:
      for (auto& [k, v] : node.map) CF_TRY(SubstTree(*v));
      return Status::Ok();
    default: return Status::Ok();
  }
}

}  // namespace crossfarm
