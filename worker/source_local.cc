// `kind: local` (BuildStream's local.py): a file or directory of the project.
// No ref in the .bst: the ref is computed from the content.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "common/digest.h"
#include "worker/source.h"

namespace crossfarm::worker {
namespace {

namespace fs = std::filesystem;
using namespace source_internal;

// Hashes one entry: relative name, type, then content (files, with the exec bit) or
// target (symlinks), so that renames, mode and content changes all change the ref.
Status HashEntry(const fs::path& path, const std::string& rel, Sha256& sha) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return Status::FromErrno("lstat " + path.string(), errno);
  std::string line = rel + '\0';
  if (S_ISLNK(st.st_mode)) {
    line += "l " + fs::read_symlink(path).string();
  } else if (S_ISDIR(st.st_mode)) {
    line += "d";
  } else if (S_ISREG(st.st_mode)) {
    CF_ASSIGN_OR_RETURN(std::string hex, Sha256OfFile(path.string()));
    line += std::string((st.st_mode & S_IXUSR) != 0 ? "x " : "f ") + hex;
  } else {
    return Status::InvalidArgument(path.string() + " is not a file, directory or symlink");
  }
  sha.Update(line);
  sha.Update(std::string_view("\n", 1));
  return Status::Ok();
}

Result<std::string> ContentDigest(const std::string& root) {
  Sha256 sha;
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(root, ec))) {
    CF_TRY(HashEntry(root, fs::path(root).filename().string(), sha));
    return sha.FinishHex();
  }
  std::vector<fs::path> paths;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    paths.push_back(it->path());
  }
  if (ec) return Err(Status::IOError("list " + root + ": " + ec.message()));
  std::sort(paths.begin(), paths.end());
  for (const auto& p : paths) CF_TRY(HashEntry(p, p.lexically_relative(root).string(), sha));
  return sha.FinishHex();
}

class LocalSource final : public SourceBase {
 public:
  LocalSource(const Provenance& where, const SourceContext& ctx, std::string directory,
              std::string path)
      : SourceBase(where, ctx, std::move(directory)), path_(std::move(path)) {}

  std::optional<std::string> Ref() const override {
    auto digest = ContentDigest(FullPath());
    // A missing path has no ref; Fetch reports it with the element's position.
    if (!digest) return std::nullopt;
    return "local path=" + path_ + " content=" + *digest;
  }
  Result<YAML::Node> Track() override { return YAML::Node(); }  // nothing to pin
  Status Fetch() override {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(FullPath(), ec))) {
      return Error("local source path '" + path_ + "' does not exist",
                   "create it, or fix `path:` (relative to the project directory)");
    }
    return Status::Ok();
  }
  Status Stage(const std::string& dest) override {
    CF_TRY(Fetch());
    CF_ASSIGN_OR_RETURN(std::string dir, StageDir(dest));
    std::error_code ec;
    const std::string full = FullPath();
    if (fs::is_directory(fs::symlink_status(full, ec))) return CopyTree(full, dir);
    return CopyTree(full, (fs::path(dir) / fs::path(full).filename()).string());
  }

 private:
  std::string FullPath() const { return ctx_.project_dir + "/" + path_; }
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<Source>> MakeLocalSource(const YAML::Node& config,
                                                const Provenance& where,
                                                const SourceContext& ctx) {
  CF_TRY(CheckKeys(config, where, {"path"}));
  CF_ASSIGN_OR_RETURN(std::string path, ProjectPath(config, "path", where, ctx, "local path"));
  CF_ASSIGN_OR_RETURN(auto directory, OptionalString(config, "directory", where));
  return std::make_unique<LocalSource>(where, ctx, directory.value_or(""), path);
}

}  // namespace crossfarm::worker
