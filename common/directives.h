// BuildStream's YAML directives (format_directives, bst 1.6 semantics):
//
// Composite(target, source): `source` is layered onto `target`. Mappings merge
//   recursively, scalars and plain lists replace, and a list-composition mapping
//   ({(<): [...], (>): [...], (=): [...]}) prepends/appends/replaces the target
//   list. When the target has no list yet, the directive is kept and applied by
//   a later layer; one left at the end is an error (FinalAssertions).
//   `(?)` lists are the exception: a later layer's list is appended to the
//   earlier one's, so that both apply.
// ProcessIncludes: `(@): file | [files]`, paths relative to the project
//   directory; the including mapping wins over included content, later includes
//   over earlier ones. Include cycles are errors naming the chain.
// ProcessConditionals: `(?)` lists of {expression: mapping} composed onto their
//   mapping when the expression holds; `(!)` assertions fail with their text.
//
// bst 1.6 orders the two differently for project.conf and for elements:
// - project.conf: every include is composed first (conditionals untouched, so
//   their `(?)` lists accumulate), then the conditionals of the whole result
//   are applied: ProcessIncludes without an evaluator, then ProcessConditionals.
// - elements: the element's conditionals first, then its includes, each
//   included file having its own conditionals applied before its own includes
//   and before it is composed under the including mapping:
//   ProcessConditionals, then ProcessIncludes with the evaluator.
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
// Evaluates an option expression (OptionPool::Evaluate).
using ConditionEvaluator = std::function<Result<bool>(const std::string& expr)>;

// `chain` holds the files being included (the including file first). With
// `eval`, each included file's conditionals are applied when it is loaded
// (the element order above).
Status ProcessIncludes(Node& node, const IncludeLoader& load, std::vector<std::string>& chain,
                       const ConditionEvaluator* eval = nullptr);
Status ProcessConditionals(Node& node, const ConditionEvaluator& eval);

}  // namespace crossfarm
