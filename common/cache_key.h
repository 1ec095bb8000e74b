// Element cache keys (format: docs/cache-keys.md, version kCacheKeyVersion).
//
// key = SHA-256 hex of a canonical JSON object (sorted keys, no whitespace)
// holding everything that can change an element's output: kind, resolved
// config, variables (minus max-jobs), environment (minus environment-nocache),
// sources (config minus `track`, with their ref / content digest), sandbox
// build-arch, public data and the keys of direct build and runtime deps. It is
// independent of the project directory, YAML key order and the machine.
#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

#include "common/element.h"

namespace crossfarm {

inline constexpr int kCacheKeyVersion = 1;

// Canonical JSON of a yaml-cpp tree (scalars as strings, keys sorted).
void AppendCanonicalJson(const YAML::Node& node, std::string& out);

// The canonical text hashed into the key (for `show --key-input` and tests);
// nullopt when the element cannot have a key: a source without a ref, or a
// dependency without a key. Dependencies must have been keyed first.
std::optional<std::string> CacheKeyInput(const Element& e);

// Sets e.cache_key = SHA-256 hex of CacheKeyInput(e), or nullopt.
void ComputeCacheKey(Element& e);

}  // namespace crossfarm
