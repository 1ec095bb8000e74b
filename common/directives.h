// BuildStream's YAML directives (format_directives, bst 1.6 semantics):
//
// Composite(target, source): `source` is layered onto `target`. Mappings merge
//   recursively, scalars and plain lists replace, and a list-composition mapping
//   ({(<): [...], (>): [...], (=): [...]}) prepends/appends/replaces the target
//   list. When the target has no list yet, the directive is kept and applied by
//   a later layer; one left at the end is an error (FinalAssertions).
// ProcessIncludes: `(@): file | [files]`, paths relative to the project
//   directory; the including mapping wins over included content, later includes
//   over earlier ones. Include cycles are errors naming the chain.
// ProcessConditionals: `(?)` lists of {expression: mapping} composed onto their
//   mapping when the expression holds; `(!)` assertions fail with their text.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/node.h"
#include "common/status.h"

namespace crossfarm {

Status Composite(Node& target, const Node& source);
// Errors for list directives (or `(?)`/`(@)`) that never met their list.
Status FinalAssertions(const Node& node);
bool IsListDirective(const Node& node);

// Returns a fresh (caller-owned) copy of the parsed include file, whose path is
// relative to the project directory. `where` is the `(@)` key for errors.
using IncludeLoader = std::function<Result<NodePtr>(const std::string& path,
                                                    const Provenance& where)>;
// `chain` holds the files being included (the including file first).
Status ProcessIncludes(Node& node, const IncludeLoader& load, std::vector<std::string>& chain);

// Evaluates an option expression (OptionPool::Evaluate).
using ConditionEvaluator = std::function<Result<bool>(const std::string& expr)>;
Status ProcessConditionals(Node& node, const ConditionEvaluator& eval);

}  // namespace crossfarm
