// Project options (BuildStream 1.6 format_project "Options"): declaration from
// project.conf `options:`, command line overrides (`-o NAME VALUE`), validation,
// evaluation of `(?)` expressions and export to variables (`variable:`).
//
// Types: bool, enum, flags, arch, os, element-mask. An arch option defaults to
// the value naming the configured host arch (--arch), as bst defaults it to the
// host machine; bst's names (x86-64, x86-32, aarch32, power-isa-le) and
// crossfarm's (x86_64, arm64, ...) are both recognised.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/arch.h"
#include "common/node.h"
#include "common/option_expr.h"
#include "common/status.h"

namespace crossfarm {

struct OptionDecl {
  std::string name;
  std::string type;  // bool | enum | flags | arch | os | element-mask
  std::string description;
  std::string variable;             // exported variable name or ""
  std::vector<std::string> values;  // enum/flags/arch/os
  ExprValue value;                  // current value
  Provenance where;
};

// Canonical crossfarm arch name for a bst or crossfarm arch name, or "".
std::string CanonicalArchName(std::string_view name);

class OptionPool {
 public:
  // Declares every option of an `options:` mapping (may be null). The arch
  // option default comes from `arch.host`.
  Status Declare(const Node* options, const ArchConfig& arch);
  // Applies command line values; unknown names and invalid values fail with a
  // hint listing what is valid.
  Status ApplyOverrides(const std::vector<std::pair<std::string, std::string>>& overrides);
  // Checks every value is one of the declared values.
  Status Validate() const;

  // Evaluates an expression; results are memoised by expression text.
  Result<bool> Evaluate(const std::string& expr);
  // Adds `variable:` exports to a `variables` mapping node.
  void ExportVariables(Node& variables) const;

  const std::map<std::string, OptionDecl>& options() const { return options_; }
  // String form of a value: bool "1"/"0" (as bst exports), flags joined by ",".
  static std::string ValueText(const OptionDecl& option);

 private:
  Status DeclareOne(const std::string& name, const Node& node, const ArchConfig& arch);
  Status SetValue(OptionDecl& option, const std::string& text, const Provenance& where);

  std::map<std::string, OptionDecl> options_;
  std::map<std::string, bool> memo_;
};

}  // namespace crossfarm
