#include "worker/fs_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <vector>

namespace crossfarm::worker {

namespace {

#ifndef STATX_ATTR_MOUNT_ROOT
constexpr uint64_t STATX_ATTR_MOUNT_ROOT = 0x00002000;
#endif

struct DirEntry {
  std::string name;
  bool maybe_dir;  // d_type says directory, or does not say
};

// Entries of a directory, read before we start unlinking in it.
Result<std::vector<DirEntry>> ListDir(int dir_fd, const std::string& display) {
  int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return Err(Status::FromErrno("dup " + display, errno));
  DIR* d = ::fdopendir(dup_fd);
  if (!d) {
    ::close(dup_fd);
    return Err(Status::FromErrno("opendir " + display, errno));
  }
  std::vector<DirEntry> entries;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..")
      entries.push_back({std::string(n), e->d_type == DT_DIR || e->d_type == DT_UNKNOWN});
  }
  ::closedir(d);
  return entries;
}

Status RemoveAt(int parent_fd, const std::string& name, const std::string& display, bool top,
                bool maybe_dir = true) {
  // Fast path: readdir said "not a directory", so one unlink does it.
  if (!maybe_dir) {
    if (::unlinkat(parent_fd, name.c_str(), 0) == 0 || errno == ENOENT) return Status::Ok();
    if (errno != EISDIR && errno != EPERM) return Status::FromErrno("unlink " + display, errno);
  }
  struct statx sx{};
  if (::statx(parent_fd, name.c_str(), AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MODE, &sx) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::FromErrno("stat " + display, errno);
  }
  if (!S_ISDIR(sx.stx_mode)) {
    if (::unlinkat(parent_fd, name.c_str(), 0) != 0 && errno != ENOENT)
      return Status::FromErrno("unlink " + display, errno);
    return Status::Ok();
  }
  // Something mounted below the tree (a leaked bind mount) must never be emptied.
  if (!top && (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT))
    return Status::FailedPrecondition("refusing to remove mount point " + display);
  UniqueFd fd(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return Status::FromErrno("open " + display, errno);
  // Read-only dirs (0555 from the cache) need u+w before their entries can go.
  if ((sx.stx_mode & 0700) != 0700) ::fchmod(fd.get(), (sx.stx_mode & 07777) | 0700);
  CF_ASSIGN_OR_RETURN(auto entries, ListDir(fd.get(), display));
  for (const auto& e : entries)
    CF_TRY(RemoveAt(fd.get(), e.name, display + "/" + e.name, false, e.maybe_dir));
  fd.Reset();
  if (::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    return Status::FromErrno("rmdir " + display, errno);
  return Status::Ok();
}

long OpenAt2(int dir_fd, const std::string& path, int flags, uint64_t resolve) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = resolve;
  long r;
  do r = ::syscall(SYS_openat2, dir_fd, path.c_str(), &how, sizeof(how));
  while (r < 0 && (errno == EINTR || errno == EAGAIN));
  return r;
}

std::string StripSlashes(std::string_view rel) {
  while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
  while (!rel.empty() && rel.back() == '/') rel.remove_suffix(1);
  return rel.empty() ? "." : std::string(rel);
}

Result<UniqueFd> OpenRootFd(const std::string& root) {
  UniqueFd fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Err(Status::FromErrno("open root " + root, errno));
  return fd;
}

}  // namespace

Status RemoveTree(const std::string& path) {
  if (path.empty() || path == "/") return Status::InvalidArgument("RemoveTree: refusing '" + path + "'");
  return RemoveAt(AT_FDCWD, path, path, true);
}

Result<TempDir> TempDir::Create(const std::string& parent, std::string_view prefix) {
  std::string base = parent;
  if (base.empty()) {
    const char* t = std::getenv("TMPDIR");
    base = (t && *t) ? t : "/tmp";
  }
  std::string tmpl = base + "/" + std::string(prefix) + "XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr)
    return Err(Status::FromErrno("mkdtemp in " + base, errno));
  return TempDir(std::move(tmpl));
}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    (void)Remove();
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

TempDir::~TempDir() { (void)Remove(); }

Status TempDir::Remove() {
  if (path_.empty()) return Status::Ok();
  Status s = RemoveTree(path_);
  path_.clear();
  return s;
}

Result<UniqueFd> OpenInRoot(const std::string& root, std::string_view relative, int flags) {
  CF_ASSIGN_OR_RETURN(UniqueFd root_fd, OpenRootFd(root));
  std::string rel = StripSlashes(relative);
  long fd = OpenAt2(root_fd.get(), rel, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  if (fd < 0) {
    int err = errno;
    Status s = Status::FromErrno(root + " :: /" + rel, err);
    return Err(err == ENOENT ? Status::NotFound(s.message()) : s);
  }
  return UniqueFd(static_cast<int>(fd));
}

Status MakeDirsInRoot(const std::string& root, std::string_view relative) {
  CF_ASSIGN_OR_RETURN(UniqueFd root_fd, OpenRootFd(root));
  std::string rel = StripSlashes(relative);
  if (rel == ".") return Status::Ok();
  UniqueFd parent(::fcntl(root_fd.get(), F_DUPFD_CLOEXEC, 0));
  size_t pos = 0;
  while (pos <= rel.size()) {
    size_t end = rel.find('/', pos);
    if (end == std::string::npos) end = rel.size();
    std::string component = rel.substr(pos, end - pos);
    std::string prefix = rel.substr(0, end);
    pos = end + 1;
    if (component.empty() || component == ".") continue;
    long fd = OpenAt2(root_fd.get(), prefix, O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT);
    if (fd < 0 && errno == ENOENT) {
      if (::mkdirat(parent.get(), component.c_str(), 0755) != 0 && errno != EEXIST)
        return Status::FromErrno("mkdir " + root + " :: /" + prefix, errno);
      fd = OpenAt2(root_fd.get(), prefix, O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT);
    }
    if (fd < 0) return Status::FromErrno("mkdir " + root + " :: /" + prefix, errno);
    parent.Reset(static_cast<int>(fd));
  }
  return Status::Ok();
}

Status MakeFileInRoot(const std::string& root, std::string_view relative) {
  std::string rel = StripSlashes(relative);
  size_t slash = rel.rfind('/');
  std::string dir = slash == std::string::npos ? "." : rel.substr(0, slash);
  std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  CF_TRY(MakeDirsInRoot(root, dir));
  CF_ASSIGN_OR_RETURN(UniqueFd dir_fd, OpenInRoot(root, dir, O_PATH | O_DIRECTORY));
  UniqueFd fd(::openat(dir_fd.get(), name.c_str(),
                       O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid() && errno != EEXIST)
    return Status::FromErrno("create " + root + " :: /" + rel, errno);
  return Status::Ok();
}

Status SetDeterministicMtimes(const std::string& dir) {
  const struct timespec times[2] = {{kSourceMtime, 0}, {kSourceMtime, 0}};
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(dir, ec), end; it != end; it.increment(ec)) {
    if (::utimensat(AT_FDCWD, it->path().c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
      return Status::FromErrno("set mtime of " + it->path().string(), errno);
  }
  if (ec) return Status::IOError("walk " + dir + ": " + ec.message());
  if (::utimensat(AT_FDCWD, dir.c_str(), times, 0) != 0)
    return Status::FromErrno("set mtime of " + dir, errno);
  return Status::Ok();
}

}  // namespace crossfarm::worker
