#include "client/sources.h"

#include "common/digest.h"
#include "worker/fs_util.h"

namespace crossfarm::client {

SourceCache::SourceCache(const Project& project, cas::Cas& cas, std::string mirror_dir,
                         std::string work_dir)
    : project_(project), cas_(cas), mirror_dir_(std::move(mirror_dir)),
      work_dir_(std::move(work_dir)) {}

Result<std::vector<std::unique_ptr<worker::Source>>> SourcePlugins(const Project& project,
                                                                   const Element& e,
                                                                   const std::string& mirror_dir) {
  worker::SourceContext ctx;
  ctx.project_dir = project.directory();
  ctx.translate_url = [&project](const std::string& url) { return project.TranslateUrl(url); };
  ctx.cache_dir = mirror_dir;
  ctx.target_arch = project.arch().host;
  if (!e.sandbox_build_arch.empty())
    if (auto a = LookupArch(e.sandbox_build_arch)) ctx.target_arch = *a;
  std::vector<std::unique_ptr<worker::Source>> out;
  for (const auto& s : e.sources) {
    CF_ASSIGN_OR_RETURN(auto src, worker::MakeSource(s.kind, s.config, s.where, ctx));
    out.push_back(std::move(src));
  }
  return out;
}

Result<std::vector<std::unique_ptr<worker::Source>>> SourceCache::Plugins(const Element& e) const {
  return SourcePlugins(project_, e, mirror_dir_);
}

Status SourceCache::Fetch(const Element& e) {
  CF_ASSIGN_OR_RETURN(auto plugins, Plugins(e));
  for (auto& p : plugins) CF_TRY(p->Fetch());
  return Status::Ok();
}

Result<std::optional<Digest>> SourceCache::Tree(const Element& e) {
  if (e.sources.empty()) return std::optional<Digest>();
  CF_ASSIGN_OR_RETURN(auto plugins, Plugins(e));
  // The ref name covers each plugin's own ref (which includes every config key
  // that changes the staged files) and where it is staged.
  Sha256 h;
  for (size_t i = 0; i < plugins.size(); ++i) {
    auto ref = plugins[i]->Ref();
    if (!ref)
      return Err(UserError(e.sources[i].where, e.name + " has a source without a ref",
                           "run `crossfarm source track " + e.name + "`"));
    h.Update(e.sources[i].kind + "\n" + e.sources[i].directory + "\n" + *ref + "\n");
  }
  std::string ref_name = "sources/" + h.FinishHex();
  if (auto existing = cas_.GetRef(ref_name)) return std::optional<Digest>(existing->root);
  CF_ASSIGN_OR_RETURN(worker::TempDir dir, worker::TempDir::Create(work_dir_, "sources-"));
  for (auto& p : plugins) {
    CF_TRY(p->Fetch());
    CF_TRY(p->Stage(dir.path()));
  }
  CF_ASSIGN_OR_RETURN(Digest root, cas_.ImportTree(dir.path()));
  proto::RefInfo info;
  info.root = root;
  info.element = e.name;
  CF_TRY(cas_.PutRef(ref_name, info));
  return std::optional<Digest>(root);
}

}  // namespace crossfarm::client
