// examples/bootstrap at the loader level, for all three target archs: the
// plans `crossfarm show` prints (stage order, which sandbox each element runs
// in, the per-target variables) and the cache keys, without building. One set
// of elements serves every arch, and each arch gets its own keys (keys cover
// every variable, the arch ones included: docs/cache-keys.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tests/e2e/e2e_util.h"

namespace crossfarm::e2e {
namespace {

namespace fs = std::filesystem;

const fs::path kProject = fs::path(CROSSFARM_SOURCE_DIR) / "examples/bootstrap";

struct Target {
  std::string arch, triplet, linux_arch;
};
const Target kTargets[] = {{"aarch64", "aarch64-linux-gnu", "arm64"},
                           {"s390x", "s390x-linux-gnu", "s390"},
                           {"riscv64", "riscv64-linux-gnu", "riscv"}};

class BootstrapPlanTest : public ::testing::Test {
 protected:
  // `show --json` of tests.bst (the whole bootstrap) for one target.
  nlohmann::json Show(const std::string& arch) {
    fs::path out = cache_.path() / ("show-" + arch + ".json");
    auto r = RunCmd(std::string(CROSSFARM_BIN) + " -C " + kProject.string() + " --cache-dir " +
                    (cache_.path() / "cache").string() + " --arch " + arch +
                    " show --json tests.bst > " + out.string());
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::ifstream in(out);
    return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  }
  static std::map<std::string, nlohmann::json> ByName(const nlohmann::json& plan) {
    std::map<std::string, nlohmann::json> m;
    for (const auto& e : plan) m[e["name"].get<std::string>()] = e;
    return m;
  }
  static bool StartsWith(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }
  TempTree cache_{"bootstrap-plan"};
};

TEST_F(BootstrapPlanTest, StagesComeInOrderAndRunWhereTheyMust) {
  for (const Target& t : kTargets) {
    SCOPED_TRACE(t.arch);
    nlohmann::json plan = Show(t.arch);
    ASSERT_TRUE(plan.is_array()) << "show --json printed no JSON array";
    std::map<std::string, size_t> pos;
    for (size_t i = 0; i < plan.size(); ++i) pos[plan[i]["name"].get<std::string>()] = i;
    auto before = [&](const std::string& a, const std::string& b) {
      ASSERT_TRUE(pos.count(a) && pos.count(b)) << a << " or " << b << " missing from the plan";
      EXPECT_LT(pos[a], pos[b]) << a << " must come before " << b;
    };
    // Stage 1 in the seed's order: headers and binutils, gcc pass 1, glibc, gcc.
    before("base.bst", "stage1/binutils.bst");
    before("stage1/linux-headers.bst", "stage1/gcc-pass1.bst");
    before("stage1/binutils.bst", "stage1/gcc-pass1.bst");
    before("stage1/gcc-pass1.bst", "stage1/glibc.bst");
    before("stage1/glibc.bst", "stage1/gcc.bst");
    before("stage1/gcc.bst", "stage1/toolchain.bst");
    // Every stage-2 element after the whole of stage 1, every test after stage 2.
    for (const char* s2 : {"stage2/binutils.bst", "stage2/glibc.bst", "stage2/gcc.bst",
                           "stage2/busybox.bst", "stage2/make.bst", "stage2/gawk.bst"}) {
      before("stage1/toolchain.bst", s2);
      before(s2, "stage2/runtime.bst");
    }
    for (const char* test : {"tests/hello.bst", "tests/gnu-hello.bst", "tests/zlib.bst"})
      before("stage2/runtime.bst", test);

    for (const auto& e : plan) {
      std::string name = e["name"];
      if (StartsWith(name, "stage1/") || StartsWith(name, "stage2/")) {
        // Built with the amd64 base's tools on the build machine, never emulated.
        EXPECT_EQ(e["arch"], "x86_64") << name;
        EXPECT_EQ(e["sandbox"], "native") << name;
      } else if (StartsWith(name, "tests/")) {
        // Built with the stage-2 runtime, which only runs emulated here.
        EXPECT_EQ(e["arch"], t.arch) << name;
        EXPECT_EQ(e["sandbox"], "emulated") << name;
      }
    }
    auto by = ByName(plan);
    const auto& gcc1 = by["stage1/gcc.bst"];
    std::string conf = gcc1["config"].dump();
    EXPECT_NE(conf.find("--target=" + t.triplet), std::string::npos) << conf;
    EXPECT_NE(conf.find("--build=x86_64-linux-gnu"), std::string::npos) << conf;
    std::string gcc2 = by["stage2/gcc.bst"]["config"].dump();
    EXPECT_NE(gcc2.find("--host=" + t.triplet), std::string::npos) << gcc2;
    std::string headers = by["stage1/linux-headers.bst"]["config"].dump();
    EXPECT_NE(headers.find("ARCH=" + t.linux_arch + " "), std::string::npos) << headers;
  }
}

TEST_F(BootstrapPlanTest, EveryTargetGetsItsOwnKeysFromOneSetOfElements) {
  std::map<std::string, std::map<std::string, std::string>> keys;  // element -> arch -> key
  std::set<std::set<std::string>> element_sets;
  for (const Target& t : kTargets) {
    nlohmann::json plan = Show(t.arch);
    ASSERT_TRUE(plan.is_array()) << t.arch;
    std::set<std::string> names;
    for (const auto& e : plan) {
      names.insert(e["name"].get<std::string>());
      keys[e["name"]][t.arch] = e["full-key"];
    }
    element_sets.insert(names);
  }
  // The same elements for every target: nothing is selected or copied per arch.
  EXPECT_EQ(element_sets.size(), 1u);
  for (const auto& [name, per_arch] : keys) {
    ASSERT_EQ(per_arch.size(), 3u) << name;
    std::set<std::string> distinct;
    for (const auto& [arch, key] : per_arch) distinct.insert(key);
    EXPECT_EQ(distinct.size(), 3u) << name << " has a key shared between targets";
  }
  // base 3, sources 5 (those two stages share), stage 1 6, stage 2 8, tests 4.
  EXPECT_EQ(keys.size(), 26u) << "the plan of tests.bst lost or gained elements";
  // And no element file names a target: arch facts live in project.conf only.
  auto grep = RunCmd("grep -rlE 'riscv|aarch64|arm64|s390' " + (kProject / "elements").string());
  EXPECT_EQ(grep.exit_code, 1) << "element files naming an arch:\n" << grep.output;
}

TEST_F(BootstrapPlanTest, ATargetTheProjectDoesNotKnowIsOneClearError) {
  auto r = RunCmd(std::string(CROSSFARM_BIN) + " -C " + kProject.string() + " --cache-dir " +
                  (cache_.path() / "cache").string() + " --arch ppc64le show tests.bst");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("project.conf:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("aarch64, s390x, riscv64"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace crossfarm::e2e
