#include <gtest/gtest.h>

#include <cstdio>

#include "common/node.h"
#include "common/yaml_loader.h"

namespace crossfarm {
namespace {

NodePtr Parse(const std::string& text) {
  auto r = ParseYamlString(text, "t.yaml");
  EXPECT_TRUE(r.has_value()) << r.error().ToString();
  return r.has_value() ? *r : Node::MakeMapping();
}

std::string Json(const Node& n) {
  std::string out;
  AppendCanonicalJson(n, out);
  return out;
}

TEST(YamlLoaderTest, NodesRememberFileLineAndColumn) {
  NodePtr n = Parse("a: 1\nb:\n  c: [x, y]\n");
  EXPECT_EQ(n->Get("b")->Get("c")->items[1]->Where().ToString(), "t.yaml:3:10");
  EXPECT_EQ(n->KeyProvenance("b").ToString(), "t.yaml:2:1");
}

TEST(YamlLoaderTest, EmptyDocumentIsAnEmptyMapping) {
  NodePtr n = Parse("# only a comment\n");
  EXPECT_TRUE(n->IsMapping());
  EXPECT_TRUE(n->map.empty());
}

TEST(YamlLoaderTest, MalformedYamlNamesFileLineColumnWithoutExceptionText) {
  const std::pair<const char*, const char*> cases[] = {
      {"a: [1, 2\n", "t.yaml:2:1: invalid YAML"},
      {"a: b\n c: d\n", "t.yaml:2:3: invalid YAML"},
      {"a: b: c\n", "t.yaml:1:"},
  };
  for (auto [text, prefix] : cases) {
    auto r = ParseYamlString(text, "t.yaml");
    ASSERT_FALSE(r.has_value()) << text;
    EXPECT_TRUE(r.error().message().starts_with(prefix)) << r.error().message();
    EXPECT_EQ(r.error().message().find("yaml-cpp"), std::string::npos);
  }
}

TEST(YamlLoaderTest, TopLevelListIsRejected) {
  auto r = ParseYamlString("- a\n- b\n", "t.yaml");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("must be a mapping"), std::string::npos);
}

TEST(YamlLoaderTest, MissingFileIsNotFound) {
  auto r = ParseYamlFile("/nonexistent/x.bst", "x.bst");
  ASSERT_FALSE(r.has_value());
  EXPECT_TRUE(r.error().IsNotFound());
}

TEST(NodeTest, CanonicalJsonSortsKeysAndKeepsListOrder) {
  EXPECT_EQ(Json(*Parse("b: 1\na: [z, y]\nc: {e: '', d: ~}\n")),
            R"({"a":["z","y"],"b":"1","c":{"d":null,"e":""}})");
  EXPECT_EQ(Json(*Parse("s: \"q\\\"\\n\\t\"\n")), R"({"s":"q\"\n\t"})");
}

TEST(NodeTest, JsonStringEscapingMatchesAByteByByteReference) {
  auto reference = [](std::string_view in) {
    std::string out = "\"";
    for (char ch : in) {
      auto c = static_cast<unsigned char>(ch);
      if (c == '"') out += "\\\"";
      else if (c == '\\') out += "\\\\";
      else if (c == '\n') out += "\\n";
      else if (c == '\t') out += "\\t";
      else if (c == '\r') out += "\\r";
      else if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out += buf;
      } else {
        out += ch;
      }
    }
    return out + "\"";
  };
  // Every position of an escapable byte within and across 8-byte blocks.
  const std::string specials = std::string("\"\\\n\t\r\x01\x1f", 7) + "\x7f\xc3\xa9 ~";
  for (size_t len = 0; len < 20; ++len)
    for (size_t pos = 0; pos < len; ++pos)
      for (char sp : specials) {
        std::string s(len, 'a');
        s[pos] = sp;
        std::string got;
        AppendJsonString(s, got);
        ASSERT_EQ(got, reference(s)) << len << " " << pos << " " << int(sp);
      }
}

TEST(NodeTest, CanonicalJsonIgnoresKeyOrder) {
  EXPECT_EQ(Json(*Parse("x: 1\ny: {a: 1, b: 2}\n")), Json(*Parse("y: {b: 2, a: 1}\nx: 1\n")));
}

TEST(NodeTest, EditDistanceCountsEdits) {
  EXPECT_EQ(EditDistance("kind", "kind"), 0);
  EXPECT_EQ(EditDistance("knid", "kind"), 2);
  EXPECT_EQ(EditDistance("dependss", "depends"), 1);
  EXPECT_EQ(EditDistance("", "abc"), 3);
}

TEST(NodeTest, DidYouMeanPicksTheClosestCandidateOrNothing) {
  std::vector<std::string_view> keys = {"kind", "depends", "variables", "sources"};
  EXPECT_EQ(DidYouMean("dependes", keys), "depends");
  EXPECT_EQ(DidYouMean("varaibles", keys), "variables");
  EXPECT_EQ(DidYouMean("completely-different", keys), "");
}

TEST(NodeTest, ValidateKeysReportsUnknownKeyWithSuggestionAndPosition) {
  NodePtr n = Parse("kind: manual\ndependz: []\n");
  Status s = ValidateKeys(*n, {"kind", "depends"}, "element");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "t.yaml:2:1: unknown key 'dependz' in element\n  hint: did you mean 'depends'?");
}

TEST(NodeTest, CloneIsDeep) {
  NodePtr n = Parse("a: {b: [1]}\n");
  NodePtr c = n->Clone();
  c->Get("a")->Get("b")->items[0]->scalar = "2";
  EXPECT_EQ(n->Get("a")->Get("b")->items[0]->scalar, "1");
}

TEST(NodeTest, ToYamlRoundTripsStructure) {
  YAML::Node y = ToYaml(*Parse("cmds: [a, b]\nm: {k: v}\n"));
  EXPECT_EQ(y["cmds"][1].as<std::string>(), "b");
  EXPECT_EQ(y["m"]["k"].as<std::string>(), "v");
}

}  // namespace
}  // namespace crossfarm
