// `%{name}` variable resolution (bst 1.6 _variables.py semantics).
//
// A reference is `%{` + [A-Za-z][A-Za-z0-9_-]* + `}`; any other `%` text is
// literal. Every variable is resolved eagerly (so an undefined reference or a
// cycle anywhere is an error, as in bst), each exactly once (memoised).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/node.h"
#include "common/status.h"

namespace crossfarm {

class Variables {
 public:
  // `vars` is a composed `variables:` mapping of scalars (null = "").
  // Errors: undefined variable (file:line of the referencing value, with a
  // did-you-mean) and cycles ("a -> b -> a").
  static Result<Variables> Resolve(const Node& vars);
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

  const std::map<std::string, std::string>& values() const { return values_; }
  // For bases: the layer they resolved (nullptr otherwise).
  const NodePtr& layer() const { return layer_; }
  std::map<std::string, std::string> TakeValues() && { return std::move(values_); }

 private:
  std::map<std::string, std::string> values_;
  // Only for bases: the layer, each variable's value (by layer index) and
  // direct references (layer indices; -1 = not in the layer).
  NodePtr layer_;
  std::vector<const std::string*> by_index_;
  std::vector<std::vector<int>> refs_;
};

// Finds the references of a value in order (for tests and the resolver).
std::vector<std::string> VariableReferences(std::string_view text);

}  // namespace crossfarm
