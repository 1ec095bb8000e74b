#include "worker/collect_elements.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "worker/fs_util.h"

namespace crossfarm::worker {

namespace fs = std::filesystem;

Result<Digest> RunCollectJob(const JobSpec& spec, cas::Cas& cas, const std::string& work_dir) {
  CF_ASSIGN_OR_RETURN(TempDir dir, TempDir::Create(work_dir, "collect-"));
  for (const GeneratedFile& file : spec.files) {
    const fs::path rel = fs::path(file.path).relative_path().lexically_normal();
    if (rel.empty() || rel.string().starts_with("..")) {
      return Err(Status::BuildFailed(spec.element + ": generated file '" + file.path +
                                     "' is outside the artifact"));
    }
    const fs::path target = fs::path(dir.path()) / rel;
    std::error_code ec;
    fs::create_directories(target.parent_path(), ec);
    if (ec) return Err(Status::IOError("create " + target.parent_path().string() + ": " + ec.message()));
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    out << file.content;
    if (!out.flush()) return Err(Status::FromErrno("write " + target.string(), errno));
    out.close();
    // bst-external opens the script with mode 0777 under the usual umask 022.
    if (::chmod(target.c_str(), file.executable ? 0755 : 0644) != 0)
      return Err(Status::FromErrno("chmod " + target.string(), errno));
  }
  return cas.ImportTree(dir.path());
}

}  // namespace crossfarm::worker
