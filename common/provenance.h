// Where a value came from, for user-facing errors: "file:line:column".
#pragma once

#include <string>

#include "common/status.h"

namespace crossfarm {

struct Provenance {
  std::string file;  // path as the user would write it (relative to project root)
  int line = 0;      // 1-based; 0 = unknown
  int column = 0;    // 1-based; 0 = unknown

  std::string ToString() const;  // "file:line:col", "file:line" or "file"
};

// A bad-input error: "<where>: <what>\n  hint: <fix>" with code InvalidArgument.
Status UserError(const Provenance& where, std::string_view what, std::string_view fix = {});

}  // namespace crossfarm
