#include "client/collect_elements.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <unordered_set>

#include "client/job_builder.h"
#include "common/project.h"
#include "common/provenance.h"

namespace crossfarm::client {
namespace {

constexpr std::string_view kManifestNote =
    "This is a generated manifest from buildstream files and not usable by flatpak-builder";

// Decodes one UTF-8 sequence at s[i] (advancing i); U+FFFD when malformed.
uint32_t NextCodePoint(std::string_view s, size_t& i) {
  const auto b = static_cast<unsigned char>(s[i++]);
  int extra = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : b >= 0xC0 ? 1 : 0;
  uint32_t cp = extra == 3 ? b & 0x07 : extra == 2 ? b & 0x0F : extra == 1 ? b & 0x1F : b;
  if (b >= 0x80 && extra == 0) return 0xFFFD;
  for (; extra > 0; --extra) {
    if (i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) return 0xFFFD;
    cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3F);
  }
  return cp;
}

void AppendEscaped(uint32_t unit, std::string& out) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\u%04x", unit);
  out += buf;
}

// json.dumps of a str with ensure_ascii=True.
void AppendPyString(std::string_view s, std::string& out) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      case '\b': out += "\\b"; ++i; continue;
      case '\f': out += "\\f"; ++i; continue;
      default: break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x80) {
      out += c;
      ++i;
      continue;
    }
    const uint32_t cp = NextCodePoint(s, i);
    if (cp >= 0x10000) {  // a surrogate pair, as Python writes it
      AppendEscaped(0xD800 + ((cp - 0x10000) >> 10), out);
      AppendEscaped(0xDC00 + ((cp - 0x10000) & 0x3FF), out);
    } else {
      AppendEscaped(cp, out);
    }
  }
  out += '"';
}

void AppendPyJson(const Node& n, int level, std::string& out) {
  const std::string inner(2 * (level + 1), ' '), outer(2 * level, ' ');
  if (n.IsMapping()) {
    if (n.map.empty()) {
      out += "{}";
      return;
    }
    out += "{";
    for (size_t i = 0; i < n.map.size(); ++i) {
      out += (i == 0 ? "\n" : ",\n") + inner;
      AppendPyString(n.map[i].first, out);
      out += ": ";
      AppendPyJson(*n.map[i].second, level + 1, out);
    }
    out += "\n" + outer + "}";
  } else if (n.IsSequence()) {
    if (n.items.empty()) {
      out += "[]";
      return;
    }
    out += "[";
    for (size_t i = 0; i < n.items.size(); ++i) {
      out += (i == 0 ? "\n" : ",\n") + inner;
      AppendPyJson(*n.items[i], level + 1, out);
    }
    out += "\n" + outer + "]";
  } else {
    AppendPyString(n.scalar, out);
  }
}

NodePtr Str(std::string s) { return Node::MakeScalar(std::move(s)); }

std::string ConfigString(const NodePtr& tree, const std::string& key) {
  NodePtr n = tree ? tree->Get(key) : nullptr;
  return n && n->IsScalar() ? n->scalar : "";
}

std::string Translated(const Element& dep, const std::string& url) {
  return dep.project ? TranslateAlias(dep.project->aliases, url) : url;
}

// get_source_locations of bst-external: git, git_tag, patch, tar and zip sources.
NodePtr SourceLocations(const Element& dep) {
  NodePtr out = Node::MakeSequence();
  for (const SourceSpec& s : dep.sources) {
    NodePtr loc = Node::MakeMapping();
    const std::string url = Translated(dep, ConfigString(s.tree, "url"));
    const std::string ref = ConfigString(s.tree, "ref");
    if (s.kind == "git" || s.kind == "git_tag") {
      loc->Set("type", Str("git"));
      if (s.kind == "git_tag") loc->Set("x-bst-kind", Str("git_tag"));
      loc->Set("url", Str(url));
      loc->Set("commit", Str(ref));
    } else if (s.kind == "patch") {
      const std::string path = ConfigString(s.tree, "path");
      loc->Set("type", Str("patch"));
      loc->Set("path", Str(path.substr(path.rfind('/') + 1)));
    } else if (s.kind == "tar" || s.kind == "zip") {
      loc->Set("type", Str("archive"));
      loc->Set("url", Str(url));
      loc->Set("sha256", Str(ref));
    } else {
      continue;
    }
    out->items.push_back(loc);
  }
  return out;
}

// bst-external's VersionMatcher: the first tar/zip file name or git ref that
// the (Python) regular expression finds a version in.
std::optional<std::string> GuessVersion(const Element& dep, const std::regex& re) {
  for (const SourceSpec& s : dep.sources) {
    std::string text;
    if (s.kind == "tar" || s.kind == "zip") {
      const std::string url = Translated(dep, ConfigString(s.tree, "url"));
      text = url.substr(url.rfind('/') + 1);
    } else if (s.kind == "git" || s.kind == "git_tag") {
      text = ConfigString(s.tree, "ref");
    } else {
      continue;
    }
    std::smatch m;
    if (!std::regex_search(text, m, re)) continue;
    if (re.mark_count() == 0) return m.str(0);
    std::string version;
    for (size_t g = 1; g < m.size(); ++g) version += (g > 1 ? "." : "") + m.str(g);
    return version;
  }
  return std::nullopt;
}

// A copy of public data as bst hands it to a plugin at build time: read back
// from the dependency's artifact (meta/public.yaml), which bst wrote with
// every mapping's keys sorted (_yaml.node_sanitize). bst-external dumps the
// manifest in that order.
NodePtr AsArtifactPublicData(const Node& n) {
  NodePtr out = n.Clone();
  if (out->IsMapping()) {
    std::sort(out->map.begin(), out->map.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [key, value] : out->map) value = AsArtifactPublicData(*value);
  } else if (out->IsSequence()) {
    for (auto& item : out->items) item = AsArtifactPublicData(*item);
  }
  return out;
}

// extract_cpe of bst-external: public `cpe` with product and version filled in
// (after its own keys, in that order).
Result<NodePtr> ExtractCpe(const Element& dep) {
  NodePtr pub_cpe = dep.public_tree ? dep.public_tree->Get("cpe") : nullptr;
  NodePtr cpe = pub_cpe && pub_cpe->IsMapping() ? AsArtifactPublicData(*pub_cpe) : Node::MakeMapping();
  if (!cpe->Has("product")) {
    cpe->Set("product", Str(std::filesystem::path(dep.local_name).stem().string()));
  }
  NodePtr match = cpe->Get("version-match");
  cpe->Erase("version-match");
  if (cpe->Has("version")) return cpe;
  std::regex re;
  try {
    re = std::regex(match ? match->scalar : R"(\d+\.\d+(?:\.\d+)?)");
  } catch (const std::regex_error& e) {
    return Err(UserError(match->Where(), "cpe version-match '" + match->scalar +
                                             "' is not a regular expression: " + e.what()));
  }
  if (auto version = GuessVersion(dep, re)) {
    cpe->Set("version", Str(*version));
  } else if (match) {
    return Err(UserError(match->Where(), dep.name + ": version match string \"" + match->scalar +
                                             "\" did not match anything.",
                         "fix `version-match`, or give `version:` in the cpe public data"));
  }
  return cpe;
}

Status ManifestModules(const Element& e, std::vector<NodePtr>& modules);

Status AddModule(const Element& dep, std::vector<NodePtr>& modules) {
  // A collect_manifest dependency hands its manifest on (bst-external's
  // `cpe-manifest` public data, set at assembly: computed the same way here).
  // Either way bst reads it back from the artifact: keys sorted.
  if (dep.kind == "collect_manifest") {
    std::vector<NodePtr> theirs;
    CF_TRY(ManifestModules(dep, theirs));
    for (const auto& item : theirs) modules.push_back(AsArtifactPublicData(*item));
    return Status::Ok();
  }
  NodePtr imported = dep.public_tree ? dep.public_tree->Get("cpe-manifest") : nullptr;
  if (imported && imported->IsMapping() && !imported->map.empty()) {
    if (NodePtr m = imported->Get("modules"); m && m->IsSequence())
      for (const auto& item : m->items) modules.push_back(AsArtifactPublicData(*item));
    return Status::Ok();
  }
  CF_ASSIGN_OR_RETURN(NodePtr cpe, ExtractCpe(dep));
  NodePtr module = Node::MakeMapping();
  module->Set("name", Str(dep.local_name));
  module->Set("x-cpe", cpe);
  module->Set("sources", SourceLocations(dep));
  modules.push_back(module);
  return Status::Ok();
}

// get_dependencies: the runtime closure of `dep`, dependencies first, once each.
Status Walk(const Element& dep, std::unordered_set<const Element*>& visited,
            std::vector<NodePtr>& modules) {
  if (!visited.insert(&dep).second) return Status::Ok();
  for (const Element* sub : dep.RuntimeDeps()) CF_TRY(Walk(*sub, visited, modules));
  return AddModule(dep, modules);
}

Status ManifestModules(const Element& e, std::vector<NodePtr>& modules) {
  std::unordered_set<const Element*> visited;
  for (const Element* top : e.BuildDeps()) CF_TRY(Walk(*top, visited, modules));
  return Status::Ok();
}

Result<std::vector<GeneratedFile>> ManifestFiles(const Element& e) {
  const std::string path = ConfigString(e.config_tree, "path");
  if (path.empty()) return std::vector<GeneratedFile>{};
  if (path.find_first_not_of('/') == std::string::npos)
    return Err(UserError(e.where, "collect_manifest `path: " + path + "` names no file",
                         "e.g. `path: /usr/manifest.json`"));
  CF_ASSIGN_OR_RETURN(std::string json, CollectManifestJson(e));
  return std::vector<GeneratedFile>{{"/" + path.substr(path.find_first_not_of('/')), json, false}};
}

Result<std::vector<GeneratedFile>> IntegrationFiles(const Element& e) {
  const YAML::Node& config = e.config();
  const std::string path = ConfigString(e.config_tree, "script-path");
  if (path.empty() || path.find_first_not_of('/') == std::string::npos)
    return Err(UserError(e.where, "collect_integration needs `config: script-path:`",
                         "e.g. `script-path: /usr/libexec/post-install.sh`"));
  if (!e.RuntimeDeps().empty())
    return Err(UserError(e.where, e.name + ": Only build type dependencies supported by "
                                           "collect-integration elements",
                         "list the dependencies under build-depends"));
  if (!e.sources.empty())
    return Err(UserError(e.where, e.name + ": collect-integration elements may not have sources"));
  const std::vector<Element*> staged = StagingSet(e);
  std::unordered_set<const Element*> ignored;
  if (const YAML::Node ignore = config["ignore"]; ignore && ignore.IsSequence()) {
    for (const auto& item : ignore) {
      const std::string name = item.Scalar();
      auto it = std::find_if(staged.begin(), staged.end(), [&](const Element* d) {
        return d->local_name == name || d->name == name;
      });
      if (it == staged.end())
        return Err(UserError(e.where, e.name + ": element " + name + " is not in dependencies",
                             "`ignore:` lists build dependencies (or their runtime closure)"));
      ignored.insert(*it);
    }
  }
  std::string script = "#!/bin/sh\nset -e\n\n";
  for (const Element* dep : staged) {
    if (ignored.count(dep)) continue;
    const YAML::Node commands = dep->public_data()["bst"]["integration-commands"];
    if (!commands || !commands.IsSequence() || commands.size() == 0) continue;
    script += "# integration commands from " + dep->local_name + "\n";
    for (const auto& cmd : commands) script += cmd.Scalar() + "\n\n";
  }
  return std::vector<GeneratedFile>{
      {"/" + path.substr(path.find_first_not_of('/')), std::move(script), true}};
}

}  // namespace

bool IsCollectKind(std::string_view kind) {
  return kind == "collect_manifest" || kind == "collect_integration";
}

std::string PythonJson(const Node& node) {
  std::string out;
  AppendPyJson(node, 0, out);
  return out;
}

Result<std::string> CollectManifestJson(const Element& e) {
  std::vector<NodePtr> modules;
  CF_TRY(ManifestModules(e, modules));
  NodePtr manifest = Node::MakeMapping();
  manifest->Set("//NOTE", Str(std::string(kManifestNote)));
  NodePtr list = Node::MakeSequence();
  list->items = std::move(modules);
  manifest->Set("modules", list);
  return PythonJson(*manifest);
}

Result<std::vector<GeneratedFile>> CollectElementFiles(const Element& e) {
  if (e.kind == "collect_manifest") return ManifestFiles(e);
  return IntegrationFiles(e);
}

}  // namespace crossfarm::client
