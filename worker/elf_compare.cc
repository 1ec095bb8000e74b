#include "worker/elf_compare.h"

#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string_view>
#include <system_error>

#include <fmt/format.h>

#include "worker/process.h"

namespace crossfarm::worker {

namespace fs = std::filesystem;

namespace {

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Err(Status::FromErrno("open " + path, errno));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Err(Status::IOError("read " + path + " failed"));
  return data;
}

bool HasElfMagic(std::string_view data) {
  return data.size() >= SELFMAG && std::memcmp(data.data(), ELFMAG, SELFMAG) == 0;
}

// Copies the struct at `offset` out of `data`; false if it does not fit.
template <typename T>
bool ReadStruct(std::string_view data, uint64_t offset, T* out) {
  if (offset > data.size() || data.size() - offset < sizeof(T)) return false;
  std::memcpy(out, data.data() + offset, sizeof(T));
  return true;
}

// Field accessor that undoes the file's byte order when it is not the host's.
struct Endian {
  bool swap;
  template <typename T>
  T operator()(T v) const {
    return swap ? std::byteswap(v) : v;
  }
};

// How much of a file ParseElf reads: everything, or only the ELF header and
// the program headers (enough for how the file loads, e.g. its PT_INTERP).
enum class ElfParts { kAll, kHeaders };

// The ELF32 and ELF64 layouts differ only in field widths: one parser for both.
template <typename Ehdr, typename Phdr, typename Shdr>
Result<ElfFile> ParseElf(std::string_view data, const std::string& path, ElfParts parts) {
  const bool file_big = data[EI_DATA] == ELFDATA2MSB;
  const Endian e{file_big != (std::endian::native == std::endian::big)};
  Ehdr eh;
  if (!ReadStruct(data, 0, &eh)) return Err(Status::Corruption(path + ": truncated ELF header"));

  ElfFile file;
  ElfHeader& h = file.header;
  h.elf_class = eh.e_ident[EI_CLASS];
  h.data = eh.e_ident[EI_DATA];
  h.osabi = eh.e_ident[EI_OSABI];
  h.abi_version = eh.e_ident[EI_ABIVERSION];
  h.type = e(eh.e_type);
  h.machine = e(eh.e_machine);
  h.version = e(eh.e_version);
  h.entry = e(eh.e_entry);
  h.phoff = e(eh.e_phoff);
  h.flags = e(eh.e_flags);
  h.phnum = e(eh.e_phnum);

  if (h.phnum != 0 && e(eh.e_phentsize) != sizeof(Phdr))
    return Err(Status::Corruption(path + ": unexpected program header size"));
  for (uint64_t i = 0; i < h.phnum; ++i) {
    Phdr ph;
    if (!ReadStruct(data, h.phoff + i * sizeof(Phdr), &ph))
      return Err(Status::Corruption(path + ": program headers outside the file"));
    file.segments.push_back({e(ph.p_type), e(ph.p_flags), e(ph.p_offset), e(ph.p_vaddr),
                             e(ph.p_paddr), e(ph.p_filesz), e(ph.p_memsz), e(ph.p_align)});
  }

  if (parts == ElfParts::kHeaders) return file;

  const uint64_t shoff = e(eh.e_shoff);
  uint64_t shnum = e(eh.e_shnum);
  uint64_t shstrndx = e(eh.e_shstrndx);
  if (shoff == 0) return file;  // no section headers (e.g. sstrip'ed): header only
  if (e(eh.e_shentsize) != sizeof(Shdr))
    return Err(Status::Corruption(fmt::format("{}: section header size {}, expected {}", path,
                                              e(eh.e_shentsize), sizeof(Shdr))));
  Shdr first;
  if (!ReadStruct(data, shoff, &first))
    return Err(Status::Corruption(path + ": section headers outside the file"));
  // More than 0xff00 sections: the real count and string table index live in
  // section 0 (gABI "extended section numbering").
  if (shnum == 0) shnum = e(first.sh_size);
  if (shstrndx == SHN_XINDEX) shstrndx = e(first.sh_link);
  if (shnum > (data.size() - shoff) / sizeof(Shdr))
    return Err(Status::Corruption(path + ": section headers outside the file"));

  std::vector<Shdr> headers(shnum);
  for (uint64_t i = 0; i < shnum; ++i) ReadStruct(data, shoff + i * sizeof(Shdr), &headers[i]);

  auto contents = [&](const Shdr& sh, std::string_view* out) {
    if (e(sh.sh_type) == SHT_NOBITS) {
      *out = {};
      return true;
    }
    uint64_t off = e(sh.sh_offset), size = e(sh.sh_size);
    if (off > data.size() || data.size() - off < size) return false;
    *out = data.substr(off, size);
    return true;
  };
  std::string_view strtab;
  if (shstrndx != SHN_UNDEF) {
    if (shstrndx >= shnum || !contents(headers[shstrndx], &strtab))
      return Err(Status::Corruption(path + ": bad section name table"));
  }

  for (uint64_t i = 1; i < shnum; ++i) {
    const Shdr& sh = headers[i];
    ElfSection s;
    uint64_t name_off = e(sh.sh_name);
    if (name_off < strtab.size()) {
      std::string_view rest = strtab.substr(name_off);
      s.name = std::string(rest.substr(0, rest.find('\0')));
    }
    s.type = e(sh.sh_type);
    s.flags = e(sh.sh_flags);
    s.addr = e(sh.sh_addr);
    s.size = e(sh.sh_size);
    std::string_view bytes;
    if (!contents(sh, &bytes))
      return Err(Status::Corruption(fmt::format("{}: section {} ({}) outside the file", path, i,
                                                s.name)));
    s.bytes = std::string(bytes);
    s.section_names = i == shstrndx && std::ranges::none_of(headers, [&](const Shdr& other) {
                        return e(other.sh_link) == i;
                      });
    file.sections.push_back(std::move(s));
  }
  return file;
}

Result<ElfFile> ParseElfData(std::string_view data, const std::string& path,
                             ElfParts parts = ElfParts::kAll) {
  if (!HasElfMagic(data) || data.size() < EI_NIDENT)
    return Err(Status::InvalidArgument(path + ": not an ELF file"));
  if (data[EI_DATA] != ELFDATA2LSB && data[EI_DATA] != ELFDATA2MSB)
    return Err(Status::Corruption(path + ": unknown ELF byte order"));
  switch (data[EI_CLASS]) {
    case ELFCLASS32:
      return ParseElf<Elf32_Ehdr, Elf32_Phdr, Elf32_Shdr>(data, path, parts);
    case ELFCLASS64:
      return ParseElf<Elf64_Ehdr, Elf64_Phdr, Elf64_Shdr>(data, path, parts);
    default:
      return Err(Status::Corruption(path + ": unknown ELF class"));
  }
}

// Up to `size` bytes of `fd` from `offset` (fewer at the end of the file).
Result<std::string> ReadAt(int fd, uint64_t offset, size_t size, const std::string& path) {
  std::string out(size, '\0');
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::pread(fd, out.data() + got, size - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Err(Status::FromErrno("read " + path, errno));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

bool IsIgnored(const ElfCompareOptions& options, const std::string& name) {
  return std::ranges::find(options.ignored_sections, name) != options.ignored_sections.end();
}

bool SameSection(const ElfSection& a, const ElfSection& b) {
  if (a.name != b.name || a.type != b.type || a.flags != b.flags || a.addr != b.addr ||
      a.section_names != b.section_names)
    return false;
  return a.section_names || (a.size == b.size && a.bytes == b.bytes);
}

}  // namespace

bool IsElfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[SELFMAG];
  return in.read(magic, SELFMAG) && std::memcmp(magic, ELFMAG, SELFMAG) == 0;
}

Result<ElfFile> ReadElfFile(const std::string& path) {
  CF_ASSIGN_OR_RETURN(std::string data, ReadWholeFile(path));
  return ParseElfData(data, path);
}

Result<std::string> ReadElfInterpreter(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Err(Status::FromErrno("open " + path, errno));
  // Linkers write the program headers and the interpreter's name right after
  // the ELF header: the start of the file holds them, and cc1 (30 MB) is not
  // read whole for a path of 28 bytes.
  constexpr size_t kHead = 64 << 10;
  CF_ASSIGN_OR_RETURN(std::string data, ReadAt(fd.get(), 0, kHead, path));
  if (!HasElfMagic(data)) return std::string();
  auto elf = ParseElfData(data, path, ElfParts::kHeaders);
  if (!elf && data.size() == kHead) {  // program headers further in: read it all
    CF_ASSIGN_OR_RETURN(data, ReadWholeFile(path));
    elf = ParseElfData(data, path, ElfParts::kHeaders);
  }
  if (!elf) return Err(elf.error());
  for (const ElfSegment& s : elf->segments) {
    if (s.type != PT_INTERP) continue;
    std::string name;
    if (s.offset <= data.size() && data.size() - s.offset >= s.filesz) {
      name = data.substr(s.offset, s.filesz);
    } else {
      // The size comes from the file: a forged 2 GB PT_INTERP must not become
      // a 2 GB allocation (elf_compare_fuzzer, 2026-12-06). A loader's path
      // fits in PATH_MAX.
      if (s.filesz > 4096) return Err(Status::Corruption(path + ": PT_INTERP of " + std::to_string(s.filesz) + " bytes"));
      CF_ASSIGN_OR_RETURN(name, ReadAt(fd.get(), s.offset, s.filesz, path));
      if (name.size() != s.filesz) return Err(Status::Corruption(path + ": PT_INTERP outside the file"));
    }
    return name.substr(0, name.find('\0'));
  }
  return std::string();
}

ElfComparison CompareElf(const ElfFile& a, const ElfFile& b, const ElfCompareOptions& options) {
  ElfComparison out;
  out.verdict = ElfVerdict::kEqualModuloIdents;
  if (a.header != b.header) {
    out.verdict = ElfVerdict::kDifferent;
    out.first_difference = "header";
    return out;
  }
  // The kept sections must match one for one, in order: section indices shift
  // when an ignored section is missing on one side, so match by position among
  // the kept ones, not by index.
  std::vector<const ElfSection*> kept_a, kept_b;
  for (const auto& s : a.sections)
    if (!IsIgnored(options, s.name)) kept_a.push_back(&s);
  for (const auto& s : b.sections)
    if (!IsIgnored(options, s.name)) kept_b.push_back(&s);
  for (size_t i = 0; i < std::max(kept_a.size(), kept_b.size()); ++i) {
    if (i >= kept_a.size() || i >= kept_b.size()) {
      out.verdict = ElfVerdict::kDifferent;
      out.first_difference = i < kept_a.size() ? kept_a[i]->name : kept_b[i]->name;
      return out;
    }
    if (!SameSection(*kept_a[i], *kept_b[i])) {
      out.verdict = ElfVerdict::kDifferent;
      out.first_difference = kept_a[i]->name;
      return out;
    }
  }
  // After the sections: a moved or resized section says more than the
  // segment that holds it.
  if (a.segments != b.segments) {
    out.verdict = ElfVerdict::kDifferent;
    out.first_difference = "program headers";
    return out;
  }
  // Which identification sections differ, for the report; not a verdict.
  for (const std::string& name : options.ignored_sections) {
    auto find = [&](const ElfFile& f) -> const ElfSection* {
      auto it = std::ranges::find(f.sections, name, &ElfSection::name);
      return it == f.sections.end() ? nullptr : &*it;
    };
    const ElfSection* sa = find(a);
    const ElfSection* sb = find(b);
    if (!sa && !sb) continue;
    if (!sa || !sb || !SameSection(*sa, *sb)) out.differing_ignored.push_back(name);
  }
  return out;
}

Result<ElfComparison> CompareElfFiles(const std::string& a, const std::string& b,
                                      const ElfCompareOptions& options) {
  CF_ASSIGN_OR_RETURN(std::string data_a, ReadWholeFile(a));
  CF_ASSIGN_OR_RETURN(std::string data_b, ReadWholeFile(b));
  if (data_a == data_b && HasElfMagic(data_a)) return ElfComparison{};
  CF_ASSIGN_OR_RETURN(ElfFile elf_a, ParseElfData(data_a, a));
  CF_ASSIGN_OR_RETURN(ElfFile elf_b, ParseElfData(data_b, b));
  ElfComparison out = CompareElf(elf_a, elf_b, options);
  // Files that differ although every section and the header agree (padding,
  // section header order): nothing for a reader to point at but the layout.
  if (out.verdict == ElfVerdict::kEqualModuloIdents && out.differing_ignored.empty()) {
    out.verdict = ElfVerdict::kDifferent;
    out.first_difference = "layout";
  }
  return out;
}

namespace {

constexpr std::string_view kArMagic = "!<arch>\n";

bool HasArMagic(std::string_view data) { return data.starts_with(kArMagic); }

struct ArMember {
  std::string name;  // long names resolved; "/" and "/SYM64/" for symbol tables
  std::string meta;  // date, uid, gid and mode as stored (deterministic ar: zeros)
  std::string_view data;
};

// Splits a GNU/SysV ar archive into its members. BSD "#1/" names are kept as
// stored: the names are only compared, never used.
Result<std::vector<ArMember>> ParseAr(std::string_view data, const std::string& path) {
  std::vector<ArMember> members;
  std::string_view long_names;
  constexpr size_t kHeader = 60;  // struct ar_hdr
  for (size_t off = kArMagic.size(); off < data.size();) {
    if (data.size() - off < kHeader) return Err(Status::Corruption(path + ": truncated ar header"));
    std::string_view h = data.substr(off, kHeader);
    if (h.substr(58, 2) != "`\n") return Err(Status::Corruption(path + ": bad ar header"));
    uint64_t size = 0;
    for (char c : h.substr(48, 10)) {
      if (c == ' ') break;
      if (c < '0' || c > '9') return Err(Status::Corruption(path + ": bad ar member size"));
      size = size * 10 + static_cast<uint64_t>(c - '0');
    }
    off += kHeader;
    if (data.size() - off < size) return Err(Status::Corruption(path + ": truncated ar member"));
    ArMember m;
    std::string_view raw = h.substr(0, 16);
    raw = raw.substr(0, raw.find_last_not_of(' ') + 1);
    m.meta = std::string(h.substr(16, 32));
    m.data = data.substr(off, size);
    if (raw == "//") {
      long_names = m.data;  // the table of long names: used through the names
    } else {
      if (raw.size() > 1 && raw[0] == '/' && raw[1] >= '0' && raw[1] <= '9') {
        size_t at = std::strtoull(std::string(raw.substr(1)).c_str(), nullptr, 10);
        if (at >= long_names.size()) return Err(Status::Corruption(path + ": bad ar long name"));
        std::string_view rest = long_names.substr(at);
        raw = rest.substr(0, rest.find('\n'));
      }
      if (raw.size() > 1 && raw.back() == '/') raw.remove_suffix(1);  // GNU name terminator
      m.name = std::string(raw);
      members.push_back(std::move(m));
    }
    off += size + (size & 1);  // members are 2-aligned
  }
  return members;
}

// The names of an archive symbol table ("/": 32-bit big-endian count and
// offsets, "/SYM64/": 64-bit), without the offsets.
std::string_view ArmapNames(const ArMember& m) {
  size_t word = m.name == "/SYM64" ? 8 : 4;
  if (m.data.size() < word) return m.data;
  uint64_t count = 0;
  for (size_t i = 0; i < word; ++i) count = count << 8 | static_cast<unsigned char>(m.data[i]);
  size_t skip = word * (count + 1);
  return skip <= m.data.size() ? m.data.substr(skip) : m.data;
}

}  // namespace

Result<ElfComparison> CompareArArchives(const std::string& a, const std::string& b,
                                        const ElfCompareOptions& options) {
  CF_ASSIGN_OR_RETURN(std::string data_a, ReadWholeFile(a));
  CF_ASSIGN_OR_RETURN(std::string data_b, ReadWholeFile(b));
  if (!HasArMagic(data_a) || !HasArMagic(data_b))
    return Err(Status::InvalidArgument(a + " or " + b + ": not an ar archive"));
  if (data_a == data_b) return ElfComparison{};
  CF_ASSIGN_OR_RETURN(auto members_a, ParseAr(data_a, a));
  CF_ASSIGN_OR_RETURN(auto members_b, ParseAr(data_b, b));
  ElfComparison out;
  out.verdict = ElfVerdict::kEqualModuloIdents;
  auto differ = [&](std::string what) {
    out.verdict = ElfVerdict::kDifferent;
    out.first_difference = std::move(what);
    out.differing_ignored.clear();
    return out;
  };
  for (size_t i = 0; i < std::max(members_a.size(), members_b.size()); ++i) {
    if (i >= members_a.size() || i >= members_b.size())
      return differ((i < members_a.size() ? members_a[i] : members_b[i]).name + ": member");
    const ArMember& ma = members_a[i];
    const ArMember& mb = members_b[i];
    if (ma.name != mb.name) return differ(ma.name + ": member");
    if (ma.meta != mb.meta) return differ(ma.name + ": member header");
    if (ma.name == "/" || ma.name == "/SYM64") {
      if (ArmapNames(ma) != ArmapNames(mb)) return differ(ma.name + ": symbol table");
      continue;
    }
    if (ma.data == mb.data) continue;
    if (!HasElfMagic(ma.data) || !HasElfMagic(mb.data)) return differ(ma.name + ": content");
    CF_ASSIGN_OR_RETURN(ElfFile ea, ParseElfData(ma.data, a + "(" + ma.name + ")"));
    CF_ASSIGN_OR_RETURN(ElfFile eb, ParseElfData(mb.data, b + "(" + mb.name + ")"));
    ElfComparison c = CompareElf(ea, eb, options);
    if (c.verdict == ElfVerdict::kDifferent) return differ(ma.name + ": " + c.first_difference);
    if (c.differing_ignored.empty()) return differ(ma.name + ": layout");
    for (auto& name : c.differing_ignored)
      if (std::ranges::find(out.differing_ignored, name) == out.differing_ignored.end())
        out.differing_ignored.push_back(std::move(name));
  }
  // Same members, yet the bytes differ: only the symbol table's offsets can.
  if (out.differing_ignored.empty()) return differ("symbol table offsets");
  return out;
}

namespace {

// Relative path -> status of everything below `root` (root itself left out).
Result<std::map<std::string, fs::file_status>> ListTree(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(root, ec)))
    return Err(Status::NotFound(root + ": not a directory"));
  std::map<std::string, fs::file_status> out;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    fs::file_status st = it->symlink_status(ec);
    if (ec) break;
    // Lexically: fs::relative would resolve a symlink to the path of its target.
    out[it->path().lexically_relative(root).string()] = st;
  }
  if (ec) return Err(Status::IOError("walking " + root + ": " + ec.message()));
  return out;
}

std::string_view TypeName(fs::file_type t) {
  switch (t) {
    case fs::file_type::regular: return "file";
    case fs::file_type::directory: return "directory";
    case fs::file_type::symlink: return "symlink";
    default: return "special file";
  }
}

}  // namespace

Result<TreeComparison> CompareTrees(const std::string& a, const std::string& b,
                                    const ElfCompareOptions& options) {
  CF_ASSIGN_OR_RETURN(auto tree_a, ListTree(a));
  CF_ASSIGN_OR_RETURN(auto tree_b, ListTree(b));
  TreeComparison out;
  for (const auto& [rel, st] : tree_b)
    if (!tree_a.contains(rel)) out.only_in_b.push_back(rel);
  for (const auto& [rel, st_a] : tree_a) {
    auto it = tree_b.find(rel);
    if (it == tree_b.end()) {
      out.only_in_a.push_back(rel);
      continue;
    }
    const fs::file_status& st_b = it->second;
    const std::string pa = (fs::path(a) / rel).string(), pb = (fs::path(b) / rel).string();
    if (st_a.type() != st_b.type()) {
      out.different.push_back({rel, fmt::format("type: {} vs {}", TypeName(st_a.type()),
                                                TypeName(st_b.type()))});
      continue;
    }
    switch (st_a.type()) {
      case fs::file_type::directory:
        continue;  // its entries are compared one by one
      case fs::file_type::symlink: {
        std::error_code ea, eb;
        fs::path ta = fs::read_symlink(pa, ea), tb = fs::read_symlink(pb, eb);
        if (ea || eb) return Err(Status::IOError("readlink " + (ea ? pa : pb)));
        if (ta == tb) out.identical.push_back(rel);
        else out.different.push_back({rel, "symlink target: " + ta.string() + " vs " + tb.string()});
        continue;
      }
      case fs::file_type::regular:
        break;
      default:
        out.identical.push_back(rel);  // same kind of device/fifo/socket: nothing more to read
        continue;
    }
    // A mode difference is a real one (a lost exec bit breaks the artifact).
    auto perms_a = static_cast<unsigned>(st_a.permissions() & fs::perms::mask);
    auto perms_b = static_cast<unsigned>(st_b.permissions() & fs::perms::mask);
    if (perms_a != perms_b) {
      out.different.push_back({rel, fmt::format("mode {:04o} vs {:04o}", perms_a, perms_b)});
      continue;
    }
    CF_ASSIGN_OR_RETURN(std::string da, ReadWholeFile(pa));
    CF_ASSIGN_OR_RETURN(std::string db, ReadWholeFile(pb));
    if (da == db) {
      out.identical.push_back(rel);
      continue;
    }
    if (HasArMagic(da) && HasArMagic(db)) {
      auto c = CompareArArchives(pa, pb, options);
      if (!c) out.different.push_back({rel, "unreadable archive: " + c.error().message()});
      else if (c->verdict == ElfVerdict::kDifferent) out.different.push_back({rel, c->first_difference});
      else out.equal_modulo_idents.push_back({rel, std::move(c->differing_ignored)});
      continue;
    }
    if (!HasElfMagic(da) || !HasElfMagic(db)) {
      out.different.push_back({rel, "content"});
      continue;
    }
    auto ea = ParseElfData(da, pa), eb = ParseElfData(db, pb);
    if (!ea || !eb) {  // damaged ELF: still a difference, with why
      out.different.push_back({rel, "unreadable ELF: " + (ea ? eb : ea).error().message()});
      continue;
    }
    ElfComparison c = CompareElf(*ea, *eb, options);
    if (c.verdict == ElfVerdict::kDifferent)
      out.different.push_back({rel, c.first_difference});
    else if (c.differing_ignored.empty())
      out.different.push_back({rel, "layout"});
    else
      out.equal_modulo_idents.push_back({rel, std::move(c.differing_ignored)});
  }
  return out;
}

}  // namespace crossfarm::worker
