#include "common/cache_key.h"

#include <algorithm>
#include <map>
#include <vector>

#include "common/digest.h"
#include "common/node.h"

namespace crossfarm {

void AppendCanonicalJson(const YAML::Node& node, std::string& out) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: AppendJsonString(node.Scalar(), out); return;
    case YAML::NodeType::Sequence: {
      out += '[';
      bool first = true;
      for (const auto& it : node) {
        if (!first) out += ',';
        first = false;
        AppendCanonicalJson(it, out);
      }
      out += ']';
      return;
    }
    case YAML::NodeType::Map: {
      // Sort indices, never YAML::Node values: Node assignment has reference
      // semantics in yaml-cpp and would rewrite the tree being serialised.
      std::vector<std::string> keys;
      std::vector<YAML::Node> values;
      for (const auto& kv : node) {
        keys.push_back(kv.first.Scalar());
        values.push_back(kv.second);
      }
      std::vector<size_t> order(keys.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return keys[a] < keys[b]; });
      out += '{';
      for (size_t i = 0; i < order.size(); ++i) {
        if (i) out += ',';
        AppendJsonString(keys[order[i]], out);
        out += ':';
        AppendCanonicalJson(values[order[i]], out);
      }
      out += '}';
      return;
    }
    default: out += "null"; return;
  }
}

namespace {

template <typename StringMap, typename Skip>
void AppendStringMap(const StringMap& m, std::string& out, Skip skip) {
  out += '{';
  bool first = true;
  for (const auto& [k, v] : m) {
    if (skip(k)) continue;
    if (!first) out += ',';
    first = false;
    AppendJsonString(k, out);
    out += ':';
    AppendJsonString(v, out);
  }
  out += '}';
}

void AppendSources(const Element& e, std::string& out) {
  out += '[';
  for (size_t i = 0; i < e.sources.size(); ++i) {
    const SourceSpec& s = e.sources[i];
    // `track` names what to follow when tracking; only the pinned ref matters.
    Node config = *s.tree;  // shallow copy: only the top level is edited
    config.Erase("track");
    config.Erase("ref");
    if (i) out += ',';
    out += "{\"config\":";
    AppendCanonicalJson(config, out);
    out += ",\"key\":";
    AppendJsonString(*s.ref_text, out);
    out += '}';
  }
  out += ']';
}

}  // namespace

std::optional<std::string> CacheKeyInput(const Element& e) {
  if (!e.HasAllRefs()) return std::nullopt;
  std::map<std::string, std::string> build, runtime;
  for (auto [d, t] : e.deps) {
    if (!d->cache_key) return std::nullopt;
    if (t != DepType::kRuntime) build[d->name] = *d->cache_key;
    if (t != DepType::kBuild) runtime[d->name] = *d->cache_key;
  }
  auto none = [](const std::string&) { return false; };
  std::string out;
  out.reserve(8192);
  out = "{";
  // Only accelerated elements carry the key: every other key stays as it was.
  if (e.accelerator) {
    if (!e.accelerator->cache_key) return std::nullopt;
    out += "\"accel\":{\"accelerator\":";
    AppendJsonString(*e.accelerator->cache_key, out);
    out += ",\"host-tools\":[";
    if (e.accel.find("host-tools") != std::string::npos && e.accel_info)
      for (size_t i = 0; i < e.accel_info->host_tools.size(); ++i) {
        if (i) out += ',';
        AppendJsonString(e.accel_info->host_tools[i], out);
      }
    out += "],\"host-paths\":[";
    if (e.accel_info)
      for (size_t i = 0; i < e.accel_info->host_paths.size(); ++i) {
        if (i) out += ',';
        AppendJsonString(e.accel_info->host_paths[i], out);
      }
    out += "],\"mode\":";
    AppendJsonString(e.accel, out);
    out += ",\"version\":" + std::to_string(kAccelVersion) + "},";
  }
  // Likewise only elements run by a Python plugin (docs/plugins.md): the
  // plugin's get_unique_key() and the digest of its file, and its sources'.
  bool python = e.python_plugin != nullptr;
  for (const SourceSpec& s : e.sources) python |= s.python_plugin != nullptr;
  if (python) {
    out += "\"python\":{\"element\":";
    AppendJsonString(e.python_key, out);
    out += ",\"sources\":[";
    for (size_t i = 0; i < e.sources.size(); ++i) {
      if (i) out += ',';
      AppendJsonString(e.sources[i].python_key, out);
    }
    out += "]},";
  }
  out += "\"build-deps\":";
  AppendStringMap(build, out, none);
  out += ",\"config\":";
  AppendCanonicalJson(*e.config_tree, out);
  out += ",\"environment\":";
  AppendStringMap(e.environment, out,
                  [&](const std::string& k) { return e.environment_nocache.count(k) > 0; });
  out += ",\"kind\":";
  AppendJsonString(e.kind, out);
  out += ",\"public\":";
  AppendCanonicalJson(*e.public_tree, out);
  out += ",\"runtime-deps\":";
  AppendStringMap(runtime, out, none);
  out += ",\"sandbox\":{\"build-arch\":";
  AppendJsonString(e.sandbox_build_arch, out);
  out += "},\"sources\":";
  // A workspace's content replaces the sources (and only workspaced
  // elements carry this form: every other key stays as it was).
  if (e.workspace) {
    out += "{\"workspace\":";
    AppendJsonString(e.workspace->key, out);
    out += '}';
  } else {
    AppendSources(e, out);
  }
  out += ",\"variables\":";
  AppendStringMap(e.variables, out, [](const std::string& k) { return k == "max-jobs"; });
  out += ",\"version\":" + std::to_string(kCacheKeyVersion) + "}";
  return out;
}

void ComputeCacheKey(Element& e) {
  auto input = CacheKeyInput(e);
  e.cache_key = input ? std::optional<std::string>(Sha256Hex(*input)) : std::nullopt;
}

}  // namespace crossfarm
