// Workspaces (common/workspaces.h): bst 1.6's workspaces.yml, the content
// scan with its stat cache, and their effect on the loader's cache keys.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <filesystem>

#include "common/project.h"
#include "common/workspaces.h"
#include "tests/common/temp_project.h"

namespace crossfarm {
namespace {

using testing::TempProject;
using Files = std::map<std::string, std::string>;
namespace fs = std::filesystem;

// A file's mtime set back, as an edit long ago would have left it (recent
// files are not trusted by the stat cache).
void SetOld(const std::string& path, time_t seconds_ago) {
  struct timeval tv[2];
  tv[0].tv_sec = tv[1].tv_sec = ::time(nullptr) - seconds_ago;
  tv[0].tv_usec = tv[1].tv_usec = 0;
  ASSERT_EQ(::utimes(path.c_str(), tv), 0);
}

TEST(WorkspacesTest, MissingFileIsNoWorkspace) {
  TempProject p;
  auto w = Workspaces::Load(p.dir());
  ASSERT_TRUE(w.has_value()) << w.error().message();
  EXPECT_TRUE(w->entries().empty());
}

TEST(WorkspacesTest, ReadsBstsFileAndKeepsItsKeysWhenSaving) {
  TempProject p(Files{{".bst/workspaces.yml",
                  "format-version: 3\nworkspaces:\n  app.bst:\n    path: ws-app\n    prepared: True\n"
                  "    last_successful: abc\n    running_files: {}\n"}});
  auto w = Workspaces::Load(p.dir());
  ASSERT_TRUE(w.has_value()) << w.error().message();
  const WorkspaceEntry* app = w->Find("app.bst");
  ASSERT_NE(app, nullptr);
  EXPECT_TRUE(app->prepared);
  EXPECT_EQ(w->AbsolutePath(*app), p.dir() + "/ws-app");
  EXPECT_EQ(app->where.line, 3);
  w->Open("b/c.bst", "/elsewhere/c");
  w->Open("d.bst", p.dir() + "/sub/d");
  ASSERT_TRUE(w->Save().ok());

  auto again = Workspaces::Load(p.dir());
  ASSERT_TRUE(again.has_value()) << again.error().message();
  ASSERT_EQ(again->entries().size(), 3u);
  EXPECT_EQ(again->Find("b/c.bst")->path, "/elsewhere/c");
  EXPECT_EQ(again->Find("d.bst")->path, "sub/d");  // inside the project: relative, as bst
  ASSERT_TRUE(again->Find("app.bst")->extra);
  EXPECT_TRUE(again->Find("app.bst")->extra->Has("last_successful"));
  EXPECT_TRUE(again->Close("app.bst"));
  EXPECT_FALSE(again->Close("app.bst"));
}

TEST(WorkspacesTest, FormatVersionZeroIsElementToPath) {
  TempProject p(Files{{".bst/workspaces.yml", "app.bst: ws\n"}});
  auto w = Workspaces::Load(p.dir());
  ASSERT_TRUE(w.has_value()) << w.error().message();
  ASSERT_NE(w->Find("app.bst"), nullptr);
  EXPECT_EQ(w->Find("app.bst")->path, "ws");
}

TEST(WorkspacesTest, NewerFormatIsAnErrorWithItsLine) {
  TempProject p(Files{{".bst/workspaces.yml", "format-version: 4\nworkspaces: {}\n"}});
  auto w = Workspaces::Load(p.dir());
  ASSERT_FALSE(w.has_value());
  EXPECT_NE(w.error().message().find("workspaces.yml:1"), std::string::npos) << w.error().message();
  EXPECT_NE(w.error().message().find("format-version 4"), std::string::npos) << w.error().message();
}

TEST(WorkspacesTest, KeyFollowsContentNotTimes) {
  TempProject p(Files{{"ws/a.c", "int a;\n"}, {"ws/sub/b.c", "int b;\n"}});
  const std::string ws = p.dir() + "/ws";
  auto first = ScanWorkspace(ws, "");
  ASSERT_TRUE(first.has_value()) << first.error().message();
  SetOld(ws + "/a.c", 100);
  auto touched = ScanWorkspace(ws, "");
  ASSERT_TRUE(touched.has_value());
  EXPECT_EQ(first->key, touched->key);
  p.Write("ws/a.c", "int a2;\n");
  auto edited = ScanWorkspace(ws, "");
  ASSERT_TRUE(edited.has_value());
  EXPECT_NE(first->key, edited->key);
  fs::create_directory(ws + "/empty");
  auto with_dir = ScanWorkspace(ws, "");
  ASSERT_TRUE(with_dir.has_value());
  EXPECT_NE(edited->key, with_dir->key);
  ::chmod((ws + "/a.c").c_str(), 0755);
  auto exec = ScanWorkspace(ws, "");
  ASSERT_TRUE(exec.has_value());
  EXPECT_NE(with_dir->key, exec->key);
}

TEST(WorkspacesTest, StatCacheSkipsUnchangedFilesAndCatchesEdits) {
  TempProject p(Files{{"ws/a.c", "int a;\n"}, {"ws/b.c", "int b;\n"}});
  const std::string ws = p.dir() + "/ws", cache = p.dir() + "/cache/x.stat";
  SetOld(ws + "/a.c", 100);
  SetOld(ws + "/b.c", 100);
  auto first = ScanWorkspace(ws, cache);
  ASSERT_TRUE(first.has_value()) << first.error().message();
  EXPECT_EQ(first->files_hashed, 2u);
  auto second = ScanWorkspace(ws, cache);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->files_hashed, 0u);
  EXPECT_EQ(second->files_reused, 2u);
  EXPECT_EQ(second->key, first->key);
  // Same size, new content: the stat changed, so it is read again.
  p.Write("ws/b.c", "int c;\n");
  auto third = ScanWorkspace(ws, cache);
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(third->files_hashed, 1u);
  EXPECT_NE(third->key, first->key);
  EXPECT_EQ(third->key, ScanWorkspace(ws, "")->key);
}

TEST(WorkspacesTest, AFifoIsAnErrorNamingIt) {
  TempProject p(Files{{"ws/a.c", "x"}});
  ASSERT_EQ(::mkfifo((p.dir() + "/ws/pipe").c_str(), 0644), 0);
  auto scan = ScanWorkspace(p.dir() + "/ws", "");
  ASSERT_FALSE(scan.has_value());
  EXPECT_NE(scan.error().message().find("ws/pipe"), std::string::npos) << scan.error().message();
}

TEST(WorkspacesTest, NormalNameIsBsts) {
  EXPECT_EQ(ElementNormalName("base/gcc.bst"), "base-gcc");
  EXPECT_EQ(ElementNormalName("hello.bst"), "hello");
}

// The loader: a workspaced element's key follows the workspace's files, and
// an element without refs gets a key once a workspace replaces its sources.
class WorkspaceLoadTest : public ::testing::Test {
 protected:
  Result<std::string> KeyOf(const std::string& element, bool with_workspace) {
    LoadOptions o;
    o.project_dir = p_.dir();
    CF_ASSIGN_OR_RETURN(o.arch, ArchConfig::Make("x86_64", "", ""));
    if (with_workspace) {
      CF_ASSIGN_OR_RETURN(o.workspaces, Workspaces::Load(p_.dir()));
    }
    CF_ASSIGN_OR_RETURN(auto project, Project::Load(o));
    CF_ASSIGN_OR_RETURN(auto targets, project->LoadTargets({element}));
    if (!targets.front()->cache_key) return std::string("none");
    return *targets.front()->cache_key;
  }
  TempProject p_{{{"project.conf", "name: p\nelement-path: elements\n"},
                  {"elements/app.bst",
                   "kind: manual\nsources:\n- kind: tar\n  url: http://x/a.tar.gz\n"},
                  {"ws/a.c", "int a;\n"},
                  {".bst/workspaces.yml", "format-version: 3\nworkspaces:\n  app.bst:\n    path: ws\n"}}};
};

TEST_F(WorkspaceLoadTest, KeyFollowsTheWorkspacesFiles) {
  auto without = KeyOf("app.bst", false);
  ASSERT_TRUE(without.has_value()) << without.error().message();
  EXPECT_EQ(*without, "none");  // no ref: no key
  auto first = KeyOf("app.bst", true);
  ASSERT_TRUE(first.has_value()) << first.error().message();
  EXPECT_EQ(first->size(), 64u);
  p_.Write("ws/a.c", "int a2;\n");
  auto second = KeyOf("app.bst", true);
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(*first, *second);
}

TEST_F(WorkspaceLoadTest, MissingDirectoryNamesTheFileLineAndTheFix) {
  fs::remove_all(p_.dir() + "/ws");
  auto key = KeyOf("app.bst", true);
  ASSERT_FALSE(key.has_value());
  const std::string& m = key.error().message();
  EXPECT_NE(m.find("workspaces.yml:3"), std::string::npos) << m;
  EXPECT_NE(m.find("workspace reset app.bst"), std::string::npos) << m;
  EXPECT_NE(m.find("workspace close app.bst"), std::string::npos) << m;
}

}  // namespace
}  // namespace crossfarm
