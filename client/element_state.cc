#include "client/element_state.h"

#include <unordered_map>

#include <cstdio>
#include <filesystem>

#include "cas/cas.h"
#include "client/job_builder.h"
#include "client/local_build.h"
#include "common/accel.h"
#include "common/arch.h"
#include "common/project.h"

namespace crossfarm::client {

namespace {

// The sandbox arch known before staging: `sandbox: build-arch` or the project's
// build arch. (Staged ELF detection refines it at build time.)
const ArchInfo* SandboxArch(const Project& project, const Element& e) {
  if (!e.sandbox_build_arch.empty()) {
    if (auto a = LookupArch(e.sandbox_build_arch)) return *a;
  }
  return project.arch().build;
}

}  // namespace

std::string AccelText(const Element& e, bool emulated, cas::Cas* cas) {
  if (!e.accel_note.empty()) return e.accel_note;
  if (!e.accelerator) return "";
  std::string text = e.accel + " via " + e.accelerator->name;
  if (!emulated) return "unused: native sandbox (" + text + ")";
  // The worker's compiler probe, once one has run here, and why the last
  // build ran unaccelerated if it did (docs/acceleration.md).
  if (cas)
    if (auto ref = cas->GetRef(AccelProbeRef(e.cache_key.value_or(""))))
      if (auto blob = cas->Get(ref->root)) {
        AccelRunNote note = DecodeAccelRunNote(*blob);
        if (!note.probe.empty()) text += "; probe: " + note.probe;
        // A probe that found a difference is the reason itself: not twice.
        if (!note.unaccelerated.empty())
          text += note.unaccelerated == note.probe ? "; ran unaccelerated (the probe's finding)"
                                                   : "; ran unaccelerated: " + note.unaccelerated;
      }
  return text;
}

std::vector<ElementView> ComputeStates(const Project& project, const std::vector<Element*>& plan,
                                       const GlobalOptions& g) {
  // Cached-ness comes from the embedded cache; no cache dir means nothing is.
  std::unique_ptr<cas::Cas> cas;
  CacheLayout layout(g);
  std::error_code ec;
  // A cache that exists but cannot be read gives "unknown", never a state
  // that was not read (it said "buildable" while a build held the cache).
  bool unreadable = false;
  if (std::filesystem::exists(layout.cas + "/db", ec)) {
    if (auto opened = OpenCache(layout)) {
      cas = std::move(*opened);
    } else {
      unreadable = true;
      std::fprintf(stderr, "crossfarm: warning: states unknown: %s\n", opened.error().ToString().c_str());
    }
  }
  std::unordered_map<const Element*, std::string> states;
  std::vector<ElementView> out;
  out.reserve(plan.size());
  for (const Element* e : plan) {
    ElementView v;
    v.element = e;
    const ArchInfo* arch = SandboxArch(project, *e);
    v.arch = std::string(arch->name);
    v.sandbox = RunsNatively(HostArch(), *arch) ? "native" : "emulated";
    v.accel = AccelText(*e, v.sandbox == "emulated", cas.get());
    // Only a ref the store said it lacks makes an element buildable: any
    // other answer (the store stopped mid-way) is "unknown".
    auto ref = cas && e->cache_key && !unreadable ? cas->GetRef(ArtifactRef(*e))
                                                  : Result<proto::RefInfo>(Err(Status::NotFound("")));
    if (!ref && !ref.error().IsNotFound()) {
      std::fprintf(stderr, "crossfarm: warning: state of %s unknown: %s\n", e->name.c_str(),
                   ref.error().ToString().c_str());
    }
    if (!e->cache_key) {
      v.state = "no reference";
    } else if (unreadable || (!ref && !ref.error().IsNotFound())) {
      v.state = "unknown";
    } else if (ref) {
      v.state = "cached";
    } else {
      v.state = "buildable";
      for (const Element* d : e->BuildDeps()) {
        auto it = states.find(d);
        if (it == states.end() || it->second != "cached") v.state = "waiting";
      }
    }
    states[e] = v.state;
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace crossfarm::client
