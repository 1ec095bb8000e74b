#include <gtest/gtest.h>

#include "common/project.h"
#include "tests/common/temp_project.h"

namespace crossfarm {
namespace {

using testing::LoadError;
using testing::LoadProject;
using testing::TempProject;

const char* kConf = "name: test\n";
const char* kFixture = "tests/data/projects/autotools";

std::string Cmd(const Element& e, const char* key, size_t i = 0) {
  return e.config()[key][i].as<std::string>();
}

TEST(ProjectTest, RealisticAutotoolsProjectResolvesLikeBst) {
  auto l = LoadProject(kFixture, {"hello.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  const Element& hello = *l->targets[0];
  EXPECT_EQ(l->project->name(), "autotools");
  EXPECT_EQ(hello.kind, "autotools");
  EXPECT_EQ(hello.description, "\nHello world example from automake\n");
  EXPECT_EQ(hello.variables.at("build-root"), "/buildstream/autotools/hello.bst");
  EXPECT_EQ(hello.variables.at("command-subdir"), "doc/amhello");
  EXPECT_EQ(hello.variables.at("max-jobs"), "4");
  EXPECT_EQ(Cmd(hello, "build-commands"), "make\n");
  EXPECT_EQ(Cmd(hello, "install-commands"), "make -j1 DESTDIR=\"/buildstream-install\" install\n");
  std::string configure = Cmd(hello, "configure-commands", 1);
  EXPECT_TRUE(configure.starts_with("./configure --prefix=/usr \\\n--exec-prefix=/usr \\\n"))
      << configure;
  EXPECT_NE(configure.find("--libdir=/usr/lib \\"), std::string::npos);
  EXPECT_NE(configure.find("--infodir=/usr/share/info  --disable-dependency-tracking"),
            std::string::npos) << configure;
  EXPECT_NE(Cmd(hello, "configure-commands", 0).find("else autoreconf -ivf;"), std::string::npos);
  EXPECT_NE(Cmd(hello, "strip-commands").find("objcopy --only-keep-debug --compress-debug-sections"), std::string::npos);
  EXPECT_EQ(hello.environment.at("MAKEFLAGS"), "-j4");
  EXPECT_EQ(hello.environment.at("SOURCE_DATE_EPOCH"), "1320937200");
  EXPECT_EQ(hello.environment_nocache, (std::set<std::string>{"MAKEFLAGS", "V"}));
  ASSERT_EQ(hello.sources.size(), 1u);
  EXPECT_EQ(l->project->TranslateUrl(hello.sources[0].config["url"].as<std::string>()),
            "http://ftpmirror.gnu.org/gnu/automake/automake-1.16.tar.gz");
  EXPECT_EQ(hello.deps.size(), 1u);
  EXPECT_TRUE(hello.cache_key.has_value());
}

TEST(ProjectTest, ArchOptionSelectsConditionalSourcesAndVariables) {
  auto x86 = LoadProject(kFixture, {"base/alpine.bst"}, "x86_64");
  auto arm = LoadProject(kFixture, {"base/alpine.bst"}, "aarch64");
  auto i686 = LoadProject(kFixture, {"hello.bst"}, "i686");
  ASSERT_TRUE(x86 && arm && i686);
  EXPECT_EQ(x86->targets[0]->sources[0].config["url"].as<std::string>(),
            "alpine:integration-tests-base.v1.x86_64.tar.xz");
  EXPECT_EQ(arm->targets[0]->sources[0].config["url"].as<std::string>(),
            "alpine:integration-tests-base.v1.aarch64.tar.xz");
  EXPECT_NE(x86->targets[0]->cache_key, arm->targets[0]->cache_key);
  EXPECT_EQ(i686->targets[0]->variables.at("libdir"), "/usr/lib32");
  auto forced = LoadProject(kFixture, {"base/alpine.bst"}, "x86_64", {{"arch", "aarch64"}});
  ASSERT_TRUE(forced.has_value());
  EXPECT_EQ(forced->targets[0]->sources[0].config["url"].as<std::string>(),
            "alpine:integration-tests-base.v1.aarch64.tar.xz");
  // The arch variables still say x86_64, so the key differs from --arch aarch64.
  EXPECT_NE(forced->targets[0]->cache_key, arm->targets[0]->cache_key);
}

TEST(ProjectTest, ArchVariablesFollowTheArchConfig) {
  TempProject p({{"project.conf", kConf}, {"e.bst", "kind: manual\n"}});
  auto l = LoadProject(p.dir(), {"e.bst"}, "aarch64");
  ASSERT_TRUE(l.has_value());
  const auto& v = l->targets[0]->variables;
  EXPECT_EQ(v.at("host-arch"), "aarch64");
  EXPECT_EQ(v.at("target-arch"), "aarch64");
  EXPECT_EQ(v.at("build-arch"), "aarch64");
  EXPECT_EQ(v.at("host-triplet"), "aarch64-linux-gnu");
  EXPECT_EQ(v.at("target-triplet"), "aarch64-linux-gnu");
  EXPECT_EQ(v.at("build-triplet"), "aarch64-linux-gnu");
  EXPECT_EQ(v.at("host-debian-arch"), "arm64");
  EXPECT_EQ(v.at("target-debian-arch"), "arm64");
  LoadOptions o;
  o.project_dir = p.dir();
  o.arch = *ArchConfig::Make("x86_64", "", "riscv64");
  auto proj = Project::Load(o);
  ASSERT_TRUE(proj.has_value());
  auto e = (*proj)->LoadTargets({"e.bst"});
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ((*e)[0]->variables.at("target-triplet"), "riscv64-linux-gnu");
  EXPECT_EQ((*e)[0]->variables.at("host-arch"), "x86_64");
}

TEST(ProjectTest, DefaultVariablesMatchBstProjectConfig) {
  TempProject p({{"project.conf", kConf}, {"e.bst", "kind: manual\n"}});
  auto l = LoadProject(p.dir(), {"e.bst"});
  ASSERT_TRUE(l.has_value());
  const auto& v = l->targets[0]->variables;
  const std::pair<const char*, const char*> want[] = {
      {"prefix", "/usr"},          {"exec_prefix", "/usr"},
      {"bindir", "/usr/bin"},      {"sbindir", "/usr/sbin"},
      {"libexecdir", "/usr/libexec"}, {"datadir", "/usr/share"},
      {"sysconfdir", "/etc"},      {"sharedstatedir", "/usr/com"},
      {"localstatedir", "/var"},   {"lib", "lib"},
      {"libdir", "/usr/lib"},      {"debugdir", "/usr/lib/debug"},
      {"includedir", "/usr/include"}, {"docdir", "/usr/share/doc"},
      {"infodir", "/usr/share/info"}, {"mandir", "/usr/share/man"},
      {"build-root", "/buildstream/test/e.bst"},
      {"install-root", "/buildstream-install"}, {"element-name", "e.bst"},
      {"project-name", "test"},    {"max-jobs", "4"},
      {"objcopy-link-args", "--add-gnu-debuglink"},
  };
  for (auto [k, val] : want) EXPECT_EQ(v.at(k), val) << k;
  EXPECT_EQ(v.at("strip-args"),
            "--remove-section=.comment --remove-section=.note --strip-unneeded");
}

struct KindCase {
  const char* kind;
  const char* key;
  size_t index;
  const char* contains;
};

TEST(ProjectTest, EachKindResolvesItsBstDefaults) {
  const KindCase cases[] = {
      {"manual", "strip-commands", 0, "cd \"/buildstream-install\" && find -type f"},
      {"autotools", "build-commands", 0, "make\n"},
      {"cmake", "configure-commands", 0,
       "cmake -B_builddir -H. -G\"Unix Makefiles\" -DCMAKE_INSTALL_PREFIX:PATH=\"/usr\""},
      {"cmake", "build-commands", 0, "cmake --build _builddir -- ${JOBS}"},
      {"make", "build-commands", 0, "make PREFIX=\"/usr\""},
      {"make", "install-commands", 0, "make -j1 PREFIX=\"/usr\" DESTDIR=\"/buildstream-install\" install"},
      {"meson", "configure-commands", 0, "meson _builddir --prefix=/usr \\\n--bindir=/usr/bin"},
      {"meson", "build-commands", 0, "ninja -j ${NINJAJOBS} -C _builddir"},
      {"meson", "install-commands", 0, "env DESTDIR=\"/buildstream-install\" ninja -C _builddir install"},
  };
  for (const auto& c : cases) {
    TempProject p({{"project.conf", kConf}, {"e.bst", std::string("kind: ") + c.kind + "\n"}});
    auto l = LoadProject(p.dir(), {"e.bst"});
    ASSERT_TRUE(l.has_value()) << l.error().ToString();
    EXPECT_NE(Cmd(*l->targets[0], c.key, c.index).find(c.contains), std::string::npos)
        << c.kind << " " << c.key << ": " << Cmd(*l->targets[0], c.key, c.index);
  }
}

TEST(ProjectTest, NonBuildKindsHaveTheirConfigDefaults) {
  const std::pair<const char*, const char*> cases[] = {
      {"import", "{source: /, target: /}"},
      {"compose", "{integrate: True, include: [], exclude: [], include-orphans: True}"},
      {"filter", "{include: [], exclude: [], include-orphans: False}"},
      {"script", "{root-read-only: False, create-dev-shm: False, commands: []}"},
      {"stack", "{}"},
  };
  for (auto [kind, want] : cases) {
    TempProject p({{"project.conf", kConf}, {"e.bst", std::string("kind: ") + kind + "\n"}});
    auto l = LoadProject(p.dir(), {"e.bst"});
    ASSERT_TRUE(l.has_value()) << l.error().ToString();
    YAML::Emitter out;
    out << YAML::Flow << l->targets[0]->config();
    EXPECT_EQ(std::string(out.c_str()), want) << kind;
  }
}

TEST(ProjectTest, CompositionOrderIsDefaultsProjectKindOverridesElement) {
  auto vars = [](const std::string& conf, const std::string& element) {
    TempProject p({{"project.conf", "name: test\n" + conf}, {"e.bst", "kind: autotools\n" + element}});
    auto l = LoadProject(p.dir(), {"e.bst"});
    EXPECT_TRUE(l.has_value()) << l.error().ToString();
    return l ? l->targets[0]->variables : std::map<std::string, std::string>{};
  };
  // project.conf beats builtin defaults ...
  EXPECT_EQ(vars("variables: {prefix: /opt}\n", "").at("bindir"), "/opt/bin");
  // ... the kind's defaults beat project.conf ...
  EXPECT_EQ(vars("variables: {make: project-make}\n", "").at("make"), "make");
  // ... `elements:` overrides beat the kind's defaults ...
  EXPECT_EQ(vars("elements: {autotools: {variables: {make: gmake}}}\n", "").at("make"), "gmake");
  // ... and the element beats everything.
  EXPECT_EQ(vars("elements: {autotools: {variables: {make: gmake}}}\n",
                 "variables: {make: bmake}\n").at("make"), "bmake");
}

TEST(ProjectTest, ElementListDirectivesExtendKindCommands) {
  TempProject p({{"project.conf", "name: test\nelements:\n  manual:\n    config:\n      "
                                  "build-commands:\n        (<): [project-first]\n"},
                 {"e.bst", "kind: manual\nconfig:\n  build-commands:\n    (>): ['make %{bindir}']\n"
                           "  install-commands: [one]\n  configure-commands:\n    (=): [only]\n"}});
  auto l = LoadProject(p.dir(), {"e.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  const YAML::Node& c = l->targets[0]->config();
  ASSERT_EQ(c["build-commands"].size(), 2u);
  EXPECT_EQ(c["build-commands"][0].as<std::string>(), "project-first");
  EXPECT_EQ(c["build-commands"][1].as<std::string>(), "make /usr/bin");
  EXPECT_EQ(c["install-commands"][0].as<std::string>(), "one");
  EXPECT_EQ(c["configure-commands"][0].as<std::string>(), "only");
}

TEST(ProjectTest, ElementOverridesReachEveryVariableThatUsesThem) {
  // Elements of one kind share resolved variables; overrides must still flow.
  TempProject p({{"project.conf", kConf},
                 {"a.bst", "kind: autotools\nvariables:\n  prefix: /opt\n"},
                 {"b.bst", "kind: autotools\n"},
                 {"c.bst", "kind: autotools\nvariables:\n  exec_prefix: /ex\n  conf-local: '%{bindir}'\n"}});
  auto l = LoadProject(p.dir(), {"a.bst", "b.bst", "c.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  EXPECT_EQ(l->targets[0]->variables.at("bindir"), "/opt/bin");
  EXPECT_EQ(l->targets[0]->variables.at("mandir"), "/opt/share/man");
  EXPECT_NE(Cmd(*l->targets[0], "configure-commands", 1).find("--prefix=/opt"), std::string::npos);
  EXPECT_EQ(l->targets[1]->variables.at("bindir"), "/usr/bin");
  EXPECT_EQ(l->targets[1]->variables.at("build-root"), "/buildstream/test/b.bst");
  EXPECT_EQ(l->targets[2]->variables.at("bindir"), "/ex/bin");
  EXPECT_EQ(l->targets[2]->variables.at("datadir"), "/usr/share");
  EXPECT_NE(Cmd(*l->targets[2], "configure-commands", 1).find("--infodir=/usr/share/info   /ex/bin"),
            std::string::npos);
}

TEST(ProjectTest, NotparallelLimitsMaxJobsToOne) {
  TempProject p({{"project.conf", kConf},
                 {"e.bst", "kind: autotools\nvariables:\n  notparallel: True\n"},
                 {"f.bst", "kind: autotools\n"}});
  auto l = LoadProject(p.dir(), {"e.bst", "f.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  EXPECT_EQ(l->targets[0]->environment.at("MAKEFLAGS"), "-j1");
  EXPECT_EQ(l->targets[1]->environment.at("MAKEFLAGS"), "-j4");
}

TEST(ProjectTest, EnvironmentComposesAndNocacheAccumulates) {
  TempProject p({{"project.conf", "name: test\nenvironment: {CC: gcc, PATH: /bin}\n"
                                  "environment-nocache: [CCACHE_DIR]\n"},
                 {"e.bst", "kind: make\nenvironment: {CFLAGS: '-O2 -L%{libdir}', CC: clang}\n"
                           "environment-nocache: [CFLAGS]\n"}});
  auto l = LoadProject(p.dir(), {"e.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  const Element& e = *l->targets[0];
  EXPECT_EQ(e.environment.at("CC"), "clang");
  EXPECT_EQ(e.environment.at("PATH"), "/bin");
  EXPECT_EQ(e.environment.at("CFLAGS"), "-O2 -L/usr/lib");
  EXPECT_EQ(e.environment.at("MAKEFLAGS"), "-j4");
  EXPECT_EQ(e.environment_nocache,
            (std::set<std::string>{"CCACHE_DIR", "CFLAGS", "MAKEFLAGS", "V"}));
}

TEST(ProjectTest, OptionsDriveElementConditionalsAndExportedVariables) {
  std::map<std::string, std::string> files = {
      {"project.conf",
       "name: test\noptions:\n  debug:\n    type: bool\n    default: False\n"
       "    variable: debugging\n"},
      {"e.bst", "kind: manual\nvariables:\n  opt: -O2\n  (?):\n  - debug:\n      opt: -O0 -g\n"
                "config:\n  build-commands: ['cc %{opt} -DDEBUG=%{debugging}']\n"}};
  TempProject p(files);
  auto off = LoadProject(p.dir(), {"e.bst"});
  auto on = LoadProject(p.dir(), {"e.bst"}, "x86_64", {{"debug", "true"}});
  ASSERT_TRUE(off && on);
  EXPECT_EQ(Cmd(*off->targets[0], "build-commands"), "cc -O2 -DDEBUG=0");
  EXPECT_EQ(Cmd(*on->targets[0], "build-commands"), "cc -O0 -g -DDEBUG=1");
}

TEST(ProjectTest, IncludesAreRelativeToTheProjectDirectory) {
  TempProject p({{"project.conf", "name: test\n(@): include/common.yml\n"},
                 {"include/common.yml", "variables: {shared: yes-shared}\n"},
                 {"include/element.yml", "variables: {from-include: '%{shared}'}\n"},
                 {"elements/e.bst", "kind: manual\n(@): include/element.yml\n"},
                 {"project.conf.extra", ""}});
  p.Write("project.conf", "name: test\nelement-path: elements\n(@): include/common.yml\n");
  auto l = LoadProject(p.dir(), {"e.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  EXPECT_EQ(l->targets[0]->variables.at("from-include"), "yes-shared");
}

TEST(ProjectTest, DependencyFormsAndTypes) {
  TempProject p({{"project.conf", kConf},
                 {"a.bst", "kind: manual\n"}, {"b.bst", "kind: manual\n"},
                 {"c.bst", "kind: manual\n"}, {"d.bst", "kind: manual\n"},
                 {"f.bst", "kind: manual\n"},
                 {"e.bst", "kind: manual\nbuild-depends: [a.bst]\nruntime-depends:\n"
                           "- filename: b.bst\ndepends:\n- c.bst\n- filename: ./d.bst\n"
                           "  type: build\n- {filename: f.bst, type: runtime}\n"}});
  auto l = LoadProject(p.dir(), {"e.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  std::string got;
  for (auto [d, t] : l->targets[0]->deps)
    got += d->name + (t == DepType::kBuild ? ":build " : t == DepType::kRuntime ? ":run " : ":all ");
  EXPECT_EQ(got, "a.bst:build b.bst:run c.bst:all d.bst:build f.bst:run ");
  auto names = [](const std::vector<Element*>& v) {
    std::string s;
    for (auto* e : v) s += e->name + " ";
    return s;
  };
  EXPECT_EQ(names(l->targets[0]->BuildDeps()), "a.bst c.bst d.bst ");
  EXPECT_EQ(names(l->targets[0]->RuntimeDeps()), "c.bst b.bst f.bst ");
}

TEST(ProjectTest, TargetMayBeGivenWithTheElementPathPrefix) {
  TempProject p({{"project.conf", "name: test\nelement-path: elements\n"},
                 {"elements/e.bst", "kind: manual\n"}});
  auto l = LoadProject(p.dir(), {"elements/e.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  EXPECT_EQ(l->targets[0]->name, "e.bst");
  auto all = l->project->AllElementNames();
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(*all, std::vector<std::string>{"e.bst"});
}

TEST(ProjectTest, SandboxBuildArchAndPublicData) {
  TempProject p({{"project.conf", "name: test\nsplit-rules:\n  devel:\n    (>): ['%{libdir}/*.so']\n"},
                 {"e.bst", "kind: manual\nsandbox:\n  build-arch: arm64\n"
                           "public:\n  bst:\n    integration-commands: ['ldconfig %{libdir}']\n"
                           "    split-rules:\n      extra: ['%{datadir}/extra']\n"}});
  auto l = LoadProject(p.dir(), {"e.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  const Element& e = *l->targets[0];
  EXPECT_EQ(e.sandbox_build_arch, "aarch64");
  EXPECT_EQ(e.public_data()["bst"]["integration-commands"][0].as<std::string>(), "ldconfig /usr/lib");
  const YAML::Node& splits = e.public_data()["bst"]["split-rules"];
  EXPECT_EQ(splits["runtime"][0].as<std::string>(), "/usr/bin/*");
  EXPECT_EQ(splits["devel"][splits["devel"].size() - 1].as<std::string>(), "/usr/lib/*.so");
  EXPECT_EQ(splits["extra"][0].as<std::string>(), "/usr/share/extra");
  EXPECT_EQ(l->project->split_rules()["devel"][0].as<std::string>(), "%{includedir}\n");
}

TEST(ProjectTest, SourcesKeepTheirKeysUnsubstituted) {
  TempProject p({{"project.conf", "name: test\nsources:\n  git:\n    config:\n      checkout-submodules: False\n"},
                 {"e.bst", "kind: manual\nsources:\n- kind: git\n  url: upstream:%{x}.git\n"
                           "  track: master\n  ref: abc123\n  directory: src\n"
                           "- kind: deb\n  packages: [zlib1g-dev]\n  arch: arm64\n"
                           "  ref: {zlib1g-dev: '1:1.2.13'}\n"}});
  auto l = LoadProject(p.dir(), {"e.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  const auto& s = l->targets[0]->sources;
  EXPECT_EQ(s[0].config["url"].as<std::string>(), "upstream:%{x}.git");
  EXPECT_EQ(s[0].config["checkout-submodules"].as<std::string>(), "False");
  EXPECT_EQ(s[0].ref_text, "abc123");
  EXPECT_EQ(s[0].directory, "src");
  EXPECT_EQ(s[0].where.ToString(), p.dir().empty() ? "" : "e.bst:3:3");
  EXPECT_EQ(s[1].ref_text, R"({"zlib1g-dev":"1:1.2.13"})");
}

TEST(ProjectTest, ElementErrorsNameFileLineColumnAndSuggest) {
  const std::pair<std::map<std::string, std::string>, const char*> cases[] = {
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\ndepnds: [a.bst]\n"}},
       "e.bst:2:1: unknown key 'depnds' in element\n  hint: did you mean 'depends'?"},
      {{{"project.conf", kConf}, {"e.bst", "kind: autotool\n"}},
       "e.bst:1:1: unknown element kind 'autotool'\n  hint: did you mean 'autotools'?"},
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\nconfig:\n  build-comands:\n  - make\n"}},
       "e.bst:3:3: unknown key 'build-comands' in the config of kind 'manual'\n  hint: did you "
       "mean 'build-commands'?"},
      {{{"project.conf", "name: test\nelements:\n  filter:\n    config:\n      exclud: []\n"},
        {"e.bst", "kind: filter\n"}},
       "project.conf:5:7: unknown key 'exclud' in the config of kind 'filter'\n  hint: did you "
       "mean 'exclude'?"},
      {{{"project.conf", "name: test\nplugins:\n- origin: pip\n  package-name: bst-ext\n"
                         "  elements: {flatpak_image: 0}\n  sources: {git_tag: 1}\n"},
        {"e.bst", "kind: manual\nsources:\n- kind: git_tag\n"}},
       "e.bst:3:3: source kind 'git_tag' comes from a plugin, pip package 'bst-ext' "
       "(project.conf:3:3), and crossfarm loads no plugins\n  hint: the kinds crossfarm has: "
       "local, tar, patch, git, deb, debian-source, remote, zip, bzr, ostree, pip"},
      {{{"project.conf", kConf}, {"e.bst", "description: no kind\n"}},
       "e.bst:1:1: missing required key 'kind'"},
      // bst 1.6.8: "e.bst [line 3 column 2]: Could not find element 'j.bst' in elements directory"
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\ndepends:\n- {filename: a.bst, junction: j.bst}\n"}},
       "e.bst:3:3: could not find element 'j.bst' in elements directory '.'\n  hint: element "
       "names are relative to the project's element-path"},
      // bst 1.6.8: "e.bst [line 3 column 2]: Cannot depend on junction"
      {{{"project.conf", kConf},
        {"j.bst", "kind: junction\nsources:\n- kind: local\n  path: .\n"},
        {"e.bst", "kind: manual\ndepends:\n- j.bst\n"}},
       "e.bst:3:3: Cannot depend on junction\n  hint: name an element of the subproject: "
       "'j.bst:ELEMENT.bst'"},
      // bst 1.6.8: "e.bst [line 3 column 2]: Could not find element 'missing.bst' in project
      // referred to by junction element 'j.bst'"
      {{{"project.conf", kConf}, {"sub/project.conf", "name: sub\n"},
        {"j.bst", "kind: junction\nsources:\n- kind: local\n  path: sub\n"},
        {"e.bst", "kind: manual\ndepends:\n- j.bst:missing.bst\n"}},
       "e.bst:3:3: could not find element 'missing.bst' in project referred to by junction "
       "element 'j.bst'\n  hint: names after 'junction.bst:' are relative to the subproject's "
       "element-path"},
      // bst 1.6.8: "j.bst:c.bst [line 3 column 2]: Could not find element 'x.bst' in project
      // referred to by junction element 'j.bst'"
      {{{"project.conf", kConf}, {"sub/project.conf", "name: sub\n"},
        {"sub/c.bst", "kind: manual\ndepends:\n- x.bst\n"},
        {"j.bst", "kind: junction\nsources:\n- kind: local\n  path: sub\n"},
        {"e.bst", "kind: manual\ndepends:\n- j.bst:c.bst\n"}},
       "j.bst:c.bst:3:3: could not find element 'x.bst' in project referred to by junction "
       "element 'j.bst'\n  hint: names after 'junction.bst:' are relative to the subproject's "
       "element-path"},
      // bst 1.6.8: "e.bst [line 3 column 2]: Dependency j.bst:k.bst:c.bst contains multiple `:`
      // in its name. Recursive lookups for cross-junction elements is not allowed."
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\ndepends:\n- j.bst:k.bst:c.bst\n"}},
       "e.bst:3:3: Dependency j.bst:k.bst:c.bst contains multiple `:` in its name. Recursive "
       "lookups for cross-junction elements is not allowed.\n  hint: declare the inner junction "
       "in this project and depend through it"},
      // bst 1.6.8: "Circular dependency detected for element: c2.bst": the subproject's
      // j.bst is the parent's (junctions in the parent take precedence).
      {{{"project.conf", kConf}, {"sub/project.conf", "name: sub\n"},
        {"sub/j.bst", "kind: junction\nsources:\n- kind: local\n  path: .\n"},
        {"sub/c2.bst", "kind: manual\ndepends:\n- {filename: d.bst, junction: j.bst}\n"},
        {"sub/d.bst", "kind: manual\ndepends:\n- c2.bst\n"},
        {"j.bst", "kind: junction\nsources:\n- kind: local\n  path: sub\n"},
        {"e.bst", "kind: manual\ndepends:\n- j.bst:c2.bst\n"}},
       "j.bst:c2.bst: circular dependency detected at element: j.bst:c2.bst\nDependency chain: "
       "j.bst:c2.bst -> j.bst:d.bst -> j.bst:c2.bst\n  hint: remove one of the dependencies in "
       "this chain"},
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\ndepends:\n- {filename: a.bst, type: bild}\n"}},
       "e.bst:3:21: dependency type 'bild' is not 'build', 'runtime' or 'all'"},
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\nbuild-depends:\n- {filename: a.bst, type: build}\n"}},
       "e.bst:3:21: unknown key 'type' in dependency\n  hint: valid keys are: filename junction"},
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\ndepends:\n- missing.bst\n"}},
       "e.bst:3:3: could not find element 'missing.bst' in elements directory '.'\n  hint: "
       "element names are relative to the project's element-path"},
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\nsources:\n- kind: tarr\n"}},
       "e.bst:3:3: unknown source kind 'tarr'\n  hint: did you mean 'tar'?"},
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\nsources:\n- kind: local\n  path: nope\n"}},
       "e.bst:4:3: path 'nope' does not exist\n  hint: paths of local and patch sources are "
       "relative to the project directory"},
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\nvariables:\n  element-name: x\n"}},
       "e.bst:3:3: invalid redefinition of protected variable 'element-name'"},
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\nvariables:\n  a: '%{nope}'\n"}},
       "e.bst:3:6: reference to undefined variable 'nope' in variable 'a'\n  hint: define it "
       "under `variables:`"},
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\nconfig:\n  build-commands: ['%{bindr}']\n"}},
       "e.bst:3:20: reference to undefined variable 'bindr'\n  hint: did you mean 'bindir'?"},
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\nvariables:\n  a: '%{b}'\n  b: '%{a}'\n"}},
       "e.bst:3:6: circular variable reference: a -> b -> a\n  hint: one of these variables "
       "must not refer back to the others"},
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\nsandbox:\n  build-arch: vax\n"}},
       "e.bst:3:3: unknown build-arch 'vax'\n  hint: use an arch name such as x86_64, aarch64, "
       "riscv64, armv7, i686, ppc64le, s390x"},
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\nconfig:\n  build-commands: [a\n"}},
       "e.bst:4:1: invalid YAML: while parsing a flow sequence, did not find expected ',' or ']'\n  hint: fix the YAML syntax "
       "at this position"},
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\n(?):\n- unknown_opt:\n    a: 1\n"}},
       "e.bst:3:3: unknown option 'unknown_opt'"},
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\n(@): a.yml\n"}, {"a.yml", "(@): e.bst\n"}},
       "a.yml:1:1: include cycle: e.bst -> a.yml -> e.bst\n  hint: remove one of the (@) "
       "includes in this chain"},
      {{{"project.conf", kConf}, {"e.bst", "kind: manual\npublic:\n  bst:\n    integration-commands:\n      (>): [x]\n"}},
       "e.bst:5:7: attempt to override non-existing list with (>)\n  hint: no lower layer "
       "declares this list; use a plain list instead"},
  };
  for (const auto& [files, want] : cases) EXPECT_EQ(LoadError(files), want) << files.at("e.bst");
}

TEST(ProjectTest, ProjectConfErrors) {
  const std::pair<std::string, const char*> cases[] = {
      {"name: t\nelement-paht: elements\n",
       "project.conf:2:1: unknown key 'element-paht' in project.conf\n  hint: did you mean "
       "'element-path'?"},
      {"element-path: .\n", "<builtin projectconfig.yaml>:9:1: missing required key 'name'"},
      {"name: t\nformat-version: 99\n",
       "project.conf:2:1: project requires format-version 99, crossfarm supports up to 18"},
      {"name: t\nref-storage: project.refs\n",
       "project.conf:2:1: ref-storage 'project.refs' is not supported\n  hint: keep refs in "
       "the element files (ref-storage: inline)"},
      {"name: t\nvariables:\n  max-jobs: 3\n",
       "project.conf:3:3: invalid redefinition of protected variable 'max-jobs'"},
      {"name: t\nvariables:\n  prefix: [a]\n",
       "project.conf:3:3: cannot compose 'prefix': a list cannot replace a scalar declared at "
       "<builtin projectconfig.yaml>:21:11"},
      {"name: t\nelement-path: ../elsewhere\n",
       "project.conf:2:1: element-path '../elsewhere' must be inside the project directory"},
  };
  for (const auto& [conf, want] : cases)
    EXPECT_EQ(LoadError({{"project.conf", conf}, {"e.bst", "kind: manual\n"}}), want) << conf;
  EXPECT_EQ(LoadError({{"e.bst", "kind: manual\n"}}).substr(0, 19), "no project.conf in ");
  EXPECT_EQ(LoadError({{"project.conf", kConf}, {"e.bst", "kind: manual\n"}}, {"e.bst"},
                      {{"debug", "1"}}),
            "<command line>: unknown option 'debug' specified with -o\n  hint: the project "
            "declares no options");
}

TEST(ProjectTest, ProjectConfAcceptsBstKeysItDoesNotUse) {
  EXPECT_EQ(LoadError({{"project.conf",
                        "name: t\nformat-version: 18\nplugins:\n- origin: core\n  elements: {}\n"
                        "artifacts:\n  url: https://cache.example.com:11001\n  push: true\n"
                        "fail-on-overlap: True\nshell:\n  command: [bash]\nfatal-warnings: []\n"
                        "min-version: '1.6'\nsandbox:\n  build-os: linux\n"},
                       {"e.bst", "kind: manual\n"}}),
            "");
}

}  // namespace
}  // namespace crossfarm
