// The user's tracked refs (common/tracked_refs.h): round trip, the `base`
// rule, and their effect on the loader (refs and cache keys).
#include <gtest/gtest.h>

#include "common/project.h"
#include "common/tracked_refs.h"
#include "common/yaml_loader.h"
#include "tests/common/temp_project.h"

namespace crossfarm {
namespace {

using testing::TempProject;

NodePtr Yaml(const std::string& text) {
  auto n = ParseYamlString("v: " + text, "<test>");
  EXPECT_TRUE(n.has_value());
  return n.has_value() ? (*n)->Get("v") : Node::MakeNull();
}

TEST(TrackedRefsTest, MissingFileIsEmpty) {
  TempProject dir;
  auto refs = TrackedRefs::Load(dir.dir() + "/tracked-refs/p.yaml");
  ASSERT_TRUE(refs.has_value()) << refs.error().message();
  EXPECT_TRUE(refs->empty());
  EXPECT_EQ(refs->Find("a.bst", 0, "none"), nullptr);
}

TEST(TrackedRefsTest, UpdateRoundTripsAndFindChecksTheBase) {
  TempProject dir;
  const std::string path = dir.dir() + "/tracked-refs/p.yaml";
  const std::string base = TrackedRefBase(std::string("old"));
  Status s = TrackedRefs::Update(path, [&](TrackedRefs& refs) {
    refs.Set("a.bst", 1, base, Yaml("[{package: x, version: '2'}]"));
    refs.Set("b/c.bst", 0, "none", Yaml("deadbeef"));
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.message();
  auto refs = TrackedRefs::Load(path);
  ASSERT_TRUE(refs.has_value()) << refs.error().message();
  const auto* a = refs->Find("a.bst", 1, base);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->ref->IsSequence());
  EXPECT_EQ(a->ref->items[0]->Get("version")->scalar, "2");
  EXPECT_EQ(refs->Find("a.bst", 1, TrackedRefBase(std::string("newer in the project"))), nullptr);
  EXPECT_EQ(refs->Find("a.bst", 0, base), nullptr);
  ASSERT_NE(refs->Find("b/c.bst", 0, "none"), nullptr);
  EXPECT_EQ(refs->Find("b/c.bst", 0, "none")->ref->scalar, "deadbeef");

  s = TrackedRefs::Update(path, [](TrackedRefs& r) {
    r.Erase("a.bst", 1);
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.message();
  refs = TrackedRefs::Load(path);
  ASSERT_TRUE(refs.has_value());
  EXPECT_EQ(refs->Find("a.bst", 1, base), nullptr);
  EXPECT_NE(refs->Find("b/c.bst", 0, "none"), nullptr);
}

TEST(TrackedRefsTest, MalformedFileNamesFileAndLine) {
  TempProject dir(std::map<std::string, std::string>{{"t.yaml", "a.bst:\n- source: zero\n  base: none\n  ref: x\n"}});
  auto refs = TrackedRefs::Load(dir.dir() + "/t.yaml");
  ASSERT_FALSE(refs.has_value());
  EXPECT_NE(refs.error().message().find("t.yaml:2"), std::string::npos) << refs.error().message();
  EXPECT_NE(refs.error().message().find("source number"), std::string::npos);
}

const std::map<std::string, std::string> kProject = {
    {"project.conf", "name: p\nelement-path: elements\n"},
    {"elements/a.bst",
     "kind: import\nsources:\n- kind: tar\n  url: file:///nonexistent/a.tar\n  ref: "
     "1111111111111111111111111111111111111111111111111111111111111111\n"},
};

Result<std::unique_ptr<Project>> Load(const std::string& dir, const std::string& tracked) {
  LoadOptions o;
  o.project_dir = dir;
  CF_ASSIGN_OR_RETURN(o.arch, ArchConfig::Make("x86_64", "", ""));
  o.tracked_refs_dir = tracked;
  return Project::Load(o);
}

TEST(TrackedRefsTest, LoaderUsesATrackedRefOnlyWhileTheElementKeepsItsBase) {
  TempProject dir(kProject);
  const std::string tracked_dir = dir.dir() + "/cache/tracked-refs";
  const std::string old_ref = std::string(64, '1'), new_ref = std::string(64, '2');

  auto plain = Load(dir.dir(), tracked_dir);
  ASSERT_TRUE(plain.has_value()) << plain.error().message();
  auto a = (*plain)->LoadTargets({"a.bst"});
  ASSERT_TRUE(a.has_value()) << a.error().message();
  const std::string key_before = *(*a)[0]->cache_key;
  EXPECT_EQ((*a)[0]->sources[0].ref_text, old_ref);
  EXPECT_FALSE((*a)[0]->sources[0].tracked_in_cache);

  ASSERT_TRUE(TrackedRefs::Update(tracked_dir + "/p.yaml", [&](TrackedRefs& r) {
                r.Set("a.bst", 0, TrackedRefBase(old_ref), Yaml(new_ref));
                return Status::Ok();
              }).ok());
  auto tracked = Load(dir.dir(), tracked_dir);
  ASSERT_TRUE(tracked.has_value()) << tracked.error().message();
  auto t = (*tracked)->LoadTargets({"a.bst"});
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ((*t)[0]->sources[0].ref_text, new_ref);
  EXPECT_TRUE((*t)[0]->sources[0].tracked_in_cache);
  EXPECT_EQ((*t)[0]->sources[0].Config()["ref"].as<std::string>(), new_ref);  // what plugins see
  EXPECT_NE(*(*t)[0]->cache_key, key_before);

  // The project moves on (new pins pulled): its own ref wins again.
  dir.Write("elements/a.bst",
            "kind: import\nsources:\n- kind: tar\n  url: file:///nonexistent/a.tar\n  ref: " +
                std::string(64, '3') + "\n");
  auto moved = Load(dir.dir(), tracked_dir);
  ASSERT_TRUE(moved.has_value());
  auto m = (*moved)->LoadTargets({"a.bst"});
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ((*m)[0]->sources[0].ref_text, std::string(64, '3'));
  EXPECT_FALSE((*m)[0]->sources[0].tracked_in_cache);

  // Without a tracked-refs dir nothing is read.
  auto none = Load(dir.dir(), "");
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE((*none)->tracked_refs_path().empty());
}

}  // namespace
}  // namespace crossfarm
