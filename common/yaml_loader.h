// Parses YAML text into the loader's Node tree (common/node.h).
//
// yaml-cpp exceptions never escape: a syntax error becomes an InvalidArgument
// "file:line:col: invalid YAML: <what>" naming the place yaml-cpp stopped.
#pragma once

#include <string>
#include <string_view>

#include "common/node.h"
#include "common/status.h"

namespace crossfarm {

// `display_name` is what error messages and provenance show (a path relative
// to the project directory). An empty document yields an empty mapping.
Result<NodePtr> ParseYamlString(std::string_view text, const std::string& display_name);

// Reads and parses `path`. NotFound when the file does not exist.
Result<NodePtr> ParseYamlFile(const std::string& path, const std::string& display_name);

// Reads a whole file; NotFound / IOError naming the path.
Result<std::string> ReadFileToString(const std::string& path);

}  // namespace crossfarm
