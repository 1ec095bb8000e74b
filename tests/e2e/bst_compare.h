// Loads one project with BuildStream 1.6 (`bst show`) and with `crossfarm
// show --json`, under the same `-o` options, and compares what each resolves
// for every element: variables, environment, config and public data.
//
// bst prints `config` and `public` before variable substitution (its plugins
// substitute later), so the comparison substitutes bst's own resolved
// variables into them first. crossfarm may have variables bst lacks only
// where docs/element-format.md says so (its arch variables).
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {

struct ShownElement {
  std::string key;  // bst: its short cache key; crossfarm: "" (keys differ by design)
  nlohmann::json vars, env, config, public_data, sources;
};
using Shown = std::map<std::string, ShownElement>;

inline std::string ProjectDir(const std::string& name) {
  return std::string(CROSSFARM_SOURCE_DIR) + "/tests/data/projects/" + name;
}

inline std::string JoinArgs(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += " '" + s + "'";
  return out;
}

// `-o NAME VALUE` for each pair.
inline std::string OptionArgs(const std::vector<std::pair<std::string, std::string>>& options) {
  std::string out;
  for (const auto& [k, v] : options) out += " -o " + k + " " + v;
  return out;
}

// A YAML tree as JSON with every scalar a string (as the loader sees them).
inline nlohmann::json YamlJson(const YAML::Node& n) {
  if (!n || n.IsNull()) return nullptr;
  if (n.IsScalar()) return n.as<std::string>();
  nlohmann::json out = n.IsSequence() ? nlohmann::json::array() : nlohmann::json::object();
  for (const auto& it : n) {
    if (n.IsSequence()) out.push_back(YamlJson(it));
    else out[it.first.as<std::string>()] = YamlJson(it.second);
  }
  return out;
}

// One pass of %{name} -> value: bst's variable values are already resolved.
inline nlohmann::json Substitute(const nlohmann::json& j, const nlohmann::json& vars) {
  if (j.is_array() || j.is_object()) {
    nlohmann::json out = j;
    for (auto& [k, v] : out.items()) v = Substitute(v, vars);
    return out;
  }
  if (!j.is_string()) return j;
  std::string s = j.get<std::string>(), out;
  for (size_t pos = 0;;) {
    size_t start = s.find("%{", pos), end = start == std::string::npos ? start : s.find('}', start);
    std::string name = end == std::string::npos ? "" : s.substr(start + 2, end - start - 2);
    if (name.empty() || !vars.contains(name)) {
      out += s.substr(pos, start == std::string::npos ? start : start + 2 - pos);
      if (start == std::string::npos) return out;
      pos = start + 2;
      continue;
    }
    out += s.substr(pos, start - pos) + vars[name].get<std::string>();
    pos = end + 1;
  }
}

// bst prints its status lines ("[--:--:--][][] START ...") on stdout too.
inline bool IsBstStatusLine(const std::string& line) {
  return line.size() > 1 && line[0] == '[' && (line[1] == '-' || std::isdigit(line[1]));
}

inline Shown ParseBstSections(const std::string& output) {
  Shown out;
  std::string element, section, text;
  auto flush = [&] {
    if (element.empty() || section == "end") return text.clear();
    ShownElement& e = out[element];
    YAML::Node y = YAML::Load(text);
    if (section == "key") e.key = y.as<std::string>();
    if (section == "vars") e.vars = YamlJson(y);
    if (section == "env") e.env = YamlJson(y);
    if (section == "config") e.config = YamlJson(y);
    if (section == "public") e.public_data = YamlJson(y);
    text.clear();
  };
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    if (IsBstStatusLine(line)) continue;
    if (line.starts_with("@@@% ")) {
      flush();
      std::istringstream words(line.substr(5));
      section.clear();
      element.clear();
      words >> section >> element;
      continue;
    }
    text += line + "\n";
  }
  flush();
  for (auto& [name, e] : out) {
    e.config = Substitute(e.config, e.vars);
    e.public_data = Substitute(e.public_data, e.vars);
  }
  return out;
}

// bst show of `elements` (each shown alone: --deps none).
inline Shown ShowWithBst(const std::string& project, const std::vector<std::string>& elements,
                         const std::vector<std::pair<std::string, std::string>>& options) {
  TempTree home("bst-home");
  // bst fills in one field after the other and each with str.format() on the
  // text from its %{ to the next '%': the '%' of each marker keeps a field's
  // text clear of the braces in the ones before.
  const std::string format =
      "@@@% key %{name}\n%{key}\n@@@% vars %{name}\n%{vars}\n@@@% env %{name}\n%{env}\n"
      "@@@% config %{name}\n%{config}\n@@@% public %{name}\n%{public}\n@@@% end";
  std::string h = home.path().string();
  auto r = RunCmd("cd " + ProjectDir(project) + " && XDG_CACHE_HOME=" + h + "/cache XDG_CONFIG_HOME=" +
                  h + "/config bst --no-interactive --no-colors" + OptionArgs(options) +
                  " show --deps none --format '" + format + "'" + JoinArgs(elements));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.exit_code == 0 ? ParseBstSections(r.output) : Shown{};
}

inline Shown ShowWithCrossfarm(const std::string& project, const std::vector<std::string>& elements,
                               const std::vector<std::pair<std::string, std::string>>& options) {
  auto r = RunCmd(std::string(CROSSFARM_BIN) + " -C " + ProjectDir(project) +
                  " --cache-dir /nonexistent" + OptionArgs(options) + " show --deps none --json" +
                  JoinArgs(elements));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  Shown out;
  if (r.exit_code != 0) return out;
  for (const auto& j : nlohmann::json::parse(r.output)) {
    ShownElement& e = out[j["name"].get<std::string>()];
    e.vars = j["variables"];
    e.env = j["environment"];
    e.config = j["config"];
    e.public_data = j["public"];
    e.sources = j["sources"];
  }
  return out;
}

// crossfarm's own variables (docs/element-format.md), absent from bst.
inline bool IsCrossfarmArchVariable(const std::string& name) {
  for (const char* role : {"host-", "target-", "build-"})
    for (const char* what : {"arch", "triplet", "debian-arch"})
      if (name == std::string(role) + what) return true;
  return false;
}

// Every variable, environment variable, config and public key bst resolves,
// crossfarm resolves to the same value; `what` names the case in failures.
inline void ExpectSameAsBst(const Shown& bst, const Shown& ours, const std::string& what) {
  ASSERT_FALSE(bst.empty()) << what;
  for (const auto& [name, b] : bst) {
    auto it = ours.find(name);
    ASSERT_NE(it, ours.end()) << what << ": crossfarm did not show " << name;
    const ShownElement& o = it->second;
    for (const auto& [k, v] : b.vars.items()) {
      if (k.starts_with("__")) continue;  // bst's internal bookkeeping
      EXPECT_TRUE(o.vars.contains(k)) << what << " " << name << ": crossfarm lacks %{" << k << "}";
      if (o.vars.contains(k)) {
        EXPECT_EQ(o.vars[k], v.is_null() ? nlohmann::json("") : v)
            << what << " " << name << ": %{" << k << "}";
      }
    }
    for (const auto& [k, v] : o.vars.items())
      EXPECT_TRUE(b.vars.contains(k) || IsCrossfarmArchVariable(k))
          << what << " " << name << ": crossfarm has %{" << k << "} = " << v << ", bst has none";
    EXPECT_EQ(o.env, b.env) << what << " " << name << ": environment";
    EXPECT_EQ(o.config, b.config) << what << " " << name << ": config";
    EXPECT_EQ(o.public_data, b.public_data) << what << " " << name << ": public";
  }
}

}  // namespace crossfarm::e2e
