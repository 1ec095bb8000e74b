// Option expressions of `(?)` conditionals: the subset of jinja2 expressions
// BuildStream 1.6 projects use (`arch == "aarch64"`, `debug`, `not debug`,
// `(a == "x" and b)`, `"flag" in flagsopt`, `or`, `!=`, `<`, lists).
//
// Grammar (jinja2 precedence):
//   expr := and ('or' and)*         and := not ('and' not)*
//   not  := 'not' not | cmp         cmp := primary (op primary)?
//   op   := == != < > <= >= in 'not in'
//   primary := "str" | 'str' | int | true | false | True | False | none
//            | identifier | '(' expr ')' | '[' expr (',' expr)* ']'
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace crossfarm {

// A value in an expression: options are bool (bool), enum/arch/os (string),
// flags/element-mask (list).
struct ExprValue {
  enum class Type { kNone, kBool, kInt, kString, kList };
  Type type = Type::kNone;
  bool b = false;
  int64_t i = 0;
  std::string s;
  std::vector<std::string> list;

  static ExprValue Bool(bool v);
  static ExprValue String(std::string v);
  static ExprValue List(std::vector<std::string> v);
  bool Truthy() const;
};

// Looks an identifier up; NotFound when it is not an option.
using ExprLookup = std::function<Result<ExprValue>(std::string_view name)>;

// Evaluates `expr` to a boolean (jinja2 truthiness). InvalidArgument with a
// message (no provenance: the caller adds it) on syntax errors or unknown names.
Result<bool> EvaluateOptionExpression(std::string_view expr, const ExprLookup& lookup);

}  // namespace crossfarm
