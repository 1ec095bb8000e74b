#include "common/workspaces.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <yaml-cpp/yaml.h>

#include "common/yaml_loader.h"

namespace crossfarm {

namespace fs = std::filesystem;

namespace {

std::string DisplayPath(const std::string& project_dir) { return project_dir + "/.bst/workspaces.yml"; }

Result<WorkspaceEntry> ParseEntry(const Node& parent, const std::string& element, const NodePtr& node) {
  WorkspaceEntry w;
  w.element = element;
  w.where = parent.KeyProvenance(element);
  if (node->IsScalar()) {  // format-version 0: `element: path`
    w.path = node->scalar;
    return w;
  }
  if (!node->IsMapping())
    return Err(UserError(w.where, "the workspace of " + element + " must be a mapping with a path",
                         "run `crossfarm workspace close " + element + "` and open it again"));
  CF_ASSIGN_OR_RETURN(w.path, GetString(*node, "path", std::nullopt));
  CF_ASSIGN_OR_RETURN(w.prepared, GetBool(*node, "prepared", false));
  w.extra = Node::MakeMapping();
  for (const auto& [k, v] : node->map)
    if (k != "path" && k != "prepared") w.extra->Set(k, v);
  return w;
}

}  // namespace

Result<Workspaces> Workspaces::Load(const std::string& project_dir) {
  Workspaces out;
  out.project_dir_ = project_dir;
  auto doc = ParseYamlFile(out.file(), DisplayPath(project_dir));
  if (!doc && doc.error().code() == StatusCode::kNotFound) return out;
  if (!doc) return Err(doc.error());
  const Node& root = **doc;
  if (!root.IsMapping()) return Err(UserError(root.Where(), "workspaces.yml must be a mapping"));
  CF_ASSIGN_OR_RETURN(std::string version, GetString(root, "format-version", "0"));
  if (version == "0") {
    for (const auto& [element, node] : root.map) {
      CF_ASSIGN_OR_RETURN(WorkspaceEntry w, ParseEntry(root, element, node));
      out.entries_.push_back(std::move(w));
    }
    return out;
  }
  if (version != "1" && version != "2" && version != "3")
    return Err(UserError(root.KeyProvenance("format-version"),
                         "workspace format-version " + version + " is not supported (at most " +
                             std::to_string(kWorkspaceFormatVersion) + ")",
                         "a newer tool wrote it: close the workspaces with that tool"));
  CF_ASSIGN_OR_RETURN(NodePtr list, GetMapping(root, "workspaces"));
  if (list)
    for (const auto& [element, node] : list->map) {
      CF_ASSIGN_OR_RETURN(WorkspaceEntry w, ParseEntry(*list, element, node));
      out.entries_.push_back(std::move(w));
    }
  return out;
}

const WorkspaceEntry* Workspaces::Find(std::string_view element) const {
  for (const auto& w : entries_)
    if (w.element == element) return &w;
  return nullptr;
}

std::string Workspaces::AbsolutePath(const WorkspaceEntry& w) const {
  if (!w.path.empty() && w.path.front() == '/') return w.path;
  return fs::path(project_dir_ + "/" + w.path).lexically_normal().string();
}

void Workspaces::Open(const std::string& element, const std::string& directory) {
  Close(element);
  WorkspaceEntry w;
  w.element = element;
  // As bst: a directory inside the project is stored relative to it, so the
  // project can be moved with its workspaces.
  fs::path rel = fs::path(directory).lexically_relative(project_dir_);
  bool inside = !rel.empty() && *rel.begin() != "..";
  w.path = inside ? rel.string() : directory;
  entries_.push_back(std::move(w));
}

bool Workspaces::Close(std::string_view element) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const WorkspaceEntry& w) { return w.element == element; });
  if (it == entries_.end()) return false;
  entries_.erase(it);
  return true;
}

void Workspaces::SetPrepared(std::string_view element, bool prepared) {
  for (auto& w : entries_)
    if (w.element == element) w.prepared = prepared;
}

Status Workspaces::Save() const {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "format-version" << YAML::Value << kWorkspaceFormatVersion;
  out << YAML::Key << "workspaces" << YAML::Value << YAML::BeginMap;
  for (const auto& w : entries_) {
    out << YAML::Key << w.element << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "path" << YAML::Value << w.path;
    out << YAML::Key << "prepared" << YAML::Value << w.prepared;
    bool running = false;
    if (w.extra)
      for (const auto& [k, v] : w.extra->map) {
        out << YAML::Key << k << YAML::Value << ToYaml(*v);
        running |= k == "running_files";
      }
    if (!running) out << YAML::Key << "running_files" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::EndMap;
    out << YAML::EndMap;
  }
  out << YAML::EndMap << YAML::EndMap;
  std::error_code ec;
  fs::create_directories(project_dir_ + "/.bst", ec);
  if (ec) return Status::IOError("cannot create " + project_dir_ + "/.bst: " + ec.message());
  const std::string tmp = file() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << out.c_str() << "\n";
    if (!f.flush()) return Status::IOError("cannot write " + tmp);
  }
  fs::rename(tmp, file(), ec);
  if (ec) return Status::IOError("cannot replace " + file() + ": " + ec.message());
  return Status::Ok();
}

// ---- scanning ----

namespace {

// What the stat cache remembers of a file: if all of it is unchanged, so is
// the content (git's index makes the same bet).
struct StatRecord {
  int64_t size = 0, mtime_ns = 0, ctime_ns = 0;
  uint64_t ino = 0;
  Digest digest;
  bool operator==(const StatRecord& o) const {
    return size == o.size && mtime_ns == o.mtime_ns && ctime_ns == o.ctime_ns && ino == o.ino;
  }
};

int64_t Ns(const struct timespec& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }

// One line per file: "size mtime ctime ino HEX path" (path last: it may hold
// spaces). Unreadable or malformed lines are ignored: the file is rehashed.
std::unordered_map<std::string, StatRecord> ReadStatCache(const std::string& path) {
  std::unordered_map<std::string, StatRecord> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    StatRecord r;
    std::string hex, name;
    if (!(fields >> r.size >> r.mtime_ns >> r.ctime_ns >> r.ino >> hex)) continue;
    fields.get();
    std::getline(fields, name);
    auto d = Digest::FromHex(hex, static_cast<uint64_t>(r.size));
    if (!d || name.empty()) continue;
    r.digest = *d;
    out[name] = r;
  }
  return out;
}

void WriteStatCache(const std::string& path, const std::vector<std::pair<std::string, StatRecord>>& records) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& [name, r] : records)
      out << r.size << ' ' << r.mtime_ns << ' ' << r.ctime_ns << ' ' << r.ino << ' ' << r.digest.Hex()
          << ' ' << name << '\n';
    if (!out.flush()) return;  // only a cache: the next scan rehashes
  }
  fs::rename(tmp, path, ec);
}

class Scanner {
 public:
  Scanner(std::string root, std::unordered_map<std::string, StatRecord> cache)
      : root_(std::move(root)), cache_(std::move(cache)),
        now_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch()).count()) {}

  Status Walk(const std::string& rel) {
    const std::string dir = rel.empty() ? root_ : root_ + "/" + rel;
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      names.push_back(it->path().filename().string());
    if (ec) return Status::IOError("cannot list " + dir + ": " + ec.message());
    std::sort(names.begin(), names.end());
    for (const auto& name : names) CF_TRY(Add(rel.empty() ? name : rel + "/" + name));
    return Status::Ok();
  }

  WorkspaceScan scan;
  std::vector<std::pair<std::string, StatRecord>> records;

 private:
  Status Add(const std::string& rel) {
    const std::string path = root_ + "/" + rel;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return Status::FromErrno("stat " + path, errno);
    WorkspaceItem item;
    item.path = rel;
    item.mtime_ns = Ns(st.st_mtim);
    if (S_ISDIR(st.st_mode)) {
      item.type = WorkspaceItem::Type::kDirectory;
      scan.items.push_back(std::move(item));
      return Walk(rel);
    }
    if (S_ISLNK(st.st_mode)) {
      std::error_code ec;
      item.type = WorkspaceItem::Type::kSymlink;
      item.target = fs::read_symlink(path, ec).string();
      if (ec) return Status::IOError("readlink " + path + ": " + ec.message());
    } else if (S_ISREG(st.st_mode)) {
      item.type = (st.st_mode & S_IXUSR) ? WorkspaceItem::Type::kExecutable : WorkspaceItem::Type::kFile;
      CF_ASSIGN_OR_RETURN(item.digest, FileDigest(rel, path, st));
    } else {
      return Status::InvalidArgument(path + " is not a regular file, directory or symlink; a "
                                     "workspace holds sources only: remove it");
    }
    scan.items.push_back(std::move(item));
    return Status::Ok();
  }

  Result<Digest> FileDigest(const std::string& rel, const std::string& path, const struct stat& st) {
    StatRecord now{st.st_size, Ns(st.st_mtim), Ns(st.st_ctim), st.st_ino, {}};
    auto it = cache_.find(rel);
    if (it != cache_.end() && it->second == now) {
      ++scan.files_reused;
      now.digest = it->second.digest;
    } else {
      ++scan.files_hashed;
      CF_ASSIGN_OR_RETURN(now.digest, Digest::OfFile(path));
    }
    // A file changed within the clock's granularity after this scan could
    // keep its stat: such recent files are not trusted next time (git's
    // "racily clean" rule).
    constexpr int64_t kRacyNs = 2'000'000'000;
    if (now_ns_ - now.mtime_ns > kRacyNs) records.emplace_back(rel, now);
    return now.digest;
  }

  std::string root_;
  std::unordered_map<std::string, StatRecord> cache_;
  int64_t now_ns_;
};

}  // namespace

Result<WorkspaceScan> ScanWorkspace(const std::string& dir, const std::string& stat_cache) {
  Scanner scanner(dir, stat_cache.empty() ? std::unordered_map<std::string, StatRecord>{}
                                          : ReadStatCache(stat_cache));
  CF_TRY(scanner.Walk(""));
  WorkspaceScan scan = std::move(scanner.scan);
  // The same line format as a `local` source's digest (common/element.cc).
  Sha256 h;
  for (const auto& item : scan.items) {
    std::string line(1, static_cast<char>(item.type));
    line += " " + item.path;
    if (item.type == WorkspaceItem::Type::kSymlink) line += '\0' + item.target;
    else if (item.type != WorkspaceItem::Type::kDirectory) line += '\0' + item.digest.ToString();
    h.Update(line);
    h.Update(std::string_view("\n", 1));
  }
  scan.key = "sha256:" + h.FinishHex();
  if (!stat_cache.empty()) WriteStatCache(stat_cache, scanner.records);
  return scan;
}

std::string WorkspaceStatCache(const std::string& cache_dir, const std::string& dir) {
  if (cache_dir.empty()) return "";
  return cache_dir + "/" + Sha256Hex(dir) + ".stat";
}

std::string ElementNormalName(std::string_view element) {
  std::string name(element);
  if (name.ends_with(".bst")) name.resize(name.size() - 4);
  std::replace(name.begin(), name.end(), '/', '-');
  std::replace(name.begin(), name.end(), ':', '-');
  return name;
}

}  // namespace crossfarm
