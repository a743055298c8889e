// What a SIGHUP changes in a running arbiter: the difference between two configurations, per
// cluster, and what cannot change without a restart. Pure: no files, no clocks, no locks.
#pragma once

#include <string>
#include <vector>

#include "arbiter/config.h"

namespace quorate::arbiter {

struct ReloadPlan {
  // Non-empty: the whole new file is refused, for these reasons; nothing else below applies.
  std::vector<std::string> refused;
  std::vector<ClusterEntry> added;    // start serving (their state loaded from state_dir)
  std::vector<std::string> removed;   // stop serving (their state files stay on disk)
  std::vector<ClusterEntry> rotated;  // same id, other secrets or CA bundle path
  bool logLevelChanged = false;
  std::string logLevel;  // the new one when logLevelChanged

  bool ok() const { return refused.empty(); }
  bool changesNothing() const {
    return ok() && added.empty() && removed.empty() && rotated.empty() && !logLevelChanged;
  }
};

// The plan that turns `running` into `next` (both parsed and checked by parseArbiterConfig).
// Refused, with one reason each: another listen address, state_dir or quarantine, TLS turned on
// or off or given another certificate or key path (the listener's credentials are fixed at
// start; the files themselves may be replaced in place), another operator socket or group.
ReloadPlan planReload(const ArbiterConfig& running, const ArbiterConfig& next);

// One line for the log: "2 clusters added (b, c), 1 removed (a), 1 rotated (d), log level debug".
std::string describe(const ReloadPlan& plan);

}  // namespace quorate::arbiter
