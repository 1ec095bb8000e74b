// Path flags of the daemons (crossfarm-worker, crossfarm-cas,
// crossfarm-scheduler) made absolute once, at start.
//
// A daemon is given paths relative to the directory it was started in
// (`--cache w1`), but some of them reach code that needs an absolute path: a
// bwrap bind mount source must be one, and a relative --cache failed every job
// (issue 20). Resolving them all in main(), before anything else, makes every
// path in the daemon absolute and independent of a later change of the cwd.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

namespace crossfarm {

// `path` made absolute against the current working directory and lexically
// normalised without a trailing slash ("./a/../b/" -> "<cwd>/b"); an absolute
// path is only normalised.
// "" stays "" (an optional flag that was not given). FailedPrecondition naming
// `flag` when the cwd cannot be read (e.g. it was deleted).
Result<std::string> AbsolutePathFlag(std::string_view flag, const std::string& path);

// AbsolutePathFlag applied in place to each {flag name, flag value}; stops at
// the first error.
Status MakePathFlagsAbsolute(std::initializer_list<std::pair<std::string_view, std::string*>> flags);

}  // namespace crossfarm
