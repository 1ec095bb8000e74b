// BuildStream compatibility, checked against the real thing: BuildStream 1.6
// from Debian (`bst`, installed by scripts/setup) and `crossfarm show` load the
// same project; they must agree on the resolved variables of every element and
// on the dependency order of every `--deps` scope.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <map>
#include <sstream>

#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {
namespace {

const std::string kProject = std::string(CROSSFARM_SOURCE_DIR) + "/tests/data/projects/autotools";
const std::vector<std::string> kElements = {"base.bst", "base/alpine.bst", "config.bst",
                                            "hello.bst", "system.bst"};

CommandResult Bst(const std::string& args, const TempTree& home) {
  return RunCmd("cd " + kProject + " && XDG_CACHE_HOME=" + home.path().string() +
                "/cache XDG_CONFIG_HOME=" + home.path().string() +
                "/config bst --no-interactive --no-colors " + args + " 2>/dev/null");
}

CommandResult Crossfarm(const std::string& args) {
  return RunCmd(std::string(CROSSFARM_BIN) + " -C " + kProject + " --cache-dir /nonexistent " +
                args + " 2>&1");
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  // bst prints its status lines ("[--:--:--][][] START ...") on stdout too.
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '[') out.push_back(line);
  return out;
}

TEST(BstCompatTest, ResolvedVariablesMatchBuildStream) {
  TempTree home("bst-home");
  for (const auto& element : kElements) {
    auto bst = Bst("show --deps none --format '%{vars}' " + element, home);
    ASSERT_EQ(bst.exit_code, 0) << bst.output;
    std::string yaml;
    for (const auto& line : Lines(bst.output)) yaml += line + "\n";
    YAML::Node bst_vars = YAML::Load(yaml);
    auto ours = Crossfarm("show --deps none --json " + element);
    ASSERT_EQ(ours.exit_code, 0) << ours.output;
    auto json = nlohmann::json::parse(ours.output);
    ASSERT_EQ(json.size(), 1u);
    const auto& our_vars = json[0]["variables"];
    size_t compared = 0;
    for (const auto& kv : bst_vars) {
      std::string name = kv.first.as<std::string>();
      if (name.starts_with("__")) continue;  // bst's internal bookkeeping
      ASSERT_TRUE(our_vars.contains(name)) << element << ": crossfarm lacks %{" << name << "}";
      std::string want = kv.second.IsNull() ? "" : kv.second.as<std::string>();
      EXPECT_EQ(our_vars[name].get<std::string>(), want)
          << element << ": %{" << name << "}";
      ++compared;
    }
    EXPECT_GT(compared, 20u) << element;
  }
}

TEST(BstCompatTest, DependencyOrderMatchesBuildStreamForEveryScope) {
  TempTree home("bst-home");
  for (const char* scope : {"none", "run", "build", "all", "plan"}) {
    auto bst = Bst(std::string("show --deps ") + scope + " --format '%{name}' hello.bst system.bst", home);
    ASSERT_EQ(bst.exit_code, 0) << bst.output;
    auto ours = Crossfarm(std::string("show --deps ") + scope + " --format '%{name}' hello.bst system.bst");
    ASSERT_EQ(ours.exit_code, 0) << ours.output;
    EXPECT_EQ(Lines(ours.output), Lines(bst.output)) << "--deps " << scope;
  }
}

// `show --format '%{vars}'`, '%{config}' and '%{public}' print YAML documents
// that parse to what bst's do (issue 17): one element per command, since the
// fields are multi-line; %{config} before variable substitution, as bst.
std::string Canonical(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: {
      std::map<std::string, std::string> sorted;
      for (const auto& kv : n) sorted[kv.first.as<std::string>()] = Canonical(kv.second);
      std::string out = "{";
      for (const auto& [k, v] : sorted) out += k + ":" + v + ",";
      return out + "}";
    }
    case YAML::NodeType::Sequence: {
      std::string out = "[";
      for (const auto& item : n) out += Canonical(item) + ",";
      return out + "]";
    }
    case YAML::NodeType::Scalar: return "'" + n.Scalar() + "'";
    default: return "''";  // null and empty are the same to a reader
  }
}

YAML::Node ParseShown(const std::string& output) {
  std::string yaml;
  for (const auto& line : Lines(output)) yaml += line + "\n";
  return YAML::Load(yaml);
}

TEST(BstCompatTest, ShowFieldsAreTheYamlBuildStreamPrints) {
  TempTree home("bst-home");
  for (const auto& element : kElements) {
    for (const char* field : {"vars", "config", "public"}) {
      const std::string fmt = std::string(" --format '%{") + field + "}' ";
      auto bst = Bst("show --deps none" + fmt + element, home);
      ASSERT_EQ(bst.exit_code, 0) << bst.output;
      auto ours = Crossfarm("show --deps none" + fmt + element);
      ASSERT_EQ(ours.exit_code, 0) << ours.output;
      YAML::Node want = ParseShown(bst.output), got;
      try {
        got = ParseShown(ours.output);
      } catch (const YAML::Exception& e) {
        FAIL() << element << " %{" << field << "} is not YAML: " << e.what() << "\n" << ours.output;
      }
      if (std::string(field) == "vars") {
        ASSERT_TRUE(want.IsMap()) << bst.output;
        ASSERT_TRUE(got.IsMap()) << ours.output;
        size_t compared = 0;
        for (const auto& kv : want) {
          const std::string name = kv.first.as<std::string>();
          if (name.starts_with("__")) continue;  // bst's bookkeeping
          ASSERT_TRUE(got[name]) << element << " lacks %{" << name << "}";
          EXPECT_EQ(Canonical(got[name]), Canonical(kv.second)) << element << " %{" << name << "}";
          ++compared;
        }
        EXPECT_GT(compared, 20u);
      } else {
        EXPECT_EQ(Canonical(got), Canonical(want)) << element << " %{" << field << "}\nbst:\n"
                                                   << bst.output << "\ncrossfarm:\n" << ours.output;
      }
    }
  }
}

}  // namespace
}  // namespace crossfarm::e2e
