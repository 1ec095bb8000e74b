// Stamps of the checkout cache (<cache>/checkouts/<root hex>, read-only hard
// links into the CAS files cache): what each file looked like when the checkout
// was made, so a job never stages a checkout someone edited since.
//
// <checkouts>/.stamps/<root hex>: one line per regular file,
// "inode size mtime_ns relative/path". Checked on every use (one lstat per
// file: cheap beside staging). Not the ctime: hard-linking the file into a
// sandbox root changes it. An edit through a hard link changes mtime (and
// usually size); restoring the mtime on purpose needs write access to the
// cache, which is the worker's own trust boundary (docs/security.md). `cas
// verify` re-hashes the files as well (ScrubCheckouts).
#pragma once

#include <string>
#include <vector>

#include "cas/cas.h"
#include "common/status.h"

namespace crossfarm::worker {

// Records the stamp of the checkout `checkouts/<root hex>` (first line: "root HEX/SIZE").
Status WriteCheckoutStamp(const std::string& checkouts, const Digest& root);
// OK if every file matches its stamp; Corruption naming the first that does not
// (or a missing stamp: a checkout of an older crossfarm is re-made once).
Status CheckCheckoutStamp(const std::string& checkouts, const std::string& hex);
// Removes a checkout and its stamp.
Status RemoveCheckout(const std::string& checkouts, const std::string& hex);
// For `cas verify`: every checkout whose stamp or file contents (re-hashed
// against its tree in `cas`) no longer match is removed; returns their names.
Result<std::vector<std::string>> ScrubCheckouts(cas::Cas& cas, const std::string& checkouts);

}  // namespace crossfarm::worker
