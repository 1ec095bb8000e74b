#include "common/path_flags.h"

#include <filesystem>

namespace crossfarm {

Result<std::string> AbsolutePathFlag(std::string_view flag, const std::string& path) {
  if (path.empty()) return path;
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  if (ec)
    return Err(Status::FailedPrecondition(
        std::string(flag) + " " + path + ": cannot make it absolute, the current directory is unreadable (" +
        ec.message() + ")\n  hint: start the daemon from an existing directory, or give an absolute path"));
  absolute = absolute.lexically_normal();
  // "w1/" -> "<cwd>/w1": callers append "/tmp" and log the path.
  if (!absolute.has_filename() && absolute != absolute.root_path()) absolute = absolute.parent_path();
  return absolute.string();
}

Status MakePathFlagsAbsolute(std::initializer_list<std::pair<std::string_view, std::string*>> flags) {
  for (const auto& [flag, value] : flags) {
    CF_ASSIGN_OR_RETURN(*value, AbsolutePathFlag(flag, *value));
  }
  return Status::Ok();
}

bool PathLeavesDir(const std::string& dir, const std::string& rel) {
  const std::filesystem::path norm = std::filesystem::path(rel).lexically_normal();
  if (norm.is_absolute() || norm.string().starts_with("..")) return true;
  std::error_code ec;
  const auto base = std::filesystem::weakly_canonical(dir, ec);
  const auto resolved = std::filesystem::weakly_canonical(std::filesystem::path(dir) / norm, ec);
  const std::string inside = resolved.lexically_relative(base).string();
  return !ec && (inside.empty() || inside.starts_with(".."));
}

}  // namespace crossfarm
