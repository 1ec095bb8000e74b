// `crossfarm setup binfmt`: registers qemu-user-static's binfmt_misc handlers
// (with flag F, so they work inside bubblewrap) for the archs this host cannot
// run natively. Idempotent; needs root.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "client/commands.h"
#include "worker/binfmt.h"

namespace crossfarm::client {
namespace {

int RunSetupBinfmt() {
  if (Status s = worker::SetupBinfmt(); !s.ok()) return ReportError(s);
  for (const ArchInfo* arch : worker::ForeignArchs()) {
    auto state = worker::ProbeBinfmt(*arch);
    bool usable = state && state->usable();
    std::printf("%-8s %s\n", std::string(arch->name).c_str(),
                usable ? "emulated (qemu-user, binfmt_misc)" : "not runnable");
  }
  return kExitOk;
}

}  // namespace

Action AddSetupCommand(CLI::App& app, const GlobalOptions&) {
  auto* cmd = app.add_subcommand("setup", "Prepare this machine (binfmt_misc handlers)");
  cmd->require_subcommand(1);
  cmd->add_subcommand("binfmt", "Register qemu-user handlers for foreign archs (as root)");
  return [] { return RunSetupBinfmt(); };
}

}  // namespace crossfarm::client
