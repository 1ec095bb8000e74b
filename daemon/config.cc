#include "daemon/config.h"

#include <charconv>
#include <filesystem>

#include "common/path_flags.h"
#include "common/provenance.h"
#include "common/yaml_loader.h"

namespace crossfarm::daemon {

namespace fs = std::filesystem;

const std::string& Settings::Str(const std::string& name) const {
  static const std::string kEmpty;
  auto it = values_.find(name);
  return it == values_.end() ? kEmpty : it->second;
}

int64_t Settings::Int(const std::string& name) const {
  int64_t v = 0;
  const std::string& s = Str(name);
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

bool Settings::Bool(const std::string& name) const { return Str(name) == "true"; }

std::vector<std::string> Settings::List(const std::string& name) const {
  std::vector<std::string> out;
  const std::string& s = Str(name);
  for (size_t start = 0; start < s.size();) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::string Settings::Where(const std::string& name) const {
  auto it = where_.find(name);
  return it == where_.end() ? "default" : it->second;
}

std::vector<std::string> Settings::ChangedFrom(const Settings& other) const {
  std::vector<std::string> out;
  auto names = values_;
  names.insert(other.values_.begin(), other.values_.end());
  for (const auto& [name, unused] : names)
    if (Str(name) != other.Str(name) || Has(name) != other.Has(name)) out.push_back(name);
  return out;
}

// Builds a Settings; a class so it may write Settings' private members.
class SettingsLoader {
 public:
  explicit SettingsLoader(const LoadRequest& r) : r_(r) {}

  Result<Settings> Load() {
    for (const auto& o : *r_.options)
      if (!o.default_value.empty()) s_.values_[o.name] = o.default_value;
    CF_TRY(LoadFile());
    for (const auto& [name, value] : r_.flags) CF_TRY(SetFlag(Find(name), value));
    for (const auto& o : *r_.options)
      if (o.required && !s_.Has(o.name))
        return Err(Status::InvalidArgument(
            "--" + o.name + " is required: give the flag, or `" + o.name + ":` in the config file" +
            (r_.config_path.empty() ? "" : " (" + r_.config_path + ")")));
    return std::move(s_);
  }

 private:
  const OptionSpec& Find(const std::string& name) const {
    for (const auto& o : *r_.options)
      if (o.name == name) return o;
    std::abort();  // flags come from the same table: a bug
  }

  Status LoadFile() {
    if (r_.config_path.empty()) return Status::Ok();
    std::error_code ec;
    if (!fs::exists(r_.config_path, ec)) {
      if (!r_.config_required) return Status::Ok();
      return Status::InvalidArgument("--config " + r_.config_path + ": no such file\n  hint: give the path of "
                                     "an existing YAML config file, or leave --config out");
    }
    CF_ASSIGN_OR_RETURN(std::string path, AbsolutePathFlag("--config", r_.config_path));
    auto root = ParseYamlFile(path, path);
    if (!root) return root.error().WithContext("config file");
    s_.config_file_ = path;
    const Node& map = **root;
    if (!map.IsMapping())
      return UserError(map.Where(), "a config file is a mapping of option: value",
                       "write one `option: value` per line, e.g. `listen: tcp://0.0.0.0:7070`");
    std::vector<std::string_view> names;
    for (const auto& o : *r_.options) names.push_back(o.name);
    CF_TRY(ValidateKeys(map, names, "the config file (keys are the options without --)"));
    fs::path base = fs::path(path).parent_path();
    for (const auto& [key, value] : map.map) CF_TRY(SetKey(Find(key), *value, base));
    return Status::Ok();
  }

  // A config value: type-checked at its own line; paths from the file's directory.
  Status SetKey(const OptionSpec& o, const Node& value, const fs::path& base) {
    std::string text;
    if (o.kind == OptionKind::kList && value.IsSequence()) {
      for (const auto& item : value.items) {
        if (!item->IsScalar() || item->scalar.find(',') != std::string::npos)
          return UserError(item->Where(), "'" + o.name + "' items must be plain strings",
                           "one address per item: `- 10.0.0.5`");
        text += (text.empty() ? "" : ",") + item->scalar;
      }
    } else if (!value.IsScalar()) {
      return UserError(value.Where(), "'" + o.name + "' must be a single value, not a " +
                                          std::string(KindName(value.kind)),
                       o.kind == OptionKind::kList ? "give a list of strings" : o.help);
    } else {
      text = value.scalar;
    }
    if (IsPath(o, text) && !text.empty() && fs::path(text).is_relative())
      text = (base / text).lexically_normal().string();
    std::string where = value.Where().ToString();
    if (Status s = Check(o, text); !s.ok()) return UserError(value.Where(), s.message(), o.help);
    s_.values_[o.name] = Normal(o, text);
    s_.where_[o.name] = where;
    return Status::Ok();
  }

  Status SetFlag(const OptionSpec& o, std::string text) {
    if (IsPath(o, text)) {
      CF_ASSIGN_OR_RETURN(text, AbsolutePathFlag("--" + o.name, text));
    }
    if (Status s = Check(o, text); !s.ok()) return Status::InvalidArgument("--" + o.name + ": " + s.message());
    s_.values_[o.name] = Normal(o, text);
    s_.where_[o.name] = "--" + o.name;
    return Status::Ok();
  }

  static bool IsPath(const OptionSpec& o, const std::string& text) {
    return o.kind == OptionKind::kPath ||
           (o.kind == OptionKind::kUrlOrPath && text.find("://") == std::string::npos);
  }

  static Status Check(const OptionSpec& o, const std::string& text) {
    if (o.kind == OptionKind::kInt) {
      int64_t v = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size() || v < o.min || v > o.max)
        return Status::InvalidArgument("'" + o.name + "' must be an integer from " + std::to_string(o.min) +
                                       " to " + std::to_string(o.max) + ", not '" + text + "'");
    }
    if (o.kind == OptionKind::kBool && !BoolOf(text))
      return Status::InvalidArgument("'" + o.name + "' must be true or false, not '" + text + "'");
    return Status::Ok();
  }

  static std::optional<bool> BoolOf(const std::string& t) {
    if (t == "true" || t == "True" || t == "yes" || t == "1") return true;
    if (t == "false" || t == "False" || t == "no" || t == "0") return false;
    return std::nullopt;
  }

  static std::string Normal(const OptionSpec& o, const std::string& text) {
    if (o.kind == OptionKind::kBool) return *BoolOf(text) ? "true" : "false";
    return text;
  }

  const LoadRequest& r_;
  Settings s_;
};

Result<Settings> LoadSettings(const LoadRequest& request) { return SettingsLoader(request).Load(); }

}  // namespace crossfarm::daemon
