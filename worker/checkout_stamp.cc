#include "worker/checkout_stamp.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "worker/fs_util.h"

namespace crossfarm::worker {

namespace fs = std::filesystem;

namespace {

std::string StampPath(const std::string& checkouts, const std::string& hex) {
  return checkouts + "/.stamps/" + hex;
}

// "inode size mtime_ns" of `path`, "" if it is not a regular file.
std::string Stat(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
  int64_t mtime = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  return std::to_string(st.st_ino) + " " + std::to_string(st.st_size) + " " + std::to_string(mtime);
}

// Relative path -> Stat() of every regular file under `dir`.
Result<std::map<std::string, std::string>> StatTree(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && !it->is_symlink(ec))
      out[it->path().lexically_relative(dir).string()] = Stat(it->path().string());
  if (ec) return Err(Status::IOError("walk " + dir + ": " + ec.message()));
  return out;
}

}  // namespace

Status WriteCheckoutStamp(const std::string& checkouts, const Digest& root) {
  std::string hex = root.Hex();
  CF_ASSIGN_OR_RETURN(auto files, StatTree(checkouts + "/" + hex));
  std::error_code ec;
  fs::create_directories(checkouts + "/.stamps", ec);
  std::string tmp = StampPath(checkouts, hex) + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << "root " << root.ToString() << "\n";
    for (const auto& [path, stat] : files) out << stat << " " << path << "\n";
    if (!out) return Status::IOError("writing " + tmp);
  }
  fs::rename(tmp, StampPath(checkouts, hex), ec);
  if (ec) return Status::IOError("rename " + tmp + ": " + ec.message());
  return Status::Ok();
}

Status CheckCheckoutStamp(const std::string& checkouts, const std::string& hex) {
  std::ifstream in(StampPath(checkouts, hex));
  if (!in) return Status::Corruption("checkout " + hex + " has no stamp");
  CF_ASSIGN_OR_RETURN(auto files, StatTree(checkouts + "/" + hex));
  std::string root_line;
  std::getline(in, root_line);
  size_t seen = 0;
  for (std::string line; std::getline(in, line); ++seen) {
    // inode size mtime path: the path is everything after the third space.
    size_t pos = 0;
    for (int i = 0; i < 3 && pos != std::string::npos; ++i) pos = line.find(' ', pos + (i ? 1 : 0));
    if (pos == std::string::npos) return Status::Corruption("checkout " + hex + ": bad stamp line");
    auto it = files.find(line.substr(pos + 1));
    if (it == files.end() || it->second != line.substr(0, pos))
      return Status::Corruption("checkout " + hex + ": " + line.substr(pos + 1) + " changed since it was made");
  }
  if (seen != files.size()) return Status::Corruption("checkout " + hex + ": files were added");
  return Status::Ok();
}

Status RemoveCheckout(const std::string& checkouts, const std::string& hex) {
  std::error_code ec;
  fs::remove(StampPath(checkouts, hex), ec);
  return RemoveTree(checkouts + "/" + hex);
}

namespace {

// Re-hashes every file of the checkout against the tree of its root (named in
// the stamp's first line).
Status CheckContents(cas::Cas& cas, const std::string& checkouts, const std::string& hex) {
  std::ifstream in(StampPath(checkouts, hex));
  std::string word, text;
  in >> word >> text;
  auto root = Digest::Parse(text);
  if (word != "root" || !root || root->Hex() != hex) return Status::Corruption("bad stamp");
  std::string dir = checkouts + "/" + hex;
  CF_ASSIGN_OR_RETURN(auto nodes, cas.GetTree(*root));
  std::map<Digest, const cas::TreeNode*> by_digest;
  for (const auto& n : nodes) by_digest[n.digest] = &n;
  std::vector<std::pair<std::string, Digest>> stack{{dir, *root}};
  while (!stack.empty()) {
    auto [path, digest] = stack.back();
    stack.pop_back();
    auto node = by_digest.find(digest);
    if (node == by_digest.end()) return Status::Corruption("tree node missing");
    for (const auto& f : node->second->directory.files) {
      auto actual = Digest::OfFile(path + "/" + f.name);
      if (!actual || *actual != f.digest) return Status::Corruption(path + "/" + f.name + " does not match");
    }
    for (const auto& d : node->second->directory.directories) stack.push_back({path + "/" + d.name, d.digest});
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<std::string>> ScrubCheckouts(cas::Cas& cas, const std::string& checkouts) {
  std::vector<std::string> removed;
  std::error_code ec;
  if (!fs::exists(checkouts, ec)) return removed;
  for (const auto& entry : fs::directory_iterator(checkouts, ec)) {
    std::string hex = entry.path().filename().string();
    if (hex.starts_with(".")) continue;
    Status s = CheckCheckoutStamp(checkouts, hex);
    if (s.ok()) s = CheckContents(cas, checkouts, hex);
    if (s.ok()) continue;
    spdlog::error("checkout removed dir={}/{} reason=\"{}\"", checkouts, hex, s.message());
    CF_TRY(RemoveCheckout(checkouts, hex));
    removed.push_back(hex);
  }
  return removed;
}

}  // namespace crossfarm::worker
