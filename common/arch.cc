#include "common/arch.h"

#include <sys/utsname.h>

#include <fstream>

namespace crossfarm {

const std::vector<ArchInfo>& AllArchs() {
  // e_machine values from elf.h: EM_X86_64 62, EM_AARCH64 183, EM_RISCV 243,
  // EM_ARM 40, EM_386 3, EM_PPC64 21, EM_S390 22.
  static const std::vector<ArchInfo> kArchs = {
      {"x86_64", "amd64", "x86_64-linux-gnu", "x86_64", 62, 2, Endian::kLittle,
       {"amd64", "x86-64"}},
      {"aarch64", "arm64", "aarch64-linux-gnu", "aarch64", 183, 2, Endian::kLittle,
       {"arm64", "armv8"}},
      {"riscv64", "riscv64", "riscv64-linux-gnu", "riscv64", 243, 2, Endian::kLittle, {}},
      {"armv7", "armhf", "arm-linux-gnueabihf", "arm", 40, 1, Endian::kLittle,
       {"armhf", "armv7l", "armv7a"}},
      {"i686", "i386", "i686-linux-gnu", "i386", 3, 1, Endian::kLittle,
       {"i386", "i486", "i586", "x86-32"}},
      {"ppc64le", "ppc64el", "powerpc64le-linux-gnu", "ppc64le", 21, 2, Endian::kLittle,
       {"ppc64el", "power8"}},
      {"s390x", "s390x", "s390x-linux-gnu", "s390x", 22, 2, Endian::kBig, {}},
  };
  return kArchs;
}

Result<const ArchInfo*> LookupArch(std::string_view name) {
  for (const auto& a : AllArchs()) {
    if (a.name == name) return &a;
    for (auto alias : a.aliases)
      if (alias == name) return &a;
  }
  std::string known;
  for (const auto& a : AllArchs()) {
    if (!known.empty()) known += ", ";
    known += a.name;
  }
  return Err(Status::InvalidArgument("unknown arch '" + std::string(name) +
                                     "'\n  hint: use one of " + known +
                                     " (Debian names like arm64 work too)"));
}

const ArchInfo* FindArchByDebian(std::string_view debian) {
  for (const auto& a : AllArchs())
    if (a.debian == debian) return &a;
  return nullptr;
}

const ArchInfo* FindArchByElf(uint16_t machine, uint8_t elf_class, Endian endian) {
  for (const auto& a : AllArchs())
    if (a.elf_machine == machine && a.elf_class == elf_class && a.endian == endian) return &a;
  return nullptr;
}

const ArchInfo& HostArch() {
  static const ArchInfo* host = [] {
    utsname u{};
    uname(&u);
    auto r = LookupArch(u.machine);
    // armv8l/aarch64 kernels etc. that we do not model fall back to x86_64 is wrong;
    // an unknown machine is a bug in the table, so fail loudly in debug builds.
    return r.has_value() ? *r : &AllArchs().front();
  }();
  return *host;
}

std::vector<const ArchInfo*> NativeArchsOf(const ArchInfo& host) {
  std::vector<const ArchInfo*> out{&host};
  // 64-bit kernels of these archs run their 32-bit sibling's binaries directly.
  auto add = [&](std::string_view n) { out.push_back(*LookupArch(n)); };
  if (host.name == "x86_64") add("i686");
  if (host.name == "aarch64") add("armv7");
  return out;
}

bool RunsNatively(const ArchInfo& host, const ArchInfo& arch) {
  for (auto* a : NativeArchsOf(host))
    if (a == &arch) return true;
  return false;
}

Result<ElfIdent> ParseElfIdent(std::string_view h) {
  if (h.size() < 20 || h.substr(0, 4) != "\x7f" "ELF")
    return Err(Status::NotFound("not an ELF file"));
  ElfIdent id;
  id.elf_class = static_cast<uint8_t>(h[4]);
  id.endian = h[5] == 2 ? Endian::kBig : Endian::kLittle;
  auto b = [&](int i) { return static_cast<uint16_t>(static_cast<uint8_t>(h[i])); };
  uint16_t type = id.endian == Endian::kBig ? (b(16) << 8 | b(17)) : (b(17) << 8 | b(16));
  id.machine = id.endian == Endian::kBig ? (b(18) << 8 | b(19)) : (b(19) << 8 | b(18));
  id.is_executable_or_dyn = type == 2 || type == 3;  // ET_EXEC, ET_DYN
  id.arch = FindArchByElf(id.machine, id.elf_class, id.endian);
  return id;
}

Result<ElfIdent> ReadElfIdent(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Err(Status::NotFound("cannot open " + path));
  char buf[20];
  in.read(buf, sizeof(buf));
  return ParseElfIdent(std::string_view(buf, static_cast<size_t>(in.gcount())));
}

Result<ArchConfig> ArchConfig::Make(std::string_view arch, std::string_view host_arch,
                                    std::string_view target_arch) {
  ArchConfig c;
  const ArchInfo* base = &HostArch();
  if (!arch.empty()) {
    auto r = LookupArch(arch);
    if (!r) return Err(r.error().WithContext("--arch"));
    base = *r;
  }
  c.host = base;
  c.target = base;
  if (!host_arch.empty()) {
    auto r = LookupArch(host_arch);
    if (!r) return Err(r.error().WithContext("--host-arch"));
    c.host = *r;
  }
  if (!target_arch.empty()) {
    auto r = LookupArch(target_arch);
    if (!r) return Err(r.error().WithContext("--target-arch"));
    c.target = *r;
  }
  c.build = c.host;
  return c;
}

}  // namespace crossfarm
