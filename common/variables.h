// `%{name}` variable resolution (bst 1.6 _variables.py semantics).
//
// A reference is `%{` + [A-Za-z][A-Za-z0-9_-]* + `}`; any other `%` text is
// literal. Every variable is resolved eagerly (so an undefined reference or a
// cycle anywhere is an error, as in bst), each exactly once (memoised).
#pragma once

#include <cstddef>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/node.h"
#include "common/status.h"

namespace crossfarm {

// Resolved variables by name, in name order: a base map shared by many
// elements (the project's variables under a kind's defaults, resolved once per
// kind) beneath the values this element has of its own. A project of 100,000
// elements of one kind holds one copy of the ~40 shared values, not 100,000.
// Reads like the std::map it replaces; immutable once built.
class VariableMap {
 public:
  using Map = std::map<std::string, std::string>;
  using key_type = std::string;     // with mapped_type: an object, not an array,
  using mapped_type = std::string;  // to nlohmann::json (show --json, the plugin host)
  using value_type = Map::value_type;

  // Walks base and own in name order; an own value hides base's.
  class const_iterator {
   public:
    using value_type = Map::value_type;
    using reference = const value_type&;
    using pointer = const value_type*;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::forward_iterator_tag;
    const_iterator() = default;
    reference operator*() const { return FromOwn() ? *own_ : *base_; }
    pointer operator->() const { return &**this; }
    const_iterator& operator++();
    const_iterator operator++(int) { auto old = *this; ++*this; return old; }
    bool operator==(const const_iterator& o) const { return base_ == o.base_ && own_ == o.own_; }

   private:
    friend class VariableMap;
    const_iterator(Map::const_iterator b, Map::const_iterator be, Map::const_iterator o,
                   Map::const_iterator oe)
        : base_(b), base_end_(be), own_(o), own_end_(oe) {}
    bool FromOwn() const {
      return own_ != own_end_ && (base_ == base_end_ || own_->first <= base_->first);
    }
    Map::const_iterator base_, base_end_, own_, own_end_;
  };

  VariableMap() = default;
  explicit VariableMap(Map own) : own_(std::move(own)) {}
  VariableMap(std::shared_ptr<const Map> base, Map own)
      : base_(std::move(base)), own_(std::move(own)) {}

  const_iterator begin() const;
  const_iterator end() const;
  const_iterator find(const std::string& name) const;
  // std::out_of_range when absent, as std::map::at.
  const std::string& at(const std::string& name) const;
  size_t count(const std::string& name) const { return find(name) == end() ? 0 : 1; }
  bool empty() const { return begin() == end(); }
  // A plain copy, for callers that want one (show's %{vars}, tests).
  operator Map() const { return Map(begin(), end()); }  // NOLINT: implicit on purpose

  const std::shared_ptr<const Map>& base() const { return base_; }
  const Map& own() const { return own_; }

 private:
  const Map& BaseOrEmpty() const;
  std::shared_ptr<const Map> base_;
  Map own_;
};

class Variables {
 public:
  // `vars` is a composed `variables:` mapping of scalars (null = "").
  // Errors: undefined variable (file:line of the referencing value, with a
  // did-you-mean) and cycles ("a -> b -> a").
  static Result<Variables> Resolve(const Node& vars);
  // As bst 1.6 treats a junction element's variables: resolved only as far as
  // they can be; a variable that refers to an undefined one (or is in a
  // cycle) is left out, so only a use of it (Subst) is an error.
  static Variables ResolveWhatResolves(const Node& vars);
  // Same result, reusing `base` (a resolution of a layer `vars` was built from
  // by overlaying): a variable whose value node is shared with base.layer() and
  // whose references are all reusable keeps base's value. Variables named in
  // `always_fresh` (e.g. element-name) are never reused.
  static Result<Variables> ResolveOver(const Node& vars, const Variables& base,
                                       const std::vector<std::string>& always_fresh);
  // Resolves a layer to be used as a `base`: remembers the layer and the
  // references of each variable.
  static Result<Variables> ResolveBase(NodePtr layer);

  // Substitutes references in `text`; `where` is used for errors.
  Result<std::string> Subst(std::string_view text, const Provenance& where) const;
  // Substitutes every scalar of a tree in place.
  Status SubstTree(Node& node) const;

  const VariableMap& values() const { return values_; }
  // For bases: the layer they resolved (nullptr otherwise).
  const NodePtr& layer() const { return layer_; }
  VariableMap TakeValues() && { return std::move(values_); }

 private:
  // A base's values are all shared (VariableMap::base); ResolveOver's share
  // the base's and own only what differs.
  VariableMap values_;
  // Only for bases: the layer, each variable's value (by layer index) and
  // direct references (layer indices; -1 = not in the layer).
  NodePtr layer_;
  std::vector<const std::string*> by_index_;
  std::vector<std::vector<int>> refs_;
};

// Finds the references of a value in order (for tests and the resolver).
std::vector<std::string> VariableReferences(std::string_view text);

}  // namespace crossfarm
