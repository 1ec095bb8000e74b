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
    "variables-include.bst"};
const std::vector<Options> kOrderOptions = {
    {},
    {{"flavour", "plain"}, {"debug", "True"}, {"machine", "aarch64"}},
    {{"debug", "True"}, {"machine", "riscv64"}},
};

TEST(BstComposeTest, DirectivesComposeInBuildStreamOrderAtEveryLevel) {
  ExpectSameForEach("directive-order", kOrderElements, kOrderOptions);
}

// project.conf `sources: local: config:` with a (?) choosing the path:
// bst gives source-default.bst the key of the element naming that path
// explicitly; crossfarm must resolve it to the same source.
TEST(BstComposeTest, SourceDefaultsApplyTheirConditionals) {
  for (const auto& options : kOrderOptions) {
    std::string what = "directive-order" + OptionArgs(options);
    auto bst = ShowWithBst("directive-order", kOrderElements, options);
    auto ours = ShowWithCrossfarm("directive-order", kOrderElements, options);
    ASSERT_EQ(ours.count("source-default.bst"), 1u) << what;
    const auto& ref = ours["source-default.bst"].sources.at(0)["ref"];
    int same = 0;
    for (const char* other : {"source-a.bst", "source-b.bst"}) {
      bool bst_same = bst["source-default.bst"].key == bst[other].key;
      same += bst_same;
      EXPECT_EQ(ours[other].sources.at(0)["ref"] == ref, bst_same)
          << what << ": source-default.bst vs " << other;
    }
    EXPECT_EQ(same, 1) << what << ": bst should pick exactly one path";
  }
}

}  // namespace
}  // namespace crossfarm::e2e
