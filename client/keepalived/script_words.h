// keepalived's script lines ("/usr/bin/check arg 'two words'") as argv, and whether a line needs
// a shell (pipes, redirections, variables), which keepalived 2 does not run its scripts under.
#pragma once

#include <string>
#include <vector>

namespace quorate::keepalived {

// Splits at blanks; single or double quotes group words and are removed.
std::vector<std::string> splitScriptLine(const std::string& line);

// True when the line uses shell syntax outside single quotes: | & ; < > ` $
bool isShellLine(const std::string& line);

}  // namespace quorate::keepalived
