// Hand-made ELF files for the tests that read program headers (PT_INTERP):
// no compiler needed, and a layout no linker writes is possible.
#pragma once

#include <elf.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace crossfarm::worker::testing {

// A little-endian ELF64 x86_64 program whose only program header is PT_INTERP
// naming `interpreter`, its bytes at `interp_offset` (0: right after the
// headers, where linkers put them). Never run, only read.
inline std::string ProgramWithInterpreter(const std::string& interpreter, uint64_t interp_offset = 0) {
  Elf64_Ehdr eh{};
  std::copy(ELFMAG, ELFMAG + SELFMAG, eh.e_ident);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_DYN;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phoff = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = 1;
  Elf64_Phdr ph{};
  ph.p_type = PT_INTERP;
  ph.p_flags = PF_R;
  ph.p_offset = interp_offset ? interp_offset : sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);
  ph.p_filesz = ph.p_memsz = interpreter.size() + 1;
  ph.p_align = 1;
  std::string out(reinterpret_cast<const char*>(&eh), sizeof eh);
  out.append(reinterpret_cast<const char*>(&ph), sizeof ph);
  out.resize(ph.p_offset, '\0');
  out += interpreter;
  out += '\0';
  return out;
}

}  // namespace crossfarm::worker::testing
