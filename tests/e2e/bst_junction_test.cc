// Junctions (issue 17), checked against BuildStream 1.6 itself on
// tests/data/projects/junction-local: a parent project reaches one subproject
// through two junctions with different `config: options:`. Each subproject
// element must resolve as bst resolves it (tests/e2e/bst_compare.h), under
// bst's full name ("sub.bst:lib.bst"), in bst's `--deps` order.
#include "tests/e2e/bst_compare.h"

namespace crossfarm::e2e {
namespace {

const char* kProject = "junction-local";
const std::vector<std::string> kElements = {"app.bst", "base.bst", "sub.bst:lib.bst",
                                            "sub.bst:tool.bst", "sub-arm.bst:lib.bst",
                                            "sub-arm.bst:tool.bst", "uses-include.bst",
                                            "uses-arm-include.bst"};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && !IsBstStatusLine(line)) out.push_back(line);
  return out;
}

CommandResult Bst(const std::string& args, const std::string& project = kProject) {
  TempTree home("bst-home");
  std::string h = home.path().string();
  return RunCmd("cd " + ProjectDir(project) + " && XDG_CACHE_HOME=" + h +
                "/cache XDG_CONFIG_HOME=" + h + "/config bst --no-interactive --no-colors " + args +
                " 2>/dev/null");
}

CommandResult Crossfarm(const std::string& args, const std::string& project = kProject) {
  return RunCmd(std::string(CROSSFARM_BIN) + " -C " + ProjectDir(project) +
                " --cache-dir /nonexistent " + args + " 2>/dev/null");
}

TEST(BstJunctionTest, SubprojectElementsResolveWithTheSubprojectsConfAndOptions) {
  auto bst = ShowWithBst(kProject, kElements, {});
  auto ours = ShowWithCrossfarm(kProject, kElements, {});
  ExpectSameAsBst(bst, ours, kProject);
  // The two junctions give the same files different options.
  EXPECT_EQ(ours["sub.bst:lib.bst"].vars["extra"], "sub-is-blue");
  EXPECT_EQ(ours["sub-arm.bst:lib.bst"].vars["extra"], "sub-is-not-blue");
  EXPECT_EQ(ours["sub.bst:lib.bst"].vars["element-name"], "lib.bst");
  // (@): sub.bst:include/common.yml takes the subproject's options and
  // directory (its nested include).
  EXPECT_EQ(ours["uses-include.bst"].vars["included-colour"], "blue-via-include");
  EXPECT_EQ(ours["uses-arm-include.bst"].vars["included-colour"], "red-via-include");
  EXPECT_EQ(ours["uses-include.bst"].vars["own"], "from-sub-nested");
}

// project.conf `(@): sub.bst:file.yml`, at the top level and in `variables:`
// (bst 1.6 loads project.conf twice: without junction includes to open the
// junction, then with them).
TEST(BstJunctionTest, ProjectConfIncludesFromAJunctionComposeAsBst) {
  const std::vector<std::string> elements = {"e.bst", "sub.bst:lib.bst"};
  auto bst = ShowWithBst("junction-conf-include", elements, {});
  auto ours = ShowWithCrossfarm("junction-conf-include", elements, {});
  ExpectSameAsBst(bst, ours, "junction-conf-include");
  // The include's (?) took the subproject's option (flavour b, from the junction),
  // its nested include is the subproject's file, and later layers see its values.
  EXPECT_EQ(ours["e.bst"].vars["mine"], "sub-b-parent");
  EXPECT_EQ(ours["e.bst"].vars["nested"], "from-sub-nested");
  EXPECT_EQ(ours["e.bst"].vars["local-var"], "local-common");
  EXPECT_EQ(ours["e.bst"].env["FROM_SUB"], "yes");
  // The subproject's own elements do not see the parent's includes.
  EXPECT_FALSE(ours["sub.bst:lib.bst"].vars.contains("mine"));
}

TEST(BstJunctionTest, DependencyOrderAndFullNamesMatchBuildStreamForEveryScope) {
  const std::pair<const char*, const char*> targets[] = {
      {kProject, "app.bst"}, {kProject, "sub.bst:lib.bst"}, {"junction-nested", "top.bst"},
      {"junction-nested", "mid.bst:app.bst"}};
  for (const char* scope : {"none", "run", "build", "all", "plan"}) {
    for (const auto& [project, target] : targets) {
      std::string args = std::string("show --deps ") + scope + " --format '%{name}' " + target;
      auto b = Bst(args, project);
      ASSERT_EQ(b.exit_code, 0) << b.output;
      auto c = Crossfarm(std::string("show --deps ") + scope + " --json " + target, project);
      ASSERT_EQ(c.exit_code, 0) << c.output;
      std::vector<std::string> names;
      for (const auto& j : nlohmann::json::parse(c.output)) names.push_back(j["name"]);
      EXPECT_EQ(names, Lines(b.output)) << args;
    }
  }
}

// A junction inside a subproject (mid.bst's leaf.bst) loads a third project;
// mid's shared.bst junction is replaced by the top project's own shared.bst,
// whose options apply. Variables as bst's for the elements of every level.
TEST(BstJunctionTest, NestedJunctionsAndParentJunctionsTakePrecedence) {
  const std::vector<std::string> elements = {"top.bst", "mid.bst:app.bst", "shared.bst:o.bst"};
  auto bst = ShowWithBst("junction-nested", elements, {});
  auto ours = ShowWithCrossfarm("junction-nested", elements, {});
  ExpectSameAsBst(bst, ours, "junction-nested");
  EXPECT_EQ(ours["mid.bst:app.bst"].vars["who"], "mid");
  EXPECT_EQ(ours["shared.bst:o.bst"].vars["level"], "from-top");
  auto all = Crossfarm("show --deps all --json top.bst", "junction-nested");
  ASSERT_EQ(all.exit_code, 0) << all.output;
  std::map<std::string, nlohmann::json> by_name;
  for (const auto& j : nlohmann::json::parse(all.output)) by_name[j["name"]] = j;
  ASSERT_EQ(by_name.size(), 4u) << all.output;  // one shared.bst:o.bst, the top's
  EXPECT_EQ(by_name["leaf.bst:l.bst"]["variables"]["who"], "leaf");
  EXPECT_EQ(by_name["leaf.bst:l.bst"]["variables"]["element-name"], "l.bst");
}

// A junction whose source is a tarball of junction-local's subproject: bst
// needs `bst fetch` first, crossfarm fetches and stages it while loading.
// Same order, names and resolved variables as bst.
TEST(BstJunctionTest, TarJunctionIsFetchedAndStagedBeforeTheSubprojectLoads) {
  TempTree dir("tar-junction");
  std::string d = dir.path().string();
  ASSERT_EQ(RunCmd("tar -C " + ProjectDir(kProject) + " -czf " + d + "/sub.tar.gz sub").exit_code, 0);
  std::string sha = RunCmd("sha256sum " + d + "/sub.tar.gz | cut -c1-64").output;
  sha.erase(sha.find_last_not_of("\n") + 1);
  WriteFile(dir.path() / "p/project.conf", "name: t\nformat-version: 18\n");
  WriteFile(dir.path() / "p/sub.bst", "kind: junction\nsources:\n- kind: tar\n  url: file://" + d +
                                          "/sub.tar.gz\n  ref: " + sha +
                                          "\nconfig:\n  options:\n    colour: red\n");
  WriteFile(dir.path() / "p/app.bst", "kind: manual\ndepends:\n- sub.bst:lib.bst\n");
  std::string bst = "cd " + d + "/p && XDG_CACHE_HOME=" + d + "/bc XDG_CONFIG_HOME=" + d +
                    "/bcf bst --no-interactive --no-colors ";
  ASSERT_EQ(RunCmd(bst + "fetch sub.bst").exit_code, 0);
  auto b = RunCmd(bst + "show --deps all --format '%{name} %{vars}' app.bst 2>/dev/null");
  ASSERT_EQ(b.exit_code, 0) << b.output;
  auto c = RunCmd(std::string(CROSSFARM_BIN) + " -C " + d + "/p --cache-dir " + d +
                  "/cc show --deps all --json app.bst");
  ASSERT_EQ(c.exit_code, 0) << c.output;
  std::vector<std::string> names;
  for (const auto& j : nlohmann::json::parse(c.output)) {
    names.push_back(j["name"]);
    if (j["name"] == "sub.bst:lib.bst") {
      EXPECT_EQ(j["variables"]["extra"], "sub-is-not-blue");
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"sub.bst:tool.bst", "sub.bst:lib.bst", "app.bst"}));
  EXPECT_NE(b.output.find("sub.bst:tool.bst"), std::string::npos) << b.output;
  EXPECT_NE(b.output.find("extra: sub-is-not-blue"), std::string::npos) << b.output;
  EXPECT_LT(b.output.find("sub.bst:tool.bst"), b.output.find("sub.bst:lib.bst")) << b.output;
  EXPECT_LT(b.output.find("sub.bst:lib.bst"), b.output.find("app.bst")) << b.output;
}

// crossfarm's keys differ from bst's by design, but the same elements must
// share a key: the subproject's tool.bst under two option sets differs in
// environment, so in bst's key too. Keys are stable from run to run.
TEST(BstJunctionTest, CacheKeysAreStableAndDistinctWhereBuildStreamsAre) {
  auto bst = ShowWithBst(kProject, kElements, {});
  std::map<std::string, std::string> keys;
  for (int run = 0; run < 2; ++run) {
    auto c = Crossfarm("show --deps none --json" + JoinArgs(kElements));
    ASSERT_EQ(c.exit_code, 0) << c.output;
    for (const auto& j : nlohmann::json::parse(c.output)) {
      std::string name = j["name"], key = j["key"];
      if (run == 1) {
        EXPECT_EQ(keys[name], key) << name;
      }
      keys[name] = key;
    }
  }
  for (const auto& a : kElements) {
    for (const auto& b : kElements) {
      EXPECT_EQ(keys[a] == keys[b], bst[a].key == bst[b].key) << a << " vs " << b;
    }
  }
}

}  // namespace
}  // namespace crossfarm::e2e
