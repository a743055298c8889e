// quoratectl completion bash: a bash completion script made from the command line's own
// definition, so that it never lists an option the program lacks.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace quorate::client {

// The script: defines _quoratectl and registers it (complete -F _quoratectl quoratectl). It
// completes subcommands (nested ones too), each level's options and the global ones (which may
// follow a subcommand), and file names after options that take a file.
std::string bashCompletion(const CLI::App& app);

}  // namespace quorate::client
