// libarchive adapter: unpacks tarballs (any compression libarchive knows: gz, xz,
// bz2, zstd, lzma, plain), zip archives and the data.tar.* member of Debian .deb
// files (ar), and
// writes tarballs (tests, artifact exports).
//
// Extraction is safe against hostile archives: absolute paths and '..' are refused,
// and nothing is ever written through a symlink that leaves dest. Owners are not
// restored (everything belongs to the caller); modes, symlinks, hardlinks and
// mtimes are.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace crossfarm::worker {

// Which permission bits extracted entries get.
enum class ExtractModes {
  kFromArchive,  // the archive's own modes (tar, deb)
  kZip,          // BuildStream's zip.py: directories 0755, files 0644, symlinks as is
};

struct ExtractOptions {
  // Only entries under this directory of the archive are extracted, with the
  // prefix removed (BuildStream's base-dir after glob resolution). "" = all.
  std::string strip_dir;
  // false: a symlink already in dest is never traversed; one standing where the
  // archive has a directory is replaced by that directory (tarball sources).
  // true: symlinks already in dest (e.g. bin -> usr/bin of a merged-/usr root) are
  // followed as if dest were the root directory: absolute targets resolve under
  // dest, and a link that would lead outside dest is an error.
  bool follow_dest_symlinks = false;
  ExtractModes modes = ExtractModes::kFromArchive;
};

// Unpacks the archive at `archive_path` into the existing directory `dest`.
// Corruption/IOError naming the archive and the entry on failure.
Status ExtractArchive(const std::string& archive_path, const std::string& dest,
                      const ExtractOptions& options = {});

// Unpacks the data.tar.* member of a .deb into `dest` (no maintainer scripts).
Status ExtractDebData(const std::string& deb_path, const std::string& dest,
                      const ExtractOptions& options = {});

// Every directory path in the archive (explicit entries and the parents of every
// entry), without "./" prefix or trailing '/', sorted.
Result<std::vector<std::string>> ListArchiveDirs(const std::string& archive_path);

// BuildStream's glob for base-dir: '*' and '?' do not cross '/', '**' does.
bool GlobMatch(std::string_view pattern, std::string_view path);

// Resolves a base-dir pattern against the archive: the first (sorted) matching
// directory. "" stays "". NotFound naming the pattern when nothing matches.
Result<std::string> FindBaseDir(const std::string& archive_path, const std::string& pattern);

// FindBaseDir for the data.tar.* member of a .deb (bst's deb source).
Result<std::string> FindDebBaseDir(const std::string& deb_path, const std::string& pattern);

enum class Compression { kNone, kGzip, kXz, kBzip2, kZstd };

// Writes the tree at `src_dir` as a tarball at `out_path` ("-": standard output),
// every entry prefixed by `top_dir/` (none when empty), in sorted order with
// owner 0:0 and no access/change times. With `mtime`, every entry gets that
// modification time and the compressor no timestamp: one tree, one tarball.
Status WriteTarball(const std::string& src_dir, const std::string& top_dir,
                    const std::string& out_path, Compression compression,
                    std::optional<int64_t> mtime = std::nullopt);

// The compression a tarball's file name asks for (.gz/.tgz, .xz, .zst, .bz2).
Compression CompressionForName(std::string_view name);

}  // namespace crossfarm::worker
