// tar/ar/deb extraction (worker/archive.cc) of an archive from raw bytes, as a
// tar, zip or deb source stages it: listed, base-dir resolved, extracted both
// with and without following the destination's symlinks, and as a .deb.
// Extraction must stay inside its destination whatever the archive says:
// a file appearing beside the destination is a finding.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz/fuzz_util.h"
#include "worker/archive.h"

namespace {

using namespace crossfarm;

// Entries directly in `dir` (the scratch directory holds only what we put there).
int CountEntries(const std::string& dir) {
  int n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) n += std::string_view(e->d_name) != "." && std::string_view(e->d_name) != "..";
    ::closedir(d);
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  worker::TempDir scratch = fuzz::ScratchDir("cf-fuzz-archive-");
  const std::string archive = scratch.path() + "/in";
  fuzz::WriteFile(archive, fuzz::AsView(data, size));
  (void)worker::ListArchiveDirs(archive);
  (void)worker::FindBaseDir(archive, "*");
  (void)worker::FindDebBaseDir(archive, "**");
  int dest_n = 0;
  for (bool follow : {false, true}) {
    for (bool deb : {false, true}) {
      std::string dest = scratch.path() + "/d" + std::to_string(dest_n++);
      if (::mkdir(dest.c_str(), 0755) != 0) std::abort();
      // A merged-/usr style link, as in the roots deb sources extract into.
      if (follow && ::symlink("usr/bin", (dest + "/bin").c_str()) != 0) std::abort();
      worker::ExtractOptions options{.follow_dest_symlinks = follow};
      (void)(deb ? worker::ExtractDebData(archive, dest, options)
                 : worker::ExtractArchive(archive, dest, options));
    }
  }
  // "in" and the four destinations; anything else escaped a destination.
  if (CountEntries(scratch.path()) != 1 + dest_n) std::abort();
  return 0;
}
