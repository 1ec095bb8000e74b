// Fixtures for the sandbox tests: busybox artifact trees shaped like checked-out
// artifacts in the cache (read-only files and directories).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "worker/fs_util.h"

namespace crossfarm::worker::testing {

// $CROSSFARM_TEST_CACHE or /var/cache/crossfarm-test (prepare-fixtures.sh fills it).
std::string TestCacheDir();
// The arm64 busybox that prepare-fixtures.sh unpacked.
std::string Arm64Busybox();

// An artifact dir holding bin/busybox (copied from `busybox`) and applet symlinks
// (sh, echo, cat, id, uname, sleep, ...); files and dirs made read-only.
Result<TempDir> MakeBusyboxArtifact(const std::string& busybox = "/bin/busybox");

// Writes a file (parents created), then sets its mode.
void WriteFile(const std::string& path, const std::string& content, unsigned mode = 0644);
std::string ReadFile(const std::string& path);
// chmod -R a-w of a tree (the artifact cache's files are immutable).
void MakeReadOnly(const std::string& path);

}  // namespace crossfarm::worker::testing
