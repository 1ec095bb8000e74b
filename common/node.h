// The YAML tree of the project loader: scalars, sequences and insertion-ordered
// mappings, every node carrying the file:line:col it came from.
//
// BuildStream composes YAML trees (defaults, project.conf, plugin defaults,
// elements) and reports errors with provenance; yaml-cpp nodes have no file name
// and share state on copy, so the loader converts each parsed file once into this
// tree and works on value copies (Clone) from then on. Not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/provenance.h"
#include "common/status.h"

namespace crossfarm {

struct Node;
using NodePtr = std::shared_ptr<Node>;

// Where a node came from. `file` is shared by all nodes of one file.
struct NodeMark {
  std::shared_ptr<const std::string> file;
  int line = 0;    // 1-based; 0 = synthesised
  int column = 0;  // 1-based

  Provenance ToProvenance() const;
};

struct Node {
  enum class Kind { kNull, kScalar, kSequence, kMapping };

  Kind kind = Kind::kNull;
  NodeMark mark;
  std::string scalar;                                  // kScalar
  std::vector<NodePtr> items;                          // kSequence
  std::vector<std::pair<std::string, NodePtr>> map;    // kMapping, insertion order
  std::vector<NodeMark> key_marks;                     // kMapping, parallel to `map`

  static NodePtr MakeNull(NodeMark mark = {});
  static NodePtr MakeScalar(std::string value, NodeMark mark = {});
  static NodePtr MakeSequence(NodeMark mark = {});
  static NodePtr MakeMapping(NodeMark mark = {});

  bool IsNull() const { return kind == Kind::kNull; }
  bool IsScalar() const { return kind == Kind::kScalar; }
  bool IsSequence() const { return kind == Kind::kSequence; }
  bool IsMapping() const { return kind == Kind::kMapping; }

  // Mapping access; nullptr / -1 when absent (or when this is not a mapping).
  NodePtr Get(std::string_view key) const;
  int IndexOf(std::string_view key) const;
  bool Has(std::string_view key) const { return IndexOf(key) >= 0; }
  // Provenance of the key itself (falls back to the node's own mark).
  Provenance KeyProvenance(std::string_view key) const;
  // Sets or replaces `key` (keeps its position when replacing).
  void Set(std::string key, NodePtr value, NodeMark key_mark = {});
  void Erase(std::string_view key);

  Provenance Where() const { return mark.ToProvenance(); }
  // Deep copy.
  NodePtr Clone() const;
};

// "mapping", "sequence", "scalar", "null": for error messages.
std::string_view KindName(Node::Kind kind);

// Typed accessors of mapping keys; wrong types are user errors with the
// key's provenance.
// Absent key: `fallback`, or a "missing required key" error when it is nullopt.
Result<std::string> GetString(const Node& map, std::string_view key,
                              std::optional<std::string> fallback);
// A sequence of scalars; absent -> empty.
Result<std::vector<std::string>> GetStringList(const Node& map, std::string_view key);
// A mapping or nullptr when absent; error when present with another type.
Result<NodePtr> GetMapping(const Node& map, std::string_view key);
// Accepts True/False/true/false/yes/no/1/0.
Result<bool> GetBool(const Node& map, std::string_view key, bool fallback);

// Fails with "unknown key 'x'" + did-you-mean when `map` has a key not in
// `allowed` (keys starting with '(' are directives and are checked elsewhere).
Status ValidateKeys(const Node& map, const std::vector<std::string_view>& allowed,
                    std::string_view context);

// Levenshtein distance, and the closest candidate within distance 2 (or
// half the word) or "".
int EditDistance(std::string_view a, std::string_view b);
std::string DidYouMean(std::string_view word, const std::vector<std::string_view>& candidates);

// Conversion to yaml-cpp for the public API (config, public data).
YAML::Node ToYaml(const Node& node);

// Canonical JSON: mapping keys sorted bytewise, no whitespace, strings escaped
// per RFC 8259, null as `null`; scalars are always strings. Used for cache keys.
void AppendCanonicalJson(const Node& node, std::string& out);
void AppendJsonString(std::string_view s, std::string& out);

}  // namespace crossfarm
