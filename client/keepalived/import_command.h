// quoratectl import-keepalived FILE: the subcommand's options and what it does.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <ostream>
#include <string>

namespace quorate::keepalived {

struct ImportCommandOptions {
  std::string file;     // keepalived.conf
  std::string outDir;   // empty: the director file to stdout, the report to stderr
  std::string cluster;  // empty: router_id, else "keepalived"
  std::string node = "alpha";
  std::string peer = "beta";
  std::string secretFile;  // empty: /etc/quorate/<cluster>.secret
  std::string configId;    // keepalived -i: which "@ID" lines apply
  bool force = false;      // overwrite files in outDir
};

// Declares `import-keepalived` on `app`; `selected` runs when the command line picks it.
void addImportCommand(CLI::App& app, ImportCommandOptions& options, std::function<void()> selected);

// Reads, converts and writes. With outDir: <node>.yaml, <peer>.yaml, arbiter.yaml and
// import-report.txt there (existing files are kept unless force), the report on `out`.
// Exit status: 0 converted (whatever the report says), 1 the file could not be read or parsed
// ("FILE:LINE: what" on `err`) or a file could not be written, 2 bad options.
int runImportCommand(const ImportCommandOptions& options, std::ostream& out, std::ostream& err);

}  // namespace quorate::keepalived
