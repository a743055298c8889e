// keepalived.conf (as parsed) to quorate: the two directors' files, the arbiter's part with
// placeholders, and a report of every keyword that was not mapped, with its file and line.
#pragma once

#include <string>
#include <vector>

#include "client/keepalived/parser.h"

namespace quorate::keepalived {

struct ImportOptions {
  std::string cluster;         // empty: global_defs' router_id, else "keepalived"
  std::string node = "alpha";  // the director this keepalived.conf belongs to
  std::string peer = "beta";   // the other director
  std::string secretFile;      // empty: /etc/quorate/<cluster>.secret
  std::string stateDir = "/var/lib/quorate";
  std::string arbiterStateDir = "/var/lib/quorate-arbiter";
  std::string source;  // the keepalived.conf's name, for the files' first comment
};

// One line of the report.
struct Finding {
  enum class Kind {
    kUnknown,      // not a keepalived keyword where it stands (a typo, or a newer keyword)
    kUnsupported,  // keepalived's, with no quorate equivalent (yet): dropped
    kChanged,      // mapped, but quorate behaves differently
    kPlaceholder,  // a value keepalived does not have: fill it in
    kInvalid,      // a keepalived keyword with a value that cannot be used: dropped
  };
  Kind kind = Kind::kUnsupported;
  Location where;
  std::string keyword;
  std::string why;
};

const char* kindName(Finding::Kind kind);

struct Imported {
  std::string cluster;
  std::string directorYaml;  // for options.node
  std::string peerYaml;      // for options.peer: the same but for node and listen
  std::string arbiterYaml;
  std::vector<Finding> report;
  // What was converted, for the summary line.
  int instances = 0;
  int syncGroups = 0;
  int virtualServers = 0;
  int realServers = 0;
  int checks = 0;
  int trackScripts = 0;
};

// Never throws for any tree the parser makes; what cannot be converted is in `report`.
Imported convert(const Config& config, const ImportOptions& options);

// The report as text: a summary line, then "FILE:LINE: KIND: KEYWORD: why" per finding in file
// order.
std::string formatReport(const Imported& imported);

}  // namespace quorate::keepalived
