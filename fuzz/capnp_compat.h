// Forced into proto/'s sources in the fuzz (clang) build only. Cap'n Proto 0.9's
// blob.h compares `const char*` with kj::StringPtr relying on C++20's reversed
// operator==, which clang >= 16 no longer considers there (P2468R2: StringPtr
// also declares operator!=); kj drops its own free operators in C++20 mode.
// These are those free operators back. g++ 12 (the normal build) needs none.
#pragma once

#include <kj/string.h>

namespace kj {
inline bool operator==(const char* a, const StringPtr& b) { return b == StringPtr(a); }
inline bool operator!=(const char* a, const StringPtr& b) { return !(b == StringPtr(a)); }
}  // namespace kj
