// elf_compare: real objects from the host gcc, differing the way the emulated
// native gcc and the cross gcc differ (only the .ident string), against pairs
// that differ in code.
#include "worker/elf_compare.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "tests/worker/elf_fixture.h"
#include "worker/fs_util.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using Names = std::vector<std::string>;

constexpr const char* kSource =
    "int add(int a, int b) { return a + b; }\n"
    "int main(void) { return add(1, 2) - 3; }\n"
    "#ifdef OTHER_IDENT\n"
    "__asm__(\".ident \\\"GCC: (cross) 12.2.0\\\"\");\n"
    "#endif\n";

class ElfCompareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("gcc --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no host gcc";
    auto dir = TempDir::Create("", "elf-compare-test-");
    ASSERT_TRUE(dir.has_value()) << dir.error().ToString();
    dir_.emplace(std::move(*dir));
    std::ofstream(Path("t.c")) << kSource;
  }

  std::string Path(const std::string& name) const { return dir_->path() + "/" + name; }

  // Runs gcc in the temp dir; `args` as on a command line.
  void Gcc(const std::string& args) {
    std::string cmd = "cd '" + dir_->path() + "' && gcc " + args + " 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }

  static std::string Slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  std::optional<TempDir> dir_;
};

TEST_F(ElfCompareTest, ReadsHostObject) {
  Gcc("-c t.c -o t.o");
  auto elf = ReadElfFile(Path("t.o"));
  ASSERT_TRUE(elf.has_value()) << elf.error().ToString();
  EXPECT_EQ(elf->header.elf_class, ELFCLASS64);
  EXPECT_EQ(elf->header.machine, EM_X86_64);
  EXPECT_EQ(elf->header.type, ET_REL);
  auto text = std::ranges::find(elf->sections, ".text", &ElfSection::name);
  ASSERT_NE(text, elf->sections.end());
  EXPECT_EQ(text->type, SHT_PROGBITS);
  EXPECT_EQ(text->flags, SHF_ALLOC | SHF_EXECINSTR);
  EXPECT_EQ(text->bytes.size(), text->size);
  EXPECT_GT(text->size, 0u);
  auto comment = std::ranges::find(elf->sections, ".comment", &ElfSection::name);
  ASSERT_NE(comment, elf->sections.end());
  EXPECT_NE(comment->bytes.find("GCC: "), std::string::npos);
}

TEST_F(ElfCompareTest, NotElfIsInvalidArgument) {
  auto elf = ReadElfFile(Path("t.c"));
  ASSERT_FALSE(elf.has_value());
  EXPECT_EQ(elf.error().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(IsElfFile(Path("t.c")));
}

TEST_F(ElfCompareTest, SameObjectIsIdentical) {
  Gcc("-c t.c -o a.o");
  Gcc("-c t.c -o b.o");
  auto c = CompareElfFiles(Path("a.o"), Path("b.o"));
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  EXPECT_EQ(c->verdict, ElfVerdict::kIdentical);
}

// -fno-ident drops .comment altogether: section indices and the section name
// table shift, yet nothing but identification differs.
TEST_F(ElfCompareTest, MissingCommentIsEqualModuloIdents) {
  Gcc("-c t.c -o a.o");
  Gcc("-c -fno-ident t.c -o b.o");
  ASSERT_NE(Slurp(Path("a.o")), Slurp(Path("b.o")));
  auto c = CompareElfFiles(Path("a.o"), Path("b.o"));
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  EXPECT_EQ(c->verdict, ElfVerdict::kEqualModuloIdents) << c->first_difference;
  EXPECT_EQ(c->differing_ignored, (Names{".comment"}));
}

// The cross gcc's case: a .comment of its own (another version string).
TEST_F(ElfCompareTest, OtherCommentIsEqualModuloIdents) {
  Gcc("-c -fno-ident t.c -o a.o");
  Gcc("-c -fno-ident -DOTHER_IDENT t.c -o b.o");
  Gcc("-c t.c -o c.o");
  auto c = CompareElfFiles(Path("a.o"), Path("b.o"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->verdict, ElfVerdict::kEqualModuloIdents) << c->first_difference;
  c = CompareElfFiles(Path("b.o"), Path("c.o"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->verdict, ElfVerdict::kEqualModuloIdents) << c->first_difference;
  EXPECT_EQ(c->differing_ignored, (Names{".comment"}));
}

TEST_F(ElfCompareTest, OptimizationLevelDiffersInText) {
  Gcc("-c -O0 t.c -o a.o");
  Gcc("-c -O2 t.c -o b.o");
  auto c = CompareElfFiles(Path("a.o"), Path("b.o"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->verdict, ElfVerdict::kDifferent);
  // -O2 moves main to .text.startup, so .text is the first section to differ.
  EXPECT_EQ(c->first_difference, ".text");
}

TEST_F(ElfCompareTest, EmptyIgnoreListSeesComment) {
  Gcc("-c t.c -o a.o");
  Gcc("-c -DOTHER_IDENT t.c -o b.o");  // .comment holds both strings
  auto c = CompareElfFiles(Path("a.o"), Path("b.o"), ElfCompareOptions{.ignored_sections = {}});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->verdict, ElfVerdict::kDifferent);
  EXPECT_EQ(c->first_difference, ".comment");
}

// Linked with a build id: ld hashes the whole output, .comment included, so the
// note differs too; the program headers and every other section do not.
TEST_F(ElfCompareTest, ExecutableBuildIdFollowsComment) {
  Gcc("-O2 -Wl,--build-id=sha1 t.c -o a");
  Gcc("-O2 -Wl,--build-id=sha1 -DOTHER_IDENT t.c -o b");
  auto c = CompareElfFiles(Path("a"), Path("b"));
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  EXPECT_EQ(c->verdict, ElfVerdict::kEqualModuloIdents) << c->first_difference;
  EXPECT_EQ(c->differing_ignored, (Names{".comment", ".note.gnu.build-id"}));

  // Ignoring only .comment, the build id is a real difference.
  c = CompareElfFiles(Path("a"), Path("b"), {.ignored_sections = {".comment"}});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->verdict, ElfVerdict::kDifferent);
  EXPECT_EQ(c->first_difference, ".note.gnu.build-id");
}

// An md5 build id is 4 bytes shorter than sha1: everything after the note moves,
// which no ignore list may hide.
TEST_F(ElfCompareTest, BuildIdSizeChangeIsADifference) {
  Gcc("-O2 -Wl,--build-id=sha1 t.c -o a");
  Gcc("-O2 -Wl,--build-id=md5 t.c -o b");
  auto c = CompareElfFiles(Path("a"), Path("b"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->verdict, ElfVerdict::kDifferent);
  EXPECT_FALSE(c->first_difference.empty());
}

// Static libraries: the objects inside carry the .comment; the symbol table
// holds member offsets that move with the member sizes.
TEST_F(ElfCompareTest, ArchivesCompareMemberByMember) {
  for (const char* d : {"x", "y", "z"}) std::filesystem::create_directory(Path(d));
  // -O0: at -O2 gcc puts main in .text.startup after the top-level asm of
  // OTHER_IDENT, which moves .comment; gcc's own .ident always comes last.
  Gcc("-c -O0 t.c -o x/t.o && gcc -c -fno-ident t.c -o x/u.o");
  Gcc("-c -O0 -DOTHER_IDENT t.c -o y/t.o && gcc -c -fno-ident t.c -o y/u.o");
  Gcc("-c -O2 t.c -o z/t.o && gcc -c -fno-ident t.c -o z/u.o");
  for (const char* d : {"x", "y", "z"}) {
    std::string cmd = "cd '" + Path(d) + "' && ar rcD lib.a t.o u.o";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  ASSERT_NE(Slurp(Path("x/lib.a")), Slurp(Path("y/lib.a")));
  auto c = CompareArArchives(Path("x/lib.a"), Path("y/lib.a"));
  ASSERT_TRUE(c.has_value()) << c.error().ToString();
  EXPECT_EQ(c->verdict, ElfVerdict::kEqualModuloIdents) << c->first_difference;
  EXPECT_EQ(c->differing_ignored, (Names{".comment"}));

  c = CompareArArchives(Path("x/lib.a"), Path("z/lib.a"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->verdict, ElfVerdict::kDifferent);
  EXPECT_EQ(c->first_difference, "t.o: .text");

  c = CompareArArchives(Path("x/lib.a"), Path("x/lib.a"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->verdict, ElfVerdict::kIdentical);

  EXPECT_FALSE(CompareArArchives(Path("x/lib.a"), Path("t.c")).has_value());

  // In a tree, an archive is one file, classified like an ELF file.
  auto t = CompareTrees(Path("x"), Path("y"));
  ASSERT_TRUE(t.has_value());
  ASSERT_EQ(t->equal_modulo_idents.size(), 2u);  // lib.a and t.o
  EXPECT_EQ(t->equal_modulo_idents[0].path, "lib.a");
  EXPECT_EQ(t->identical, (Names{"u.o"}));
  t = CompareTrees(Path("x"), Path("z"));
  ASSERT_TRUE(t.has_value());
  ASSERT_EQ(t->different.size(), 2u);
  EXPECT_EQ(t->different[0].path, "lib.a");
  EXPECT_EQ(t->different[0].detail, "t.o: .text");
}

// A hand-made big-endian ELF32 (no compiler for one here): .text + .shstrtab.
std::string BigEndian32(const std::string& text) {
  const std::string names = std::string("\0.text\0.shstrtab\0", 17);
  Elf32_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS32;
  eh.e_ident[EI_DATA] = ELFDATA2MSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  auto be16 = [](uint16_t v) { return std::endian::native == std::endian::big ? v : std::byteswap(v); };
  auto be32 = [](uint32_t v) { return std::endian::native == std::endian::big ? v : std::byteswap(v); };
  eh.e_type = be16(ET_REL);
  eh.e_machine = be16(EM_S390);
  eh.e_version = be32(EV_CURRENT);
  eh.e_ehsize = be16(sizeof(Elf32_Ehdr));
  eh.e_shentsize = be16(sizeof(Elf32_Shdr));
  eh.e_shnum = be16(3);
  eh.e_shstrndx = be16(2);
  uint32_t text_off = sizeof(Elf32_Ehdr);
  uint32_t names_off = text_off + text.size();
  uint32_t sh_off = names_off + names.size();
  eh.e_shoff = be32(sh_off);
  Elf32_Shdr sh[3]{};
  sh[1].sh_name = be32(1);
  sh[1].sh_type = be32(SHT_PROGBITS);
  sh[1].sh_flags = be32(SHF_ALLOC | SHF_EXECINSTR);
  sh[1].sh_offset = be32(text_off);
  sh[1].sh_size = be32(text.size());
  sh[2].sh_name = be32(7);
  sh[2].sh_type = be32(SHT_STRTAB);
  sh[2].sh_offset = be32(names_off);
  sh[2].sh_size = be32(names.size());
  std::string out(reinterpret_cast<const char*>(&eh), sizeof eh);
  out += text + names;
  out.append(reinterpret_cast<const char*>(sh), sizeof sh);
  return out;
}

TEST_F(ElfCompareTest, ReadsBigEndianElf32) {
  std::ofstream(Path("be1"), std::ios::binary) << BigEndian32("\x01\x02\x03\x04");
  std::ofstream(Path("be2"), std::ios::binary) << BigEndian32("\x01\x02\x03\x05");
  auto elf = ReadElfFile(Path("be1"));
  ASSERT_TRUE(elf.has_value()) << elf.error().ToString();
  EXPECT_EQ(elf->header.machine, EM_S390);
  ASSERT_EQ(elf->sections.size(), 2u);
  EXPECT_EQ(elf->sections[0].name, ".text");
  EXPECT_EQ(elf->sections[0].flags, SHF_ALLOC | SHF_EXECINSTR);
  EXPECT_EQ(elf->sections[0].bytes, "\x01\x02\x03\x04");
  EXPECT_TRUE(elf->sections[1].section_names);
  auto c = CompareElfFiles(Path("be1"), Path("be2"));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->verdict, ElfVerdict::kDifferent);
  EXPECT_EQ(c->first_difference, ".text");
}

TEST_F(ElfCompareTest, TruncatedElfIsCorruption) {
  std::string be = BigEndian32("abcd");
  std::ofstream(Path("cut"), std::ios::binary) << be.substr(0, be.size() - 10);
  auto elf = ReadElfFile(Path("cut"));
  ASSERT_FALSE(elf.has_value());
  EXPECT_EQ(elf.error().code(), StatusCode::kCorruption);
}

TEST_F(ElfCompareTest, InterpreterOfProgramsOnly) {
  Gcc("-O2 -Wl,--dynamic-linker=/opt/test/ld-test.so.1 t.c -o exe");
  auto interp = ReadElfInterpreter(Path("exe"));
  ASSERT_TRUE(interp.has_value()) << interp.error().ToString();
  EXPECT_EQ(*interp, "/opt/test/ld-test.so.1");
  // Objects, shared libraries and what is no ELF at all name no loader.
  Gcc("-c t.c -o t.o");
  Gcc("-shared -fPIC t.c -o libt.so");
  for (const char* none : {"t.o", "libt.so", "t.c"}) {
    auto r = ReadElfInterpreter(Path(none));
    ASSERT_TRUE(r.has_value()) << none << ": " << r.error().ToString();
    EXPECT_EQ(*r, "") << none;
  }
  EXPECT_EQ(ReadElfInterpreter(Path("missing")).error().code(), StatusCode::kNotFound);
}

TEST_F(ElfCompareTest, InterpreterFarIntoTheFile) {
  // Only the start of a file is read first; a PT_INTERP beyond it still counts.
  std::ofstream(Path("far"), std::ios::binary)
      << testing::ProgramWithInterpreter("/lib64/ld-linux-x86-64.so.2", 200000);
  auto interp = ReadElfInterpreter(Path("far"));
  ASSERT_TRUE(interp.has_value()) << interp.error().ToString();
  EXPECT_EQ(*interp, "/lib64/ld-linux-x86-64.so.2");
  // Cut short: the segment lies outside the file.
  std::string cut = testing::ProgramWithInterpreter("/lib64/ld-linux-x86-64.so.2", 200000).substr(0, 150000);
  std::ofstream(Path("cut"), std::ios::binary) << cut;
  auto bad = ReadElfInterpreter(Path("cut"));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), StatusCode::kCorruption);
}

// Fuzz finding (elf_compare_fuzzer, 2026-12-06): a PT_INTERP whose size field
// says 2.3 GB was allocated before reading. Now the size is refused first.
TEST_F(ElfCompareTest, AForgedHugeInterpreterSizeIsCorruptionNotAnAllocation) {
  std::string forged = testing::ProgramWithInterpreter("/lib64/ld-linux-x86-64.so.2", 200000).substr(0, 150000);
  Elf64_Phdr ph;
  std::memcpy(&ph, forged.data() + sizeof(Elf64_Ehdr), sizeof ph);
  ph.p_filesz = ph.p_memsz = 2365882308u;
  std::memcpy(forged.data() + sizeof(Elf64_Ehdr), &ph, sizeof ph);
  std::ofstream(Path("forged"), std::ios::binary) << forged;
  auto bad = ReadElfInterpreter(Path("forged"));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), StatusCode::kCorruption);
  EXPECT_NE(bad.error().message().find("PT_INTERP of 2365882308 bytes"), std::string::npos) << bad.error().ToString();
}

TEST_F(ElfCompareTest, Trees) {
  Gcc("-O2 -Wl,--build-id=sha1 t.c -o exe-a");
  Gcc("-O2 -Wl,--build-id=sha1 -DOTHER_IDENT t.c -o exe-b");
  Gcc("-c -O0 t.c -o o0.o");
  Gcc("-c -O2 t.c -o o2.o");
  const fs::path a = Path("a"), b = Path("b");
  for (const fs::path& root : {a, b}) {
    fs::create_directories(root / "usr/bin");
    fs::create_directories(root / "usr/lib");
    std::ofstream(root / "usr/lib/same.txt") << "same\n";
    fs::create_symlink("same.txt", root / "usr/lib/link");
    std::ofstream(root / "usr/lib/mode.txt") << "mode\n";
  }
  fs::copy_file(Path("exe-a"), a / "usr/bin/hello");
  fs::copy_file(Path("exe-b"), b / "usr/bin/hello");
  fs::copy_file(Path("o0.o"), a / "usr/lib/code.o");
  fs::copy_file(Path("o2.o"), b / "usr/lib/code.o");
  fs::copy_file(Path("exe-a"), a / "usr/bin/copy");
  fs::copy_file(Path("exe-a"), b / "usr/bin/copy");
  std::ofstream(a / "usr/lib/text.txt") << "one\n";
  std::ofstream(b / "usr/lib/text.txt") << "two\n";
  fs::create_symlink("same.txt", a / "usr/lib/moved");
  fs::create_symlink("text.txt", b / "usr/lib/moved");
  std::ofstream(a / "usr/lib/only-a") << "a\n";
  fs::create_directories(b / "usr/share/doc");
  fs::permissions(b / "usr/lib/mode.txt", fs::perms::owner_exec, fs::perm_options::add);

  auto t = CompareTrees(a.string(), b.string());
  ASSERT_TRUE(t.has_value()) << t.error().ToString();
  EXPECT_EQ(t->only_in_a, (Names{"usr/lib/only-a"}));
  EXPECT_EQ(t->only_in_b, (Names{"usr/share", "usr/share/doc"}));
  EXPECT_EQ(t->identical, (Names{"usr/bin/copy", "usr/lib/link", "usr/lib/same.txt"}));
  ASSERT_EQ(t->equal_modulo_idents.size(), 1u);
  EXPECT_EQ(t->equal_modulo_idents[0].path, "usr/bin/hello");
  EXPECT_EQ(t->equal_modulo_idents[0].differing_sections, (Names{".comment", ".note.gnu.build-id"}));
  ASSERT_EQ(t->different.size(), 4u);
  EXPECT_EQ(t->different[0].path, "usr/lib/code.o");
  EXPECT_EQ(t->different[0].detail, ".text");
  EXPECT_EQ(t->different[1].path, "usr/lib/mode.txt");
  EXPECT_EQ(t->different[1].detail.substr(0, 5), "mode ");
  EXPECT_EQ(t->different[2].path, "usr/lib/moved");
  EXPECT_EQ(t->different[2].detail, "symlink target: same.txt vs text.txt");
  EXPECT_EQ(t->different[3].path, "usr/lib/text.txt");
  EXPECT_EQ(t->different[3].detail, "content");
  EXPECT_FALSE(t->EquivalentModuloIdents());

  // Only the identification differences left: the trees count as equivalent.
  auto same = CompareTrees(Path("a") + "/usr/bin", Path("b") + "/usr/bin");
  ASSERT_TRUE(same.has_value());
  EXPECT_TRUE(same->EquivalentModuloIdents());
  EXPECT_EQ(same->equal_modulo_idents.size(), 1u);
}

TEST_F(ElfCompareTest, MissingTreeIsNotFound) {
  auto t = CompareTrees(Path("nope"), dir_->path());
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace crossfarm::worker
