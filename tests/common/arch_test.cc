#include "common/arch.h"

#include <gtest/gtest.h>

namespace crossfarm {
namespace {

TEST(ArchTest, AliasesResolveToCanonicalNames) {
  struct Case { const char* in; const char* canonical; const char* debian; const char* triplet; };
  const Case cases[] = {
      {"x86_64", "x86_64", "amd64", "x86_64-linux-gnu"},
      {"amd64", "x86_64", "amd64", "x86_64-linux-gnu"},
      {"arm64", "aarch64", "arm64", "aarch64-linux-gnu"},
      {"aarch64", "aarch64", "arm64", "aarch64-linux-gnu"},
      {"riscv64", "riscv64", "riscv64", "riscv64-linux-gnu"},
      {"armhf", "armv7", "armhf", "arm-linux-gnueabihf"},
      {"i386", "i686", "i386", "i686-linux-gnu"},
      {"ppc64el", "ppc64le", "ppc64el", "powerpc64le-linux-gnu"},
      {"s390x", "s390x", "s390x", "s390x-linux-gnu"},
  };
  for (const auto& c : cases) {
    auto a = LookupArch(c.in);
    ASSERT_TRUE(a.has_value()) << c.in;
    EXPECT_EQ((*a)->name, c.canonical) << c.in;
    EXPECT_EQ((*a)->debian, c.debian) << c.in;
    EXPECT_EQ((*a)->triplet, c.triplet) << c.in;
  }
}

TEST(ArchTest, UnknownArchErrorListsKnownNames) {
  auto a = LookupArch("sparc");
  ASSERT_FALSE(a.has_value());
  EXPECT_EQ(a.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(a.error().message().find("unknown arch 'sparc'"), std::string::npos);
  EXPECT_NE(a.error().message().find("aarch64"), std::string::npos);
}

TEST(ArchTest, ElfHeadersIdentifyArchAndEndianness) {
  // Minimal ELF headers: magic, class, data, version, padding, e_type, e_machine.
  std::string le64("\x7f" "ELF\x02\x01\x01", 7);
  le64.resize(16, '\0');
  le64 += std::string("\x02\x00\xb7\x00", 4);  // ET_EXEC, EM_AARCH64 (183) LE
  auto id = ParseElfIdent(le64);
  ASSERT_TRUE(id.has_value());
  ASSERT_NE(id->arch, nullptr);
  EXPECT_EQ(id->arch->name, "aarch64");
  EXPECT_TRUE(id->is_executable_or_dyn);

  std::string be64("\x7f" "ELF\x02\x02\x01", 7);
  be64.resize(16, '\0');
  be64 += std::string("\x00\x03\x00\x16", 4);  // ET_DYN, EM_S390 (22) BE
  id = ParseElfIdent(be64);
  ASSERT_TRUE(id.has_value());
  ASSERT_NE(id->arch, nullptr);
  EXPECT_EQ(id->arch->name, "s390x");
  EXPECT_EQ(id->endian, Endian::kBig);

  EXPECT_FALSE(ParseElfIdent("#!/bin/sh\necho hello world\n").has_value());
}

TEST(ArchTest, HostBinaryIsReadAsHostArch) {
  auto id = ReadElfIdent("/bin/sh");
  ASSERT_TRUE(id.has_value()) << id.error().ToString();
  ASSERT_NE(id->arch, nullptr);
  EXPECT_EQ(id->arch, &HostArch());
}

TEST(ArchTest, ArchConfigRoles) {
  auto c = ArchConfig::Make("aarch64", "", "");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->host->name, "aarch64");
  EXPECT_EQ(c->target->name, "aarch64");
  EXPECT_EQ(c->build->name, "aarch64");

  c = ArchConfig::Make("", "x86_64", "s390x");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->host->name, "x86_64");
  EXPECT_EQ(c->target->name, "s390x");

  c = ArchConfig::Make("", "", "");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->host, &HostArch());

  auto bad = ArchConfig::Make("", "", "vax");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("--target-arch"), std::string::npos);
}

TEST(ArchTest, X86_64RunsI686NativelyButNotAarch64) {
  const ArchInfo& x86 = **LookupArch("x86_64");
  EXPECT_TRUE(RunsNatively(x86, **LookupArch("i686")));
  EXPECT_FALSE(RunsNatively(x86, **LookupArch("aarch64")));
}

}  // namespace
}  // namespace crossfarm
