// WriteRefToElementFile: only the ref changes, every other byte stays.
#include "tests/worker/source_test_util.h"

namespace crossfarm::worker {
namespace {

using testing::ReadFile;
using testing::ScratchDir;
using testing::WriteFile;

class RefWriterTest : public ::testing::Test {
 protected:
  std::string Rewrite(const std::string& before, size_t index, const YAML::Node& ref) {
    const std::string path = scratch_.path() + "/e.bst";
    WriteFile(path, before);
    const Status st = WriteRefToElementFile(path, index, ref);
    EXPECT_TRUE(st.ok()) << st.ToString();
    const std::string after = ReadFile(path);
    EXPECT_NO_THROW(YAML::Load(after)) << after;
    return after;
  }
  ScratchDir scratch_;
};

const std::string kTarElement =
    "# hello, from GNU\n"
    "kind: autotools   # keep me\n"
    "\n"
    "sources:\n"
    "- kind: tar\n"
    "  url: gnu:hello-2.10.tar.gz\n"
    "  ref: 0000 # old sha\n"
    "  base-dir: '*'\n"
    "\n"
    "# trailing comment\n"
    "variables:\n"
    "  conf-local: --disable-nls\n";

TEST_F(RefWriterTest, ScalarRefIsReplacedInPlaceKeepingComments) {
  const std::string after = Rewrite(kTarElement, 0, YAML::Node("abcdef"));
  std::string expected = kTarElement;
  expected.replace(expected.find("0000"), 4, "abcdef");
  EXPECT_EQ(after, expected);
}

TEST_F(RefWriterTest, MissingRefIsInsertedAfterTheSourcesKeys) {
  std::string before = kTarElement;
  before.erase(before.find("  ref: 0000 # old sha\n"), 22);
  const std::string after = Rewrite(before, 0, YAML::Node("abcdef"));
  std::string expected = before;
  expected.insert(expected.find("\n# trailing") , "  ref: abcdef\n");
  EXPECT_EQ(after, expected);
  EXPECT_EQ(YAML::Load(after)["sources"][0]["ref"].as<std::string>(), "abcdef");
}

TEST_F(RefWriterTest, SecondSourceIsEditedAndTheFirstLeftAlone) {
  const std::string before =
      "kind: manual\n"
      "sources:\n"
      "- kind: tar\n"
      "  url: a\n"
      "  ref: 1111\n"
      "- kind: git\n"
      "  url: b # the repo\n"
      "  track: main\n"
      "config: {}\n";
  const std::string after = Rewrite(before, 1, YAML::Node("cafe"));
  std::string expected = before;
  expected.insert(expected.find("config:"), "  ref: cafe\n");
  EXPECT_EQ(after, expected);
}

TEST_F(RefWriterTest, BlockRefIsReplacedWholeAndTheRestKept) {
  const std::string before =
      "kind: import\n"
      "sources:\n"
      "- kind: deb\n"
      "  packages: [busybox-static]\n"
      "  ref:\n"
      "  - package: old\n"
      "    version: '1'\n"
      "  # after the ref\n"
      "  arch: arm64\n"
      "public: {}\n";
  YAML::Node ref(YAML::NodeType::Sequence);
  YAML::Node item;
  item["package"] = "busybox-static";
  item["version"] = "1:1.35.0-4";
  item["arch"] = "arm64";
  ref.push_back(item);
  const std::string after = Rewrite(before, 0, ref);
  EXPECT_EQ(after.substr(0, after.find("  ref:")), before.substr(0, before.find("  ref:")));
  EXPECT_NE(after.find("  # after the ref\n  arch: arm64\npublic: {}\n"), std::string::npos)
      << after;
  const YAML::Node parsed = YAML::Load(after)["sources"][0];
  EXPECT_EQ(parsed["ref"][0]["version"].as<std::string>(), "1:1.35.0-4");
  EXPECT_EQ(parsed["ref"].size(), 1u);
  EXPECT_EQ(parsed["arch"].as<std::string>(), "arm64");
}

TEST_F(RefWriterTest, QuotedScalarRefIsReplacedWithItsQuotes) {
  const std::string after =
      Rewrite("sources:\n- kind: tar\n  ref: 'ab''cd' # q\n  url: x\n", 0, YAML::Node("ff"));
  EXPECT_EQ(after, "sources:\n- kind: tar\n  ref: ff # q\n  url: x\n");
}

TEST_F(RefWriterTest, RefAtTheEndOfAFileWithoutNewlineIsInserted) {
  const std::string after = Rewrite("sources:\n- kind: tar\n  url: x", 0, YAML::Node("ff"));
  EXPECT_EQ(after, "sources:\n- kind: tar\n  url: x\n  ref: ff\n");
}

TEST_F(RefWriterTest, FlowStyleSourceGetsItsScalarRefReplaced) {
  const std::string after =
      Rewrite("sources: [{kind: tar, url: x, ref: aa}] # one\n", 0, YAML::Node("bb"));
  EXPECT_EQ(after, "sources: [{kind: tar, url: x, ref: bb}] # one\n");
}

TEST_F(RefWriterTest, FlowStyleSourceWithoutRefIsRefusedUntouched) {
  const std::string path = scratch_.path() + "/e.bst";
  const std::string text = "sources: [{kind: tar, url: x}]\n";
  WriteFile(path, text);
  const Status st = WriteRefToElementFile(path, 0, YAML::Node("bb"));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("block style"), std::string::npos) << st.message();
  EXPECT_EQ(ReadFile(path), text);
}

TEST_F(RefWriterTest, EmptyOrNullRefIsFilledIn) {
  EXPECT_EQ(Rewrite("sources:\n- kind: tar\n  ref:\n  url: x\nvariables: {}\n", 0, YAML::Node("ff")),
            "sources:\n- kind: tar\n  ref: ff\n  url: x\nvariables: {}\n");
  EXPECT_EQ(Rewrite("sources:\n- kind: tar\n  ref: ~\n  url: x\n", 0, YAML::Node("ff")),
            "sources:\n- kind: tar\n  ref: ff\n  url: x\n");
  EXPECT_EQ(Rewrite("sources:\n- kind: tar\n  url: x\n  ref:\n", 0, YAML::Node("ff")),
            "sources:\n- kind: tar\n  url: x\n  ref: ff\n");
}

TEST_F(RefWriterTest, MissingSourceIndexIsNotFound) {
  const std::string path = scratch_.path() + "/e.bst";
  WriteFile(path, kTarElement);
  EXPECT_TRUE(WriteRefToElementFile(path, 3, YAML::Node("x")).IsNotFound());
  EXPECT_EQ(ReadFile(path), kTarElement);
}

}  // namespace
}  // namespace crossfarm::worker
