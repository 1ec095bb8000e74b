// deb sources with the host's real apt (arm64 enabled by scripts/setup) and real
// downloads from the configured Debian mirror, cached in CROSSFARM_TEST_CACHE.
#include "common/arch.h"
#include "tests/worker/source_test_util.h"

namespace crossfarm::worker {
namespace {

using testing::MustMake;
using testing::ScratchDir;
using testing::SharedTestCache;

class DebSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_.project_dir = scratch_.Sub("project");
    ctx_.cache_dir = SharedTestCache();
    auto arm64 = LookupArch("aarch64");
    ASSERT_TRUE(arm64.has_value());
    ctx_.target_arch = *arm64;
  }

  // Tracks `packages` and returns the YAML of a source pinned to the result.
  std::string Pinned(const std::string& packages, const std::string& extra = "") {
    auto ref = MustMake("{kind: deb, packages: " + packages + extra + "}", ctx_)->Track();
    EXPECT_TRUE(ref.has_value()) << ref.error().ToString();
    YAML::Emitter out;
    out << YAML::Flow << (ref ? *ref : YAML::Node());
    return "{kind: deb, packages: " + packages + extra + ", ref: " + out.c_str() + "}";
  }

  static YAML::Node FindPackage(const YAML::Node& ref, const std::string& name) {
    for (const auto& item : ref) {
      if (item["package"].as<std::string>() == name) return item;
    }
    return YAML::Node();
  }

  ScratchDir scratch_;
  SourceContext ctx_;
};

TEST_F(DebSourceTest, TrackPinsBusyboxStaticForArm64) {
  auto ref = MustMake("{kind: deb, packages: [busybox-static], arch: arm64}", ctx_)->Track();
  ASSERT_TRUE(ref.has_value()) << ref.error().ToString();
  ASSERT_TRUE(ref->IsSequence());
  const YAML::Node busybox = FindPackage(*ref, "busybox-static");
  ASSERT_TRUE(busybox.IsMap());
  EXPECT_EQ(busybox["arch"].as<std::string>(), "arm64");
  EXPECT_EQ(busybox["sha256"].as<std::string>().size(), 64u);
  EXPECT_FALSE(busybox["version"].as<std::string>().empty());
}

TEST_F(DebSourceTest, TrackOfLibc6ResolvesItsDependencyClosure) {
  // No `arch:`: the context's target arch (aarch64 -> arm64) is the default.
  auto ref = MustMake("{kind: deb, packages: [libc6]}", ctx_)->Track();
  ASSERT_TRUE(ref.has_value()) << ref.error().ToString();
  for (const char* name : {"libc6", "libgcc-s1", "gcc-12-base"}) {
    const YAML::Node item = FindPackage(*ref, name);
    ASSERT_TRUE(item.IsMap()) << name << " missing from the closure";
    EXPECT_EQ(item["arch"].as<std::string>(), "arm64");
  }
  // Dependencies come before their users: the order is apt's unpack order.
  size_t libgcc = 0, libc = 0;
  for (size_t i = 0; i < ref->size(); ++i) {
    const std::string name = (*ref)[i]["package"].as<std::string>();
    if (name == "libgcc-s1") libgcc = i;
    if (name == "libc6") libc = i;
  }
  EXPECT_NE(libgcc, libc);
}

TEST_F(DebSourceTest, FetchAndStageGiveAnAarch64BusyboxInAMergedUsrRoot) {
  auto source = MustMake(Pinned("[busybox-static]", ", arch: target"), ctx_);
  const Status fetched = source->Fetch();
  ASSERT_TRUE(fetched.ok()) << fetched.ToString();
  const std::string dest = scratch_.Sub("root");
  const Status staged = source->Stage(dest);
  ASSERT_TRUE(staged.ok()) << staged.ToString();
  EXPECT_TRUE(std::filesystem::is_symlink(dest + "/bin"));
  EXPECT_EQ(std::filesystem::read_symlink(dest + "/bin"), "usr/bin");
  auto ident = ReadElfIdent(dest + "/bin/busybox");
  ASSERT_TRUE(ident.has_value()) << ident.error().ToString();
  ASSERT_NE(ident->arch, nullptr);
  EXPECT_EQ(ident->arch->name, "aarch64");
  EXPECT_TRUE(std::filesystem::is_regular_file(dest + "/usr/bin/busybox"));
  EXPECT_EQ(access((dest + "/usr/bin/busybox").c_str(), X_OK), 0);
}

TEST_F(DebSourceTest, StagingLibc6PutsLibrariesAndTheLoaderUnderUsrLib) {
  auto source = MustMake(Pinned("[libc6]", ", arch: arm64"), ctx_);
  const std::string dest = scratch_.Sub("root");
  const Status staged = source->Stage(dest);
  ASSERT_TRUE(staged.ok()) << staged.ToString();
  // libc6 ships /lib/ld-linux-aarch64.so.1: it lands in usr/lib through the lib link.
  EXPECT_TRUE(std::filesystem::is_symlink(dest + "/usr/lib/ld-linux-aarch64.so.1"));
  EXPECT_TRUE(std::filesystem::exists(dest + "/lib/ld-linux-aarch64.so.1"));
  auto ident = ReadElfIdent(dest + "/usr/lib/aarch64-linux-gnu/libc.so.6");
  ASSERT_TRUE(ident.has_value()) << ident.error().ToString();
  EXPECT_EQ(ident->arch->name, "aarch64");
  EXPECT_TRUE(std::filesystem::exists(dest + "/usr/lib/aarch64-linux-gnu/libgcc_s.so.1"));
}

TEST_F(DebSourceTest, EssentialTrueAddsTheEssentialPackages) {
  auto ref = MustMake("{kind: deb, packages: [busybox-static], arch: arm64, essential: true}",
                      ctx_)->Track();
  ASSERT_TRUE(ref.has_value()) << ref.error().ToString();
  for (const char* name : {"busybox-static", "dash", "coreutils", "base-files"}) {
    EXPECT_TRUE(FindPackage(*ref, name).IsMap()) << name;
  }
}

TEST_F(DebSourceTest, PinnedSha256MismatchFailsAndKeepsNothing) {
  // Own cache dir: the mismatch must not disturb the shared cache.
  ctx_.cache_dir = scratch_.Sub("cache");
  auto ref = MustMake("{kind: deb, packages: [gcc-12-base], arch: arm64}", ctx_)->Track();
  ASSERT_TRUE(ref.has_value()) << ref.error().ToString();
  YAML::Node pinned = FindPackage(*ref, "gcc-12-base");
  ASSERT_TRUE(pinned.IsMap());
  const std::string real_sha = pinned["sha256"].as<std::string>();
  const std::string wrong(64, 'c');
  pinned["sha256"] = wrong;
  YAML::Node one(YAML::NodeType::Sequence);
  one.push_back(pinned);
  YAML::Emitter out;
  out << YAML::Flow << one;
  auto source = MustMake(std::string("{kind: deb, packages: [gcc-12-base], arch: arm64, ref: ") +
                             out.c_str() + "}",
                         ctx_);
  const Status st = source->Fetch();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find(wrong), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(real_sha), std::string::npos);
  EXPECT_NE(st.message().find("elements/test.bst:7"), std::string::npos);
  EXPECT_EQ(testing::CountVisibleEntries(ctx_.cache_dir + "/deb"), 0);
}

TEST_F(DebSourceTest, UnknownPackageIsAClearError) {
  auto ref = MustMake("{kind: deb, packages: [no-such-package-crossfarm], arch: s390x}", ctx_)
                 ->Track();
  ASSERT_FALSE(ref.has_value());
  EXPECT_NE(ref.error().message().find("no-such-package-crossfarm"), std::string::npos)
      << ref.error().message();
  EXPECT_NE(ref.error().message().find("scripts/setup"), std::string::npos);
}

TEST_F(DebSourceTest, UnknownArchIsRejectedAtConstruction) {
  const YAML::Node config = YAML::Load("{kind: deb, packages: [x], arch: vax}");
  auto source = MakeSource("deb", config, testing::TestWhere(), ctx_);
  ASSERT_FALSE(source.has_value());
  EXPECT_NE(source.error().message().find("vax"), std::string::npos);
}

TEST_F(DebSourceTest, RefTextListsEveryPinnedPackage) {
  auto source = MustMake(
      "{kind: deb, packages: [a], arch: arm64, ref: [{package: a, version: '1', arch: arm64, "
      "sha256: abc}]}",
      ctx_);
  ASSERT_TRUE(source->Ref().has_value());
  EXPECT_NE(source->Ref()->find("a 1 arm64 abc"), std::string::npos);
}

}  // namespace
}  // namespace crossfarm::worker

namespace crossfarm::worker {
namespace {

TEST(ControlStanzaTest, FieldsContinuationLinesAndStanzasAreParsed) {
  const auto stanzas = source_internal::ParseControlStanzas(
      "Package: a\nVersion: 1:2.0-1\nDescription: short\n more\n .\n\n\n"
      "Package: b\nChecksums-Sha256:\n 00ff 12 b.dsc\n 11ee 34 b.tar.xz\n");
  ASSERT_EQ(stanzas.size(), 2u);
  EXPECT_EQ(source_internal::FieldOf(stanzas[0], "Version"), "1:2.0-1");
  EXPECT_EQ(source_internal::FieldOf(stanzas[0], "Description"), "short\nmore\n.");
  EXPECT_EQ(source_internal::FieldOf(stanzas[1], "Checksums-Sha256"),
            "00ff 12 b.dsc\n11ee 34 b.tar.xz");
  EXPECT_EQ(source_internal::FieldOf(stanzas[1], "Version"), "");
}

TEST(ControlStanzaTest, EmptyAndMalformedInputGiveNoFields) {
  struct Case {
    const char* text;
    size_t stanzas;
  };
  for (const Case& c : {Case{"", 0}, Case{"\n\n", 0}, Case{" orphan continuation\n", 0},
                        Case{"no colon here\nKey: v\n", 1}}) {
    EXPECT_EQ(source_internal::ParseControlStanzas(c.text).size(), c.stanzas) << c.text;
  }
}

}  // namespace
}  // namespace crossfarm::worker

namespace crossfarm::worker {
namespace {

TEST(DebConfigTest, MalformedConfigsAreUserErrorsNotExceptions) {
  SourceContext ctx{"/nonexistent", {}, "/nonexistent", nullptr};
  for (const char* yaml :
       {"{kind: deb, arch: arm64}", "{kind: deb, packages: [], arch: arm64}",
        "{kind: deb, packages: [a], arch: arm64, ref: [{package: a}]}",
        "{kind: deb, packages: [a], arch: arm64, ref: 3}", "{kind: deb, packages: [a]}",
        "{kind: deb, packages: [a], arch: arm64, essential: maybe}",
        "{kind: debian-source, package: p, version: '1', ref: [{file: p.dsc}]}",
        "{kind: debian-source, version: '1'}"}) {  // no package
    const YAML::Node config = YAML::Load(yaml);
    auto source = MakeSource(config["kind"].as<std::string>(), config, testing::TestWhere(), ctx);
    ASSERT_FALSE(source.has_value()) << yaml;
    EXPECT_EQ(source.error().code(), StatusCode::kInvalidArgument) << yaml;
    EXPECT_NE(source.error().message().find("elements/test.bst"), std::string::npos)
        << source.error().message();
    EXPECT_EQ(source.error().message().find("invalid node"), std::string::npos)
        << source.error().message();
  }
}

}  // namespace
}  // namespace crossfarm::worker
