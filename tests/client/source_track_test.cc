// `crossfarm source track --save` and `source fetch` through the real binary for
// every kind that tracks, against upstreams the test makes with the real tools
// (git, bzr, ostree, python3 -m pip) behind file:// URLs: the refs written into
// the .bst files are compared with what those tools say. No root, bwrap or
// network needed.
#include <gtest/gtest.h>

#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {
namespace {

std::string Must(const std::string& cmd) {
  auto r = RunCmd(cmd);
  EXPECT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
  std::string out = r.output;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// An sdist with an in-tree PEP 517 backend and no build requirements, in a
// PEP 503 index laid out as directories (pip reads file:// indexes).
void AddSdist(const std::filesystem::path& up, const std::string& name, const std::string& version) {
  const std::string top = name + "-" + version;
  const auto src = up / "sdist" / top;
  WriteFile(src / "pyproject.toml",
            "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n");
  WriteFile(src / "backend.py",
            "import os\nNAME, VERSION = '" + name + "', '" + version + "'\n"
            "def get_requires_for_build_wheel(config_settings=None):\n    return []\n"
            "def prepare_metadata_for_build_wheel(d, config_settings=None):\n"
            "    p = os.path.join(d, '%s-%s.dist-info' % (NAME, VERSION))\n    os.makedirs(p)\n"
            "    open(os.path.join(p, 'METADATA'), 'w').write("
            "'Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n' % (NAME, VERSION))\n"
            "    return os.path.basename(p)\n");
  WriteFile(src / "PKG-INFO", "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\n");
  Must("mkdir -p " + (up / "index/packages").string() + " && cd " + (up / "sdist").string() +
       " && tar czf " + (up / "index/packages" / (top + ".tar.gz")).string() + " " + top);
  const auto page = up / "index/simple" / name / "index.html";
  std::filesystem::create_directories(page.parent_path());
  std::ofstream(page, std::ios::app)
      << "<a href=\"../../packages/" << top << ".tar.gz\">" << top << ".tar.gz</a>\n";
}

class SourceTrackCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto p = dir_.path();
    up_ = p / "upstream";
    WriteFile(p / "project/project.conf", "name: p\nelement-path: elements\n");
    // remote and zip
    WriteFile(up_ / "tool.sh", "#!/bin/sh\necho tool\n");
    Must("cd " + up_.string() + " && python3 -c \"import zipfile; z = zipfile.ZipFile('a.zip', "
         "'w'); z.writestr('a-1/README', 'zip\\n'); z.close()\"");
    // git superproject with a submodule
    const std::string id = "git config user.name T && git config user.email t@example.invalid";
    Must("mkdir -p " + (up_ / "lib").string() + " " + (up_ / "super").string() + " && cd " +
         (up_ / "lib").string() + " && git init -q -b main . && " + id +
         " && echo lib > LIB && git add LIB && git commit -q -m lib && cd ../super && git init -q "
         "-b main . && " + id + " && git -c protocol.file.allow=always submodule add -q ../lib lib "
         "&& git commit -q -m super");
    // bzr branch with two revisions
    Must("bzr init-repo -q " + (up_ / "bzr").string() + " && bzr init -q " +
         (up_ / "bzr/trunk").string() + " && cd " + (up_ / "bzr/trunk").string() +
         " && echo 1 > V && bzr add -q V && BRZ_EMAIL='T <t@example.invalid>' bzr commit -q -m 1 "
         "&& echo 2 > V && BRZ_EMAIL='T <t@example.invalid>' bzr commit -q -m 2");
    // ostree repository
    WriteFile(up_ / "tree/VERSION", "1\n");
    Must("ostree init --repo=" + (up_ / "ostree").string() + " --mode=archive && ostree commit "
         "--repo=" + (up_ / "ostree").string() + " --branch=main --tree=dir=" +
         (up_ / "tree").string() + " -s one");
    // pip index; the requirements file comes from a local source before the pip one
    AddSdist(up_, "cfdep", "1.0");
    AddSdist(up_, "cfdep", "2.0");
    WriteFile(p / "project/files/py/requirements.txt", "cfdep==1.0\n");
    const std::string u = "file://" + up_.string();
    Element("remote", "- kind: remote\n  url: " + u + "/tool.sh\n");
    Element("zip", "- kind: zip\n  url: " + u + "/a.zip\n");
    Element("git", "- kind: git\n  url: " + up_.string() + "/super\n  track: main\n");
    Element("bzr", "- kind: bzr\n  url: " + u + "/bzr\n  track: trunk\n");
    Element("ostree", "- kind: ostree\n  url: " + u + "/ostree\n  track: main\n");
    Element("pip", "- kind: local\n  path: files/py\n- kind: pip\n  url: " + u +
                       "/index/simple/\n  requirements-files: [requirements.txt]\n");
  }
  void Element(const std::string& name, const std::string& sources) {
    WriteFile(dir_.path() / "project/elements" / (name + ".bst"),
              "kind: import\nsources:\n" + sources);
  }
  CommandResult Cf(const std::string& args, const std::string& mirror = "mirror") {
    return RunCmd(std::string(CROSSFARM_BIN) + " -C " + (dir_.path() / "project").string() +
                  " --cache-dir " + (dir_.path() / "cache").string() + " --mirror-dir " +
                  (dir_.path() / mirror).string() + " " + args);
  }
  // The `ref:` line the .bst file has after --save.
  std::string SavedRef(const std::string& name) {
    return Must("grep -A1 '^  ref:' " + (dir_.path() / "project/elements" / (name + ".bst")).string() +
                " | sed -n 's/^  ref: *//p; s/^    //p' | tr -d \"'\\\"\" | head -2 | paste -sd,");
  }

  TempTree dir_{"track"};
  std::filesystem::path up_;
};

TEST_F(SourceTrackCliTest, TrackSaveWritesTheRefsTheUpstreamToolsReportAndFetchUsesThem) {
  const std::vector<std::string> all = {"remote.bst", "zip.bst", "git.bst", "bzr.bst",
                                        "ostree.bst", "pip.bst"};
  std::string targets;
  for (const auto& t : all) targets += " " + t;
  auto tracked = Cf("source track --save" + targets);
  ASSERT_EQ(tracked.exit_code, 0) << tracked.output;
  EXPECT_EQ(SavedRef("remote"), Must("sha256sum " + (up_ / "tool.sh").string() + " | cut -d' ' -f1"));
  EXPECT_EQ(SavedRef("zip"), Must("sha256sum " + (up_ / "a.zip").string() + " | cut -d' ' -f1"));
  EXPECT_EQ(SavedRef("git"), Must("git -C " + (up_ / "super").string() + " rev-parse HEAD"));
  EXPECT_EQ(SavedRef("bzr"), "2");
  EXPECT_EQ(SavedRef("ostree"), Must("ostree rev-parse --repo=" + (up_ / "ostree").string() + " main"));
  EXPECT_EQ(SavedRef("pip"), "cfdep==1.0") << "requirements.txt of the local source pins 1.0";
  // A second track changes nothing; a fetch into an empty mirror works from the refs.
  auto again = Cf("source track" + targets);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.output.find("->"), std::string::npos) << again.output;
  auto fetched = Cf("source fetch" + targets, "mirror2");
  EXPECT_EQ(fetched.exit_code, 0) << fetched.output;
}

TEST_F(SourceTrackCliTest, AnUnknownKeyOfANewKindIsAnErrorAtItsLine) {
  Element("bad", "- kind: zip\n  url: file:///x.zip\n  strip: 1\n");
  auto r = Cf("source fetch bad.bst");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("elements/bad.bst:5:3: unknown source key 'strip'"), std::string::npos)
      << r.output;
  // A bad value points at its key's line too.
  Element("badref", "- kind: git\n  url: x\n  track: main\n  ref: abc\n");
  auto ref = Cf("source fetch badref.bst");
  EXPECT_EQ(ref.exit_code, 2) << ref.output;
  EXPECT_NE(ref.output.find("elements/badref.bst:6:3: git `ref:`"), std::string::npos)
      << ref.output;
}

}  // namespace
}  // namespace crossfarm::e2e
