#include <gtest/gtest.h>

#include "common/option_expr.h"
#include "common/options.h"
#include "common/yaml_loader.h"

namespace crossfarm {
namespace {

Result<ExprValue> Lookup(std::string_view name) {
  if (name == "arch") return ExprValue::String("aarch64");
  if (name == "debug") return ExprValue::Bool(true);
  if (name == "release") return ExprValue::Bool(false);
  if (name == "flags") return ExprValue::List({"docs", "tests"});
  if (name == "empty") return ExprValue::List({});
  return Err(Status::InvalidArgument("unknown option '" + std::string(name) + "'"));
}

std::string Eval(const std::string& expr) {
  auto r = EvaluateOptionExpression(expr, Lookup);
  if (!r) return "ERROR: " + r.error().message();
  return *r ? "true" : "false";
}

// Fuzz finding (option_expr_fuzzer, 2026-12-06): an integer literal beyond
// 64 bits threw std::out_of_range out of the loader and aborted crossfarm.
TEST(OptionExpressionTest, AnIntegerBeyond64BitsIsAnErrorNotAnAbort) {
  std::string huge = Eval("4444444444444444444444(arch=");
  EXPECT_NE(huge.find("ERROR: "), std::string::npos) << huge;
  EXPECT_NE(huge.find("out of range"), std::string::npos) << huge;
  EXPECT_EQ(Eval("99999999999999999999 == 1"), "ERROR: invalid expression '99999999999999999999 == 1': integer '99999999999999999999' is out of range (at most 19 digits)");
  EXPECT_EQ(Eval("9223372036854775807 == 9223372036854775807"), "true");
}

TEST(OptionExpressionTest, TableOfExpressions) {
  const std::pair<const char*, const char*> cases[] = {
      {"debug", "true"},
      {"release", "false"},
      {"not debug", "false"},
      {"not not debug", "true"},
      {"arch == \"aarch64\"", "true"},
      {"arch == 'x86_64'", "false"},
      {"arch != \"x86_64\"", "true"},
      {"(arch == \"aarch64\" and debug)", "true"},
      {"(arch == \"aarch64\" and release)", "false"},
      {"release or arch == \"aarch64\"", "true"},
      {"release or debug and release", "false"},
      {"not release and debug", "true"},
      {"\"docs\" in flags", "true"},
      {"\"man\" in flags", "false"},
      {"\"man\" not in flags", "true"},
      {"arch in [\"aarch64\", \"riscv64\"]", "true"},
      {"\"arch\" in \"aarch64-linux\"", "true"},
      {"\"arch\" in \"march\"", "true"},
      {"empty", "false"},
      {"flags", "true"},
      {"debug == true", "true"},
      {"debug == True", "true"},
      {"2 > 10", "false"},
      {"arch < \"b\"", "true"},
      {"bogus", "ERROR: unknown option 'bogus'"},
      {"arch ==", "ERROR: invalid expression 'arch ==': unexpected end"},
      {"(debug", "ERROR: invalid expression '(debug': missing ')'"},
      {"debug debug", "ERROR: invalid expression 'debug debug': unexpected 'debug'"},
      {"arch == \"x", "ERROR: invalid expression 'arch == \"x': unterminated string"},
      {"arch = 1", "ERROR: invalid expression 'arch = 1': unexpected character '='"},
  };
  for (auto [expr, want] : cases) EXPECT_EQ(Eval(expr), want) << expr;
}

ArchConfig Arch(const char* name) {
  auto a = ArchConfig::Make(name, "", "");
  EXPECT_TRUE(a.has_value());
  return *a;
}

Result<OptionPool> Pool(const std::string& yaml, const char* arch = "x86_64",
                        std::vector<std::pair<std::string, std::string>> overrides = {}) {
  CF_ASSIGN_OR_RETURN(NodePtr n, ParseYamlString(yaml, "project.conf"));
  OptionPool pool;
  CF_TRY(pool.Declare(n->Get("options").get(), Arch(arch)));
  CF_TRY(pool.ApplyOverrides(overrides));
  CF_TRY(pool.Validate());
  return pool;
}

const char* kOptions = R"(
options:
  debug:
    type: bool
    description: Debug build
    default: False
    variable: debug-flag
  toolkit:
    type: enum
    values: [gtk, qt]
    default: gtk
    variable: toolkit
  components:
    type: flags
    values: [docs, tests, man]
    default: [tests]
    variable: components
  machine_arch:
    type: arch
    values: [arm, aarch64, x86-64, i686]
    variable: arch
)";

std::string Get(OptionPool& pool, const std::string& expr) {
  auto r = pool.Evaluate(expr);
  return r ? (*r ? "true" : "false") : "ERROR: " + r.error().message();
}

TEST(OptionPoolTest, DefaultsAndExports) {
  auto pool = Pool(kOptions);
  ASSERT_TRUE(pool.has_value()) << pool.error().ToString();
  EXPECT_EQ(Get(*pool, "debug"), "false");
  EXPECT_EQ(Get(*pool, "toolkit == 'gtk'"), "true");
  EXPECT_EQ(Get(*pool, "'tests' in components"), "true");
  EXPECT_EQ(Get(*pool, "machine_arch == 'x86-64'"), "true");
  Node vars;
  vars.kind = Node::Kind::kMapping;
  pool->ExportVariables(vars);
  EXPECT_EQ(vars.Get("debug-flag")->scalar, "0");
  EXPECT_EQ(vars.Get("toolkit")->scalar, "gtk");
  EXPECT_EQ(vars.Get("components")->scalar, "tests");
  EXPECT_EQ(vars.Get("arch")->scalar, "x86-64");
}

TEST(OptionPoolTest, ArchOptionDefaultsToTheConfiguredArchUnderItsProjectSpelling) {
  auto pool = Pool(kOptions, "aarch64");
  ASSERT_TRUE(pool.has_value());
  EXPECT_EQ(Get(*pool, "machine_arch == 'aarch64'"), "true");
  auto arm = Pool(kOptions, "armv7");
  ASSERT_TRUE(arm.has_value());
  EXPECT_EQ(Get(*arm, "machine_arch == 'arm'"), "true");
}

TEST(OptionPoolTest, ArchOptionPrefersTheExactNameAsBstDoes) {
  auto pool = Pool("options:\n  a:\n    type: arch\n    values: [x86-64, x86_64]\n");
  ASSERT_TRUE(pool.has_value());
  EXPECT_EQ(Get(*pool, "a == 'x86_64'"), "true");
}

TEST(OptionPoolTest, ArchNotListedFailsUnlessOverridden) {
  auto pool = Pool(kOptions, "s390x");
  ASSERT_FALSE(pool.has_value());
  EXPECT_EQ(pool.error().message(),
            "project.conf:19:5: value 's390x' of arch option 'machine_arch' is not one of its "
            "values\n  hint: set it with -o machine_arch VALUE, one of: arm, aarch64, x86-64, i686");
  EXPECT_TRUE(Pool(kOptions, "s390x", {{"machine_arch", "i686"}}).has_value());
}

TEST(OptionPoolTest, OverridesParseEachType) {
  const std::vector<std::pair<std::string, std::string>> cases[] = {
      {{"debug", "True"}}, {{"debug", "true"}}, {{"debug", "1"}}};
  for (const auto& c : cases) {
    auto pool = Pool(kOptions, "x86_64", c);
    ASSERT_TRUE(pool.has_value());
    EXPECT_EQ(Get(*pool, "debug"), "true");
  }
  for (const char* v : {"False", "false", "0"}) {
    auto pool = Pool(kOptions, "x86_64", {{"debug", v}});
    ASSERT_TRUE(pool.has_value());
    EXPECT_EQ(Get(*pool, "debug"), "false");
  }
  auto pool = Pool(kOptions, "x86_64",
                   {{"toolkit", "qt"}, {"components", "man, docs"}, {"machine_arch", "arm64"}});
  ASSERT_TRUE(pool.has_value());
  EXPECT_EQ(Get(*pool, "toolkit == 'qt'"), "true");
  EXPECT_EQ(Get(*pool, "'docs' in components and 'tests' not in components"), "true");
  EXPECT_EQ(Get(*pool, "machine_arch == 'aarch64'"), "true");
  Node vars;
  vars.kind = Node::Kind::kMapping;
  pool->ExportVariables(vars);
  EXPECT_EQ(vars.Get("components")->scalar, "docs,man");
}

TEST(OptionPoolTest, BadValuesListTheValidOnes) {
  const std::pair<std::pair<const char*, const char*>, const char*> cases[] = {
      {{"debug", "yes"},
       "<command line>: invalid value 'yes' for bool option 'debug'\n  hint: use one of True, "
       "False, true, false, 1, 0"},
      {{"toolkit", "motif"},
       "<command line>: invalid value 'motif' for enum option 'toolkit'\n  hint: valid values "
       "are: gtk, qt"},
      {{"components", "docs,pdf"},
       "<command line>: invalid value 'pdf' for flags option 'components'\n  hint: valid values "
       "are: docs, tests, man"},
      {{"tolkit", "qt"},
       "<command line>: unknown option 'tolkit' specified with -o\n  hint: did you mean "
       "'toolkit'?"},
  };
  for (const auto& [ov, want] : cases) {
    auto pool = Pool(kOptions, "x86_64", {{ov.first, ov.second}});
    ASSERT_FALSE(pool.has_value());
    EXPECT_EQ(pool.error().message(), want);
  }
}

TEST(OptionPoolTest, DeclarationErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {"options:\n  o:\n    type: boool\n    default: x\n",
       "project.conf:3:5: unknown option type 'boool'\n  hint: did you mean 'bool'?"},
      {"options:\n  o:\n    type: enum\n    default: a\n",
       "project.conf:3:5: option 'o' of type enum needs 'values'"},
      {"options:\n  o:\n    type: enum\n    values: [a]\n    default: b\n",
       "project.conf:5:5: invalid value 'b' for enum option 'o'\n  hint: valid values are: a"},
      {"options:\n  o:\n    type: bool\n",
       "project.conf:3:5: missing required key 'default'"},
      {"options:\n  o:\n    type: bool\n    default: x\n    valeus: [a]\n",
       "project.conf:5:5: unknown key 'valeus' in option 'o'\n  hint: valid keys are: type "
       "description variable default"},
  };
  for (auto [yaml, want] : cases) {
    auto pool = Pool(yaml);
    ASSERT_FALSE(pool.has_value()) << yaml;
    EXPECT_EQ(pool.error().message(), want);
  }
}

}  // namespace
}  // namespace crossfarm
