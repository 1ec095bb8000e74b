// daemon::LoadSettings: flags over a YAML config file over defaults, with
// errors at the config's own lines.
#include "daemon/config.h"

#include <gtest/gtest.h>

#include "daemon/http_server.h"
#include "tests/e2e/e2e_util.h"

namespace crossfarm::daemon {
namespace {

namespace fs = std::filesystem;

const std::vector<OptionSpec> kOptions = {
    {.name = "listen", .help = "where", .required = true},
    {.name = "dir", .kind = OptionKind::kPath, .help = "store"},
    {.name = "cas", .kind = OptionKind::kUrlOrPath, .help = "CAS"},
    {.name = "slots", .kind = OptionKind::kInt, .help = "slots", .default_value = "1", .min = 1, .max = 64},
    {.name = "dry-run", .kind = OptionKind::kBool, .help = "dry"},
    {.name = "allow", .kind = OptionKind::kList, .help = "addresses"},
};

class ConfigTest : public ::testing::Test {
 protected:
  Result<Settings> Load(const std::string& yaml, std::map<std::string, std::string> flags = {}) {
    e2e::WriteFile(Config(), yaml);
    return LoadSettings({&kOptions, std::move(flags), Config().string(), true});
  }
  fs::path Config() const { return dir_.path() / "etc" / "cas.yaml"; }
  // The error of a load that must fail.
  std::string ErrorOf(const Result<Settings>& r) { return r ? "(loaded)" : r.error().ToString(); }
  e2e::TempTree dir_{"config"};
};

TEST_F(ConfigTest, ValuesComeFromTheFileAndFlagsOverrideThem) {
  auto s = Load("listen: tcp://0.0.0.0:7070\nslots: 8\ndry-run: yes\n", {{"slots", "2"}});
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(s->Str("listen"), "tcp://0.0.0.0:7070");
  EXPECT_EQ(s->Int("slots"), 2);
  EXPECT_TRUE(s->Bool("dry-run"));
  EXPECT_EQ(s->Where("slots"), "--slots");
  EXPECT_EQ(s->Where("listen"), Config().string() + ":1:9");
  EXPECT_EQ(s->config_file(), Config().string());
}

TEST_F(ConfigTest, DefaultsApplyWhenNeitherFileNorFlagSetsAnOption) {
  auto s = Load("listen: tcp://127.0.0.1:7070\n");
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(s->Int("slots"), 1);
  EXPECT_EQ(s->Where("slots"), "default");
  EXPECT_FALSE(s->Has("dir"));
}

TEST_F(ConfigTest, RelativePathsInTheFileAreFromItsDirectoryAndFlagsFromTheCwd) {
  auto s = Load("listen: x\ndir: ../store\ncas: cas-dir\n", {});
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(s->Str("dir"), (dir_.path() / "store").string());
  EXPECT_EQ(s->Str("cas"), (dir_.path() / "etc" / "cas-dir").string());
  auto f = Load("listen: x\n", {{"dir", "w1"}, {"cas", "tcp://cas:7070"}});
  ASSERT_TRUE(f) << f.error().ToString();
  EXPECT_EQ(f->Str("dir"), (fs::current_path() / "w1").string());
  EXPECT_EQ(f->Str("cas"), "tcp://cas:7070") << "a URL is not a path";
}

TEST_F(ConfigTest, AnUnknownKeyIsAnErrorAtItsLineWithADidYouMean) {
  std::string e = ErrorOf(Load("listen: x\nslot: 4\n"));
  EXPECT_NE(e.find(Config().string() + ":2:1: unknown key 'slot'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'slots'?"), std::string::npos) << e;
}

TEST_F(ConfigTest, AValueOfTheWrongTypeIsAnErrorAtItsLine) {
  struct Case {
    std::string yaml, where, what;
  } cases[] = {
      {"listen: x\nslots: many\n", ":2:8", "'slots' must be an integer from 1 to 64, not 'many'"},
      {"listen: x\nslots: 100\n", ":2:8", "'slots' must be an integer from 1 to 64, not '100'"},
      {"listen: x\ndry-run: maybe\n", ":2:10", "'dry-run' must be true or false"},
      {"listen: [a, b]\n", ":1:9", "'listen' must be a single value, not a list"},
      {"listen: x\nallow: [{a: 1}]\n", ":2:9", "'allow' items must be plain strings"},
  };
  for (const auto& c : cases) {
    std::string e = ErrorOf(Load(c.yaml));
    EXPECT_NE(e.find(Config().string() + c.where + ": " + c.what), std::string::npos) << c.yaml << "\n" << e;
  }
}

TEST_F(ConfigTest, AFileThatIsNotAMappingOrNotYamlIsAnError) {
  EXPECT_NE(ErrorOf(Load("- listen\n")).find(Config().string() + ":1:1: the top level of a YAML file must be a mapping"), std::string::npos);
  EXPECT_NE(ErrorOf(Load("listen: [x\n")).find(Config().string() + ":"), std::string::npos);
}

TEST_F(ConfigTest, ABadFlagValueNamesTheFlag) {
  std::string e = ErrorOf(Load("listen: x\n", {{"slots", "0"}}));
  EXPECT_NE(e.find("--slots: 'slots' must be an integer from 1 to 64"), std::string::npos) << e;
}

TEST_F(ConfigTest, AListIsASequenceInTheFileOrACommaListFlag) {
  auto s = Load("listen: x\nallow:\n- 10.0.0.5\n- 10.0.0.6\n");
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(s->List("allow"), (std::vector<std::string>{"10.0.0.5", "10.0.0.6"}));
  auto f = Load("listen: x\n", {{"allow", "a,b"}});
  EXPECT_EQ(f->List("allow"), (std::vector<std::string>{"a", "b"}));
}

TEST_F(ConfigTest, AMissingRequiredOptionNamesFlagAndKey) {
  std::string e = ErrorOf(Load("slots: 2\n"));
  EXPECT_NE(e.find("--listen is required: give the flag, or `listen:` in the config file"), std::string::npos)
      << e;
}

TEST_F(ConfigTest, AnExplicitConfigMustExistTheDefaultOneMayNot) {
  auto missing = (dir_.path() / "nope.yaml").string();
  auto r = LoadSettings({&kOptions, {{"listen", "x"}}, missing, true});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().ToString().find("nope.yaml"), std::string::npos) << r.error().ToString();
  auto d = LoadSettings({&kOptions, {{"listen", "x"}}, missing, false});
  ASSERT_TRUE(d) << d.error().ToString();
  EXPECT_EQ(d->config_file(), "");
}

TEST_F(ConfigTest, ChangedFromListsTheOptionsThatDiffer) {
  auto a = Load("listen: x\nslots: 2\n");
  auto b = Load("listen: x\nslots: 3\ndir: /srv\n");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(b->ChangedFrom(*a), (std::vector<std::string>{"dir", "slots"}));
}

TEST(ParseListenTest, PortAloneIsLoopbackAndBadTextIsRefused) {
  EXPECT_EQ(*ParseListen("7081"), (std::pair<std::string, int>{"127.0.0.1", 7081}));
  EXPECT_EQ(*ParseListen("0.0.0.0:7081"), (std::pair<std::string, int>{"0.0.0.0", 7081}));
  EXPECT_EQ(*ParseListen("[::1]:0"), (std::pair<std::string, int>{"::1", 0}));
  for (const char* bad : {"", "x", "host:", ":80", "1.2.3.4:70000", "1.2.3.4:-1"})
    EXPECT_FALSE(ParseListen(bad)) << bad;
}

}  // namespace
}  // namespace crossfarm::daemon
