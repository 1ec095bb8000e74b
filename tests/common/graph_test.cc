#include <gtest/gtest.h>

#include <set>

#include "common/project.h"
#include "tests/common/temp_project.h"

namespace crossfarm {
namespace {

using testing::LoadError;
using testing::LoadProject;
using testing::TempProject;

std::string Names(const std::vector<Element*>& v) {
  std::string s;
  for (auto* e : v) s += (s.empty() ? "" : " ") + e->name;
  return s;
}

// app: depends lib (all), build-depends tool, runtime-depends data.
const std::map<std::string, std::string> kGraph = {
    {"project.conf", "name: g\nelement-path: elements\n"},
    {"elements/base.bst", "kind: manual\n"},
    {"elements/lib.bst", "kind: manual\ndepends: [base.bst]\n"},
    {"elements/tool.bst", "kind: manual\nbuild-depends: [base.bst]\n"},
    {"elements/data.bst", "kind: import\n"},
    {"elements/app.bst",
     "kind: manual\ndepends: [lib.bst]\nbuild-depends: [tool.bst]\nruntime-depends: [data.bst]\n"},
};

std::string Show(const std::vector<std::string>& targets, Scope scope) {
  TempProject p(kGraph);
  auto l = LoadProject(p.dir(), targets);
  if (!l) return "ERROR: " + l.error().message();
  return Names(l->project->Plan(l->targets, scope));
}

TEST(GraphTest, ShowOrderForEachDepsScopeMatchesBst) {
  const std::tuple<std::vector<std::string>, Scope, const char*> cases[] = {
      {{"app.bst"}, Scope::kNone, "app.bst"},
      {{"app.bst"}, Scope::kAll, "base.bst lib.bst tool.bst data.bst app.bst"},
      {{"app.bst"}, Scope::kRun, "base.bst lib.bst data.bst app.bst"},
      {{"app.bst"}, Scope::kBuild, "base.bst lib.bst tool.bst"},
      {{"app.bst"}, Scope::kPlan, "base.bst lib.bst tool.bst data.bst app.bst"},
      {{"tool.bst"}, Scope::kRun, "tool.bst"},
      {{"tool.bst"}, Scope::kBuild, "base.bst"},
      {{"tool.bst", "lib.bst"}, Scope::kAll, "base.bst tool.bst lib.bst"},
      {{"lib.bst", "tool.bst"}, Scope::kRun, "base.bst lib.bst tool.bst"},
      {{"tool.bst", "lib.bst"}, Scope::kNone, "tool.bst lib.bst"},
      {{"data.bst", "app.bst"}, Scope::kPlan, "base.bst lib.bst tool.bst data.bst app.bst"},
  };
  for (const auto& [targets, scope, want] : cases)
    EXPECT_EQ(Show(targets, scope), want) << targets[0] << " scope " << static_cast<int>(scope);
}

TEST(GraphTest, PlanPutsDeeperBuildDependenciesFirst) {
  TempProject p({{"project.conf", "name: g\n"},
                 {"compiler.bst", "kind: manual\n"},
                 {"libc.bst", "kind: manual\nbuild-depends: [compiler.bst]\n"},
                 {"app.bst", "kind: manual\nbuild-depends: [libc.bst, compiler.bst]\n"
                             "runtime-depends: [libc.bst]\n"}});
  auto l = LoadProject(p.dir(), {"app.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  EXPECT_EQ(Names(l->project->Plan(l->targets, Scope::kPlan)), "compiler.bst libc.bst app.bst");
}

TEST(GraphTest, DependenciesAreSortedLikeBstsLoader) {
  // Declared z, a, b: b depends on z so z comes first, then by name, runtime last.
  TempProject p({{"project.conf", "name: g\n"},
                 {"z.bst", "kind: manual\n"},
                 {"a.bst", "kind: manual\n"},
                 {"b.bst", "kind: manual\ndepends: [z.bst]\n"},
                 {"r.bst", "kind: manual\n"},
                 {"e.bst", "kind: manual\nruntime-depends: [r.bst]\ndepends: [b.bst, a.bst, z.bst]\n"}});
  auto l = LoadProject(p.dir(), {"e.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  std::vector<Element*> sorted;
  for (auto [d, t] : l->targets[0]->sorted_deps) sorted.push_back(d);
  EXPECT_EQ(Names(sorted), "a.bst z.bst b.bst r.bst");
  EXPECT_EQ(Names(l->project->Plan(l->targets, Scope::kAll)), "a.bst z.bst b.bst r.bst e.bst");
}

// The error is at the dependency that closes the cycle (issue 19 point 7: it
// used to name only the element's file).
TEST(GraphTest, CyclesArePrintedAsAChain) {
  EXPECT_EQ(LoadError({{"project.conf", "name: g\n"},
                       {"a.bst", "kind: manual\ndepends: [b.bst]\n"},
                       {"b.bst", "kind: manual\ndepends: [c.bst]\n"},
                       {"c.bst", "kind: manual\nbuild-depends: [a.bst]\n"}},
                      {"a.bst"}),
            "c.bst:2:17: circular dependency detected at element: a.bst\nDependency chain: a.bst -> "
            "b.bst -> c.bst -> a.bst\n  hint: remove one of the dependencies in this chain");
  EXPECT_EQ(LoadError({{"project.conf", "name: g\n"}, {"a.bst", "kind: manual\ndepends: [a.bst]\n"}},
                      {"a.bst"}),
            "a.bst:2:11: circular dependency detected at element: a.bst\nDependency chain: a.bst -> "
            "a.bst\n  hint: remove one of the dependencies in this chain");
}

TEST(GraphTest, MissingFilesNameTheReferencingElement) {
  EXPECT_EQ(LoadError({{"project.conf", "name: g\nelement-path: elements\n"},
                       {"elements/a.bst", "kind: manual\ndepends:\n- b.bst\n"},
                       {"elements/b.bst", "kind: manual\nbuild-depends:\n- sub/c.bst\n"}},
                      {"a.bst"}),
            "elements/b.bst:3:3: could not find element 'sub/c.bst' in elements directory "
            "'elements'\n  hint: element names are relative to the project's element-path");
  EXPECT_EQ(LoadError({{"project.conf", "name: g\n"}}, {"nope.bst"}),
            "<command line>: could not find element 'nope.bst' in elements directory '.'\n  "
            "hint: element names are relative to the project's element-path");
  EXPECT_EQ(LoadError({{"project.conf", "name: g\n"}}, {"../x.bst"}),
            "<command line>: invalid element name '../x.bst'\n  hint: name elements relative "
            "to the project's element-path");
}

TEST(GraphTest, LoadingMoreTargetsReusesLoadedElements) {
  TempProject p(kGraph);
  auto l = LoadProject(p.dir(), {"lib.bst"});
  ASSERT_TRUE(l.has_value());
  Element* base = l->project->Find("base.bst");
  ASSERT_NE(base, nullptr);
  auto more = l->project->LoadTargets({"app.bst"});
  ASSERT_TRUE(more.has_value()) << more.error().ToString();
  EXPECT_EQ(l->project->Find("base.bst"), base);
  EXPECT_TRUE((*more)[0]->cache_key.has_value());
}

TEST(GraphTest, AFailedLoadLeavesNoHalfLoadedElements) {
  TempProject p({{"project.conf", "name: g\n"},
                 {"ok.bst", "kind: manual\n"},
                 {"bad.bst", "kind: manual\ndepends: [ok.bst, missing.bst]\n"}});
  LoadOptions o;
  o.project_dir = p.dir();
  auto project = Project::Load(o);
  ASSERT_TRUE(project.has_value());
  EXPECT_FALSE((*project)->LoadTargets({"bad.bst"}).has_value());
  EXPECT_EQ((*project)->Find("bad.bst"), nullptr);
  EXPECT_EQ((*project)->Find("ok.bst"), nullptr);
  auto ok = (*project)->LoadTargets({"ok.bst"});
  ASSERT_TRUE(ok.has_value());
  EXPECT_TRUE((*ok)[0]->cache_key.has_value());
  EXPECT_FALSE((*project)->LoadTargets({"bad.bst"}).has_value());
}

TEST(GraphTest, DeepChainsDoNotExhaustTheStack) {
  TempProject p({{"project.conf", "name: g\n"}, {"e0.bst", "kind: stack\n"}});
  const int n = 2000;
  for (int i = 1; i < n; ++i)
    p.Write("e" + std::to_string(i) + ".bst",
            "kind: stack\ndepends: [e" + std::to_string(i - 1) + ".bst]\n");
  auto l = LoadProject(p.dir(), {"e" + std::to_string(n - 1) + ".bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  EXPECT_EQ(l->project->Plan(l->targets, Scope::kAll).size(), static_cast<size_t>(n));
  EXPECT_EQ(l->project->Plan(l->targets, Scope::kPlan).front()->name, "e0.bst");
}

}  // namespace
}  // namespace crossfarm

namespace crossfarm {
namespace {

TEST(GraphTest, StatesFollowRefsAndTheCache) {
  TempProject p({{"project.conf", "name: g\n"},
                 {"base.bst", "kind: manual\n"},
                 {"tool.bst", "kind: manual\nbuild-depends: [base.bst]\n"},
                 {"noref.bst", "kind: manual\nsources:\n- kind: git\n  url: x\n"},
                 {"app.bst", "kind: manual\nbuild-depends: [tool.bst]\n"},
                 {"top.bst", "kind: manual\ndepends: [noref.bst, app.bst]\n"}});
  auto l = LoadProject(p.dir(), {"top.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  std::set<std::string> cached = {"base.bst"};
  auto state = [&](const char* name) {
    return std::string(ElementStateName(StateOf(*l->project->Find(name), [&](const Element& e) {
      return cached.count(e.name) > 0;
    })));
  };
  EXPECT_EQ(state("base.bst"), "cached");
  EXPECT_EQ(state("tool.bst"), "buildable");
  EXPECT_EQ(state("app.bst"), "waiting");
  EXPECT_EQ(state("noref.bst"), "no reference");
  EXPECT_EQ(state("top.bst"), "waiting");
  cached.insert("tool.bst");
  EXPECT_EQ(state("app.bst"), "buildable");
}

}  // namespace
}  // namespace crossfarm
