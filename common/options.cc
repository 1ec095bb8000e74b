#include "common/options.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace crossfarm {
namespace {

const std::vector<std::string_view> kOptionTypes = {"bool",  "enum",         "flags",
                                                    "arch",  "os",           "element-mask"};

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::vector<std::string> SplitFlags(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(item);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// `accel-compiler` -> `accel_compiler`: the name a user most likely meant.
std::string SymbolSuggestion(std::string_view name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out.insert(0, "_");
  return out;
}

}  // namespace

std::string CanonicalArchName(std::string_view name) {
  // bst 1.6 Platform.canonicalize_arch names that our arch table lacks.
  static const std::pair<std::string_view, std::string_view> kBst[] = {
      {"aarch32", "armv7"}, {"arm", "armv7"}, {"armv8l", "aarch64"},
      {"power-isa-le", "ppc64le"}, {"x86-32", "i686"}, {"x86-64", "x86_64"}};
  for (auto [bst, ours] : kBst)
    if (name == bst) return std::string(ours);
  auto r = LookupArch(name);
  return r ? std::string((*r)->name) : std::string();
}

Status OptionPool::Declare(const Node* options, const ArchConfig& arch) {
  if (!options) return Status::Ok();
  for (const auto& [name, node] : options->map) {
    if (!node->IsMapping())
      return UserError(node->Where(), "option '" + name + "' must be a mapping");
    CF_TRY(DeclareOne(name, *node, arch));
  }
  return Status::Ok();
}

Status OptionPool::DeclareOne(const std::string& name, const Node& node, const ArchConfig& arch) {
  OptionDecl o;
  o.name = name;
  o.where = node.Where();
  // bst 1.6 (_yaml.assert_symbol_name): option names are expression symbols,
  // so `a-b` would read as a subtraction in a (?) condition.
  const bool symbol =
      !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
      std::all_of(name.begin(), name.end(),
                  [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
  if (!symbol)
    return UserError(o.where, "invalid symbol name for option name: '" + name + "'",
                     "symbol names contain only letters, digits and underscores and do not "
                     "start with a digit (e.g. '" + SymbolSuggestion(name) + "')");
  CF_ASSIGN_OR_RETURN(o.type, GetString(node, "type", std::nullopt));
  if (std::find(kOptionTypes.begin(), kOptionTypes.end(), o.type) == kOptionTypes.end()) {
    std::string near = DidYouMean(o.type, kOptionTypes);
    return UserError(node.KeyProvenance("type"), "unknown option type '" + o.type + "'",
                     near.empty() ? "use bool, enum, flags, arch, os or element-mask"
                                  : "did you mean '" + near + "'?");
  }
  std::vector<std::string_view> allowed = {"type", "description", "variable"};
  if (o.type != "arch") allowed.push_back("default");
  if (o.type != "bool" && o.type != "element-mask") allowed.push_back("values");
  CF_TRY(ValidateKeys(node, allowed, "option '" + name + "'"));
  CF_ASSIGN_OR_RETURN(o.description, GetString(node, "description", ""));
  CF_ASSIGN_OR_RETURN(o.variable, GetString(node, "variable", ""));
  CF_ASSIGN_OR_RETURN(o.values, GetStringList(node, "values"));
  bool needs_values = o.type == "enum" || o.type == "flags" || o.type == "arch" || o.type == "os";
  if (needs_values && o.values.empty())
    return UserError(o.where, "option '" + name + "' of type " + o.type + " needs 'values'");
  if (o.type == "bool" || o.type == "enum") {
    CF_ASSIGN_OR_RETURN(std::string def, GetString(node, "default", std::nullopt));
    CF_TRY(SetValue(o, def, node.KeyProvenance("default")));
  } else if (o.type == "flags" || o.type == "element-mask") {
    CF_ASSIGN_OR_RETURN(auto def, GetStringList(node, "default"));
    CF_TRY(SetValue(o, Join(def, ","), node.KeyProvenance("default")));
  } else if (o.type == "arch") {
    // bst: uname's machine name, which must be listed. crossfarm: that exact
    // name when listed, else the first value naming the same arch; otherwise
    // the host arch itself, which Validate() rejects unless overridden.
    std::string host(arch.host ? arch.host->name : HostArch().name);
    std::string def = host;
    if (std::find(o.values.begin(), o.values.end(), host) == o.values.end())
      for (const auto& v : o.values)
        if (CanonicalArchName(v) == host) {
          def = v;
          break;
        }
    o.value = ExprValue::String(def);
  } else {  // os
    CF_ASSIGN_OR_RETURN(std::string def, GetString(node, "default", "Linux"));
    o.value = ExprValue::String(def);
  }
  options_[name] = std::move(o);
  return Status::Ok();
}

Status OptionPool::SetValue(OptionDecl& o, const std::string& text, const Provenance& where) {
  if (o.type == "bool") {
    if (text == "True" || text == "true" || text == "1") o.value = ExprValue::Bool(true);
    else if (text == "False" || text == "false" || text == "0") o.value = ExprValue::Bool(false);
    else
      return UserError(where, "invalid value '" + text + "' for bool option '" + o.name + "'",
                       "use one of True, False, true, false, 1, 0");
    return Status::Ok();
  }
  if (o.type == "flags" || o.type == "element-mask") {
    o.value = ExprValue::List(SplitFlags(text));
  } else {
    o.value = ExprValue::String(text);
  }
  if (o.type == "element-mask") return Status::Ok();
  std::vector<std::string> check =
      o.value.type == ExprValue::Type::kList ? o.value.list : std::vector<std::string>{o.value.s};
  for (const auto& v : check) {
    bool ok = std::find(o.values.begin(), o.values.end(), v) != o.values.end();
    if (!ok && o.type == "arch") {
      // Any spelling of a listed arch is accepted (aarch64 for arm64).
      for (const auto& listed : o.values)
        if (!CanonicalArchName(v).empty() && CanonicalArchName(listed) == CanonicalArchName(v)) {
          o.value = ExprValue::String(listed);
          ok = true;
        }
    }
    if (!ok)
      return UserError(where, "invalid value '" + v + "' for " + o.type + " option '" + o.name +
                                  "'",
                       "valid values are: " + Join(o.values, ", "));
  }
  return Status::Ok();
}

Status OptionPool::ApplyOverrides(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  for (const auto& [name, value] : overrides) {
    auto it = options_.find(name);
    if (it == options_.end()) {
      std::vector<std::string_view> names;
      for (const auto& [n, _] : options_) names.push_back(n);
      std::string near = DidYouMean(name, names);
      std::string hint = near.empty() ? "the project declares: " + Join({names.begin(), names.end()}, ", ")
                                      : "did you mean '" + near + "'?";
      if (names.empty()) hint = "the project declares no options";
      return UserError(Provenance{}, "unknown option '" + name + "' specified with -o", hint);
    }
    CF_TRY(SetValue(it->second, value, Provenance{}));
  }
  memo_.clear();
  return Status::Ok();
}

Status OptionPool::Validate() const {
  for (const auto& [name, o] : options_) {
    if (o.type != "arch" && o.type != "os") continue;
    if (std::find(o.values.begin(), o.values.end(), o.value.s) == o.values.end())
      return UserError(o.where, "value '" + o.value.s + "' of " + o.type + " option '" + name +
                                    "' is not one of its values",
                       "set it with -o " + name + " VALUE, one of: " + Join(o.values, ", "));
  }
  return Status::Ok();
}

Result<bool> OptionPool::Evaluate(const std::string& expr) {
  auto hit = memo_.find(expr);
  if (hit != memo_.end()) return hit->second;
  auto lookup = [this](std::string_view name) -> Result<ExprValue> {
    auto it = options_.find(std::string(name));
    if (it != options_.end()) return it->second.value;
    std::vector<std::string_view> names;
    for (const auto& [n, _] : options_) names.push_back(n);
    std::string near = DidYouMean(name, names);
    return Err(Status::InvalidArgument("unknown option '" + std::string(name) + "'" +
                                       (near.empty() ? "" : " (did you mean '" + near + "'?)")));
  };
  CF_ASSIGN_OR_RETURN(bool v, EvaluateOptionExpression(expr, lookup));
  memo_[expr] = v;
  return v;
}

std::string OptionPool::ValueText(const OptionDecl& o) {
  if (o.value.type == ExprValue::Type::kBool) return o.value.b ? "1" : "0";
  if (o.value.type == ExprValue::Type::kList) return Join(o.value.list, ",");
  return o.value.s;
}

void OptionPool::ExportVariables(Node& variables) const {
  for (const auto& [name, o] : options_)
    if (!o.variable.empty()) variables.Set(o.variable, Node::MakeScalar(ValueText(o)));
}

}  // namespace crossfarm
