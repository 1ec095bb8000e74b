#include "common/disk_space.h"

#include <sys/statvfs.h>

namespace crossfarm {

std::optional<uint64_t> FreeBytes(const std::string& path) {
  struct statvfs fs {};
  if (::statvfs(path.c_str(), &fs) != 0) return std::nullopt;
  return static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
}

Status CheckDiskSpace(const std::string& path, uint64_t needed, std::string_view what) {
  std::optional<uint64_t> free_bytes = FreeBytes(path);
  if (!free_bytes || *free_bytes >= needed) return Status::Ok();
  return Status::ResourceExhausted("disk full: " + std::to_string(*free_bytes) + " bytes free in " + path +
                                   ", " + std::string(what) + " needs " + std::to_string(needed) +
                                   "\n  hint: free space on that file system (or lower the CAS quota), "
                                   "then run the command again");
}

}  // namespace crossfarm
