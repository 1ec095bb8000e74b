#include "common/job_spec.h"

namespace crossfarm {

const char* JobKindName(JobKind k) {
  switch (k) {
    case JobKind::kSandbox: return "sandbox";
    case JobKind::kImport: return "import";
    case JobKind::kCompose: return "compose";
    case JobKind::kFilter: return "filter";
    case JobKind::kStack: return "stack";
    case JobKind::kCollect: return "collect";
  }
  return "?";
}

}  // namespace crossfarm
