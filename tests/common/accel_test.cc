// Acceleration declarations (common/accel.h) as Project::LoadTargets resolves
// them, and their part of the cache key.
#include "common/accel.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "common/project.h"
#include "tests/common/temp_project.h"

namespace crossfarm {
namespace {

using testing::TempProject;

const char* kConf = "name: test\n";

// An accelerator element: `lines` go under `accelerates:` (line 5 onwards).
std::string AccelBst(const std::string& lines) {
  return "kind: import\n"
         "public:\n"
         "  crossfarm:\n"
         "    accelerates:\n" +
         lines;
}

const char* kAccelLines =
    "      target-arch: aarch64\n"
    "      host-arch: x86_64\n"
    "      triplet: aarch64-linux-gnu\n"
    "      cc: /usr/bin/aarch64-linux-gnu-gcc-12\n"
    "      distcc: true\n"
    "      host-paths: [/usr/lib/x86_64-linux-gnu]\n"
    "      host-tools: [/usr/bin/sed, /usr/bin/aarch64-linux-gnu-*]\n";

const char* kBase =
    "kind: import\n"
    "public:\n"
    "  crossfarm:\n"
    "    accelerator: accel.bst\n";

const char* kBaseUndeclared = "kind: import\n";

const char* kApp =
    "kind: manual\n"
    "build-depends: [base.bst]\n"
    "sandbox:\n"
    "  build-arch: aarch64\n"
    "config:\n"
    "  build-commands: [make]\n";

// The project of the brief: base (declares accel.bst), accel.bst, app
// (manual, build-depends base), plain (manual, no deps), imp (import,
// build-depends base), noarch (manual on base without a build-arch),
// rt (manual, runtime-depends only on base), stack (import, runtime-depends
// base) and viastack (manual, build-depends stack).
std::map<std::string, std::string> Files(const std::string& base = kBase,
                                         const std::string& accel_lines = kAccelLines) {
  return {
      {"project.conf", kConf},
      {"base.bst", base},
      {"accel.bst", AccelBst(accel_lines)},
      {"app.bst", kApp},
      {"plain.bst", "kind: manual\nconfig:\n  build-commands: [make]\n"},
      {"imp.bst", "kind: import\nbuild-depends: [base.bst]\n"},
      {"noarch.bst", "kind: manual\nbuild-depends: [base.bst]\nconfig:\n  build-commands: [make]\n"},
      {"rt.bst", "kind: manual\nruntime-depends: [base.bst]\n"},
      {"stack.bst", "kind: import\nruntime-depends: [base.bst]\n"},
      {"viastack.bst", "kind: manual\nbuild-depends: [stack.bst]\n"},
      {"s390x.bst", "kind: manual\nbuild-depends: [base.bst]\nsandbox:\n  build-arch: s390x\n"},
  };
}

struct Loaded {
  std::unique_ptr<Project> project;
  std::vector<Element*> targets;
};

Result<Loaded> Load(const std::string& dir, const std::vector<std::string>& targets,
                    AccelMode mode = AccelMode::kAuto, const std::string& arch = "x86_64") {
  LoadOptions o;
  o.project_dir = dir;
  CF_ASSIGN_OR_RETURN(o.arch, ArchConfig::Make(arch, "", ""));
  o.max_jobs = 4;
  o.accel = mode;
  Loaded l;
  CF_ASSIGN_OR_RETURN(l.project, Project::Load(o));
  CF_ASSIGN_OR_RETURN(l.targets, l.project->LoadTargets(targets));
  return l;
}

// The key of one element of a project, "" when it failed or has none.
std::string Key(const std::map<std::string, std::string>& files, const std::string& target,
                AccelMode mode = AccelMode::kAuto) {
  TempProject p(files);
  auto l = Load(p.dir(), {target}, mode);
  if (!l) {
    ADD_FAILURE() << l.error().ToString();
    return "";
  }
  return l->targets[0]->cache_key.value_or("");
}

// An error's location ("two.bst" or "two.bst:2:17") and its text.
std::string Location(const std::string& msg) { return msg.substr(0, msg.find(": ")); }
std::string What(const std::string& msg) {
  size_t colon = msg.find(": ");
  return colon == std::string::npos ? msg : msg.substr(colon + 2);
}

// The error of loading `target`, with the temp dir shown as <dir>.
std::string Error(const std::map<std::string, std::string>& files,
                  const std::string& target = "app.bst", AccelMode mode = AccelMode::kAuto) {
  TempProject p(files);
  auto l = Load(p.dir(), {target}, mode);
  if (l) return "";
  std::string msg = l.error().message();
  for (size_t pos; (pos = msg.find(p.dir())) != std::string::npos;)
    msg.replace(pos, p.dir().size(), "<dir>");
  return msg;
}

TEST(AccelModeTest, ParseAndNameRoundTrip) {
  for (AccelMode m : {AccelMode::kAuto, AccelMode::kNone, AccelMode::kDistcc, AccelMode::kHostTools}) {
    auto parsed = ParseAccelMode(AccelModeName(m));
    ASSERT_TRUE(parsed.has_value()) << AccelModeName(m);
    EXPECT_EQ(*parsed, m) << AccelModeName(m);
  }
  EXPECT_STREQ(AccelModeName(AccelMode::kAuto), "auto");
  EXPECT_STREQ(AccelModeName(AccelMode::kNone), "none");
  EXPECT_STREQ(AccelModeName(AccelMode::kDistcc), "distcc");
  EXPECT_STREQ(AccelModeName(AccelMode::kHostTools), "host-tools");
}

TEST(AccelModeTest, BadModeIsAnError) {
  for (const char* bad : {"fast", "", "Auto", "host_tools", "distcc+host-tools"}) {
    auto parsed = ParseAccelMode(bad);
    ASSERT_FALSE(parsed.has_value()) << bad;
    EXPECT_EQ(parsed.error().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(parsed.error().message(), "unknown --accel mode '" + std::string(bad) +
                                            "'\n  hint: use auto, none, distcc or host-tools");
  }
}

TEST(AccelModeTest, MachineReportingTools) {
  for (const char* p : {"/usr/bin/uname", "/bin/uname", "/usr/bin/arch", "/usr/bin/dpkg",
                        "/usr/bin/getconf", "/sbin/ldconfig", "/usr/bin/ldd", "uname"})
    EXPECT_TRUE(IsMachineReportingTool(p)) << p;
  for (const char* p : {"/usr/bin/sed", "/usr/bin/unamex", "/usr/bin/dpkg-deb", "/usr/bin/archive",
                        "/usr/bin/uname/x", "/usr/bin/aarch64-linux-gnu-gcc-12", "", "/"})
    EXPECT_FALSE(IsMachineReportingTool(p)) << p;
}

TEST(AccelLoadTest, AppGetsTheAccelerator) {
  TempProject p(Files());
  auto l = Load(p.dir(), {"app.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  const Element& app = *l->targets[0];
  Element* accel = l->project->Find("accel.bst");
  ASSERT_NE(accel, nullptr);
  EXPECT_EQ(app.accelerator, accel);
  EXPECT_EQ(app.accel, "distcc+host-tools");
  EXPECT_EQ(app.accel_note, "");
  EXPECT_EQ(app.declared_accelerator, "");  // build deps do not propagate it
  ASSERT_NE(app.accel_info, nullptr);
  EXPECT_EQ(app.accel_info->target_arch, "aarch64");
  EXPECT_EQ(app.accel_info->host_arch, "x86_64");
  EXPECT_EQ(app.accel_info->triplet, "aarch64-linux-gnu");
  EXPECT_EQ(app.accel_info->cc, "/usr/bin/aarch64-linux-gnu-gcc-12");
  EXPECT_EQ(app.accel_info->cxx, "");
  EXPECT_TRUE(app.accel_info->distcc);
  EXPECT_EQ(app.accel_info->host_paths, std::vector<std::string>{"/usr/lib/x86_64-linux-gnu"});
  EXPECT_EQ(app.accel_info->host_tools,
            (std::vector<std::string>{"/usr/bin/aarch64-linux-gnu-*", "/usr/bin/sed"}));
  ASSERT_TRUE(app.cache_key.has_value());
  ASSERT_TRUE(accel->cache_key.has_value());  // keyed before its users
  EXPECT_EQ(accel->accelerator, nullptr);
  const Element* base = l->project->Find("base.bst");
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(base->declared_accelerator, "accel.bst");
  EXPECT_EQ(base->accelerator, nullptr);  // an import runs no commands
}

TEST(AccelLoadTest, DebianArchNamesAreCanonicalised) {
  TempProject p(Files(kBase,
                      "      target-arch: arm64\n"
                      "      host-arch: amd64\n"
                      "      triplet: aarch64-linux-gnu\n"
                      "      cc: /usr/bin/aarch64-linux-gnu-gcc-12\n"
                      "      host-tools: [/usr/bin/sed, /usr/bin/sed]\n"));
  auto l = Load(p.dir(), {"app.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  const Element& app = *l->targets[0];
  ASSERT_NE(app.accel_info, nullptr);
  EXPECT_EQ(app.accel_info->target_arch, "aarch64");
  EXPECT_EQ(app.accel_info->host_arch, "x86_64");
  EXPECT_FALSE(app.accel_info->distcc);
  EXPECT_EQ(app.accel_info->host_tools, std::vector<std::string>{"/usr/bin/sed"});  // deduplicated
  EXPECT_EQ(app.accel, "host-tools");  // no distcc offered
}

TEST(AccelLoadTest, KeyDependsOnTheMode) {
  auto files = Files();
  std::map<AccelMode, std::string> keys;
  std::map<AccelMode, std::string> accel;
  for (AccelMode m : {AccelMode::kAuto, AccelMode::kNone, AccelMode::kDistcc, AccelMode::kHostTools}) {
    TempProject p(files);
    auto l = Load(p.dir(), {"app.bst"}, m);
    ASSERT_TRUE(l.has_value()) << l.error().ToString();
    ASSERT_TRUE(l->targets[0]->cache_key.has_value()) << AccelModeName(m);
    keys[m] = *l->targets[0]->cache_key;
    accel[m] = l->targets[0]->accel;
  }
  EXPECT_EQ(accel[AccelMode::kAuto], "distcc+host-tools");
  EXPECT_EQ(accel[AccelMode::kNone], "");
  EXPECT_EQ(accel[AccelMode::kDistcc], "distcc");
  EXPECT_EQ(accel[AccelMode::kHostTools], "host-tools");
  EXPECT_NE(keys[AccelMode::kAuto], keys[AccelMode::kNone]);
  EXPECT_NE(keys[AccelMode::kAuto], keys[AccelMode::kDistcc]);
  EXPECT_NE(keys[AccelMode::kAuto], keys[AccelMode::kHostTools]);
  EXPECT_NE(keys[AccelMode::kNone], keys[AccelMode::kDistcc]);
  EXPECT_NE(keys[AccelMode::kNone], keys[AccelMode::kHostTools]);
  EXPECT_NE(keys[AccelMode::kDistcc], keys[AccelMode::kHostTools]);
  // The same mode gives the same key (the key is a function of the inputs).
  EXPECT_EQ(Key(files, "app.bst", AccelMode::kDistcc), keys[AccelMode::kDistcc]);
}

TEST(AccelLoadTest, NoneModeKeepsTheUnacceleratedKey) {
  // --accel none: the app's key is what it is when the accelerator offers
  // nothing at all (neither has an "accel" part).
  auto files = Files();
  std::string none = Key(files, "app.bst", AccelMode::kNone);
  std::string offers_nothing = Key(Files(kBase,
                                         "      target-arch: aarch64\n"
                                         "      host-arch: x86_64\n"
                                         "      triplet: aarch64-linux-gnu\n"
                                         "      cc: /usr/bin/aarch64-linux-gnu-gcc-12\n"),
                                   "app.bst", AccelMode::kAuto);
  EXPECT_FALSE(none.empty());
  EXPECT_EQ(none, offers_nothing);
  TempProject p(files);
  auto l = Load(p.dir(), {"app.bst"}, AccelMode::kNone);
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  EXPECT_EQ(l->targets[0]->accelerator, nullptr);
  EXPECT_EQ(l->targets[0]->accel, "");
  EXPECT_EQ(l->targets[0]->accel_note, "off (--accel none)");
}

TEST(AccelLoadTest, UnrelatedElementsHaveNoAcceleratorAndTheirOldKey) {
  auto declared = Files();
  auto undeclared = Files(kBaseUndeclared);
  undeclared.erase("accel.bst");
  // Not depending on the base at all: the very same key as without the declaration.
  for (AccelMode m : {AccelMode::kAuto, AccelMode::kNone, AccelMode::kHostTools})
    EXPECT_EQ(Key(declared, "plain.bst", m), Key(undeclared, "plain.bst")) << AccelModeName(m);
  // Depending on it but not accelerated (an import; a runtime-only dep):
  // the key does not depend on the mode nor on what the accelerator holds.
  auto other_tools = Files(kBase,
                           "      target-arch: aarch64\n"
                           "      host-arch: x86_64\n"
                           "      triplet: aarch64-linux-gnu\n"
                           "      cc: /usr/bin/aarch64-linux-gnu-gcc-12\n"
                           "      host-tools: [/usr/bin/grep]\n");
  for (const char* name : {"imp.bst", "rt.bst"}) {
    std::string key = Key(declared, name);
    EXPECT_FALSE(key.empty()) << name;
    EXPECT_EQ(Key(declared, name, AccelMode::kNone), key) << name;
    EXPECT_EQ(Key(declared, name, AccelMode::kDistcc), key) << name;
    EXPECT_EQ(Key(other_tools, name), key) << name;
    TempProject p(declared);
    auto l = Load(p.dir(), {name});
    ASSERT_TRUE(l.has_value()) << l.error().ToString();
    EXPECT_EQ(l->targets[0]->accelerator, nullptr) << name;
    EXPECT_EQ(l->targets[0]->accel, "") << name;
    EXPECT_EQ(l->targets[0]->accel_note, "") << name;
    // Nothing asked for the accelerator: it was not loaded.
    EXPECT_EQ(l->project->Find("accel.bst"), nullptr) << name;
  }
  TempProject p(declared);
  auto l = Load(p.dir(), {"plain.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  EXPECT_EQ(l->targets[0]->accelerator, nullptr);
  EXPECT_EQ(l->targets[0]->accel, "");
}

TEST(AccelLoadTest, RuntimeClosurePropagatesTheDeclaration) {
  // viastack build-depends on stack, which runtime-depends on the base.
  TempProject p(Files());
  auto l = Load(p.dir(), {"viastack.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  const Element& e = *l->targets[0];
  EXPECT_EQ(l->project->Find("stack.bst")->declared_accelerator, "accel.bst");
  EXPECT_EQ(e.accelerator, l->project->Find("accel.bst"));
  EXPECT_EQ(e.accel, "distcc+host-tools");
  // Without a sandbox build-arch there is nothing to mismatch.
  auto n = Load(p.dir(), {"noarch.bst"});
  ASSERT_TRUE(n.has_value()) << n.error().ToString();
  EXPECT_EQ(n->targets[0]->accel, "distcc+host-tools");
}

TEST(AccelLoadTest, AcceleratorContentsChangeTheKey) {
  std::string key = Key(Files(), "app.bst");
  // Different host-tools: a different key in auto and host-tools modes.
  auto other_tools = Files(kBase,
                           "      target-arch: aarch64\n"
                           "      host-arch: x86_64\n"
                           "      triplet: aarch64-linux-gnu\n"
                           "      cc: /usr/bin/aarch64-linux-gnu-gcc-12\n"
                           "      distcc: true\n"
                           "      host-paths: [/usr/lib/x86_64-linux-gnu]\n"
                           "      host-tools: [/usr/bin/sed, /usr/bin/grep, /usr/bin/aarch64-linux-gnu-*]\n");
  EXPECT_NE(Key(other_tools, "app.bst"), key);
  EXPECT_NE(Key(other_tools, "app.bst", AccelMode::kHostTools),
            Key(Files(), "app.bst", AccelMode::kHostTools));
  // Different host-paths: a different key too, and in distcc mode as well.
  auto other_paths = Files(kBase,
                           "      target-arch: aarch64\n"
                           "      host-arch: x86_64\n"
                           "      triplet: aarch64-linux-gnu\n"
                           "      cc: /usr/bin/aarch64-linux-gnu-gcc-12\n"
                           "      distcc: true\n"
                           "      host-paths: [/usr/lib/x86_64-linux-gnu, /usr/bin/distcc]\n"
                           "      host-tools: [/usr/bin/sed, /usr/bin/aarch64-linux-gnu-*]\n");
  EXPECT_NE(Key(other_paths, "app.bst"), key);
  EXPECT_NE(Key(other_paths, "app.bst", AccelMode::kDistcc),
            Key(Files(), "app.bst", AccelMode::kDistcc));
}

TEST(AccelLoadTest, AcceleratorLoadedAsATargetToo) {
  // The accelerator named as a later target of the same load: the app's key
  // must still be computed (and equal the one of a load of the app alone).
  std::string alone = Key(Files(), "app.bst");
  TempProject p(Files());
  auto l = Load(p.dir(), {"app.bst", "accel.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  EXPECT_EQ(l->targets[0]->accelerator, l->targets[1]);
  EXPECT_TRUE(l->targets[1]->cache_key.has_value());
  EXPECT_EQ(l->targets[0]->cache_key.value_or("<none>"), alone);
}

TEST(AccelLoadTest, Notes) {
  TempProject p(Files());
  auto l = Load(p.dir(), {"s390x.bst"});
  ASSERT_TRUE(l.has_value()) << l.error().ToString();
  const Element& e = *l->targets[0];
  EXPECT_EQ(e.accel_note, "none: accel.bst is for aarch64, the sandbox is s390x");
  EXPECT_EQ(e.accel, "");
  EXPECT_EQ(e.accelerator, nullptr);
  EXPECT_TRUE(e.cache_key.has_value());

  auto n = Load(p.dir(), {"app.bst"}, AccelMode::kNone);
  ASSERT_TRUE(n.has_value()) << n.error().ToString();
  EXPECT_EQ(n->targets[0]->accel_note, "off (--accel none)");

  // host-tools asked for, only distcc offered.
  TempProject q(Files(kBase,
                      "      target-arch: aarch64\n"
                      "      host-arch: x86_64\n"
                      "      triplet: aarch64-linux-gnu\n"
                      "      cc: /usr/bin/aarch64-linux-gnu-gcc-12\n"
                      "      distcc: true\n"));
  auto h = Load(q.dir(), {"app.bst"}, AccelMode::kHostTools);
  ASSERT_TRUE(h.has_value()) << h.error().ToString();
  EXPECT_EQ(h->targets[0]->accel_note, "none: accel.bst offers nothing --accel host-tools allows");
  EXPECT_EQ(h->targets[0]->accelerator, nullptr);
}

// One declaration for every target arch: the values name the accelerator's
// variables, resolved for the --arch of the load (docs/acceleration.md).
TEST(AccelLoadTest, OneDeclarationServesEveryArchThroughVariables) {
  const std::string generic =
      "      target-arch: '%{target-arch}'\n"
      "      host-arch: '%{host-arch}'\n"
      "      triplet: '%{target-triplet}'\n"
      "      cc: /usr/bin/%{target-triplet}-gcc-12\n"
      "      host-paths: [/usr/lib/gcc-cross, '/usr/%{target-triplet}']\n"
      "      host-tools: [/usr/bin/sed, '/usr/bin/%{target-triplet}-*']\n";
  auto files = Files(kBase, generic);
  files["app.bst"] =
      "kind: manual\nbuild-depends: [base.bst]\nsandbox:\n  build-arch: '%{target-arch}'\n"
      "config:\n  build-commands: [make]\n";
  TempProject p(files);
  std::map<std::string, std::string> keys;
  for (auto [arch, triplet] : std::vector<std::pair<std::string, std::string>>{
           {"aarch64", "aarch64-linux-gnu"}, {"s390x", "s390x-linux-gnu"},
           {"ppc64le", "powerpc64le-linux-gnu"}, {"armv7", "arm-linux-gnueabihf"},
           {"riscv64", "riscv64-linux-gnu"}}) {
    auto l = Load(p.dir(), {"app.bst"}, AccelMode::kAuto, arch);
    ASSERT_TRUE(l.has_value()) << arch << ": " << l.error().ToString();
    const Element& app = *l->targets[0];
    ASSERT_NE(app.accel_info, nullptr) << arch << ": " << app.accel_note;
    EXPECT_EQ(app.accel_info->target_arch, arch);
    EXPECT_EQ(app.accel_info->triplet, triplet);
    EXPECT_EQ(app.accel_info->cc, "/usr/bin/" + triplet + "-gcc-12");
    EXPECT_EQ(app.accel_info->host_paths, (std::vector<std::string>{"/usr/lib/gcc-cross", "/usr/" + triplet}));
    EXPECT_EQ(app.accel_info->host_tools,
              (std::vector<std::string>{"/usr/bin/" + triplet + "-*", "/usr/bin/sed"}));
    ASSERT_TRUE(app.cache_key.has_value());
    keys[arch] = *app.cache_key;
  }
  EXPECT_NE(keys["aarch64"], keys["s390x"]);
  // A variable the accelerator does not have: its file:line, as anywhere else.
  std::string err = Error(Files(kBase, std::string(kAccelLines) + "      c++: /usr/bin/%{cross-cxx}\n"));
  EXPECT_EQ(Location(err), "accel.bst:12:12") << err;
  EXPECT_NE(err.find("cross-cxx"), std::string::npos) << err;
}

TEST(AccelLoadTest, MalformedAcceleratesMapping) {
  const std::string head =
      "      target-arch: aarch64\n"   // line 5
      "      host-arch: x86_64\n"      // line 6
      "      triplet: aarch64-linux-gnu\n";  // line 7
  const std::string cc = "      cc: /usr/bin/aarch64-linux-gnu-gcc-12\n";
  std::vector<std::pair<std::string, std::string>> cases = {
      {head + cc + "      host-tool: [/usr/bin/sed]\n",
       "accel.bst:9:7: unknown key 'host-tool' in crossfarm accelerates\n"
       "  hint: did you mean 'host-tools'?"},
      {head + cc + "      host-tools: [/usr/bin/sed, /usr/bin/uname]\n",
       "accel.bst:9:34: host tool /usr/bin/uname reports the machine it runs on\n"
       "  hint: remove it: a build must see the sandbox's arch (uname, arch, dpkg, getconf, "
       "ldconfig and ldd always stay the root's own)"},
      {head + cc + "      host-tools: [bin/sed]\n",
       "accel.bst:9:20: host tool 'bin/sed' is not an absolute path\n"
       "  hint: list paths inside the root, e.g. /bin/sed"},
      {head + cc + "      host-paths:\n      - /usr/lib\n      - lib64\n",
       "accel.bst:11:9: host path 'lib64' is not absolute\n"
       "  hint: list paths inside the accelerator, e.g. /usr/lib/x86_64-linux-gnu"},
      {head + "      cc: aarch64-linux-gnu-gcc\n",
       "accel.bst:8:11: cc 'aarch64-linux-gnu-gcc' is not absolute\n"
       "  hint: give the path inside the accelerator's artifact, e.g. "
       "/usr/bin/aarch64-linux-gnu-gcc"},
      {"      target-arch: vax\n      host-arch: x86_64\n      triplet: t\n" + cc,
       "accel.bst:5:20: unknown arch 'vax' in target-arch\n"
       "  hint: use a name like x86_64, aarch64, s390x (or a Debian name like arm64)"},
      {"      target-arch: aarch64\n      host-arch: pdp11\n      triplet: t\n" + cc,
       "accel.bst:6:18: unknown arch 'pdp11' in host-arch\n"
       "  hint: use a name like x86_64, aarch64, s390x (or a Debian name like arm64)"},
  };
  for (const auto& [lines, want] : cases)
    EXPECT_EQ(Error(Files(kBase, lines)), want) << lines;
}

TEST(AccelLoadTest, MissingOrWrongAcceleratorElement) {
  auto files = Files(
      "kind: import\npublic:\n  crossfarm:\n    accelerator: accel/nope.bst\n");
  std::string err = Error(files);
  EXPECT_NE(err.find("accel/nope.bst"), std::string::npos) << err;
  EXPECT_TRUE(err.starts_with("accelerator accel/nope.bst (named in the public data of a "
                              "dependency of app.bst): "))
      << err;
  EXPECT_NE(err.find("could not find element 'accel/nope.bst'"), std::string::npos) << err;
  // Nothing needs it: a plain element still loads.
  EXPECT_EQ(Error(files, "plain.bst"), "");

  // Named as accelerator, but without an `accelerates:` mapping.
  files = Files("kind: import\npublic:\n  crossfarm:\n    accelerator: plain-import.bst\n");
  files["plain-import.bst"] = "kind: import\ndescription: just files\n";
  err = Error(files);
  EXPECT_TRUE(Location(err).starts_with("plain-import.bst")) << err;
  EXPECT_EQ(What(err),
            "plain-import.bst is named as an accelerator but has no "
            "`public: crossfarm: accelerates:` mapping\n"
            "  hint: declare target-arch, host-arch, triplet, cc and host-tools there "
            "(docs/acceleration.md)");

  // A typo in the `crossfarm:` domain of the base.
  files = Files("kind: import\npublic:\n  crossfarm:\n    accelerater: accel.bst\n");
  EXPECT_EQ(Error(files),
            "base.bst:4:5: unknown key 'accelerater' in public crossfarm\n"
            "  hint: did you mean 'accelerator'?");
}

TEST(AccelLoadTest, TwoAcceleratorsInOneElement) {
  auto files = Files();
  files["base2.bst"] = "kind: import\npublic:\n  crossfarm:\n    accelerator: accel2.bst\n";
  files["accel2.bst"] = AccelBst(kAccelLines);
  // Directly: two build deps with different accelerators.
  files["two.bst"] = "kind: manual\nbuild-depends: [base.bst, base2.bst]\n";
  std::string err = Error(files, "two.bst");
  EXPECT_TRUE(Location(err).starts_with("two.bst")) << err;
  EXPECT_EQ(What(err),
            "two.bst stages two accelerators: accel.bst and accel2.bst (via "
            "base2.bst)\n  hint: declare one accelerator per base");
  // Through the runtime closure of one dependency.
  files["both.bst"] = "kind: import\nruntime-depends: [base.bst, base2.bst]\n";
  files["user.bst"] = "kind: manual\nbuild-depends: [both.bst]\n";
  err = Error(files, "user.bst");
  EXPECT_TRUE(Location(err).starts_with("both.bst")) << err;
  EXPECT_EQ(What(err),
            "both.bst stages two accelerators: accel.bst and accel2.bst (via "
            "base2.bst)\n  hint: declare one accelerator per base");
  // The same accelerator twice is fine.
  files["base3.bst"] = "kind: import\npublic:\n  crossfarm:\n    accelerator: accel.bst\n";
  files["same.bst"] = "kind: manual\nbuild-depends: [base.bst, base3.bst]\n";
  EXPECT_EQ(Error(files, "same.bst"), "");
}

TEST(PoolKeyTest, KeysAreRandomAndAnswersBindKeyNonceAndRequest) {
  auto a = NewPoolKey();
  auto b = NewPoolKey();
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(*a, *b);
  EXPECT_EQ(PoolKeyId(*a).size(), 16u);
  EXPECT_EQ(PoolKeyId(*a), PoolKeyId(*a));
  EXPECT_NE(PoolKeyId(*a), PoolKeyId(*b));
  EXPECT_EQ(PoolKeyId(""), "");
  std::string answer = PoolAuth(*a, "nonce1", "crossfarm-distcc 1 x");
  EXPECT_EQ(answer.size(), 64u);  // hex HMAC-SHA256
  EXPECT_EQ(answer, PoolAuth(*a, "nonce1", "crossfarm-distcc 1 x"));
  EXPECT_NE(answer, PoolAuth(*b, "nonce1", "crossfarm-distcc 1 x"));
  EXPECT_NE(answer, PoolAuth(*a, "nonce2", "crossfarm-distcc 1 x"));
  EXPECT_NE(answer, PoolAuth(*a, "nonce1", "crossfarm-distcc 1 y"));
  // HMAC-SHA256 of "nonce\nheader", as `openssl dgst -sha256 -hmac Jefe` computes it.
  EXPECT_EQ(PoolAuth("Jefe", "what do ya want", "for nothing?"),
            "50ff9fd552ba6f7d7aea9a88e93f2ebee2870bf860cfd7a2b6cf2cbbed92a13e");
}

TEST(AccelRunNoteTest, ProbeAndWhyUnacceleratedRoundTrip) {
  AccelRunNote both{"same code as the root's gcc 12.2.0 aarch64-linux-gnu",
                    "the host tools' loader /lib64/ld-linux-x86-64.so.2 cannot be provided: /lib64 in the "
                    "root is a file, not a directory"};
  AccelRunNote back = DecodeAccelRunNote(EncodeAccelRunNote(both));
  EXPECT_EQ(back.probe, both.probe);
  EXPECT_EQ(back.unaccelerated, both.unaccelerated);
  // Accelerated, or off before any probe ran.
  EXPECT_EQ(DecodeAccelRunNote(EncodeAccelRunNote({"same code", ""})).unaccelerated, "");
  AccelRunNote no_probe = DecodeAccelRunNote(EncodeAccelRunNote({"", "the root is writable"}));
  EXPECT_EQ(no_probe.probe, "");
  EXPECT_EQ(no_probe.unaccelerated, "the root is writable");
  // What older workers stored: the probe's note alone.
  AccelRunNote old = DecodeAccelRunNote("compilers differ: root 12.2.0, accelerator 12.3.0");
  EXPECT_EQ(old.probe, "compilers differ: root 12.2.0, accelerator 12.3.0");
  EXPECT_EQ(old.unaccelerated, "");
}

}  // namespace
}  // namespace crossfarm
