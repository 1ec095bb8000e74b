// The embedded plugin YAML against the installed BuildStream 1.6's own files
// (Debian's python3-buildstream, installed by scripts/setup).
#include <gtest/gtest.h>

#include <filesystem>

#include "common/element_plugin_yaml.h"
#include "common/kind_defaults.h"
#include "common/yaml_loader.h"

namespace crossfarm {
namespace {

const std::string kBstElements = "/usr/lib/python3/dist-packages/buildstream/plugins/elements/";

std::string Canonical(const Result<NodePtr>& n) {
  if (!n) return "ERROR: " + n.error().ToString();
  std::string out;
  AppendCanonicalJson(**n, out);
  return out;
}

TEST(KindDefaultsTest, EveryPluginYamlOfBstIsEmbeddedAndEqual) {
  int compared = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kBstElements)) {
    if (entry.path().extension() != ".yaml") continue;
    std::string kind = entry.path().stem().string();
    EXPECT_EQ(ElementKindSupport(kind), KindSupport::kSupported) << kind;
    std::string_view ours = ElementPluginYaml(kind);
    ASSERT_FALSE(ours.empty()) << kind << ".yaml is not embedded";
    EXPECT_EQ(Canonical(ParseYamlString(ours, kind)),
              Canonical(ParseYamlFile(entry.path().string(), kind)))
        << kind;
    ++compared;
  }
  EXPECT_GE(compared, 14);
}

TEST(KindDefaultsTest, BuildElementKindsAreTheOnesWithCommandPhases) {
  for (std::string_view kind : KnownElementKinds()) {
    auto yaml = ParseYamlString(ElementKindDefaultsYaml(kind), std::string(kind));
    ASSERT_TRUE(yaml.has_value()) << kind;
    NodePtr config = (*yaml)->Get("config");
    bool phases = config && config->Has("install-commands");
    EXPECT_EQ(IsBuildElementKind(kind), phases) << kind;
  }
}

}  // namespace
}  // namespace crossfarm
