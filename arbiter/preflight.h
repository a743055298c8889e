// `quorate-arbiter --check`: the parsed configuration checked against this host (state
// directory, key and certificate files, listen address), and the command that prints them.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "arbiter/config.h"
#include "common/preflight.h"

namespace quorate::arbiter::preflight {

using quorate::preflight::Finding;

// state_dir exists or can be made, and takes a file.
Finding checkStateDir(const ArbiterConfig& c);

// Every cluster's key files (read again by the loader) and CA bundle; the arbiter's own
// certificate (quorate-arbiter://<name>) and key. `text` is the file's text.
std::vector<Finding> checkFiles(const ArbiterConfig& c, const std::string& text);

// `listen` can be bound.
Finding checkListen(const ArbiterConfig& c);

// All of the above, in that order.
std::vector<Finding> checkAll(const ArbiterConfig& c, const std::string& text);

// `quorate-arbiter --check --config path`: the file read and parsed (its errors, and a
// director's file, go to `err` with exit code 2), then every check printed to `out`; 0 when none
// failed, 1 otherwise.
int runCheck(const std::string& path, std::ostream& out, std::ostream& err);

}  // namespace quorate::arbiter::preflight
