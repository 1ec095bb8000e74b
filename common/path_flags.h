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

// True when `rel` leads outside `dir`: absolute, through "..", or resolving
// (any component a symlink, the last one too) to a place outside it, as bst
// 1.6's node_get_project_path refuses. What does not exist is resolved
// lexically. One check for the loader's keys and the source plugins (`local`,
// `patch` paths).
bool PathLeavesDir(const std::string& dir, const std::string& rel);

}  // namespace crossfarm
