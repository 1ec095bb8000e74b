// The arch model: canonical names, aliases, GNU triplets, Debian names and ELF
// identification. "Arch is data" (docs/architecture.md): everything else in
// crossfarm asks this table, never uname or the compiler directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace crossfarm {

enum class Endian { kLittle, kBig };

struct ArchInfo {
  std::string_view name;          // canonical: x86_64, aarch64, ...
  std::string_view debian;        // amd64, arm64, ...
  std::string_view triplet;       // x86_64-linux-gnu, ...
  std::string_view qemu;          // qemu-user suffix: qemu-aarch64(-static)
  uint16_t elf_machine;           // e_machine
  uint8_t elf_class;              // 1 = ELFCLASS32, 2 = ELFCLASS64
  Endian endian;
  std::vector<std::string_view> aliases;
};

// All known archs, in a stable order.
const std::vector<ArchInfo>& AllArchs();

// Looks up a canonical name or alias (case-sensitive, like bst's --arch).
// InvalidArgument listing the known names otherwise.
Result<const ArchInfo*> LookupArch(std::string_view name);
const ArchInfo* FindArchByDebian(std::string_view debian);
// Finds the arch of an ELF header triple; nullptr if unknown.
const ArchInfo* FindArchByElf(uint16_t machine, uint8_t elf_class, Endian endian);

// The machine this process runs on (uname -m, normalised).
const ArchInfo& HostArch();

// Archs the host kernel runs without emulation (x86_64 also runs i686).
std::vector<const ArchInfo*> NativeArchsOf(const ArchInfo& host);
bool RunsNatively(const ArchInfo& host, const ArchInfo& arch);

// Identification read from an ELF file header. NotFound if the file is not ELF.
struct ElfIdent {
  uint16_t machine = 0;
  uint8_t elf_class = 0;
  Endian endian = Endian::kLittle;
  bool is_executable_or_dyn = false;
  const ArchInfo* arch = nullptr;
};
Result<ElfIdent> ReadElfIdent(const std::string& path);
Result<ElfIdent> ParseElfIdent(std::string_view header);  // first >= 20 bytes

// The three arch roles of a build (BuildStream's --arch, extended as in the
// cross-building roadmap). build = the machine running the sandbox.
struct ArchConfig {
  const ArchInfo* host = nullptr;    // where the built tools run
  const ArchInfo* target = nullptr;  // what a built toolchain produces code for
  // The arch of the sandbox the build runs in. Defaults to host: building for
  // aarch64 runs an aarch64 sandbox (natively or emulated). An element's
  // `sandbox: build-arch` or its staged ELF files refine it per element.
  const ArchInfo* build = nullptr;

  // --arch A sets host and target; --host-arch / --target-arch override.
  // Empty strings mean "default": the uname host.
  static Result<ArchConfig> Make(std::string_view arch, std::string_view host_arch,
                                 std::string_view target_arch);
};

}  // namespace crossfarm
