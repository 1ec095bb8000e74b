#include "client/sources.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "client/workspace_build.h"
#include "common/disk_space.h"
#include "common/digest.h"
#include "common/tracked_refs.h"
#include "common/yaml_loader.h"
#include "worker/fs_util.h"
#include "worker/plugin_host.h"

namespace crossfarm::client {

namespace {

// "pkg:arch" -> version of a list of `package:`/`version:` entries; nullopt
// when the ref is not such a list.
std::optional<std::map<std::string, std::string>> PackageVersions(const Node* ref) {
  if (!ref || !ref->IsSequence()) return std::nullopt;
  std::map<std::string, std::string> out;
  for (const auto& item : ref->items) {
    if (!item->IsMapping()) return std::nullopt;
    NodePtr pkg = item->Get("package"), version = item->Get("version"), arch = item->Get("arch");
    if (!pkg || !pkg->IsScalar() || !version || !version->IsScalar()) return std::nullopt;
    std::string name = pkg->scalar;
    if (arch && arch->IsScalar()) name += ":" + arch->scalar;
    out[name] = version->scalar;
  }
  return out;
}

std::string Shorten(std::string text) {
  constexpr size_t kMax = 72;
  if (text.size() > kMax) text = text.substr(0, kMax - 3) + "...";
  return text;
}

Result<std::unique_ptr<worker::Source>> SourcePluginWithRef(const Project& project, const Element& e,
                                                            size_t i, const std::string& mirror_dir,
                                                            const YAML::Node& tracked);

// Source i's new ref; with the sources before it staged into a temp dir when its
// kind reads them to track (bst's BST_REQUIRES_PREVIOUS_SOURCES_TRACK, pip's
// requirements-files). The earlier sources stage with their refs just tracked.
Result<YAML::Node> TrackOne(const std::vector<std::unique_ptr<worker::Source>>& plugins,
                            size_t i) {
  if (!plugins[i]->TrackNeedsPreviousSources()) return plugins[i]->Track();
  CF_ASSIGN_OR_RETURN(worker::TempDir dir, worker::TempDir::Create("", "crossfarm-track-"));
  for (size_t j = 0; j < i; ++j) CF_TRY(plugins[j]->Stage(dir.path()));
  return plugins[i]->TrackWithPrevious(dir.path());
}

}  // namespace

std::vector<std::string> DescribeRefChange(const Node* old_ref, const Node& new_ref) {
  std::vector<std::string> lines;
  auto olds = PackageVersions(old_ref);
  auto news = PackageVersions(&new_ref);
  if (olds && news) {
    for (const auto& [name, version] : *news) {
      auto it = olds->find(name);
      if (it == olds->end()) lines.push_back(name + " (new) " + version);
      else if (it->second != version) lines.push_back(name + " " + it->second + " -> " + version);
    }
    for (const auto& [name, version] : *olds)
      if (!news->count(name)) lines.push_back(name + " " + version + " (gone)");
    if (lines.empty()) lines.push_back("same versions, other order or checksums");
    return lines;
  }
  auto text = [](const Node* n) -> std::string {
    if (!n || n->IsNull()) return "(none)";
    std::string out;
    if (n->IsScalar()) return n->scalar;
    AppendCanonicalJson(*n, out);
    return out;
  };
  lines.push_back(Shorten(text(old_ref)) + " -> " + Shorten(text(&new_ref)));
  return lines;
}

Result<size_t> TrackSources(const Project& project, const std::vector<Element*>& elements,
                            const std::string& mirror_dir, bool save) {
  struct Tracked {
    std::string element, base;
    size_t index;
    NodePtr ref;  // nullptr: drop the entry (the project's own ref is current)
  };
  std::vector<Tracked> updates;
  size_t changed = 0;
  auto track = [&]() -> Status {
    for (const Element* e : elements) {
      CF_ASSIGN_OR_RETURN(auto plugins, SourcePlugins(project, *e, mirror_dir));
      for (size_t i = 0; i < plugins.size(); ++i) {
        const SourceSpec& spec = e->sources[i];
        if (spec.kind == "local" || spec.kind == "patch") continue;  // refs are content
        const std::string what = e->name + " source " + std::to_string(i + 1) + " (" + spec.kind + ")";
        CF_ASSIGN_OR_RETURN(YAML::Node tracked, TrackOne(plugins, i));
        if (tracked.IsNull()) {  // no new ref: bst keeps the one it has, or none
          std::fprintf(stderr, "%s: %s\n", what.c_str(),
                       spec.tree->Get("ref") ? "up to date" : "no ref found (e.g. no tag matches); left without one");
          continue;
        }
        const bool later_reads_it = std::any_of(plugins.begin() + i + 1, plugins.end(), [](const auto& later) {
          return later->TrackNeedsPreviousSources();
        });
        if (later_reads_it) {
          CF_ASSIGN_OR_RETURN(plugins[i], SourcePluginWithRef(project, *e, i, mirror_dir, tracked));
        }
        YAML::Node wrapped;  // the loader's parser wants a mapping at the top
        wrapped["ref"] = tracked;
        CF_ASSIGN_OR_RETURN(NodePtr doc, ParseYamlString(YAML::Dump(wrapped), "<tracked ref>"));
        const NodePtr ref = doc->Get("ref");
        const std::optional<std::string> text = SourceRefText(ref);
        const NodePtr old = spec.tree->Get("ref");
        // A Python source's ref_text is its unique key (docs/plugins.md): its
        // ref is the `ref:` its set_ref() writes.
        if (text == (spec.python_plugin ? SourceRefText(old) : spec.ref_text)) {
          std::fprintf(stderr, "%s: up to date\n", what.c_str());
        } else {
          ++changed;
          std::fprintf(stderr, "%s:\n", what.c_str());
          for (const auto& line : DescribeRefChange(old.get(), *ref))
            std::fprintf(stderr, "  %s\n", line.c_str());
        }
        if (save) {
          std::string file = spec.where.file;
          if (e->project && e->project->parent)  // "j.bst:elements/y.bst"
            file = e->project->directory + "/" + file.substr(e->project->junction_name.size() + 1);
          else if (!file.empty() && file.front() != '/')
            file = project.directory() + "/" + file;
          CF_TRY(worker::WriteRefToElementFile(file, i, tracked));
          updates.push_back({e->name, spec.own_ref_base, i, nullptr});
        } else if (TrackedRefBase(text) == spec.own_ref_base) {
          updates.push_back({e->name, spec.own_ref_base, i, nullptr});
        } else {
          updates.push_back({e->name, spec.own_ref_base, i, ref});
        }
      }
    }
    return Status::Ok();
  };
  Status tracked = track();
  // Keep what was tracked before a failure.
  const std::string path = project.tracked_refs_path();
  if (!updates.empty() && !path.empty()) {
    CF_TRY(TrackedRefs::Update(path, [&](TrackedRefs& refs) {
      for (const auto& u : updates) {
        if (u.ref) refs.Set(u.element, u.index, u.base, u.ref);
        else refs.Erase(u.element, u.index);
      }
      return Status::Ok();
    }));
  }
  CF_TRY(tracked);
  if (changed > 0 && !save && !path.empty())
    std::fprintf(stderr,
                 "%zu source%s changed; the new refs are kept in %s and used by every crossfarm "
                 "command on this cache (the project's files are unchanged; `source track "
                 "--save` writes them into the .bst files)\n",
                 changed, changed == 1 ? "" : "s", path.c_str());
  return changed;
}

SourceCache::SourceCache(const Project& project, cas::Cas& cas, std::string mirror_dir,
                         std::string work_dir)
    : project_(project), cas_(cas), mirror_dir_(std::move(mirror_dir)),
      work_dir_(std::move(work_dir)) {}

namespace {

// Hosts for Python source plugins, with network (fetch and track), shared by
// the command's sources (docs/plugins.md).
std::shared_ptr<worker::PluginHostPool> NetworkedPluginHosts() {
  static auto pool = std::make_shared<worker::PluginHostPool>(worker::PluginHostOptions{
      .program = "", .timeout = worker::DefaultPluginTimeout(), .network = true});
  return pool;
}

}  // namespace

namespace {

// The context the source plugins of `e` work in (its project's directory and
// aliases, the mirror, the target arch).
worker::SourceContext SourceContextOf(const Project& project, const Element& e,
                                      const std::string& mirror_dir) {
  worker::SourceContext ctx;
  ctx.project_dir = project.directory();
  ctx.translate_url = [&project](const std::string& url) { return project.TranslateUrl(url); };
  if (e.project && e.project->parent) {  // an element of a junction's subproject
    const ProjectConfig* sub = e.project;
    ctx.project_dir = sub->directory;
    ctx.translate_url = [sub](const std::string& url) { return TranslateAlias(sub->aliases, url); };
  }
  ctx.cache_dir = mirror_dir;
  ctx.target_arch = project.arch().host;
  if (!e.sandbox_build_arch.empty())
    if (auto a = LookupArch(e.sandbox_build_arch)) ctx.target_arch = *a;
  return ctx;
}

// The plugin of source `s` with `config` (s.Config(), or that with a new ref).
Result<std::unique_ptr<worker::Source>> SourcePlugin(worker::SourceContext& ctx, const SourceSpec& s,
                                                     const YAML::Node& config) {
  // The plugins' YAML has no marks: errors about a key point where it is written.
  ctx.key_where.clear();
  if (s.tree)
    for (const auto& [key, value] : s.tree->map) ctx.key_where[key] = s.tree->KeyProvenance(key);
  if (!s.opaque_plugin.empty())  // a declared plugin's kind crossfarm cannot run
    return Err(UserError(s.where, "source kind '" + s.kind + "' comes from a plugin, " +
                                      s.opaque_plugin + ", that crossfarm cannot run"));
  ctx.python_module = s.python_plugin ? s.python_plugin->file : "";
  ctx.python_hosts = s.python_plugin ? NetworkedPluginHosts() : nullptr;
  return worker::MakeSource(s.kind, config, s.where, ctx);
}

// Source i of `e` again, with the ref `tracked`: bst tracks an element's
// sources in order and stages the earlier ones with their new refs for a
// later one that reads them (Source._track: "Save ref in local process for
// subsequent sources").
Result<std::unique_ptr<worker::Source>> SourcePluginWithRef(const Project& project, const Element& e,
                                                            size_t i, const std::string& mirror_dir,
                                                            const YAML::Node& tracked) {
  worker::SourceContext ctx = SourceContextOf(project, e, mirror_dir);
  YAML::Node config = e.sources[i].Config();
  config["ref"] = tracked;
  return SourcePlugin(ctx, e.sources[i], config);
}

}  // namespace

Result<std::vector<std::unique_ptr<worker::Source>>> SourcePlugins(const Project& project,
                                                                   const Element& e,
                                                                   const std::string& mirror_dir) {
  worker::SourceContext ctx = SourceContextOf(project, e, mirror_dir);
  std::vector<std::unique_ptr<worker::Source>> out;
  for (const auto& s : e.sources) {
    CF_ASSIGN_OR_RETURN(auto src, SourcePlugin(ctx, s, s.Config()));
    out.push_back(std::move(src));
  }
  return out;
}

Result<std::string> StageJunction(const Element& junction, const std::string& mirror_dir,
                                  const std::string& stage_root) {
  const ProjectConfig* p = junction.project;
  worker::SourceContext ctx;
  ctx.project_dir = p->directory;
  ctx.translate_url = [p](const std::string& url) { return TranslateAlias(p->aliases, url); };
  ctx.cache_dir = mirror_dir;
  ctx.target_arch = p->arch.host;
  Sha256 h;
  std::vector<std::unique_ptr<worker::Source>> plugins;
  for (const auto& s : junction.sources) {
    CF_ASSIGN_OR_RETURN(auto src, worker::MakeSource(s.kind, s.Config(), s.where, ctx));
    auto ref = src->Ref();
    if (!ref)
      return Err(UserError(s.where, "Subproject has no ref for junction: " + junction.name));
    h.Update(s.kind + "\n" + s.directory + "\n" + *ref + "\n");
    plugins.push_back(std::move(src));
  }
  // Staged once per set of refs; a finished stage is renamed into place.
  const std::string dir = stage_root + "/junctions/" + h.FinishHex();
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return dir;
  std::filesystem::create_directories(stage_root + "/junctions", ec);
  CF_ASSIGN_OR_RETURN(worker::TempDir tmp, worker::TempDir::Create(stage_root + "/junctions", "stage-"));
  for (auto& src : plugins) {
    Status st = src->Fetch();
    if (st.ok()) st = src->Stage(tmp.path());
    if (!st.ok()) return Err(st.WithContext("fetching junction " + junction.name));
  }
  std::filesystem::rename(tmp.path(), dir, ec);
  if (ec && !std::filesystem::is_directory(dir))
    return Err(Status::IOError("cannot move " + tmp.path() + " to " + dir + ": " + ec.message()));
  return dir;
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
  if (e.workspace) {
    CF_ASSIGN_OR_RETURN(Digest root, ImportWorkspace(cas_, e, project_.workspace_cache_dir()));
    return std::optional<Digest>(root);
  }
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
    if (Status s = p->Stage(dir.path()); !s.ok()) {
      // A copy that failed on a full disk says so (issue 19), not "I/O error".
      CF_TRY(CheckDiskSpace(dir.path(), 1 << 20, "staging the sources of " + e.name));
      return Err(s);
    }
  }
  CF_ASSIGN_OR_RETURN(Digest root, cas_.ImportTree(dir.path()));
  proto::RefInfo info;
  info.root = root;
  info.element = e.name;
  CF_TRY(cas_.PutRef(ref_name, info));
  return std::optional<Digest>(root);
}

}  // namespace crossfarm::client
