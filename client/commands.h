// The table of subcommands (one Add*Command per client/*_command.cc) and the
// helpers every command shares.
#pragma once

#include <array>
#include <memory>
#include <string>

#include "client/command.h"
#include "common/status.h"

namespace crossfarm {
class Project;
}

namespace crossfarm::client {

Action AddShowCommand(CLI::App& app, const GlobalOptions& g);
Action AddCasCommand(CLI::App& app, const GlobalOptions& g);
Action AddKeygenCommand(CLI::App& app, const GlobalOptions& g);
Action AddBuildCommand(CLI::App& app, const GlobalOptions& g);
Action AddCheckoutCommand(CLI::App& app, const GlobalOptions& g);
Action AddLogCommand(CLI::App& app, const GlobalOptions& g);
Action AddArtifactCommand(CLI::App& app, const GlobalOptions& g);
Action AddSourceCommand(CLI::App& app, const GlobalOptions& g);
Action AddShellCommand(CLI::App& app, const GlobalOptions& g);
Action AddStatusCommand(CLI::App& app, const GlobalOptions& g);
Action AddSetupCommand(CLI::App& app, const GlobalOptions& g);
Action AddWorkspaceCommand(CLI::App& app, const GlobalOptions& g);

inline constexpr std::array kCommands = {
    &AddShowCommand,   &AddBuildCommand, &AddCheckoutCommand, &AddLogCommand, &AddArtifactCommand,
    &AddSourceCommand, &AddShellCommand, &AddCasCommand,      &AddKeygenCommand,
    &AddSetupCommand,  &AddStatusCommand, &AddWorkspaceCommand,
};

// Reads ~/.config/crossfarm/config.yaml (or $XDG_CONFIG_HOME) into `g` as
// defaults that command-line options override. Missing file: nothing happens.
void LoadUserConfig(GlobalOptions& g);

// The directory holding project.conf: `directory` or its nearest parent that
// has one (as bst finds it); `directory` itself when none has.
std::string FindProjectDir(const std::string& directory);

// Whether loaded elements with an open workspace use it (common/workspaces.h):
// every command but `workspace` itself, which works on the sources.
enum class WorkspaceUse { kUse, kIgnore };

// Loads project.conf from g.directory (or a parent) with the arch and -o options of `g`.
Result<std::unique_ptr<Project>> LoadProject(const GlobalOptions& g,
                                             WorkspaceUse use = WorkspaceUse::kUse);

// "crossfarm <the project, arch, option and cache flags of g> <rest>": hints
// that name a command keep the options the user gave.
std::string CommandFor(const GlobalOptions& g, const std::string& rest);

// `--arch a,b,c` as one GlobalOptions per arch (a single entry otherwise).
std::vector<GlobalOptions> PerArch(const GlobalOptions& g);

// Maps an error to an exit code after printing it: bad input 2, otherwise 1.
int ReportError(const Status& s);

}  // namespace crossfarm::client
