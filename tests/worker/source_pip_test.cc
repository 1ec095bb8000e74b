// pip sources against a tiny PEP 503 "simple" index on 127.0.0.1, serving source
// distributions the test builds: each has an in-tree PEP 517 backend (no build
// requirements), so `pip download` needs nothing but this index.
#include "common/digest.h"
#include "tests/worker/source_test_util.h"
#include "tests/worker/test_http_server.h"
#include "worker/archive.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using testing::MustMake;
using testing::ReadFile;
using testing::ScratchDir;
using testing::TestHttpServer;
using testing::WriteFile;

constexpr const char* kBackend = R"(import os
def get_requires_for_build_wheel(config_settings=None):
    return []
def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    d = os.path.join(metadata_directory, "%s-%s.dist-info" % (NAME, VERSION))
    os.makedirs(d)
    with open(os.path.join(d, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (NAME, VERSION))
        for r in REQUIRES:
            f.write("Requires-Dist: %s\n" % r)
    return os.path.basename(d)
def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("pip download never builds")
)";

class PipSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_.project_dir = scratch_.Sub("project");
    ctx_.cache_dir = scratch_.Sub("cache");
    AddSdist("cfdemo", "1.0", "'cf-dep'");
    AddSdist("cf_dep", "1.0", "");
    AddSdist("cf_dep", "2.0", "");
    for (const auto& [project, links] : index_) server_.Serve("/simple/" + project + "/", links,
                                                             "text/html");
  }

  // Builds <file_name>-<version>.tar.gz and lists it under /simple/<project>/.
  void AddSdist(const std::string& file_name, const std::string& version,
                const std::string& requires_list) {
    const std::string top = file_name + "-" + version;
    const std::string src = scratch_.Sub("sdist/" + top);
    WriteFile(src + "/pyproject.toml",
              "[build-system]\nrequires = []\nbuild-backend = \"backend\"\n"
              "backend-path = [\".\"]\n");
    WriteFile(src + "/backend.py", "NAME, VERSION, REQUIRES = '" + file_name + "', '" + version +
                                       "', [" + requires_list + "]\n" + kBackend);
    WriteFile(src + "/PKG-INFO",
              "Metadata-Version: 2.1\nName: " + file_name + "\nVersion: " + version + "\n");
    const std::string tarball = scratch_.path() + "/" + top + ".tar.gz";
    ASSERT_TRUE(WriteTarball(src, top, tarball, Compression::kGzip).ok());
    sdists_[top + ".tar.gz"] = ReadFile(tarball);
    server_.Serve("/packages/" + top + ".tar.gz", sdists_[top + ".tar.gz"]);
    std::string project = file_name;
    std::replace(project.begin(), project.end(), '_', '-');  // PEP 503 normalisation
    index_[project] += "<a href=\"../../packages/" + top + ".tar.gz\">" + top + ".tar.gz</a>\n";
  }

  std::unique_ptr<Source> Pip(const std::string& extra) {
    return MustMake("{kind: pip, url: '" + server_.Url("/simple/") + "'" + extra + "}", ctx_);
  }

  ScratchDir scratch_;
  TestHttpServer server_;
  SourceContext ctx_;
  std::map<std::string, std::string> index_, sdists_;
};

TEST_F(PipSourceTest, TrackPinsThePackagesAndTheirDependenciesNewestFirst) {
  auto ref = Pip(", packages: [cfdemo]")->Track();
  ASSERT_TRUE(ref.has_value()) << ref.error().ToString();
  EXPECT_EQ(ref->as<std::string>(), "cf_dep==2.0\ncfdemo==1.0");
}

TEST_F(PipSourceTest, FetchDownloadsThePinnedVersionsAndStageCopiesThem) {
  auto source = Pip(", packages: [cfdemo], ref: \"cfdemo==1.0\\ncf_dep==1.0\", directory: src");
  const std::string dest = scratch_.Sub("dest");
  const Status st = source->Stage(dest);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const std::string staged = dest + "/src/.bst_pip_downloads";
  EXPECT_EQ(ReadFile(staged + "/cfdemo-1.0.tar.gz"), sdists_["cfdemo-1.0.tar.gz"]);
  EXPECT_EQ(ReadFile(staged + "/cf_dep-1.0.tar.gz"), sdists_["cf_dep-1.0.tar.gz"]);
  EXPECT_FALSE(fs::exists(staged + "/cf_dep-2.0.tar.gz"));
  // The mirror serves the next fetch of that ref: no request reaches the index.
  const int before = server_.requests();
  ASSERT_TRUE(Pip(", packages: [cfdemo], ref: \"cfdemo==1.0\\ncf_dep==1.0\"")->Fetch().ok());
  EXPECT_EQ(server_.requests(), before);
}

TEST_F(PipSourceTest, RequirementsFilesAreReadFromTheEarlierSources) {
  const std::string previous = scratch_.Sub("previous");
  WriteFile(previous + "/requirements/base.txt", "cf-dep==1.0\n");
  auto source = Pip(", requirements-files: [requirements/base.txt]");
  EXPECT_TRUE(source->TrackNeedsPreviousSources());
  auto ref = source->TrackWithPrevious(previous);
  ASSERT_TRUE(ref.has_value()) << ref.error().ToString();
  EXPECT_EQ(ref->as<std::string>(), "cf_dep==1.0");
  auto alone = source->Track();
  ASSERT_FALSE(alone.has_value());
  EXPECT_NE(alone.error().message().find("requirements-files"), std::string::npos);
  EXPECT_FALSE(Pip(", packages: [cfdemo]")->TrackNeedsPreviousSources());
}

TEST_F(PipSourceTest, UnknownPackageIsAnErrorNamingTheElement) {
  const Status st = Pip(", packages: [cfdemo], ref: 'nosuchpkg==1.0'")->Fetch();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("elements/test.bst:7"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("nosuchpkg"), std::string::npos) << st.message();
}

TEST_F(PipSourceTest, RefTextCoversIndexAndPins) {
  auto a = Pip(", packages: [x], ref: 'x==1'");
  auto b = Pip(", packages: [x], ref: 'x==2'");
  auto c = MustMake("{kind: pip, url: 'http://127.0.0.1:1/other/', packages: [x], ref: 'x==1'}",
                    ctx_);
  ASSERT_TRUE(a->Ref() && b->Ref() && c->Ref());
  EXPECT_NE(*a->Ref(), *b->Ref());
  EXPECT_NE(*a->Ref(), *c->Ref());
}

TEST_F(PipSourceTest, ConfigErrorsNameTheLine) {
  for (const auto& [yaml, says] : std::vector<std::pair<std::string, std::string>>{
           {"{kind: pip, url: x}", "packages"},
           {"{kind: pip, packages: x}", "must be a list"},
           {"{kind: pip, packages: [x], ref: 'x>=1'}", "name==version"},
           {"{kind: pip, requirements-files: [/etc/r.txt]}", "relative"},
           {"{kind: pip, packages: [x], index: y}", "unknown source key 'index'"},
       }) {
    const YAML::Node config = YAML::Load(yaml);
    auto made = MakeSource("pip", config, testing::TestWhere(), ctx_);
    ASSERT_FALSE(made.has_value()) << yaml;
    EXPECT_NE(made.error().message().find(says), std::string::npos)
        << yaml << ": " << made.error().message();
    EXPECT_NE(made.error().message().find("elements/test.bst:"), std::string::npos);
  }
}

}  // namespace
}  // namespace crossfarm::worker
