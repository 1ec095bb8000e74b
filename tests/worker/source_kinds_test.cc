// The loader's list of source kinds (common/, no worker dependency) and the
// worker's factory table must name the same kinds: a kind the loader accepts
// without a factory would load and then fail at fetch.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/kind_defaults.h"
#include "tests/worker/source_test_util.h"

namespace crossfarm::worker {
namespace {

std::vector<std::string> Sorted(const std::vector<std::string_view>& kinds) {
  std::vector<std::string> out(kinds.begin(), kinds.end());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(SourceKindsTest, LoaderAndFactoryTableAgree) {
  EXPECT_EQ(Sorted(crossfarm::KnownSourceKinds()), Sorted(SourceKinds()));
}

TEST(SourceKindsTest, EveryLoaderKindHasAFactory) {
  const SourceContext ctx;
  for (std::string_view kind : crossfarm::KnownSourceKinds()) {
    EXPECT_TRUE(IsKnownSourceKind(kind));
    // An empty config fails for every kind, but on its keys, not on the kind.
    const YAML::Node config = YAML::Load("{kind: " + std::string(kind) + "}");
    auto made = MakeSource(std::string(kind), config, testing::TestWhere(), ctx);
    if (!made) {
      EXPECT_EQ(made.error().message().find("unknown source kind"), std::string::npos)
          << kind << ": " << made.error().message();
    }
  }
}

TEST(SourceKindsTest, UnknownKindListsTheKnownOnes) {
  const YAML::Node config = YAML::Load("{kind: nope}");
  auto made = MakeSource("nope", config, testing::TestWhere(), SourceContext{});
  ASSERT_FALSE(made.has_value());
  for (std::string_view kind : SourceKinds()) {
    EXPECT_NE(made.error().ToString().find(std::string(kind)), std::string::npos) << kind;
  }
}

}  // namespace
}  // namespace crossfarm::worker
