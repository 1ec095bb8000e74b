#include "common/parse_prefetch.h"

#include <gtest/gtest.h>

#include "common/yaml_loader.h"
#include "tests/common/temp_project.h"

namespace crossfarm {
namespace {

using testing::TempProject;

std::string Json(const Node& n) {
  std::string out;
  AppendCanonicalJson(n, out);
  return out;
}

TEST(ParsePrefetcherTest, RequestedFilesParseAsParseYamlFileDoesWithTheirDisplayName) {
  TempProject p;
  for (int i = 0; i < 50; ++i)
    p.Write("e" + std::to_string(i) + ".bst", "kind: manual\nvariables: {n: '" + std::to_string(i) + "'}\n");
  ParsePrefetcher prefetch(2);
  for (int i = 0; i < 50; ++i) {
    std::string f = "e" + std::to_string(i) + ".bst";
    prefetch.Request(p.dir() + "/" + f, "elements/" + f);
  }
  for (int i = 49; i >= 0; --i) {
    std::string f = "e" + std::to_string(i) + ".bst";
    auto got = prefetch.Take(p.dir() + "/" + f, "elements/" + f);
    auto want = ParseYamlFile(p.dir() + "/" + f, "elements/" + f);
    ASSERT_TRUE(got.has_value() && want.has_value());
    EXPECT_EQ(Json(**got), Json(**want));
    EXPECT_EQ((*got)->Get("variables")->Get("n")->Where().ToString(), "elements/" + f + ":2:16");
  }
}

TEST(ParsePrefetcherTest, ErrorsComeBackAsParseYamlFileReturnsThem) {
  TempProject p({{"bad.bst", "kind: [unclosed\n"}, {"ok.bst", "kind: import\n"}});
  ParsePrefetcher prefetch(1);
  prefetch.Request(p.dir() + "/bad.bst", "bad.bst");
  prefetch.Request(p.dir() + "/missing.bst", "missing.bst");
  auto bad = prefetch.Take(p.dir() + "/bad.bst", "bad.bst");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().ToString(), ParseYamlFile(p.dir() + "/bad.bst", "bad.bst").error().ToString());
  auto missing = prefetch.Take(p.dir() + "/missing.bst", "missing.bst");
  ASSERT_FALSE(missing.has_value());
  EXPECT_TRUE(missing.error().IsNotFound());
}

TEST(ParsePrefetcherTest, WithoutHelpersOrRequestsTakeParsesInline) {
  TempProject p({{"a.bst", "kind: import\n"}, {"b.bst", "kind: import\n"}});
  ParsePrefetcher none(0);
  none.Request(p.dir() + "/a.bst", "a.bst");
  auto a = none.Take(p.dir() + "/a.bst", "a.bst");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ((*a)->Get("kind")->scalar, "import");
  ParsePrefetcher helpers(1);
  auto b = helpers.Take(p.dir() + "/a.bst", "a.bst");  // never requested
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ((*b)->Get("kind")->scalar, "import");
}

TEST(ParsePrefetcherTest, DestroyingWithRequestsNeverTakenStopsTheHelpers) {
  TempProject p;
  for (int i = 0; i < 200; ++i) p.Write("e" + std::to_string(i) + ".bst", "kind: manual\n");
  ParsePrefetcher prefetch(2);
  for (int i = 0; i < 200; ++i)
    prefetch.Request(p.dir() + "/e" + std::to_string(i) + ".bst", "e.bst");
  auto first = prefetch.Take(p.dir() + "/e0.bst", "e.bst");
  EXPECT_TRUE(first.has_value());
}  // the destructor joins: a hang or a crash here fails the test

}  // namespace
}  // namespace crossfarm
