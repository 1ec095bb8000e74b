// From a loaded Element to a JobSpec (common/job_spec.h): kinds become job
// kinds and command phases, dependencies become staged artifact digests.
#pragma once

#include <functional>
#include <optional>

#include "common/element.h"
#include "common/job_spec.h"
#include "common/project.h"

namespace crossfarm::client {

// UserError (file:line, naming the plugin) for the first element or source of
// `plan` whose kind comes from a declared plugin crossfarm cannot run: such
// kinds load as opaque for `show` (Element::opaque_plugin), never build.
Status CheckRunnable(const std::vector<Element*>& plan);

// The CAS ref under which an element's artifact is stored.
std::string ArtifactRef(const Element& e);

// Finds the artifact root of an already built element (nullopt: not built).
using ArtifactLookup = std::function<std::optional<Digest>(const Element&)>;

// Builds the spec of `e`. `sources_root` is the CAS tree of its staged sources
// (nullopt for elements without sources). InvalidArgument (with the element's
// file:line) for configurations crossfarm cannot run, e.g. a filter with two
// build dependencies; FailedPrecondition if a dependency is not built yet.
Result<JobSpec> MakeJobSpec(const Element& e, std::optional<Digest> sources_root,
                            const ArtifactLookup& artifacts);

// The elements staged for building `e`: its build dependencies and their
// runtime closure, dependencies first (bst's Scope.BUILD).
std::vector<Element*> StagingSet(const Element& e);

// What the job of `e` waits for: its staging set and its accelerator.
std::vector<Element*> JobDependencies(const Element& e);

// Everything `build` runs for `targets`: the accelerators the plan uses (with
// their dependencies) first, then Plan(targets, Scope::kAll). Each once.
std::vector<Element*> BuildPlan(const Project& project, const std::vector<Element*>& targets);

}  // namespace crossfarm::client
