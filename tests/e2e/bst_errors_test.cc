// Invalid projects, against BuildStream 1.6: where bst refuses an element,
// crossfarm refuses it too, naming the same key in the same file and line
// (and says what to do); where bst accepts it, so does crossfarm.
#include <regex>

#include "tests/e2e/bst_compare.h"

namespace crossfarm::e2e {
namespace {

struct Outcome {
  bool ok = false;
  std::string file, key;  // of the unknown key, when refused
  int line = 0;
  std::string text;
};

// bst: "manual.bst [line 3 column 17]: Unexpected key: build-comands"
Outcome BstShow(const std::string& project, const std::string& element) {
  TempTree home("bst-home");
  std::string h = home.path().string();
  auto r = RunCmd("cd " + ProjectDir(project) + " && XDG_CACHE_HOME=" + h +
                  "/cache XDG_CONFIG_HOME=" + h +
                  "/config bst --no-interactive --no-colors show --deps none --format '%{name}' " +
                  element);
  Outcome o{r.exit_code == 0, "", "", 0, r.output};
  std::smatch m;
  static const std::regex kError(R"(([^\s]+) \[line (\d+) column \d+\]: Unexpected key: (\S+))");
  if (std::regex_search(r.output, m, kError)) {
    o.file = std::filesystem::path(m[1].str()).filename().string();
    o.line = std::stoi(m[2].str());
    o.key = m[3].str();
  }
  return o;
}

// crossfarm: "manual.bst:3:3: unknown key 'build-comands' in ...\n  hint: ..."
Outcome CrossfarmShow(const std::string& project, const std::string& element) {
  auto r = RunCmd(std::string(CROSSFARM_BIN) + " -C " + ProjectDir(project) +
                  " --cache-dir /nonexistent show --deps none --format '%{name}' " + element);
  Outcome o{r.exit_code == 0, "", "", 0, r.output};
  std::smatch m;
  static const std::regex kError(R"(([^\s:]+):(\d+):\d+: unknown key '([^']+)')");
  if (std::regex_search(r.output, m, kError)) {
    o.file = std::filesystem::path(m[1].str()).filename().string();
    o.line = std::stoi(m[2].str());
    o.key = m[3].str();
  }
  EXPECT_EQ(r.exit_code, o.ok ? 0 : 2) << r.output;  // bad input
  return o;
}

TEST(BstErrorsTest, UnknownConfigKeysAreRefusedWhereBstsPluginsRefuseThem) {
  int refused = 0, accepted = 0;
  for (const char* element :
       {"autotools.bst", "compose.bst", "filter.bst", "import.bst", "make.bst", "manual-ok.bst",
        "manual.bst", "qmake.bst", "script.bst", "stack.bst"}) {
    Outcome bst = BstShow("config-keys", element), ours = CrossfarmShow("config-keys", element);
    ASSERT_EQ(ours.ok, bst.ok) << element << "\nbst: " << bst.text << "\ncrossfarm: " << ours.text;
    (bst.ok ? accepted : refused)++;
    if (bst.ok) continue;
    ASSERT_FALSE(bst.key.empty()) << element << ": bst said " << bst.text;
    EXPECT_EQ(ours.key, bst.key) << element << ": " << ours.text;
    EXPECT_EQ(ours.file, bst.file) << element << ": " << ours.text;
    EXPECT_EQ(ours.line, bst.line) << element << ": " << ours.text;
    EXPECT_NE(ours.text.find("hint: did you mean '"), std::string::npos) << ours.text;
  }
  EXPECT_EQ(refused, 7);
  EXPECT_EQ(accepted, 3);
}

// bst 1.6 refuses an option whose name is not a symbol of its expression
// language ("accel-compiler"); crossfarm refused nothing and so loaded
// projects bst cannot (examples/hello had such an option).
TEST(BstErrorsTest, AnOptionNameThatIsNotASymbolIsRefusedAtBstsLine) {
  Outcome bst = BstShow("option-names", "e.bst"), ours = CrossfarmShow("option-names", "e.bst");
  ASSERT_FALSE(bst.ok) << bst.text;
  ASSERT_FALSE(ours.ok) << ours.text;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(bst.text, m, std::regex(R"(project\.conf \[line (\d+) column)")))
      << bst.text;
  EXPECT_NE(bst.text.find("Invalid symbol name for option name: 'accel-compiler'"),
            std::string::npos)
      << bst.text;
  EXPECT_NE(ours.text.find("project.conf:" + m[1].str() +
                           ":5: invalid symbol name for option name: 'accel-compiler'"),
            std::string::npos)
      << ours.text;
  EXPECT_NE(ours.text.find("accel_compiler"), std::string::npos) << ours.text;
}

// bst 1.6 loads crossfarm's own example projects: what it refuses is only a
// documented crossfarm extension (docs/sources.md: the `deb` source's
// `packages:` and the `debian-source` kind), never project.conf or an element.
TEST(BstErrorsTest, BstLoadsTheExampleProjectsUpToCrossfarmsDocumentedSourceKinds) {
  TempTree home("bst-home");
  std::string h = home.path().string();
  auto r = RunCmd("cd " + std::string(CROSSFARM_SOURCE_DIR) +
                  "/examples/hello && XDG_CACHE_HOME=" + h + "/cache XDG_CONFIG_HOME=" + h +
                  "/config bst --no-interactive --no-colors show --deps all --format '%{name}' "
                  "hello.bst");
  if (r.exit_code == 0) SUCCEED();
  else {
    EXPECT_NE(r.output.find("SUCCESS Loading elements"), std::string::npos) << r.output;
    // bst's deb plugin wants a `url:`; crossfarm's `deb` without one (apt
    // packages by name, docs/sources.md) is the extension. Anything else (an
    // option, a variable, an include, an element's config) would be a bug.
    const bool deb_extension =
        r.output.find("Dictionary did not contain expected key 'url'") != std::string::npos ||
        std::regex_search(r.output, std::regex(R"(Unexpected key: (packages|sha256sums))"));
    EXPECT_TRUE(deb_extension) << r.output;
    EXPECT_EQ(r.output.find("project.conf"), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace crossfarm::e2e
