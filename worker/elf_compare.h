// Comparing build outputs "modulo identification": accelerated aarch64 builds
// compile with the x86_64->aarch64 cross gcc instead of the emulated native one,
// and the two gccs differ only in the version string they put in `.comment`
// (and so in `.note.gnu.build-id`, which ld hashes over the whole output). These
// helpers tell such harmless differences from real ones, per ELF file and for
// whole trees (e.g. two artifact checkouts of one element built in two modes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace crossfarm::worker {

// One section of an ELF file, by value: the comparison needs only these.
struct ElfSection {
  std::string name;
  uint32_t type = 0;   // sh_type
  uint64_t flags = 0;  // sh_flags
  uint64_t addr = 0;   // sh_addr
  uint64_t size = 0;   // sh_size (for SHT_NOBITS the only "content")
  std::string bytes;   // the section's file contents; empty for SHT_NOBITS
  // The table of section names (e_shstrndx) that nothing else links to. Its
  // bytes are not compared: it loses ".comment" when gcc -fno-ident emits none,
  // and the names it holds are compared section by section anyway.
  bool section_names = false;
};

// The ELF header fields that identify what a file is and how it loads. The
// section header table's place and size (e_shoff, e_shnum, e_shstrndx) are left
// out: they move whenever an ignored section changes size or goes missing.
struct ElfHeader {
  unsigned char elf_class = 0;  // ELFCLASS32 / ELFCLASS64
  unsigned char data = 0;       // ELFDATA2LSB / ELFDATA2MSB
  unsigned char osabi = 0;
  unsigned char abi_version = 0;
  uint16_t type = 0;     // e_type
  uint16_t machine = 0;  // e_machine
  uint32_t version = 0;
  uint64_t entry = 0;
  uint64_t phoff = 0;
  uint32_t flags = 0;
  uint16_t phnum = 0;

  bool operator==(const ElfHeader&) const = default;
};

// A program header: how the file loads. Compared whole, since a flag such as
// PT_GNU_STACK's PF_X lives nowhere else.
struct ElfSegment {
  uint32_t type = 0, flags = 0;
  uint64_t offset = 0, vaddr = 0, paddr = 0, filesz = 0, memsz = 0, align = 0;

  bool operator==(const ElfSegment&) const = default;
};

struct ElfFile {
  ElfHeader header;
  std::vector<ElfSegment> segments;
  std::vector<ElfSection> sections;  // in section header order, index 0 (SHT_NULL) left out
};

// Whether `path` starts with the ELF magic (false if unreadable or short).
bool IsElfFile(const std::string& path);

// Reads the header and every section of an ELF32/ELF64 file of either
// endianness. A file that is not ELF is InvalidArgument; one whose headers point
// outside the file is Corruption.
Result<ElfFile> ReadElfFile(const std::string& path);

// The program interpreter an ELF file names (PT_INTERP, e.g.
// "/lib64/ld-linux-x86-64.so.2"): the dynamic loader the kernel runs it with,
// which must exist at that path wherever the file runs. "" for a file without
// one (static programs, shared libraries) or not ELF at all. Reads only the
// headers and that segment.
Result<std::string> ReadElfInterpreter(const std::string& path);

struct ElfCompareOptions {
  // Sections that only identify the tool chain: their bytes may differ, and
  // either side may lack them (gcc -fno-ident emits no .comment at all).
  std::vector<std::string> ignored_sections = {".comment", ".note.gnu.build-id"};
};

enum class ElfVerdict {
  kIdentical,           // the files are byte for byte the same
  kEqualModuloIdents,   // only ignored sections (and section table layout) differ
  kDifferent,
};

struct ElfComparison {
  ElfVerdict verdict = ElfVerdict::kIdentical;
  // kEqualModuloIdents: the ignored sections whose presence or bytes differ.
  std::vector<std::string> differing_ignored;
  // kDifferent: what differs first, a section name (".text"), "header",
  // "program headers" or "layout" (all compared parts agree, yet the bytes differ).
  std::string first_difference;
};

// Compares two ELF files; errors only if a file cannot be read or parsed.
Result<ElfComparison> CompareElfFiles(const std::string& a, const std::string& b,
                                      const ElfCompareOptions& options = {});

// Compares two parsed files as CompareElfFiles does, except that it cannot
// tell kIdentical (it has no raw bytes): equal files come back kEqualModuloIdents
// with an empty `differing_ignored`.
ElfComparison CompareElf(const ElfFile& a, const ElfFile& b,
                         const ElfCompareOptions& options = {});

// Compares two ar archives (static libraries) member by member: the same
// member names in the same order, each member identical or, for ELF members,
// equal modulo identification (a libz.a from the cross gcc holds objects with
// another .comment). The symbol table is compared by its names only, its member
// offsets move with the member sizes. Errors if either file is no ar archive.
// kIdentical is for byte-identical archives; `first_difference` names the
// member ("adler32.o: .text").
Result<ElfComparison> CompareArArchives(const std::string& a, const std::string& b,
                                        const ElfCompareOptions& options = {});

struct TreeComparison {
  struct ModuloIdents {
    std::string path;
    std::vector<std::string> differing_sections;  // the ignored ones that differed
  };
  struct Difference {
    std::string path;
    // For ELF files the first differing section (".text"); else "content",
    // "type", "mode 0755 vs 0644" or "symlink target".
    std::string detail;
  };
  // Paths relative to the compared roots, sorted. Directories are walked, not
  // listed, unless only one side has them.
  std::vector<std::string> only_in_a;
  std::vector<std::string> only_in_b;
  std::vector<std::string> identical;  // same bytes (or symlink target) and mode
  std::vector<ModuloIdents> equal_modulo_idents;
  std::vector<Difference> different;

  // Both trees hold the same files, all identical or equal modulo identification.
  bool EquivalentModuloIdents() const {
    return only_in_a.empty() && only_in_b.empty() && different.empty();
  }
};

// Walks `a` and `b` (neither following symlinks nor leaving the trees) and
// classifies every path. Symlinks compare by target, regular files by bytes and
// permission bits, ELF files that differ with CompareElfFiles, ar archives with
// CompareArArchives.
Result<TreeComparison> CompareTrees(const std::string& a, const std::string& b,
                                    const ElfCompareOptions& options = {});

}  // namespace crossfarm::worker
