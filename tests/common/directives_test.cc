#include <gtest/gtest.h>

#include "common/directives.h"
#include "common/yaml_loader.h"

namespace crossfarm {
namespace {

NodePtr Parse(const std::string& text, const std::string& file = "t.yaml") {
  auto r = ParseYamlString(text, file);
  EXPECT_TRUE(r.has_value()) << r.error().ToString();
  return r.has_value() ? *r : Node::MakeMapping();
}

std::string Json(const Node& n) {
  std::string out;
  AppendCanonicalJson(n, out);
  return out;
}

// Composes the layers in order and returns canonical JSON or "ERROR: msg".
std::string Compose(std::vector<std::string> layers) {
  NodePtr target = Parse(layers[0]);
  for (size_t i = 1; i < layers.size(); ++i) {
    Status s = Composite(*target, *Parse(layers[i], "l" + std::to_string(i) + ".yaml"));
    if (!s.ok()) return "ERROR: " + s.message();
  }
  Status s = FinalAssertions(*target);
  if (!s.ok()) return "ERROR: " + s.message();
  return Json(*target);
}

TEST(CompositeTest, TableOfCompositions) {
  struct Case {
    std::vector<std::string> layers;
    std::string want;
  };
  const Case cases[] = {
      {{"a: 1", "a: 2"}, R"({"a":"2"})"},
      {{"a: 1", "b: 2"}, R"({"a":"1","b":"2"})"},
      {{"m: {x: 1, y: 2}", "m: {y: 3}"}, R"({"m":{"x":"1","y":"3"}})"},
      {{"l: [a, b]", "l: [c]"}, R"({"l":["c"]})"},
      {{"l: [a, b]", "l: {(>): [c]}"}, R"({"l":["a","b","c"]})"},
      {{"l: [a, b]", "l: {(<): [c]}"}, R"({"l":["c","a","b"]})"},
      {{"l: [a, b]", "l: {(=): [c]}"}, R"({"l":["c"]})"},
      {{"l: [a]", "l: {(<): [p], (>): [z]}"}, R"({"l":["p","a","z"]})"},
      {{"l: [a]", "l: {(=): [b], (>): [c]}"}, R"({"l":["b","c"]})"},
      // A directive with no list below waits for one from a later layer ...
      {{"x: 1", "l: {(>): [b]}", "l: [a]"}, R"({"l":["a"],"x":"1"})"},
      {{"m: {}", "m: {l: {(>): [b]}}", "m: {l: {(>): [c]}}"},
       "ERROR: l2.yaml:1:14: attempt to override non-existing list with (>)\n  hint: no lower "
       "layer declares this list; use a plain list instead"},
      {{"a: [x]", "a: {b: 1}"}, "ERROR: l1.yaml:1:1: cannot compose 'a': a mapping cannot "
                                "replace a list declared at t.yaml:1:4"},
      {{"a: {b: 1}", "a: str"}, "ERROR: l1.yaml:1:1: cannot compose 'a': a scalar cannot "
                                "replace a mapping declared at t.yaml:1:4"},
      {{"l: [a]", "l: {(>): [b], other: 1}"},
       "ERROR: l1.yaml:1:15: 'other' cannot be mixed with list directives\n  hint: a mapping "
       "with (<), (>) or (=) may hold only those keys"},
      {{"l: [a]", "l: {(>): b}"}, "ERROR: l1.yaml:1:5: the value of (>) must be a list"},
  };
  for (const auto& c : cases) EXPECT_EQ(Compose(c.layers), c.want) << c.layers.back();
}

TEST(CompositeTest, PendingDirectivesMergeInLayerOrder) {
  NodePtr base = Parse("l: [m]");
  NodePtr pending = Parse("{}");
  ASSERT_TRUE(Composite(*pending, *Parse("l: {(>): [a], (<): [x]}")).ok());
  ASSERT_TRUE(Composite(*pending, *Parse("l: {(>): [b], (<): [y]}")).ok());
  ASSERT_TRUE(Composite(*base, *pending).ok());
  EXPECT_EQ(Json(*base), R"({"l":["y","x","m","a","b"]})");
}

std::string Conditionals(const std::string& text, std::map<std::string, bool> truth) {
  NodePtr n = Parse(text);
  Status s = ProcessConditionals(*n, [&](const std::string& e) -> Result<bool> {
    auto it = truth.find(e);
    if (it == truth.end()) return Err(Status::InvalidArgument("unknown option '" + e + "'"));
    return it->second;
  });
  return s.ok() ? Json(*n) : "ERROR: " + s.message();
}

TEST(ConditionalTest, AppliesOnlyHoldingBranchesInOrder) {
  const char* text =
      "variables:\n"
      "  a: base\n"
      "  (?):\n"
      "  - debug:\n"
      "      a: dbg\n"
      "  - release:\n"
      "      a: rel\n"
      "  - late:\n"
      "      b: late\n";
  EXPECT_EQ(Conditionals(text, {{"debug", true}, {"release", false}, {"late", true}}),
            R"({"variables":{"a":"dbg","b":"late"}})");
  EXPECT_EQ(Conditionals(text, {{"debug", false}, {"release", true}, {"late", false}}),
            R"({"variables":{"a":"rel"}})");
}

TEST(ConditionalTest, NestedConditionalsAndListDirectivesInsideBranches) {
  const char* text =
      "config:\n"
      "  cmds: [a]\n"
      "  (?):\n"
      "  - x:\n"
      "      cmds:\n"
      "        (>): [b]\n"
      "      (?):\n"
      "      - y:\n"
      "          extra: 1\n";
  EXPECT_EQ(Conditionals(text, {{"x", true}, {"y", true}}),
            R"({"config":{"cmds":["a","b"],"extra":"1"}})");
}

TEST(ConditionalTest, ErrorsCarryProvenance) {
  EXPECT_EQ(Conditionals("(?):\n- nope:\n    a: 1\n", {}),
            "ERROR: t.yaml:2:3: unknown option 'nope'");
  EXPECT_EQ(Conditionals("(?):\n- a: 1\n  b: 2\n", {{"a", true}}),
            "ERROR: t.yaml:2:3: a conditional must be a mapping with exactly one key\n  hint: "
            "write `- expression:` followed by the mapping to apply");
  EXPECT_EQ(Conditionals("(?):\n- a: [1]\n", {{"a", true}}),
            "ERROR: t.yaml:2:6: only mappings can be composed by (?)");
}

TEST(ConditionalTest, AssertionFailsWithItsMessage) {
  EXPECT_EQ(Conditionals("(?):\n- a:\n    (!): arch not supported\n", {{"a", true}}),
            "ERROR: t.yaml:3:5: arch not supported");
  EXPECT_EQ(Conditionals("(?):\n- a:\n    (!): arch not supported\n", {{"a", false}}), "{}");
}

TEST(CompositeTest, ConditionalListsAccumulateLowerLayerFirst) {
  NodePtr base = Parse("(?): [{a: {x: '1'}}]\nv: {(?): [{a: {y: '1'}}]}");
  ASSERT_TRUE(Composite(*base, *Parse("(?): [{b: {x: '2'}}]\nv: {(?): [{b: {y: '2'}}]}")).ok());
  EXPECT_EQ(Json(*base), R"j({"(?)":[{"a":{"x":"1"}},{"b":{"x":"2"}}],)j"
                         R"j("v":{"(?)":[{"a":{"y":"1"}},{"b":{"y":"2"}}]}})j");
}

struct IncludeFixture {
  std::map<std::string, std::string> files;
  std::map<std::string, bool> truth;  // for ProcessElement
  Result<NodePtr> Load(const std::string& path, const Provenance& where) {
    auto it = files.find(path);
    if (it == files.end()) return Err(UserError(where, "include file '" + path + "' not found"));
    return ParseYamlString(it->second, path);
  }
  std::string Process(const std::string& root) {
    NodePtr n = Parse(files.at(root), root);
    std::vector<std::string> chain = {root};
    Status s = ProcessIncludes(
        *n, [&](const std::string& path, const Provenance& w) { return Load(path, w); }, chain);
    return s.ok() ? Json(*n) : "ERROR: " + s.message();
  }
  // project.conf's order: every include, then the conditionals.
  std::string ProcessProject(const std::string& root) {
    NodePtr n = Parse(files.at(root), root);
    std::vector<std::string> chain = {root};
    Status s = ProcessIncludes(
        *n, [&](const std::string& path, const Provenance& w) { return Load(path, w); }, chain);
    if (s.ok()) s = ProcessConditionals(*n, Eval());
    return s.ok() ? Json(*n) : "ERROR: " + s.message();
  }
  // An element's order: its conditionals, then includes with theirs.
  std::string ProcessElement(const std::string& root) {
    NodePtr n = Parse(files.at(root), root);
    std::vector<std::string> chain = {root};
    ConditionEvaluator eval = Eval();
    Status s = ProcessConditionals(*n, eval);
    if (s.ok())
      s = ProcessIncludes(
          *n, [&](const std::string& path, const Provenance& w) { return Load(path, w); }, chain,
          &eval);
    return s.ok() ? Json(*n) : "ERROR: " + s.message();
  }
  ConditionEvaluator Eval() {
    return [this](const std::string& e) -> Result<bool> { return truth.at(e); };
  }
};

// bst 1.6 gives project.conf and elements different orders: the same files
// resolve differently (values checked against bst by bst_compose_test).
TEST(IncludeTest, ProjectOrderAppliesConditionalsAfterAllIncludes) {
  IncludeFixture f{{{"p.conf", "(@): inc.yml\nplain: mine\n(?): [{c: {cond: mine}}]\n"},
                    {"inc.yml", "cond: inc\n(?): [{c: {plain: inc-cond}}]\n"}},
                   {{"c", true}}};
  EXPECT_EQ(f.ProcessProject("p.conf"), R"({"cond":"mine","plain":"inc-cond"})");
}

TEST(IncludeTest, ElementOrderAppliesEachFilesConditionalsBeforeComposing) {
  IncludeFixture f{{{"e.bst", "(@): inc.yml\nplain: mine\n(?): [{c: {cond: mine}}]\n"},
                    {"inc.yml", "cond: inc\n(?): [{c: {plain: inc-cond}}]\n"}},
                   {{"c", true}}};
  EXPECT_EQ(f.ProcessElement("e.bst"), R"({"cond":"mine","plain":"mine"})");
}

TEST(IncludeTest, ElementConditionalMayBringAnInclude) {
  IncludeFixture f{{{"e.bst", "(?): [{c: {(@): inc.yml}}]\n"},
                    {"inc.yml", "(?): [{d: {x: from-inc}}]\n"}},
                   {{"c", true}, {"d", true}}};
  EXPECT_EQ(f.ProcessElement("e.bst"), R"({"x":"from-inc"})");
}

TEST(IncludeTest, IncludingFileWinsAndLaterIncludesOverrideEarlier) {
  IncludeFixture f{{{"e.bst", "(@): [a.yml, b.yml]\nv: mine\n"},
                    {"a.yml", "v: a\nx: a\ny: a\n"},
                    {"b.yml", "y: b\nl: [1]\n"}}};
  EXPECT_EQ(f.Process("e.bst"), R"({"l":["1"],"v":"mine","x":"a","y":"b"})");
}

TEST(IncludeTest, NestedIncludesAndIncludesInsideMappings) {
  IncludeFixture f{{{"e.bst", "variables:\n  (@): vars.yml\n  own: 1\n"},
                    {"vars.yml", "(@): more.yml\nfrom-vars: 1\n"},
                    {"more.yml", "deep: 1\n"}}};
  EXPECT_EQ(f.Process("e.bst"), R"({"variables":{"deep":"1","from-vars":"1","own":"1"}})");
}

TEST(IncludeTest, ListDirectivesInIncludingFileApplyToIncludedLists) {
  IncludeFixture f{{{"e.bst", "(@): base.yml\ncmds:\n  (>): [b]\n"}, {"base.yml", "cmds: [a]\n"}}};
  EXPECT_EQ(f.Process("e.bst"), R"({"cmds":["a","b"]})");
}

TEST(IncludeTest, IncludeCycleIsReportedWithTheChain) {
  IncludeFixture f{{{"e.bst", "(@): a.yml\n"}, {"a.yml", "(@): b.yml\n"}, {"b.yml", "(@): a.yml\n"}}};
  EXPECT_EQ(f.Process("e.bst"),
            "ERROR: b.yml:1:1: include cycle: e.bst -> a.yml -> b.yml -> a.yml\n  hint: remove "
            "one of the (@) includes in this chain");
}

TEST(IncludeTest, MissingIncludeFails) {
  IncludeFixture f{{{"e.bst", "(@): nope.yml\n"}}};
  EXPECT_EQ(f.Process("e.bst"), "ERROR: e.bst:1:1: include file 'nope.yml' not found");
}

// The loader processes "junction.bst:file.yml" with the subproject's options
// and directory (ProjectConfig::LoadJunctionInclude): ProcessIncludes takes it
// as it comes, and the including file's own keys still win.
TEST(IncludeTest, JunctionIncludeIsTakenAsTheLoaderProcessedIt) {
  IncludeFixture f{{{"j.bst", "(@): junction.bst:file.yml\nb: own\n"},
                    {"junction.bst:file.yml", "a: from-junction\nb: theirs\n(@): not-here.yml\n"}}};
  std::string out = f.Process("j.bst");
  EXPECT_NE(out.find("from-junction"), std::string::npos) << out;
  EXPECT_NE(out.find("own"), std::string::npos) << out;
  EXPECT_EQ(out.find("theirs"), std::string::npos) << out;
}

}  // namespace
}  // namespace crossfarm
