#include <gtest/gtest.h>

#include "common/variables.h"
#include "common/yaml_loader.h"

namespace crossfarm {
namespace {

std::string Resolve(const std::string& yaml, const std::string& var) {
  auto n = ParseYamlString(yaml, "v.yaml");
  EXPECT_TRUE(n.has_value());
  auto v = Variables::Resolve(**n);
  if (!v) return "ERROR: " + v.error().message();
  return v->values().at(var);
}

TEST(VariablesTest, TableOfResolutions) {
  const std::tuple<const char*, const char*, const char*> cases[] = {
      {"a: x", "a", "x"},
      {"a: '%{b}/c'\nb: '%{d}'\nd: /usr", "a", "/usr/c"},
      {"a: '%{b}%{b}'\nb: z", "a", "zz"},
      {"a: '100%'\n", "a", "100%"},
      {"a: '%{'\n", "a", "%{"},
      {"a: '%{ b}'\nb: x", "a", "%{ b}"},
      {"a: '%%{b}'\nb: x", "a", "%x"},
      {"a: '%{b-c_d}'\nb-c_d: ok", "a", "ok"},
      {"a: '${SHELL_VAR} %{b}'\nb: x", "a", "${SHELL_VAR} x"},
      {"a:\n", "a", ""},
      {"a: '%{nope}'\nnape: 1", "a",
       "ERROR: v.yaml:1:4: reference to undefined variable 'nope' in variable 'a'\n  hint: did "
       "you mean 'nape'?"},
      {"a: '%{b}'\nb: '%{c}'\nc: '%{a}'", "a",
       "ERROR: v.yaml:1:4: circular variable reference: a -> b -> c -> a\n  hint: one of these "
       "variables must not refer back to the others"},
      {"x: '%{b}'\na: '%{b}'\nb: '%{b}'", "a",
       "ERROR: v.yaml:3:4: circular variable reference: b -> b\n  hint: one of these variables "
       "must not refer back to the others"},
      {"a: [1]", "a", "ERROR: v.yaml:1:4: variable 'a' must be a string, not a list"},
  };
  for (auto [yaml, var, want] : cases) EXPECT_EQ(Resolve(yaml, var), want) << yaml;
}

TEST(VariablesTest, UnusedUndefinedReferenceIsStillAnError) {
  EXPECT_EQ(Resolve("a: x\nunused: '%{missing}'\n", "a").substr(0, 50),
            "ERROR: v.yaml:2:9: reference to undefined variable");
}

TEST(VariablesTest, SubstReportsTheReferencingPlace) {
  auto n = ParseYamlString("prefix: /usr\n", "v.yaml");
  auto v = Variables::Resolve(**n);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v->Subst("%{prefix}/bin", {}), "/usr/bin");
  auto bad = v->Subst("%{prefx}", Provenance{"e.bst", 7, 3});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message(),
            "e.bst:7:3: reference to undefined variable 'prefx'\n  hint: did you mean 'prefix'?");
}

TEST(VariablesTest, ReferencesAreFoundInOrder) {
  EXPECT_EQ(VariableReferences("%{a} %{b-c} %{ d} %{e}"),
            (std::vector<std::string>{"a", "b-c", "e"}));
}

}  // namespace
}  // namespace crossfarm

namespace crossfarm {
namespace {

VariableMap Overlay(VariableMap::Map base, VariableMap::Map own) {
  return VariableMap(std::make_shared<const VariableMap::Map>(std::move(base)), std::move(own));
}

TEST(VariableMapTest, IteratesBaseAndOwnInNameOrderWithOwnValuesHidingBase) {
  VariableMap m = Overlay({{"a", "1"}, {"c", "base"}, {"e", "5"}}, {{"b", "2"}, {"c", "own"}, {"f", "6"}});
  std::string seen;
  for (const auto& [k, v] : m) seen += k + "=" + v + " ";
  EXPECT_EQ(seen, "a=1 b=2 c=own e=5 f=6 ");
  EXPECT_EQ((VariableMap::Map(m)), (VariableMap::Map{{"a", "1"}, {"b", "2"}, {"c", "own"},
                                                     {"e", "5"}, {"f", "6"}}));
}

TEST(VariableMapTest, FindReturnsAnIteratorThatContinuesInOrder) {
  VariableMap m = Overlay({{"a", "1"}, {"c", "base"}, {"e", "5"}}, {{"b", "2"}, {"c", "own"}});
  auto it = m.find("c");
  ASSERT_NE(it, m.end());
  EXPECT_EQ(it->second, "own");
  ++it;
  ASSERT_NE(it, m.end());
  EXPECT_EQ(it->first, "e");
  it = m.find("b");
  EXPECT_EQ((++it)->second, "own");  // base's "c" is hidden, not visited twice
  EXPECT_EQ(m.find("d"), m.end());
  EXPECT_EQ(m.at("a"), "1");
  EXPECT_THROW((void)m.at("zz"), std::out_of_range);
  EXPECT_EQ(m.count("e"), 1u);
  VariableMap none;
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.begin(), none.end());
}

TEST(VariableMapTest, AJunctionsVariablesResolveAsFarAsTheyCanAndOnlyAUseOfTheRestFails) {
  auto n = ParseYamlString("mine: '%{later}-x'\nuses: '%{mine}'\nok: '%{fine}/y'\nfine: f\n"
                           "loop: '%{loop}'\n", "project.conf");
  ASSERT_TRUE(n.has_value());
  ASSERT_FALSE(Variables::Resolve(**n).has_value());  // an element's are all checked
  Variables v = Variables::ResolveWhatResolves(**n);
  EXPECT_EQ((VariableMap::Map(v.values())), (VariableMap::Map{{"fine", "f"}, {"ok", "f/y"}}));
  auto used = v.Subst("%{uses}", Provenance{"sub.bst", 3, 5});
  ASSERT_FALSE(used.has_value());
  EXPECT_NE(used.error().ToString().find("sub.bst:3:5: reference to undefined variable 'uses'"),
            std::string::npos) << used.error().ToString();
}

TEST(VariableMapTest, ResolvingOverABaseSharesItsValuesAndOwnsOnlyTheChangedOnes) {
  auto layer = ParseYamlString("prefix: /usr\nbindir: '%{prefix}/bin'\nname: x\n", "v.yaml");
  ASSERT_TRUE(layer.has_value());
  auto base = Variables::ResolveBase(*layer);
  ASSERT_TRUE(base.has_value()) << base.error().ToString();
  auto mine = std::make_shared<Node>(**layer);  // shallow, as the loader's overlays
  mine->Set("name", Node::MakeScalar("y"));
  mine->Set("extra", Node::MakeScalar("%{bindir}/tool"));
  auto v = Variables::ResolveOver(*mine, *base, {});
  ASSERT_TRUE(v.has_value()) << v.error().ToString();
  EXPECT_EQ(v->values().base(), base->values().base());
  EXPECT_EQ(v->values().own(), (VariableMap::Map{{"extra", "/usr/bin/tool"}, {"name", "y"}}));
  EXPECT_EQ((VariableMap::Map(v->values())),
            (VariableMap::Map{{"bindir", "/usr/bin"}, {"extra", "/usr/bin/tool"}, {"name", "y"},
                              {"prefix", "/usr"}}));
}

}  // namespace
}  // namespace crossfarm
