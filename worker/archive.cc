#include "worker/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <set>

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;

struct ReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ReadPtr = std::unique_ptr<archive, ReadFree>;
using WritePtr = std::unique_ptr<archive, WriteFree>;
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

std::string ArchiveError(archive* a) {
  const char* msg = archive_error_string(a);
  return msg != nullptr ? msg : "unknown libarchive error";
}

Result<ReadPtr> OpenRead(const std::string& path) {
  ReadPtr a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_all(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return Err(Status::Corruption("cannot open archive " + path + ": " + ArchiveError(a.get())));
  }
  return a;
}

// "./a/b/" -> "a/b"; nullopt for absolute paths or '..' components.
std::optional<std::string> NormalizeEntryPath(std::string_view p) {
  if (p.starts_with("/")) return std::nullopt;
  std::string out;
  size_t pos = 0;
  while (pos <= p.size()) {
    size_t next = p.find('/', pos);
    if (next == std::string_view::npos) next = p.size();
    const std::string_view comp = p.substr(pos, next - pos);
    pos = next + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") return std::nullopt;
    if (!out.empty()) out += '/';
    out += comp;
  }
  return out;
}

// The entry's path relative to the strip dir; "" when the entry is to be skipped.
Result<std::string> RelativeEntryPath(const char* raw, const std::string& strip_dir) {
  if (raw == nullptr) return std::string();
  const auto norm = NormalizeEntryPath(raw);
  if (!norm) {
    return Err(Status::Corruption(std::string("unsafe path in archive: ") + raw));
  }
  if (strip_dir.empty()) return *norm;
  if (norm->size() <= strip_dir.size() || !norm->starts_with(strip_dir) ||
      (*norm)[strip_dir.size()] != '/') {
    return std::string();
  }
  return norm->substr(strip_dir.size() + 1);
}

std::vector<std::string> SplitPath(std::string_view p) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= p.size()) {
    size_t next = p.find('/', pos);
    if (next == std::string_view::npos) next = p.size();
    if (next > pos) out.emplace_back(p.substr(pos, next - pos));
    pos = next + 1;
  }
  return out;
}

// Resolves `rel` under `root` as if root were "/": symlinks in root are followed
// (absolute targets restart at root), '..' may not climb above root.
Result<std::string> ResolveInRoot(const std::string& root, const std::string& rel,
                                  bool follow_final) {
  std::deque<std::string> todo;
  for (auto& c : SplitPath(rel)) todo.push_back(std::move(c));
  std::vector<std::string> done;
  int links = 0;
  while (!todo.empty()) {
    std::string comp = std::move(todo.front());
    todo.pop_front();
    if (comp == ".") continue;
    if (comp == "..") {
      if (done.empty()) return Err(Status::Corruption("path leaves the root: " + rel));
      done.pop_back();
      continue;
    }
    std::string here = root;
    for (const auto& d : done) here += "/" + d;
    here += "/" + comp;
    struct stat st;
    const bool is_link = lstat(here.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
    if (!is_link || (todo.empty() && !follow_final)) {
      done.push_back(std::move(comp));
      continue;
    }
    if (++links > 40) return Err(Status::Corruption("too many symlinks resolving " + rel));
    std::error_code ec;
    const std::string target = fs::read_symlink(here, ec).string();
    if (ec) return Err(Status::IOError("readlink " + here + ": " + ec.message()));
    if (target.starts_with("/")) done.clear();
    auto parts = SplitPath(target);
    todo.insert(todo.begin(), parts.begin(), parts.end());
  }
  std::string out = root;
  for (const auto& d : done) out += "/" + d;
  return out;
}

Status CopyData(archive* in, archive* out, const std::string& what) {
  const void* buf;
  size_t size;
  la_int64_t offset;
  for (;;) {
    const int r = archive_read_data_block(in, &buf, &size, &offset);
    if (r == ARCHIVE_EOF) return Status::Ok();
    if (r != ARCHIVE_OK) return Status::Corruption("read " + what + ": " + ArchiveError(in));
    if (archive_write_data_block(out, buf, size, offset) != ARCHIVE_OK) {
      return Status::IOError("write " + what + ": " + ArchiveError(out));
    }
  }
}

// Points the entry at its place under dest (and its hardlink target, if any).
// Returns false when the entry is to be skipped.
Result<bool> PlaceEntry(archive_entry* entry, const std::string& dest,
                        const ExtractOptions& opts) {
  CF_ASSIGN_OR_RETURN(std::string rel,
                      RelativeEntryPath(archive_entry_pathname(entry), opts.strip_dir));
  if (rel.empty()) return false;
  const bool is_dir = archive_entry_filetype(entry) == AE_IFDIR;
  std::string target = dest + "/" + rel;
  if (opts.follow_dest_symlinks) {
    CF_ASSIGN_OR_RETURN(target, ResolveInRoot(dest, rel, is_dir));
  }
  archive_entry_copy_pathname(entry, target.c_str());
  if (opts.modes == ExtractModes::kZip && archive_entry_filetype(entry) != AE_IFLNK) {
    archive_entry_set_perm(entry, is_dir ? 0755 : 0644);
  }
  if (const char* link = archive_entry_hardlink(entry); link != nullptr) {
    CF_ASSIGN_OR_RETURN(std::string link_rel, RelativeEntryPath(link, opts.strip_dir));
    if (link_rel.empty()) {
      return Err(Status::Corruption(std::string("hardlink to outside base dir: ") + link));
    }
    std::string link_target = dest + "/" + link_rel;
    if (opts.follow_dest_symlinks) {
      CF_ASSIGN_OR_RETURN(link_target, ResolveInRoot(dest, link_rel, false));
    }
    archive_entry_copy_hardlink(entry, link_target.c_str());
  }
  return true;
}

Status ExtractFrom(archive* in, const std::string& name, const std::string& dest_in,
                   const ExtractOptions& opts) {
  std::error_code ec;
  // Canonical dest so that the symlink checks only see links inside the archive's tree.
  const std::string dest = fs::canonical(dest_in, ec).string();
  if (ec) return Status::IOError("extract into " + dest_in + ": " + ec.message());
  WritePtr out(archive_write_disk_new());
  archive_write_disk_set_options(
      out.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                     ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_UNLINK);
  archive_entry* entry;
  for (;;) {
    const int r = archive_read_next_header(in, &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return Status::Corruption("read " + name + ": " + ArchiveError(in));
    }
    const std::string entry_name = archive_entry_pathname(entry) ? archive_entry_pathname(entry)
                                                                 : "";
    auto placed = PlaceEntry(entry, dest, opts);
    if (!placed) return placed.error().WithContext(name);
    if (!*placed) continue;
    if (archive_write_header(out.get(), entry) != ARCHIVE_OK) {
      return Status::IOError(name + ": cannot extract " + entry_name + ": " +
                             ArchiveError(out.get()));
    }
    if (archive_entry_size(entry) > 0) CF_TRY(CopyData(in, out.get(), name + ":" + entry_name));
    if (archive_write_finish_entry(out.get()) != ARCHIVE_OK) {
      return Status::IOError(name + ": finish " + entry_name + ": " + ArchiveError(out.get()));
    }
  }
  if (archive_write_close(out.get()) != ARCHIVE_OK) {
    return Status::IOError(name + ": " + ArchiveError(out.get()));
  }
  return Status::Ok();
}

// Streams the current member of `outer` as the input of a nested archive reader.
struct NestedInput {
  archive* outer;
  std::vector<char> buf = std::vector<char>(1 << 16);
};

la_ssize_t NestedRead(archive*, void* data, const void** out) {
  auto* in = static_cast<NestedInput*>(data);
  *out = in->buf.data();
  return archive_read_data(in->outer, in->buf.data(), in->buf.size());
}

bool GlobAt(std::string_view pat, std::string_view s) {
  if (pat.empty()) return s.empty();
  if (pat.starts_with("**")) {
    for (size_t i = 0; i <= s.size(); ++i) {
      if (GlobAt(pat.substr(2), s.substr(i))) return true;
    }
    return false;
  }
  if (pat[0] == '*') {
    for (size_t i = 0; i <= s.size(); ++i) {
      if (GlobAt(pat.substr(1), s.substr(i))) return true;
      if (i < s.size() && s[i] == '/') return false;
    }
    return false;
  }
  if (s.empty()) return false;
  if (pat[0] == '?' ? s[0] == '/' : pat[0] != s[0]) return false;
  return GlobAt(pat.substr(1), s.substr(1));
}

}  // namespace

Status ExtractArchive(const std::string& archive_path, const std::string& dest,
                      const ExtractOptions& options) {
  CF_ASSIGN_OR_RETURN(ReadPtr in, OpenRead(archive_path));
  return ExtractFrom(in.get(), archive_path, dest, options);
}

namespace {

// Opens the data.tar.* member of a .deb and calls fn(reader, name) on it.
template <typename Fn>
Status WithDebData(const std::string& deb_path, Fn fn) {
  ReadPtr outer(archive_read_new());
  archive_read_support_format_ar(outer.get());
  if (archive_read_open_filename(outer.get(), deb_path.c_str(), 1 << 16) != ARCHIVE_OK) {
    return Status::Corruption("cannot open " + deb_path + ": " + ArchiveError(outer.get()));
  }
  archive_entry* entry;
  while (archive_read_next_header(outer.get(), &entry) == ARCHIVE_OK) {
    const std::string member = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    if (!member.starts_with("data.tar")) continue;
    NestedInput input{outer.get()};
    ReadPtr inner(archive_read_new());
    archive_read_support_filter_all(inner.get());
    archive_read_support_format_tar(inner.get());
    if (archive_read_open(inner.get(), &input, nullptr, &NestedRead, nullptr) != ARCHIVE_OK) {
      return Status::Corruption(deb_path + ": bad " + member + ": " + ArchiveError(inner.get()));
    }
    return fn(inner.get(), deb_path + ":" + member);
  }
  return Status::Corruption(deb_path + ": not a Debian package (no data.tar member)");
}

// Every directory of the archive read by `in` (see ListArchiveDirs).
Result<std::vector<std::string>> ListDirsFrom(archive* in, const std::string& name) {
  std::set<std::string> dirs;
  archive_entry* entry;
  int r;
  while ((r = archive_read_next_header(in, &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    const char* raw = archive_entry_pathname(entry);
    const auto norm = NormalizeEntryPath(raw ? raw : "");
    if (!norm || norm->empty()) continue;
    if (archive_entry_filetype(entry) == AE_IFDIR) dirs.insert(*norm);
    for (size_t pos = norm->find('/'); pos != std::string::npos; pos = norm->find('/', pos + 1)) {
      dirs.insert(norm->substr(0, pos));
    }
  }
  if (r != ARCHIVE_EOF) return Err(Status::Corruption("read " + name + ": " + ArchiveError(in)));
  return std::vector<std::string>(dirs.begin(), dirs.end());
}

Result<std::string> MatchBaseDir(const std::vector<std::string>& dirs, const std::string& pattern) {
  for (const auto& d : dirs) {
    if (GlobMatch(pattern, d)) return d;
  }
  return Err(Status::NotFound("no directory matching base-dir '" + pattern + "' in the archive"));
}

}  // namespace

Status ExtractDebData(const std::string& deb_path, const std::string& dest,
                      const ExtractOptions& options) {
  return WithDebData(deb_path, [&](archive* in, const std::string& name) {
    return ExtractFrom(in, name, dest, options);
  });
}

Result<std::string> FindDebBaseDir(const std::string& deb_path, const std::string& pattern) {
  if (pattern.empty()) return std::string();
  std::vector<std::string> dirs;
  CF_TRY(WithDebData(deb_path, [&](archive* in, const std::string& name) -> Status {
    CF_ASSIGN_OR_RETURN(dirs, ListDirsFrom(in, name));
    return Status::Ok();
  }));
  return MatchBaseDir(dirs, pattern);
}

Result<std::vector<std::string>> ListArchiveDirs(const std::string& archive_path) {
  CF_ASSIGN_OR_RETURN(ReadPtr in, OpenRead(archive_path));
  return ListDirsFrom(in.get(), archive_path);
}

bool GlobMatch(std::string_view pattern, std::string_view path) { return GlobAt(pattern, path); }

Result<std::string> FindBaseDir(const std::string& archive_path, const std::string& pattern) {
  if (pattern.empty()) return std::string();
  CF_ASSIGN_OR_RETURN(auto dirs, ListArchiveDirs(archive_path));
  return MatchBaseDir(dirs, pattern);
}

namespace {

Status AddFileEntry(archive* out, const fs::path& path, const std::string& name,
                    std::optional<int64_t> mtime) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return Status::FromErrno("lstat " + path.string(), errno);
  std::unique_ptr<archive_entry, EntryFree> entry(archive_entry_new());
  // Only what a tarball means: type, mode, size, mtime (no inode, link count,
  // device, atime or ctime, which differ between two checkouts of one tree).
  archive_entry_set_filetype(entry.get(), st.st_mode & S_IFMT);
  archive_entry_set_perm(entry.get(), st.st_mode & 07777);
  if (S_ISREG(st.st_mode)) archive_entry_set_size(entry.get(), st.st_size);
  archive_entry_set_mtime(entry.get(), mtime ? *mtime : st.st_mtim.tv_sec, mtime ? 0 : st.st_mtim.tv_nsec);
  archive_entry_set_pathname(entry.get(), name.c_str());
  archive_entry_set_uid(entry.get(), 0);
  archive_entry_set_gid(entry.get(), 0);
  if (S_ISLNK(st.st_mode)) {
    archive_entry_set_symlink(entry.get(), fs::read_symlink(path).c_str());
  }
  if (archive_write_header(out, entry.get()) != ARCHIVE_OK) {
    return Status::IOError("tar " + name + ": " + ArchiveError(out));
  }
  if (!S_ISREG(st.st_mode)) return Status::Ok();
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return Status::FromErrno("open " + path.string(), errno);
  char buf[1 << 14];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    if (archive_write_data(out, buf, n) < 0) return Status::IOError(ArchiveError(out));
  }
  return Status::Ok();
}

int AddFilter(archive* out, Compression c) {
  switch (c) {
    case Compression::kNone: return ARCHIVE_OK;
    case Compression::kGzip: return archive_write_add_filter_gzip(out);
    case Compression::kXz: return archive_write_add_filter_xz(out);
    case Compression::kBzip2: return archive_write_add_filter_bzip2(out);
    case Compression::kZstd: return archive_write_add_filter_zstd(out);
  }
  return ARCHIVE_FATAL;
}

}  // namespace

Compression CompressionForName(std::string_view name) {
  auto ends = [&](std::string_view ext) { return name.ends_with(ext); };
  return ends(".gz") || ends(".tgz") ? Compression::kGzip
         : ends(".xz")               ? Compression::kXz
         : ends(".zst")              ? Compression::kZstd
         : ends(".bz2")              ? Compression::kBzip2
                                     : Compression::kNone;
}

Status WriteTarball(const std::string& src_dir, const std::string& top_dir,
                    const std::string& out_path, Compression compression,
                    std::optional<int64_t> mtime) {
  WritePtr out(archive_write_new());
  archive_write_set_format_pax_restricted(out.get());
  // No padding to a 10 KiB block: a pipe and a file get the same bytes.
  archive_write_set_bytes_in_last_block(out.get(), 1);
  if (AddFilter(out.get(), compression) != ARCHIVE_OK)
    return Status::IOError("create " + out_path + ": " + ArchiveError(out.get()));
  // gzip stores the time of writing in its header unless told not to.
  if (mtime && compression == Compression::kGzip)
    archive_write_set_filter_option(out.get(), "gzip", "timestamp", nullptr);
  const int opened = out_path == "-" ? archive_write_open_fd(out.get(), STDOUT_FILENO)
                                     : archive_write_open_filename(out.get(), out_path.c_str());
  if (opened != ARCHIVE_OK)
    return Status::IOError("create " + out_path + ": " + ArchiveError(out.get()));
  std::error_code ec;
  std::vector<fs::path> paths;
  for (auto it = fs::recursive_directory_iterator(src_dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    paths.push_back(it->path());
  }
  if (ec) return Status::IOError("list " + src_dir + ": " + ec.message());
  std::sort(paths.begin(), paths.end());
  const std::string prefix = top_dir.empty() ? "" : top_dir + "/";
  if (!top_dir.empty()) CF_TRY(AddFileEntry(out.get(), src_dir, top_dir, mtime));
  for (const auto& p : paths) {
    CF_TRY(AddFileEntry(out.get(), p, prefix + p.lexically_relative(src_dir).string(), mtime));
  }
  if (archive_write_close(out.get()) != ARCHIVE_OK) {
    return Status::IOError("close " + out_path + ": " + ArchiveError(out.get()));
  }
  return Status::Ok();
}

}  // namespace crossfarm::worker
