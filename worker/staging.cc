#include "worker/staging.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <unordered_map>

namespace crossfarm::worker {

namespace {

enum class Kind { kDir, kFile, kSymlink, kOther };

struct Entry {
  std::string name;
  Kind kind;
};

Kind KindOfMode(mode_t m) {
  if (S_ISDIR(m)) return Kind::kDir;
  if (S_ISREG(m)) return Kind::kFile;
  if (S_ISLNK(m)) return Kind::kSymlink;
  return Kind::kOther;
}

// readdir with d_type, so the common case needs no stat per entry.
Result<std::vector<Entry>> ReadEntries(int dir_fd, const std::string& display) {
  int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  DIR* d = dup_fd >= 0 ? ::fdopendir(dup_fd) : nullptr;
  if (!d) {
    int err = errno;
    if (dup_fd >= 0) ::close(dup_fd);
    return Err(Status::FromErrno("opendir " + display, err));
  }
  std::vector<Entry> out;
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    Kind k = e->d_type == DT_DIR ? Kind::kDir
             : e->d_type == DT_REG ? Kind::kFile
             : e->d_type == DT_LNK ? Kind::kSymlink
                                   : Kind::kOther;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st{};
      if (::fstatat(dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      k = KindOfMode(st.st_mode);
    }
    out.push_back({std::string(n), k});
  }
  ::closedir(d);
  return out;
}

Status CopyData(int in, int out, const std::string& display) {
  bool fallback = false;
  char buf[65536];
  for (;;) {
    ssize_t n = fallback ? ::read(in, buf, sizeof(buf))
                         : ::copy_file_range(in, nullptr, out, nullptr, 1 << 30, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && !fallback && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
      fallback = true;
      continue;
    }
    if (n < 0) return Status::FromErrno("copy " + display, errno);
    if (n == 0) return Status::Ok();
    for (ssize_t off = 0; fallback && off < n;) {
      ssize_t w = ::write(out, buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Status::FromErrno("write " + display, errno);
      off += w;
    }
  }
}

// Copies a regular file, keeping mode bits and mtime. False: `name` exists in dst.
Result<bool> CopyFileAt(int src_dir, int dst_dir, const std::string& name, const std::string& display) {
  UniqueFd in(::openat(src_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in.valid()) return Err(Status::FromErrno("open " + display, errno));
  struct stat st{};
  if (::fstat(in.get(), &st) != 0) return Err(Status::FromErrno("stat " + display, errno));
  UniqueFd out(::openat(dst_dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out.valid() && errno == EEXIST) return false;
  if (!out.valid()) return Err(Status::FromErrno("create " + display, errno));
  CF_TRY(CopyData(in.get(), out.get(), display));
  ::fchmod(out.get(), st.st_mode & 07777);
  timespec times[2] = {st.st_atim, st.st_mtim};
  ::futimens(out.get(), times);
  return true;
}

class Stager {
 public:
  Stager(int root_fd, StageMode mode, StageReport& report)
      : root_fd_(root_fd), mode_(mode), report_(report) {}

  Status StageArtifact(size_t index, const std::string& src) {
    index_ = index;
    UniqueFd src_fd(::open(src.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!src_fd.valid()) {
      int err = errno;
      Status s = Status::FromErrno("artifact " + src, err);
      return err == ENOENT ? Status::NotFound(s.message()) : s;
    }
    src_display_ = src;
    return StageDir(src_fd.get(), root_fd_, "");
  }

 private:
  static std::string Join(const std::string& rel, const std::string& name) {
    return rel.empty() ? name : rel + "/" + name;
  }

  Status StageDir(int src_fd, int dst_fd, const std::string& rel) {
    CF_ASSIGN_OR_RETURN(auto entries, ReadEntries(src_fd, src_display_ + "/" + rel));
    for (const auto& e : entries) {
      std::string child = Join(rel, e.name);
      switch (e.kind) {
        case Kind::kDir: CF_TRY(StageSubdir(src_fd, dst_fd, e.name, child)); break;
        case Kind::kFile: CF_TRY(PlaceFile(src_fd, dst_fd, e.name, child)); break;
        case Kind::kSymlink: CF_TRY(PlaceSymlink(src_fd, dst_fd, e.name, child)); break;
        case Kind::kOther: report_.ignored.push_back(child); break;
      }
    }
    return Status::Ok();
  }

  Status StageSubdir(int src_fd, int dst_fd, const std::string& name, const std::string& rel) {
    UniqueFd src(::openat(src_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st{};
    if (!src.valid() || ::fstat(src.get(), &st) != 0)
      return Status::FromErrno("open " + src_display_ + "/" + rel, errno);
    CF_ASSIGN_OR_RETURN(UniqueFd dst, EnterDir(dst_fd, name, rel, st.st_mode));
    return StageDir(src.get(), dst.get(), rel);
  }

  // Opens (creating if needed) the destination directory `rel`.
  Result<UniqueFd> EnterDir(int dst_fd, const std::string& name, const std::string& rel,
                            mode_t mode) {
    if (::mkdirat(dst_fd, name.c_str(), 0700) == 0) {
      ++report_.dirs;
      // Keep u+rwx so later artifacts can stage into it and RemoveTree works; the
      // root is mounted read-only anyway.
      ::fchmodat(dst_fd, name.c_str(), (mode & 07777) | 0700, 0);
    } else if (errno != EEXIST) {
      return Err(Status::FromErrno("mkdir " + rel, errno));
    }
    UniqueFd fd(::openat(dst_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (fd.valid()) return fd;
    if (errno != ELOOP && errno != ENOTDIR) return Err(Status::FromErrno("open " + rel, errno));
    // A symlink to a directory inside the root (merged /usr): merge through it.
    open_how how{.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC, .mode = 0, .resolve = RESOLVE_IN_ROOT};
    long r = ::syscall(SYS_openat2, root_fd_, rel.c_str(), &how, sizeof(how));
    if (r >= 0) return UniqueFd(static_cast<int>(r));
    // A file, or a dangling symlink: the later directory replaces it.
    RecordOverlap(rel);
    if (::unlinkat(dst_fd, name.c_str(), 0) != 0) return Err(Status::FromErrno("unlink " + rel, errno));
    return EnterDir(dst_fd, name, rel, mode);
  }

  // Makes room for a non-directory at `rel`. False: a non-empty directory is in
  // the way and the entry is ignored.
  Result<bool> Displace(int dst_fd, const std::string& name, const std::string& rel) {
    struct stat st{};
    if (::fstatat(dst_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return errno == ENOENT ? Result<bool>(true) : Err(Status::FromErrno("stat " + rel, errno));
    int flags = S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0;
    if (::unlinkat(dst_fd, name.c_str(), flags) != 0) {
      if (errno == ENOTEMPTY || errno == EEXIST) {
        report_.ignored.push_back(rel);
        return false;
      }
      return Err(Status::FromErrno("unlink " + rel, errno));
    }
    RecordOverlap(rel);
    return true;
  }

  Status PlaceFile(int src_fd, int dst_fd, const std::string& name, const std::string& rel) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      CF_ASSIGN_OR_RETURN(bool placed, LinkOrCopy(src_fd, dst_fd, name, rel));
      if (placed) {
        ++report_.files;
        owner_[rel] = index_;
        return Status::Ok();
      }
      if (attempt == 1) break;
      CF_ASSIGN_OR_RETURN(bool room, Displace(dst_fd, name, rel));
      if (!room) return Status::Ok();
    }
    return Status::IOError("cannot stage " + rel + ": destination keeps reappearing");
  }

  // False: the destination already exists.
  Result<bool> LinkOrCopy(int src_fd, int dst_fd, const std::string& name, const std::string& rel) {
    if (mode_ == StageMode::kHardLink) {
      if (::linkat(src_fd, name.c_str(), dst_fd, name.c_str(), 0) == 0) return true;
      if (errno == EEXIST) return false;
      // EXDEV: another file system; EPERM: protected_hardlinks on a foreign file.
      if (errno != EXDEV && errno != EPERM) return Err(Status::FromErrno("link " + rel, errno));
    }
    CF_ASSIGN_OR_RETURN(bool copied, CopyFileAt(src_fd, dst_fd, name, rel));
    if (copied) ++report_.copied;
    return copied;
  }

  Status PlaceSymlink(int src_fd, int dst_fd, const std::string& name, const std::string& rel) {
    char target[4096];
    ssize_t n = ::readlinkat(src_fd, name.c_str(), target, sizeof(target) - 1);
    if (n < 0) return Status::FromErrno("readlink " + src_display_ + "/" + rel, errno);
    target[n] = '\0';
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (::symlinkat(target, dst_fd, name.c_str()) == 0) {
        ++report_.symlinks;
        owner_[rel] = index_;
        return Status::Ok();
      }
      if (errno != EEXIST || attempt == 1) return Status::FromErrno("symlink " + rel, errno);
      CF_ASSIGN_OR_RETURN(bool room, Displace(dst_fd, name, rel));
      if (!room) return Status::Ok();
    }
    return Status::Ok();
  }

  void RecordOverlap(const std::string& rel) {
    auto it = owner_.find(rel);
    report_.overlaps.push_back({rel, it == owner_.end() ? index_ : it->second, index_});
  }

  int root_fd_;
  StageMode mode_;
  StageReport& report_;
  size_t index_ = 0;
  std::string src_display_;
  std::unordered_map<std::string, size_t> owner_;  // file/symlink path -> artifact index
};

}  // namespace

Result<StageReport> StageArtifacts(const std::string& dest,
                                   std::span<const std::string> artifacts, StageMode mode) {
  UniqueFd root(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return Err(Status::FromErrno("staging root " + dest, errno));
  StageReport report;
  Stager stager(root.get(), mode, report);
  for (size_t i = 0; i < artifacts.size(); ++i)
    CF_TRY(stager.StageArtifact(i, artifacts[i]).WithContext("staging into " + dest));
  return report;
}

Result<StagedRoot> StagedRoot::Create(const std::string& parent,
                                      std::span<const std::string> artifacts, StageMode mode) {
  CF_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create(parent, "crossfarm-root-"));
  // Other users must be able to traverse into the root (mkdtemp makes it 0700).
  ::chmod(dir.path().c_str(), 0755);
  CF_ASSIGN_OR_RETURN(StageReport report, StageArtifacts(dir.path(), artifacts, mode));
  return StagedRoot(std::move(dir), std::move(report), mode);
}

}  // namespace crossfarm::worker
