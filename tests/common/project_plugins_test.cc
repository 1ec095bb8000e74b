// project.conf `plugins:` (common/project_plugins.h): local Python plugin
// kinds load with their defaults YAML composed as for core kinds, and bad
// declarations fail naming project.conf:line as bst does.
#include <gtest/gtest.h>

#include "common/cache_key.h"
#include "tests/common/temp_project.h"

namespace crossfarm {
namespace {

using testing::LoadError;
using testing::TempProject;

constexpr const char* kConf =
    "name: t\nplugins:\n- origin: local\n  path: plugins\n  elements:\n    collect: 1\n"
    "  sources:\n    inline: 0\n"
    "elements:\n  collect:\n    variables:\n      from-project: project-conf\n";

// Loads with a python_keys hook that records the keyed elements and sets a
// key, as the client's plugin host does.
Result<testing::Loaded> LoadWithKeys(const std::string& dir, const std::string& key,
                                     std::vector<std::string>* keyed = nullptr) {
  LoadOptions o;
  o.project_dir = dir;
  CF_ASSIGN_OR_RETURN(o.arch, ArchConfig::Make("x86_64", "", ""));
  o.python_keys = [key, keyed](Element& e) {
    if (keyed) keyed->push_back(e.name);
    e.python_key = key;
    for (auto& s : e.sources)
      if (s.python_plugin) s.python_key = key;
    return Status::Ok();
  };
  testing::Loaded l;
  CF_ASSIGN_OR_RETURN(l.project, Project::Load(o));
  CF_ASSIGN_OR_RETURN(l.targets, l.project->LoadTargets({"e.bst"}));
  return l;
}

TEST(ProjectPluginsTest, LocalKindComposesItsYamlBesideTheModuleAndProjectOverrides) {
  TempProject p({{"project.conf", kConf},
                 {"plugins/collect.py", "# module\n"},
                 {"plugins/collect.yaml",
                  "variables:\n  from-yaml: plugin\n  from-project: plugin\n"
                  "config:\n  path: '%{prefix}/collected'\n"},
                 {"e.bst", "kind: collect\nconfig:\n  extra: x\n"}});
  std::vector<std::string> keyed;
  auto l = LoadWithKeys(p.dir(), "{\"k\":1}", &keyed);
  ASSERT_TRUE(l) << l.error().message();
  const Element& e = *l->targets[0];
  ASSERT_NE(e.python_plugin, nullptr);
  EXPECT_EQ(e.python_plugin->file, p.dir() + "/plugins/collect.py");
  EXPECT_EQ(e.python_plugin->required_version, 1);
  EXPECT_EQ(e.variables.at("from-yaml"), "plugin");
  EXPECT_EQ(e.variables.at("from-project"), "project-conf");
  EXPECT_EQ(e.config()["path"].as<std::string>(), "/usr/collected");
  EXPECT_EQ(e.config()["extra"].as<std::string>(), "x");
  EXPECT_EQ(keyed, std::vector<std::string>{"e.bst"});
}

TEST(ProjectPluginsTest, ThePluginsUniqueKeyIsPartOfTheCacheKey) {
  TempProject p({{"project.conf", kConf},
                 {"plugins/collect.py", "# module\n"},
                 {"e.bst", "kind: collect\n"}});
  auto a = LoadWithKeys(p.dir(), "{\"k\":1}");
  auto b = LoadWithKeys(p.dir(), "{\"k\":2}");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->targets[0]->cache_key && b->targets[0]->cache_key);
  EXPECT_NE(*a->targets[0]->cache_key, *b->targets[0]->cache_key);
}

TEST(ProjectPluginsTest, ALocalSourceKindIsKeyedByThePlugin) {
  TempProject p({{"project.conf", kConf},
                 {"plugins/inline.py", "# module\n"},
                 {"e.bst", "kind: manual\nsources:\n- kind: inline\n  content: x\n"}});
  auto l = LoadWithKeys(p.dir(), "[\"x\"]");
  ASSERT_TRUE(l) << l.error().message();
  const SourceSpec& s = l->targets[0]->sources[0];
  ASSERT_NE(s.python_plugin, nullptr);
  EXPECT_EQ(s.python_key, "[\"x\"]");
}

TEST(ProjectPluginsTest, NativeKindsWinOverALocalPluginOfTheSameName) {
  TempProject p({{"project.conf",
                  "name: t\nplugins:\n- origin: local\n  path: plugins\n  elements:\n"
                  "    manual: 0\n  sources:\n    local: 0\n"},
                 {"plugins/manual.py", "# module\n"},
                 {"files/a", "a"},
                 {"e.bst", "kind: manual\nsources:\n- kind: local\n  path: files\n"}});
  auto l = LoadWithKeys(p.dir(), "unused");
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_EQ(l->targets[0]->python_plugin, nullptr);
  EXPECT_EQ(l->targets[0]->sources[0].python_plugin, nullptr);
}

TEST(ProjectPluginsTest, BadDeclarationsNameProjectConfLineAndTheFix) {
  auto conf = [](const std::string& origin) { return "name: t\nplugins:\n" + origin; };
  const std::pair<std::string, const char*> cases[] = {
      {conf("- origin: remote\n  path: plugins\n"),
       "project.conf:3:3: Origin 'remote' is not one of the allowed types\n  hint: use origin: "
       "local, pip or core"},
      {conf("- origin: local\n  path: plugins\n  elements:\n    a: one\n"),
       "project.conf:6:8: the format version of plugin 'a' must be an integer\n  hint: write `a: "
       "0` (the oldest format version the project needs)"},
      {conf("- origin: local\n  path: plugins\n  elements:\n    a: 0\n- origin: pip\n"
            "  package-name: x\n  elements:\n    a: 0\n"),
       "project.conf:10:5: Duplicate listing of element 'a'\n  hint: declare each plugin kind "
       "once in project.conf"},
      {conf("- origin: local\n  path: ../elsewhere\n"),
       "project.conf:4:3: plugin path '../elsewhere' must be a directory inside the project\n  "
       "hint: give a path relative to the directory of project.conf"},
      {conf("- origin: local\n  path: missing\n"),
       "project.conf:4:3: plugin path 'missing' is not a directory of the project\n  hint: "
       "create it, holding <kind>.py, or fix the path"},
      {conf("- origin: local\n  path: plugins\n  kinds: {}\n"),
       "project.conf:5:3: unknown key 'kinds' in plugins\n  hint: valid keys are: origin sources "
       "elements package-name path"},
  };
  for (const auto& [project_conf, want] : cases)
    EXPECT_EQ(LoadError({{"project.conf", project_conf}, {"plugins/.keep", ""},
                         {"e.bst", "kind: manual\n"}}),
              want)
        << project_conf;
}

TEST(ProjectPluginsTest, WithoutAPluginHostAnElementOfAPluginIsAnError) {
  EXPECT_EQ(LoadError({{"project.conf", kConf}, {"plugins/collect.py", ""},
                       {"e.bst", "kind: collect\n"}}),
            "e.bst: e.bst uses the Python plugin 'collect' (project.conf:6:5), which this "
            "command cannot run\n  hint: use `crossfarm show` or `crossfarm build`");
}

}  // namespace
}  // namespace crossfarm
