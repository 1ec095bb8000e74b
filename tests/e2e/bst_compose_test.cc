// How (@) includes and (?) conditionals compose at every level, checked
// against BuildStream 1.6 itself: bst and crossfarm load the small projects
// under tests/data/projects/ with the same options and must resolve every
// element alike (tests/e2e/bst_compare.h). The projects' comments say which
// rule each file exercises.
#include "tests/e2e/bst_compare.h"

namespace crossfarm::e2e {
namespace {

using Options = std::vector<std::pair<std::string, std::string>>;

void ExpectSameForEach(const std::string& project, const std::vector<std::string>& elements,
                       const std::vector<Options>& option_sets) {
  for (const auto& options : option_sets) {
    std::string what = project + OptionArgs(options);
    auto bst = ShowWithBst(project, elements, options);
    auto ours = ShowWithCrossfarm(project, elements, options);
    ExpectSameAsBst(bst, ours, what);
  }
}

// Issue 17: a (?) list from an include composed at the top level and one from
// an include inside `variables` both apply. Without -o the arch option is the
// host's arch.
TEST(BstComposeTest, ConditionalsOfTopLevelAndVariablesIncludesBothApply) {
  ExpectSameForEach("include-conditionals", {"e.bst"},
                    {{}, {{"target_arch", "x86_64"}}, {{"target_arch", "aarch64"}}});
}

const std::vector<std::string> kOrderElements = {
    "autotools.bst",     "conditional-then-include.bst", "include-from-conditional.bst",
    "list-directives.bst", "source-a.bst", "source-b.bst", "source-default.bst",
    "source-include.bst", "variables-include.bst"};
const std::vector<Options> kOrderOptions = {
    {},
    {{"flavour", "plain"}, {"debug", "True"}, {"machine", "aarch64"}},
    {{"debug", "True"}, {"machine", "riscv64"}, {"docs", "False"}},
};

TEST(BstComposeTest, DirectivesComposeInBuildStreamOrderAtEveryLevel) {
  ExpectSameForEach("directive-order", kOrderElements, kOrderOptions);
}

// bst does not show sources, but its cache keys tell which elements have the
// same one. source-default.bst takes its path from project.conf's `sources:
// local: config:`, chosen by a (?); source-include.bst from an (@) inside its
// source list item. Each must have the source of exactly the elements (naming
// files/a or files/b) bst gives its key.
TEST(BstComposeTest, SourceDefaultsAndSourceIncludesResolveLikeBst) {
  for (const auto& options : kOrderOptions) {
    std::string what = "directive-order" + OptionArgs(options);
    auto bst = ShowWithBst("directive-order", kOrderElements, options);
    auto ours = ShowWithCrossfarm("directive-order", kOrderElements, options);
    for (const char* subject : {"source-default.bst", "source-include.bst"}) {
      ASSERT_EQ(ours.count(subject), 1u) << what;
      const auto& ref = ours[subject].sources.at(0)["ref"];
      int same = 0;
      for (const char* other : {"source-a.bst", "source-b.bst"}) {
        bool bst_same = bst[subject].key == bst[other].key;
        same += bst_same;
        EXPECT_EQ(ours[other].sources.at(0)["ref"] == ref, bst_same)
            << what << ": " << subject << " vs " << other;
      }
      EXPECT_EQ(same, 1) << what << ": bst should pick exactly one path for " << subject;
    }
  }
}

// Every element kind crossfarm builds, with bst 1.6's plugin defaults and
// project.conf `elements:` overrides (pip, qmake), and notparallel.
TEST(BstComposeTest, ElementKindsResolveLikeBst) {
  ExpectSameForEach("kinds",
                    {"autotools.bst", "cmake.bst", "compose.bst", "distutils.bst", "filter.bst",
                     "import.bst", "make.bst", "makemaker.bst", "manual.bst", "meson.bst",
                     "modulebuild.bst", "pip.bst", "qmake-notparallel.bst", "qmake.bst",
                     "script.bst", "stack.bst"},
                    {{}});
}

}  // namespace
}  // namespace crossfarm::e2e
