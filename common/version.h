// The version every binary prints for --version (the project() version in the
// top-level CMakeLists.txt, written into a generated version.cc at configure
// time so a version change recompiles one file).
#pragma once

#include <string>

namespace crossfarm {

// "0.1.0"
const char* Version();
// "<program> 0.1.0" plus the formats it speaks, for --version output.
std::string VersionText(const std::string& program);

}  // namespace crossfarm
