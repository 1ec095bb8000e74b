#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>

#include "common/cache_key.h"
#include "common/digest.h"
#include "common/project.h"
#include "tests/common/temp_project.h"

namespace crossfarm {
namespace {

using testing::LoadProject;
using testing::TempProject;
namespace fs = std::filesystem;

const char* kFixture = "tests/data/projects/autotools";

std::map<std::string, std::string> Keys(const std::string& dir, const char* arch = "x86_64",
                                        int max_jobs = 4) {
  auto l = LoadProject(dir, {"system.bst"}, arch, {}, max_jobs);
  EXPECT_TRUE(l.has_value()) << l.error().ToString();
  std::map<std::string, std::string> keys;
  if (!l) return keys;
  for (Element* e : l->project->Plan(l->targets, Scope::kAll))
    keys[e->name] = e->cache_key.value_or("none");
  return keys;
}

TEST(CacheKeyTest, KeysAreFullHexAndShortKeyIsItsPrefix) {
  auto l = LoadProject(kFixture, {"hello.bst"});
  ASSERT_TRUE(l.has_value());
  const Element& e = *l->targets[0];
  ASSERT_TRUE(e.cache_key.has_value());
  EXPECT_EQ(e.cache_key->size(), 64u);
  EXPECT_EQ(e.cache_key->find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(e.ShortKey(), e.cache_key->substr(0, 8));
  auto input = CacheKeyInput(e);
  ASSERT_TRUE(input.has_value());
  EXPECT_EQ(Sha256Hex(*input), *e.cache_key);
  EXPECT_TRUE(input->starts_with("{\"build-deps\":{\"base.bst\":\""));
}

TEST(CacheKeyTest, SameProjectInAnotherDirectoryHasTheSameKeys) {
  auto original = Keys(kFixture);
  ASSERT_EQ(original.size(), 5u);
  TempProject copy;
  fs::copy(kFixture, copy.dir(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  EXPECT_EQ(Keys(copy.dir()), original);
}

TEST(CacheKeyTest, MaxJobsAndNocacheEnvironmentDoNotChangeKeys) {
  EXPECT_EQ(Keys(kFixture, "x86_64", 1), Keys(kFixture, "x86_64", 8));
}

TEST(CacheKeyTest, KeysDependOnTheArch) {
  auto x86 = Keys(kFixture, "x86_64");
  auto arm = Keys(kFixture, "aarch64");
  EXPECT_NE(x86.at("hello.bst"), arm.at("hello.bst"));
  EXPECT_NE(x86.at("config.bst"), arm.at("config.bst"));  // %{host-arch} is in every key
}

std::string KeyOf(const std::map<std::string, std::string>& files, const std::string& target) {
  TempProject p(files);
  auto l = LoadProject(p.dir(), {target});
  EXPECT_TRUE(l.has_value()) << l.error().ToString();
  if (!l) return "error";
  return l->targets[0]->cache_key.value_or("none");
}

std::map<std::string, std::string> Base() {
  return {{"project.conf", "name: k\n"},
          {"dep.bst", "kind: manual\nsources:\n- kind: git\n  url: https://x/y.git\n  ref: aaa\n"},
          {"e.bst", "kind: autotools\ndepends: [dep.bst]\nvariables:\n  conf-local: --with-x\n"
                    "environment:\n  FOO: bar\n  LANG: C\nenvironment-nocache: [LANG]\n"
                    "config:\n  build-commands: [make a, make b]\n"}};
}

TEST(CacheKeyTest, YamlKeyOrderDoesNotMatter) {
  auto shuffled = Base();
  shuffled["e.bst"] = "config:\n  build-commands: [make a, make b]\nenvironment-nocache: [LANG]\n"
                      "environment:\n  LANG: C\n  FOO: bar\nvariables:\n  conf-local: --with-x\n"
                      "depends: [dep.bst]\nkind: autotools\n";
  shuffled["dep.bst"] = "sources:\n- ref: aaa\n  url: https://x/y.git\n  kind: git\nkind: manual\n";
  EXPECT_EQ(KeyOf(Base(), "e.bst"), KeyOf(shuffled, "e.bst"));
}

TEST(CacheKeyTest, RelevantChangesChangeTheKey) {
  const std::string base = KeyOf(Base(), "e.bst");
  const std::pair<std::string, std::string> edits[] = {
      {"e.bst", "kind: autotools\ndepends: [dep.bst]\nvariables:\n  conf-local: --with-y\n"
                "environment:\n  FOO: bar\n  LANG: C\nenvironment-nocache: [LANG]\n"
                "config:\n  build-commands: [make a, make b]\n"},
      {"e.bst", "kind: autotools\ndepends: [dep.bst]\nvariables:\n  conf-local: --with-x\n"
                "environment:\n  FOO: baz\n  LANG: C\nenvironment-nocache: [LANG]\n"
                "config:\n  build-commands: [make a, make b]\n"},
      {"e.bst", "kind: autotools\ndepends: [dep.bst]\nvariables:\n  conf-local: --with-x\n"
                "environment:\n  FOO: bar\n  LANG: C\nenvironment-nocache: [LANG]\n"
                "config:\n  build-commands: [make b, make a]\n"},
      {"e.bst", "kind: autotools\nbuild-depends: [dep.bst]\nvariables:\n  conf-local: --with-x\n"
                "environment:\n  FOO: bar\n  LANG: C\nenvironment-nocache: [LANG]\n"
                "config:\n  build-commands: [make a, make b]\n"},
      {"dep.bst", "kind: manual\nsources:\n- kind: git\n  url: https://x/y.git\n  ref: bbb\n"},
      {"dep.bst", "kind: manual\nsources:\n- kind: git\n  url: https://x/z.git\n  ref: aaa\n"},
      {"dep.bst", "kind: manual\nvariables: {prefix: /opt}\nsources:\n- kind: git\n  url: https://x/y.git\n  ref: aaa\n"},
      {"project.conf", "name: k2\n"},
  };
  for (const auto& [file, text] : edits) {
    auto files = Base();
    files[file] = text;
    EXPECT_NE(KeyOf(files, "e.bst"), base) << text;
  }
}

TEST(CacheKeyTest, IrrelevantChangesKeepTheKey) {
  const std::string base = KeyOf(Base(), "e.bst");
  const std::pair<std::string, std::string> edits[] = {
      // environment-nocache variables are left out ...
      {"e.bst", "kind: autotools\ndepends: [dep.bst]\nvariables:\n  conf-local: --with-x\n"
                "environment:\n  FOO: bar\n  LANG: en_US\nenvironment-nocache: [LANG]\n"
                "config:\n  build-commands: [make a, make b]\n"},
      // ... and so are description, comments, YAML style and the source's track.
      {"e.bst", "# comment\nkind: autotools\ndescription: words\ndepends:\n- dep.bst\nvariables: {conf-local: --with-x}\n"
                "environment: {FOO: \"bar\", LANG: 'C'}\nenvironment-nocache: [LANG]\n"
                "config:\n  build-commands:\n  - make a\n  - make b\n"},
      {"dep.bst", "kind: manual\nsources:\n- kind: git\n  url: https://x/y.git\n  track: main\n  ref: aaa\n"},
  };
  for (const auto& [file, text] : edits) {
    auto files = Base();
    files[file] = text;
    EXPECT_EQ(KeyOf(files, "e.bst"), base) << text;
  }
}

TEST(CacheKeyTest, MissingRefMeansNoKeyHereAndAbove) {
  auto files = Base();
  files["dep.bst"] = "kind: manual\nsources:\n- kind: git\n  url: https://x/y.git\n  track: main\n";
  TempProject p(files);
  auto l = LoadProject(p.dir(), {"e.bst"});
  ASSERT_TRUE(l.has_value());
  Element* dep = l->project->Find("dep.bst");
  EXPECT_FALSE(dep->HasAllRefs());
  EXPECT_FALSE(dep->cache_key.has_value());
  EXPECT_TRUE(l->targets[0]->HasAllRefs());
  EXPECT_FALSE(l->targets[0]->cache_key.has_value());
  EXPECT_EQ(l->targets[0]->ShortKey(), "");
}

TEST(CacheKeyTest, LocalSourcesAreKeyedByContentAndExecBit) {
  TempProject p({{"project.conf", "name: k\n"},
                 {"e.bst", "kind: import\nsources:\n- kind: local\n  path: files\n"},
                 {"files/a.txt", "one\n"},
                 {"files/sub/b.txt", "two\n"}});
  auto key = [&] {
    auto l = LoadProject(p.dir(), {"e.bst"});
    EXPECT_TRUE(l.has_value()) << l.error().ToString();
    return l ? l->targets[0]->cache_key.value_or("none") + l->targets[0]->sources[0].ref_text.value_or("")
             : std::string("error");
  };
  std::string k1 = key();
  EXPECT_NE(k1.find("sha256:"), std::string::npos);
  EXPECT_EQ(key(), k1);
  p.Write("files/sub/b.txt", "changed\n");
  std::string k2 = key();
  EXPECT_NE(k2, k1);
  ASSERT_EQ(chmod((p.dir() + "/files/a.txt").c_str(), 0755), 0);
  std::string k3 = key();
  EXPECT_NE(k3, k2);
  p.Write("files/new.txt", "");
  EXPECT_NE(key(), k3);
}

TEST(CacheKeyTest, PatchSourceIsKeyedByTheFile) {
  TempProject p({{"project.conf", "name: k\n"},
                 {"e.bst", "kind: manual\nsources:\n- kind: patch\n  path: fix.patch\n"},
                 {"fix.patch", "--- a\n+++ b\n"}});
  auto l = LoadProject(p.dir(), {"e.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  EXPECT_TRUE(l->targets[0]->cache_key.has_value());
  EXPECT_TRUE(l->targets[0]->sources[0].ref_text->starts_with("sha256:"));
}

TEST(CacheKeyTest, CanonicalJsonOfYamlSortsKeys) {
  std::string out;
  AppendCanonicalJson(YAML::Load("{b: [x, {d: 1, c: 2}], a: ~}"), out);
  EXPECT_EQ(out, R"({"a":null,"b":["x",{"c":"2","d":"1"}]})");
}

}  // namespace
}  // namespace crossfarm
