#include "common/provenance.h"

namespace crossfarm {

std::string Provenance::ToString() const {
  std::string out = file.empty() ? "<command line>" : file;
  if (line > 0) {
    out += ":" + std::to_string(line);
    if (column > 0) out += ":" + std::to_string(column);
  }
  return out;
}

Status UserError(const Provenance& where, std::string_view what, std::string_view fix) {
  std::string msg = where.ToString() + ": " + std::string(what);
  if (!fix.empty()) msg += "\n  hint: " + std::string(fix);
  return Status::InvalidArgument(std::move(msg));
}

}  // namespace crossfarm
