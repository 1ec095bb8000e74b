// Hostile project files (issue 19, point 4) are errors with file:line, never a
// crash: each input here segfaulted or aborted with std::bad_alloc before.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "common/option_expr.h"
#include "common/project.h"
#include "common/yaml_loader.h"
#include "tests/common/temp_project.h"

namespace crossfarm {
namespace {

std::string Repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(HostileInputTest, DeepNestingIsAnErrorWithItsPlace) {
  auto r = ParseYamlString("x: " + Repeat("[", 100000) + Repeat("]", 100000) + "\n", "deep.yml");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("deep.yml:1:"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("nested deeper than"), std::string::npos);
  // Real files stay far below the limit.
  EXPECT_TRUE(ParseYamlString("x: " + Repeat("[", 50) + Repeat("]", 50) + "\n", "ok.yml").has_value());
}

TEST(HostileInputTest, AliasBombIsAnErrorNotAnAbort) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + Repeat(prev + ", ", 9) + prev + "]\n";
  }
  auto r = ParseYamlString(text, "bomb.yml");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("bomb.yml:"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("aliases included"), std::string::npos) << r.error().message();
  // A few aliases are fine.
  EXPECT_TRUE(ParseYamlString("a: &a [1, 2]\nb: *a\nc: *a\n", "ok.yml").has_value());
}

TEST(HostileInputTest, DeepExpressionsAreErrors) {
  ExprLookup lookup = [](std::string_view) -> Result<ExprValue> { return ExprValue::String("x86_64"); };
  for (const std::string& expr : {Repeat("(", 5000) + "arch == 'x86_64'" + Repeat(")", 5000),
                                  Repeat("not ", 100000) + "arch == 'x86_64'"}) {
    auto r = EvaluateOptionExpression(expr, lookup);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message().find("nested deeper than"), std::string::npos) << r.error().message().substr(0, 300);
    EXPECT_LT(r.error().message().size(), 400u) << "the message repeats the whole expression";
  }
  auto ok = EvaluateOptionExpression("not not (arch == 'x86_64')", lookup);
  ASSERT_TRUE(ok.has_value()) << ok.error().message();
  EXPECT_TRUE(*ok);
}

TEST(HostileInputTest, ExponentialVariablesAreAnErrorWithTheirPlace) {
  std::string vars = "kind: manual\nvariables:\n  v0: aaaaaaaaaa\n";
  for (int i = 1; i <= 40; ++i)
    vars += "  v" + std::to_string(i) + ": \"%{v" + std::to_string(i - 1) + "}%{v" + std::to_string(i - 1) + "}\"\n";
  testing::TempProject dir({{"project.conf", "name: p\nelement-path: elements\n"}, {"elements/e.bst", vars}});
  auto loaded = testing::LoadProject(dir.dir(), {"e.bst"});
  ASSERT_FALSE(loaded.has_value());
  EXPECT_NE(loaded.error().message().find("elements/e.bst:"), std::string::npos) << loaded.error().message();
  EXPECT_NE(loaded.error().message().find("expands to more than"), std::string::npos) << loaded.error().message();
}

// Issue 19 ("limits: include depth"): a chain of 20,000 files each including
// the next segfaulted `show` (stack overflow in the recursive composition).
TEST(HostileInputTest, DeepIncludeChainsAreAnErrorWithTheirPlace) {
  constexpr int kFiles = 20000;
  std::map<std::string, std::string> files = {{"project.conf", "name: p\nelement-path: elements\n(@): inc/i0.yml\n"},
                                              {"elements/e.bst", "kind: manual\n"}};
  for (int i = 0; i < kFiles; ++i)
    files["inc/i" + std::to_string(i) + ".yml"] =
        i + 1 < kFiles ? "(@): inc/i" + std::to_string(i + 1) + ".yml\n" : "variables:\n  x: y\n";
  testing::TempProject dir(files);
  auto loaded = testing::LoadProject(dir.dir(), {"e.bst"});
  ASSERT_FALSE(loaded.has_value());
  EXPECT_NE(loaded.error().message().find("inc/i98.yml:1:"), std::string::npos) << loaded.error().message();
  EXPECT_NE(loaded.error().message().find("nested deeper than 100"), std::string::npos) << loaded.error().message();
  EXPECT_LT(loaded.error().message().size(), 600u) << "the message must not list the whole chain";
  // A few levels are fine.
  testing::TempProject ok({{"project.conf", "name: p\nelement-path: elements\n(@): a.yml\n"},
                           {"a.yml", "(@): b.yml\n"},
                           {"b.yml", "variables:\n  x: y\n"},
                           {"elements/e.bst", "kind: manual\n"}});
  auto fine = testing::LoadProject(ok.dir(), {"e.bst"});
  EXPECT_TRUE(fine.has_value()) << fine.error().message();
}

// Issue 19 point 7: `show` (the loader's keys) read a `local` path outside the
// project while `build` refused it; now loading refuses it, `..` or through a
// symlink, at the path's line.
TEST(HostileInputTest, LocalPathsOutsideTheProjectAreRefusedWhileLoading) {
  testing::TempProject outside(std::map<std::string, std::string>{{"secret", "not the project's\n"}});
  for (const std::string& path : {std::string("../outside"), std::string("link/secret"), std::string("link")}) {
    testing::TempProject dir({{"project.conf", "name: p\nelement-path: elements\n"},
                              {"elements/e.bst", "kind: import\nsources:\n- kind: local\n  path: " + path + "\n"}});
    std::filesystem::create_directory_symlink(outside.dir(), dir.dir() + "/link");
    auto loaded = testing::LoadProject(dir.dir(), {"e.bst"});
    ASSERT_FALSE(loaded.has_value()) << path;
    EXPECT_NE(loaded.error().message().find("elements/e.bst:4:"), std::string::npos) << loaded.error().message();
    EXPECT_NE(loaded.error().message().find("is outside the project"), std::string::npos) << loaded.error().message();
  }
}

}  // namespace
}  // namespace crossfarm
