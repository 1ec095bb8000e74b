// Merkle trees: ImportTree / ExportTree / GetTree and name validation.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <future>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "cas/cas.h"
#include "cas/local_store_internal.h"

namespace crossfarm::cas {

Status ValidateName(std::string_view name) {
  if (name.empty() || name == "." || name == ".." ||
      name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    std::string shown(name);
    std::replace(shown.begin(), shown.end(), '\0', '?');
    return Status::InvalidArgument("unsafe name '" + shown +
                                   "' in a tree node (empty, '.', '..', '/' or NUL)");
  }
  return Status::Ok();
}

namespace {
template <typename List>
Status CheckList(const List& list, std::vector<std::string_view>& names) {
  for (size_t i = 0; i < list.size(); ++i) {
    CF_TRY(ValidateName(list[i].name));
    if (i > 0 && !(list[i - 1].name < list[i].name))
      return Status::InvalidArgument("tree node names are not sorted and unique at '" +
                                     list[i].name + "'");
    names.push_back(list[i].name);
  }
  return Status::Ok();
}
}  // namespace

Status ValidateDirectory(const DirectoryData& dir) {
  std::vector<std::string_view> names;
  CF_TRY(CheckList(dir.files, names));
  CF_TRY(CheckList(dir.directories, names));
  CF_TRY(CheckList(dir.symlinks, names));
  std::sort(names.begin(), names.end());
  auto dup = std::adjacent_find(names.begin(), names.end());
  if (dup != names.end())
    return Status::InvalidArgument("name '" + std::string(*dup) + "' appears twice in a tree node");
  for (const auto& s : dir.symlinks)
    if (s.target.empty() || s.target.find('\0') != std::string::npos)
      return Status::InvalidArgument("symlink '" + s.name + "' has an empty or NUL target");
  return Status::Ok();
}

namespace {

// Walks a directory bottom-up, queueing small blobs into batches that are checked
// with FindMissing and uploaded with BatchPut; large files are streamed by PutFile.
class TreeImporter {
 public:
  // `local`, when set, is the store behind `blobs`: uploads skip re-hashing.
  TreeImporter(BlobAccess& blobs, LocalStore* local) : blobs_(blobs), local_(local) {}

  Result<Digest> ImportDir(const std::string& path) {
    CF_ASSIGN_OR_RETURN(auto names, ListDir(path));
    DirectoryData node;
    for (const auto& name : names) CF_TRY(AddEntry(path, name, node));
    std::string bytes = proto::EncodeDirectory(node);
    Digest d = Digest::OfBytes(bytes);
    CF_TRY(Queue(d, std::move(bytes)));
    return d;
  }

  // Hands the pending batch to a background upload and returns; at most one
  // upload is in flight, so reading/hashing overlaps with storing.
  Status Flush() {
    CF_TRY(Wait());
    if (pending_.empty()) return Status::Ok();
    in_flight_ = std::async(std::launch::async, [this, batch = std::move(pending_)]() mutable {
      return Upload(std::move(batch));
    });
    pending_.clear();
    pending_bytes_ = 0;
    return Status::Ok();
  }

  // Waits for the background upload; its error, if any.
  Status Wait() {
    if (!in_flight_.valid()) return Status::Ok();
    return in_flight_.get();
  }

  ~TreeImporter() { (void)Wait(); }

 private:
  static constexpr uint64_t kBatchBytes = 8 << 20;
  static constexpr size_t kBatchCount = 4096;

  Status Upload(std::vector<BlobData> batch) {
    std::vector<Digest> digests;
    for (const auto& b : batch) digests.push_back(b.digest);
    CF_ASSIGN_OR_RETURN(auto missing, blobs_.FindMissing(digests));
    std::unordered_set<Digest, DigestHash> want(missing.begin(), missing.end());
    std::vector<BlobData> upload;
    for (auto& b : batch)
      if (want.contains(b.digest)) upload.push_back(std::move(b));
    return local_ ? local_->BatchPutHashed(upload) : blobs_.BatchPut(upload);
  }

  static Result<std::vector<std::string>> ListDir(const std::string& path) {
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(path.c_str()), ::closedir);
    if (!dir) return Err(Status::FromErrno("opening directory " + path, errno));
    std::vector<std::string> names;
    while (dirent* e = ::readdir(dir.get())) {
      std::string_view name = e->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  Status AddEntry(const std::string& parent, const std::string& name, DirectoryData& node) {
    std::string path = parent + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return Status::FromErrno("stat " + path, errno);
    if (S_ISDIR(st.st_mode)) {
      CF_ASSIGN_OR_RETURN(Digest d, ImportDir(path));
      node.directories.push_back({name, d});
    } else if (S_ISREG(st.st_mode)) {
      CF_ASSIGN_OR_RETURN(Digest d, AddFile(path, static_cast<uint64_t>(st.st_size)));
      node.files.push_back({name, d, (st.st_mode & S_IXUSR) != 0});
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
      if (n < 0) return Status::FromErrno("readlink " + path, errno);
      target.resize(static_cast<size_t>(n));
      node.symlinks.push_back({name, std::move(target)});
    } else {
      return Status::InvalidArgument(path + " is not a regular file, directory or symlink; "
                                     "remove it from the tree to import");
    }
    return Status::Ok();
  }

  Result<Digest> AddFile(const std::string& path, uint64_t size) {
    if (size > kChunkSize) return blobs_.PutFile(path);
    CF_ASSIGN_OR_RETURN(auto reader, internal::ChunkReader::Open(path));
    CF_ASSIGN_OR_RETURN(std::string data, reader.ReadAll());
    Digest d = Digest::OfBytes(data);
    CF_TRY(Queue(d, std::move(data)));
    return d;
  }

  Status Queue(const Digest& d, std::string data) {
    if (!queued_.insert(d).second) return Status::Ok();  // same content earlier in the tree
    pending_bytes_ += data.size();
    pending_.push_back({d, std::move(data)});
    if (pending_bytes_ >= kBatchBytes || pending_.size() >= kBatchCount) return Flush();
    return Status::Ok();
  }

  BlobAccess& blobs_;
  LocalStore* local_;
  std::vector<BlobData> pending_;
  uint64_t pending_bytes_ = 0;
  std::unordered_set<Digest, DigestHash> queued_;
  std::future<Status> in_flight_;
};

// The cache service resolves paths in its own working directory.
std::string AbsolutePath(const std::string& path) {
  if (path.starts_with("/")) return path;
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.string();
}

struct FileJob {
  std::string path;
  Digest digest;
  bool executable;
};

Status PrepareTarget(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0) return Status::Ok();
  if (errno != EEXIST) return Status::FromErrno("creating " + dir, errno);
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return Status::FromErrno("opening " + dir, errno);
  while (dirent* e = ::readdir(d.get())) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..")
      return Status::FailedPrecondition("checkout target " + dir + " is not empty");
  }
  return Status::Ok();
}

// Creates directories and symlinks, collects files. Names were validated and are
// unique per directory, so nothing is ever written through a symlink.
Status Layout(const std::unordered_map<Digest, const DirectoryData*, DigestHash>& nodes,
              const Digest& d, const std::string& path, std::vector<FileJob>& files) {
  auto it = nodes.find(d);
  if (it == nodes.end()) return Status::NotFound("directory " + d.ToString() + " missing from tree");
  const DirectoryData& dir = *it->second;
  for (const auto& f : dir.files) files.push_back({path + "/" + f.name, f.digest, f.executable});
  for (const auto& s : dir.symlinks)
    if (::symlink(s.target.c_str(), (path + "/" + s.name).c_str()) != 0)
      return Status::FromErrno("creating symlink " + path + "/" + s.name, errno);
  for (const auto& sub : dir.directories) {
    std::string child = path + "/" + sub.name;
    if (::mkdir(child.c_str(), 0755) != 0) return Status::FromErrno("creating " + child, errno);
    CF_TRY(Layout(nodes, sub.digest, child, files));
  }
  return Status::Ok();
}

Status WriteNewFile(const std::string& path, std::string_view data, bool executable) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno("creating " + path, errno);
  Status s;
  while (!data.empty() && s.ok()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) s = errno == ENOSPC ? Status::ResourceExhausted("disk full writing " + path)
                                   : Status::FromErrno("writing " + path, errno);
    else data.remove_prefix(static_cast<size_t>(n));
  }
  if (s.ok() && ::fchmod(fd, executable ? 0755 : 0644) != 0) s = Status::FromErrno("chmod " + path, errno);
  ::close(fd);
  return s;
}

}  // namespace

Result<Digest> Cas::ImportTree(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return Err(Status::FromErrno("import " + dir, errno));
  if (!S_ISDIR(st.st_mode)) return Err(Status::InvalidArgument("import: " + dir + " is not a directory"));
  if (!service_endpoint_.empty()) {
    CF_ASSIGN_OR_RETURN(auto conn, ServiceConnection());
    return conn->CaptureTree(AbsolutePath(dir));
  }
  TreeImporter importer(*blobs_, local_);
  CF_ASSIGN_OR_RETURN(Digest root, importer.ImportDir(dir));
  CF_TRY(importer.Flush());
  CF_TRY(importer.Wait());
  return root;
}

Result<std::vector<TreeNode>> Cas::GetTree(const Digest& root) {
  CF_ASSIGN_OR_RETURN(auto tree, store_->GetTree(root));
  for (const auto& node : tree) CF_TRY(ValidateDirectory(node.directory).WithContext(node.digest.ToString()));
  return tree;
}

namespace {
Status CopyFiles(BlobAccess& blobs, Cas& cas, std::span<const FileJob> files) {
  constexpr uint64_t kBatchBytes = 8 << 20;
  size_t i = 0;
  while (i < files.size()) {
    if (files[i].digest.size > kChunkSize) {
      CF_TRY(cas.ReadToFile(files[i].digest, files[i].path, files[i].executable));
      ++i;
      continue;
    }
    std::vector<Digest> batch;
    size_t start = i;
    uint64_t bytes = 0;
    for (; i < files.size() && files[i].digest.size <= kChunkSize && bytes < kBatchBytes; ++i) {
      batch.push_back(files[i].digest);
      bytes += files[i].digest.size;
    }
    CF_ASSIGN_OR_RETURN(auto got, blobs.BatchGet(batch));
    for (size_t k = 0; k < batch.size(); ++k) {
      if (!got[k]) return got[k].error().WithContext("exporting " + files[start + k].path);
      CF_TRY(WriteNewFile(files[start + k].path, *got[k], files[start + k].executable));
    }
  }
  return Status::Ok();
}
}  // namespace

Status Cas::ExportTree(const Digest& root, const std::string& dir, LinkMode mode) {
  if (!service_endpoint_.empty()) {
    CF_ASSIGN_OR_RETURN(auto conn, ServiceConnection());
    return conn->StageTree(root, AbsolutePath(dir), mode == LinkMode::kHardlink);
  }
  CF_ASSIGN_OR_RETURN(auto tree, GetTree(root));
  std::unordered_map<Digest, const DirectoryData*, DigestHash> nodes;
  for (const auto& node : tree) nodes.emplace(node.digest, &node.directory);
  CF_TRY(PrepareTarget(dir));
  std::vector<FileJob> files;
  CF_TRY(Layout(nodes, root, dir, files));
  if (mode == LinkMode::kCopy || local_ == nullptr) return CopyFiles(*blobs_, *this, files);
  for (const auto& f : files) {
    CF_ASSIGN_OR_RETURN(std::string cached, local_->CachedFile(f.digest, f.executable));
    if (::link(cached.c_str(), f.path.c_str()) == 0) continue;
    if (errno != EXDEV && errno != EMLINK) return Status::FromErrno("linking " + f.path, errno);
    CF_TRY(CopyFiles(*blobs_, *this, std::span(&f, 1)));  // other filesystem: copy
  }
  return Status::Ok();
}

}  // namespace crossfarm::cas
