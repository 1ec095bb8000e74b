// What `show` and `build` say about each element of a plan: its state (like
// bst's: "no reference", "cached", "buildable", "waiting"), the arch of its
// sandbox and whether that sandbox runs natively or emulated on this host.
#pragma once

#include <string>
#include <vector>

#include "client/command.h"

namespace crossfarm {
class Project;
struct Element;
}  // namespace crossfarm
namespace crossfarm::cas {
class Cas;
}  // namespace crossfarm::cas

namespace crossfarm::client {

struct ElementView {
  const Element* element = nullptr;
  std::string state;    // no reference | cached | buildable | waiting
  std::string arch;     // sandbox arch, canonical name
  std::string sandbox;  // native | emulated
  std::string accel;    // how an emulated build is accelerated, or why not ("" = no accelerator)
};

// `show`'s %{accel}: "distcc+host-tools via accel/cross.bst" (with the
// worker's compiler probe once a build ran here), "unused: native sandbox
// (...)", the reason there is none, or "" when nothing is declared.
std::string AccelText(const Element& e, bool emulated, cas::Cas* cas);

// `plan` is in dependency order; cached-ness comes from the embedded cache.
std::vector<ElementView> ComputeStates(const Project& project, const std::vector<Element*>& plan,
                                       const GlobalOptions& g);

}  // namespace crossfarm::client
