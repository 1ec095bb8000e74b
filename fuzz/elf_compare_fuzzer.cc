// The ELF and ar comparison (worker/elf_compare.cc) of two files from one input
// ("A@@CFSPLIT@@B", see fuzz_util.h; without the marker a file against itself):
// headers, sections and program headers read from hostile offsets and sizes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_util.h"
#include "worker/elf_compare.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace crossfarm;
  worker::TempDir scratch = fuzz::ScratchDir("cf-fuzz-elf-");
  auto [a_bytes, b_bytes] = fuzz::SplitTwo(fuzz::AsView(data, size));
  const std::string a = scratch.path() + "/a", b = scratch.path() + "/b";
  fuzz::WriteFile(a, a_bytes);
  fuzz::WriteFile(b, b_bytes);
  (void)worker::IsElfFile(a);
  (void)worker::ReadElfInterpreter(a);
  auto same = worker::CompareElfFiles(a, a);
  // A file equals itself, whatever it holds.
  if (same && same->verdict != worker::ElfVerdict::kIdentical) std::abort();
  (void)worker::CompareElfFiles(a, b);
  (void)worker::CompareArArchives(a, b);
  (void)worker::CompareTrees(scratch.path(), scratch.path());
  return 0;
}
