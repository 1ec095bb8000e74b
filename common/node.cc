#include "common/node.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace crossfarm {

Provenance NodeMark::ToProvenance() const {
  return Provenance{file ? *file : std::string(), line, column};
}

NodePtr Node::MakeNull(NodeMark mark) {
  auto n = std::make_shared<Node>();
  n->mark = std::move(mark);
  return n;
}

NodePtr Node::MakeScalar(std::string value, NodeMark mark) {
  auto n = MakeNull(std::move(mark));
  n->kind = Kind::kScalar;
  n->scalar = std::move(value);
  return n;
}

NodePtr Node::MakeSequence(NodeMark mark) {
  auto n = MakeNull(std::move(mark));
  n->kind = Kind::kSequence;
  return n;
}

NodePtr Node::MakeMapping(NodeMark mark) {
  auto n = MakeNull(std::move(mark));
  n->kind = Kind::kMapping;
  return n;
}

int Node::IndexOf(std::string_view key) const {
  for (size_t i = 0; i < map.size(); ++i)
    if (map[i].first == key) return static_cast<int>(i);
  return -1;
}

NodePtr Node::Get(std::string_view key) const {
  int i = IndexOf(key);
  return i < 0 ? nullptr : map[static_cast<size_t>(i)].second;
}

Provenance Node::KeyProvenance(std::string_view key) const {
  int i = IndexOf(key);
  if (i >= 0 && static_cast<size_t>(i) < key_marks.size() &&
      key_marks[static_cast<size_t>(i)].line > 0)
    return key_marks[static_cast<size_t>(i)].ToProvenance();
  if (i >= 0 && map[static_cast<size_t>(i)].second->mark.line > 0)
    return map[static_cast<size_t>(i)].second->Where();
  return Where();
}

void Node::Set(std::string key, NodePtr value, NodeMark key_mark) {
  key_marks.resize(map.size());
  int i = IndexOf(key);
  if (i >= 0) {
    map[static_cast<size_t>(i)].second = std::move(value);
    if (key_mark.line > 0) key_marks[static_cast<size_t>(i)] = std::move(key_mark);
    return;
  }
  map.emplace_back(std::move(key), std::move(value));
  key_marks.push_back(std::move(key_mark));
}

void Node::Erase(std::string_view key) {
  int i = IndexOf(key);
  if (i < 0) return;
  map.erase(map.begin() + i);
  if (static_cast<size_t>(i) < key_marks.size()) key_marks.erase(key_marks.begin() + i);
}

NodePtr Node::Clone() const {
  auto n = std::make_shared<Node>();
  n->kind = kind;
  n->mark = mark;
  n->scalar = scalar;
  n->key_marks = key_marks;
  n->items.reserve(items.size());
  for (const auto& it : items) n->items.push_back(it->Clone());
  n->map.reserve(map.size());
  for (const auto& [k, v] : map) n->map.emplace_back(k, v->Clone());
  return n;
}

std::string_view KindName(Node::Kind kind) {
  switch (kind) {
    case Node::Kind::kNull: return "null";
    case Node::Kind::kScalar: return "scalar";
    case Node::Kind::kSequence: return "list";
    case Node::Kind::kMapping: return "mapping";
  }
  return "?";
}

static Status WrongType(const Node& map, std::string_view key, const Node& value,
                        std::string_view expected) {
  return UserError(map.KeyProvenance(key),
                   "value of '" + std::string(key) + "' is a " +
                       std::string(KindName(value.kind)) + ", expected a " +
                       std::string(expected));
}

Result<std::string> GetString(const Node& map, std::string_view key,
                              std::optional<std::string> fallback) {
  NodePtr v = map.Get(key);
  if (!v || v->IsNull()) {
    if (fallback) return *fallback;
    return Err(UserError(map.Where(), "missing required key '" + std::string(key) + "'"));
  }
  if (!v->IsScalar()) return Err(WrongType(map, key, *v, "string"));
  return v->scalar;
}

Result<std::vector<std::string>> GetStringList(const Node& map, std::string_view key) {
  std::vector<std::string> out;
  NodePtr v = map.Get(key);
  if (!v || v->IsNull()) return out;
  if (!v->IsSequence()) return Err(WrongType(map, key, *v, "list"));
  for (const auto& item : v->items) {
    if (!item->IsScalar())
      return Err(UserError(item->Where(), "entries of '" + std::string(key) +
                                              "' must be strings, not a " +
                                              std::string(KindName(item->kind))));
    out.push_back(item->scalar);
  }
  return out;
}

Result<NodePtr> GetMapping(const Node& map, std::string_view key) {
  NodePtr v = map.Get(key);
  if (!v || v->IsNull()) return NodePtr();
  if (!v->IsMapping()) return Err(WrongType(map, key, *v, "mapping"));
  return v;
}

Result<bool> GetBool(const Node& map, std::string_view key, bool fallback) {
  NodePtr v = map.Get(key);
  if (!v || v->IsNull()) return fallback;
  if (v->IsScalar()) {
    const std::string& s = v->scalar;
    if (s == "True" || s == "true" || s == "yes" || s == "1") return true;
    if (s == "False" || s == "false" || s == "no" || s == "0") return false;
  }
  return Err(UserError(v->Where(), "value of '" + std::string(key) + "' must be a boolean",
                       "use True or False"));
}

int EditDistance(std::string_view a, std::string_view b) {
  std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      int sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string DidYouMean(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string best;
  int best_d = std::max<int>(2, static_cast<int>(word.size()) / 3) + 1;
  for (auto c : candidates) {
    int d = EditDistance(word, c);
    if (d < best_d) {
      best_d = d;
      best = std::string(c);
    }
  }
  return best;
}

Status ValidateKeys(const Node& map, const std::vector<std::string_view>& allowed,
                    std::string_view context) {
  for (const auto& [key, value] : map.map) {
    if (!key.empty() && key[0] == '(') continue;
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string hint;
    std::string near = DidYouMean(key, allowed);
    if (!near.empty()) hint = "did you mean '" + near + "'?";
    else {
      hint = "valid keys are:";
      for (auto a : allowed) hint += " " + std::string(a);
    }
    return UserError(map.KeyProvenance(key),
                     "unknown key '" + key + "' in " + std::string(context), hint);
  }
  return Status::Ok();
}

YAML::Node ToYaml(const Node& node) {
  switch (node.kind) {
    case Node::Kind::kNull: return YAML::Node(YAML::NodeType::Null);
    case Node::Kind::kScalar: return YAML::Node(node.scalar);
    case Node::Kind::kSequence: {
      YAML::Node seq(YAML::NodeType::Sequence);
      for (const auto& it : node.items) seq.push_back(ToYaml(*it));
      return seq;
    }
    case Node::Kind::kMapping: {
      YAML::Node m(YAML::NodeType::Map);
      // force_insert: `m[k] = node` in a loop can alias earlier values in yaml-cpp.
      for (const auto& [k, v] : node.map) m.force_insert(k, ToYaml(*v));
      return m;
    }
  }
  return {};
}

// True when one of the 8 bytes of `v` is a control character, '"' or '\'.
static bool NeedsEscape8(uint64_t v) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  auto has_zero = [](uint64_t x) { return (x - kOnes) & ~x & kHigh; };
  uint64_t below_space = (v - kOnes * 0x20) & ~v & kHigh;
  return (below_space | has_zero(v ^ (kOnes * '"')) | has_zero(v ^ (kOnes * '\\'))) != 0;
}

void AppendJsonString(std::string_view s, std::string& out) {
  out += '"';
  size_t run = 0;  // start of the pending run of characters needing no escape
  size_t i = 0;
  while (i < s.size()) {
    if (i + 8 <= s.size()) {
      uint64_t v;
      std::memcpy(&v, s.data() + i, 8);
      if (!NeedsEscape8(v)) {
        i += 8;
        continue;
      }
    }
    auto c = static_cast<unsigned char>(s[i++]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - 1 - run);
    run = i;
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void AppendCanonicalJson(const Node& node, std::string& out) {
  switch (node.kind) {
    case Node::Kind::kNull: out += "null"; return;
    case Node::Kind::kScalar: AppendJsonString(node.scalar, out); return;
    case Node::Kind::kSequence:
      out += '[';
      for (size_t i = 0; i < node.items.size(); ++i) {
        if (i) out += ',';
        AppendCanonicalJson(*node.items[i], out);
      }
      out += ']';
      return;
    case Node::Kind::kMapping: {
      std::vector<const std::pair<std::string, NodePtr>*> sorted;
      for (const auto& kv : node.map) sorted.push_back(&kv);
      std::sort(sorted.begin(), sorted.end(),
                [](auto* a, auto* b) { return a->first < b->first; });
      out += '{';
      for (size_t i = 0; i < sorted.size(); ++i) {
        if (i) out += ',';
        AppendJsonString(sorted[i]->first, out);
        out += ':';
        AppendCanonicalJson(*sorted[i]->second, out);
      }
      out += '}';
      return;
    }
  }
}

}  // namespace crossfarm
