#include "common/tracked_refs.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

#include "common/digest.h"
#include "common/yaml_loader.h"

namespace crossfarm {

namespace fs = std::filesystem;

namespace {

constexpr const char* kHeader =
    "# Refs `crossfarm source track` found newer than the project's own\n"
    "# (docs/sources.md, \"Tracking\"). An entry applies while the element's own\n"
    "# ref is still the one it was tracked from (`base`); `crossfarm source track\n"
    "# --save` writes refs into the .bst files instead.\n";

const std::string kFix = "delete the file; `crossfarm source track` writes it again";

}  // namespace

std::string TrackedRefBase(const std::optional<std::string>& ref_text) {
  return ref_text ? Sha256Hex(*ref_text) : std::string("none");
}

Result<TrackedRefs> TrackedRefs::Load(const std::string& path) {
  TrackedRefs refs;
  refs.path_ = path;
  std::error_code ec;
  if (!fs::exists(path, ec)) return refs;
  CF_ASSIGN_OR_RETURN(NodePtr root, ParseYamlFile(path, path));
  if (root->IsNull()) return refs;
  if (!root->IsMapping())
    return Err(UserError(root->Where(), "tracked refs must be a mapping of element names", kFix));
  for (const auto& [element, list] : root->map) {
    if (!list->IsSequence())
      return Err(UserError(list->Where(), "tracked refs of " + element + " must be a list", kFix));
    for (const auto& item : list->items) {
      if (!item->IsMapping())
        return Err(UserError(item->Where(), "a tracked ref must be a mapping", kFix));
      CF_TRY(ValidateKeys(*item, {"source", "base", "ref"}, "tracked ref"));
      CF_ASSIGN_OR_RETURN(std::string source, GetString(*item, "source", std::nullopt));
      CF_ASSIGN_OR_RETURN(std::string base, GetString(*item, "base", std::nullopt));
      NodePtr ref = item->Get("ref");
      size_t index = 0;
      try {
        size_t used = 0;
        index = std::stoul(source, &used);
        if (used != source.size() || index == 0) throw std::invalid_argument(source);
      } catch (const std::exception&) {
        return Err(UserError(item->KeyProvenance("source"),
                             "`source:` must be a source number (1 = the first)", kFix));
      }
      if (!ref || ref->IsNull())
        return Err(UserError(item->Where(), "a tracked ref needs `ref:`", kFix));
      refs.entries_[{element, index - 1}] = Entry{std::move(base), ref};
    }
  }
  return refs;
}

const TrackedRefs::Entry* TrackedRefs::Find(const std::string& element, size_t index,
                                            const std::string& base) const {
  auto it = entries_.find({element, index});
  if (it == entries_.end() || it->second.base != base) return nullptr;
  return &it->second;
}

void TrackedRefs::Set(const std::string& element, size_t index, std::string base, NodePtr ref) {
  if (!ref) return Erase(element, index);
  entries_[{element, index}] = Entry{std::move(base), std::move(ref)};
}

void TrackedRefs::Erase(const std::string& element, size_t index) {
  entries_.erase({element, index});
}

Status TrackedRefs::Save() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  const std::string* current = nullptr;
  for (const auto& [key, entry] : entries_) {
    if (!current || *current != key.first) {
      if (current) out << YAML::EndSeq;
      out << YAML::Key << key.first << YAML::Value << YAML::BeginSeq;
      current = &key.first;
    }
    out << YAML::BeginMap << YAML::Key << "source" << YAML::Value << key.second + 1
        << YAML::Key << "base" << YAML::Value << entry.base << YAML::Key << "ref"
        << YAML::Value << ToYaml(*entry.ref) << YAML::EndMap;
  }
  if (current) out << YAML::EndSeq;
  out << YAML::EndMap;
  if (!out.good()) return Status::Internal("cannot write tracked refs: " + out.GetLastError());

  std::error_code ec;
  fs::create_directories(fs::path(path_).parent_path(), ec);
  if (ec) return Status::IOError("create " + fs::path(path_).parent_path().string() + ": " + ec.message());
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << kHeader << out.c_str() << "\n";
    if (!f.flush()) return Status::FromErrno("write " + tmp, errno);
  }
  fs::rename(tmp, path_, ec);
  if (ec) return Status::IOError("replace " + path_ + ": " + ec.message());
  return Status::Ok();
}

Status TrackedRefs::Update(const std::string& path,
                           const std::function<Status(TrackedRefs&)>& fn) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return Status::IOError("create " + fs::path(path).parent_path().string() + ": " + ec.message());
  const std::string lock = path + ".lock";
  int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open " + lock, errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  if (::flock(fd, LOCK_EX) != 0) return Status::FromErrno("lock " + lock, errno);
  CF_ASSIGN_OR_RETURN(TrackedRefs refs, Load(path));
  CF_TRY(fn(refs));
  return refs.Save();
}

}  // namespace crossfarm
