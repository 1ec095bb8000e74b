// Free space checks that turn "the disk is full" into one clear error before a
// library (RocksDB) meets ENOSPC in the middle of a write: Debian's RocksDB
// aborts on an assertion there instead of returning an error (issue 19).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace crossfarm {

// Bytes an unprivileged process may still write on the file system holding
// `path` (statvfs f_bavail); nullopt when that cannot be told.
std::optional<uint64_t> FreeBytes(const std::string& path);

// OK when at least `needed` bytes are free on `path`'s file system (or when
// the free space cannot be told); otherwise ResourceExhausted
// "disk full: N bytes free in PATH, WHAT needs M bytes" and what to do.
Status CheckDiskSpace(const std::string& path, uint64_t needed, std::string_view what);

}  // namespace crossfarm
