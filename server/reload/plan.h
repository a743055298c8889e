// What a reload of the director's configuration would change, and what it must refuse: a pure
// comparison of the running file with the new one, with no daemon and no kernel.
#pragma once

#include <string>
#include <vector>

#include "server/config.h"

namespace quorate::server::reload {

// The parts of a reload this version applies; everything else that differs is refused.
struct ReloadPlan {
  // Why the file cannot be taken, one reason per changed key. Not empty: nothing is applied.
  std::vector<std::string> refused;
  // What would change, one line each, for the log and `quoratectl reload`.
  std::vector<std::string> changes;
  bool logLevel = false;      // spdlog's level
  bool trackScripts = false;  // `track_scripts:` (unchanged ones keep their state)
  bool hooks = false;         // top-level or per-lease `hooks:` (same leases, same order)
  bool announce = false;      // `announce:`, top-level or per lease (read at each burst)
  // A lease's own track_interfaces (same set of watched links), track_scripts or track_files.
  bool leaseTracks = false;
  // `virtual_servers:` / `ipvs:` and the health checks: set whenever the director has virtual
  // servers, changed or not (the table is compared again, the checks re-read their files);
  // `changes` names them only when they changed.
  bool virtualServers = false;

  // Leases (indices into the new file's leases) whose instances' VIPs change: added, removed or
  // reordered, the lease itself (name, instances) unchanged. The daemon finds a lease by its
  // name: a lease's position in the file may move when another is added or removed.
  std::vector<std::size_t> vipLeases;
  // Leases the new file adds (indices into its leases), each with instances that are all new:
  // it starts from its durable state (found by name) and campaigns only after the start-up
  // quarantine. Leases it removes (names), each with every instance of theirs: a holder steps
  // down and its VIPs go dark behind the fence before the lease is forgotten.
  std::vector<std::size_t> addedLeases;
  std::vector<std::string> removedLeases;

  bool accepted() const { return refused.empty(); }
  // Nothing to apply at all (not even the virtual servers to compare again).
  bool empty() const {
    return !logLevel && !trackScripts && !hooks && !announce && !leaseTracks && !virtualServers &&
           vipLeases.empty() && addedLeases.empty() && removedLeases.empty();
  }
  // One line: "refused: a; b" or "applied: x; y" or "no change".
  std::string summary() const;
};

// Compares `running` (parsed from `runningText`) with `next` (parsed from `nextText`). The texts
// let a top-level key this planner does not know about be refused when it differs, rather than
// silently ignored: a key added to the file format later is never half-applied. Both texts must
// have passed parseDirectorConfig, whose limits also bound what comparing them costs (aliases).
ReloadPlan planReload(const DirectorConfig& running, const std::string& runningText,
                      const DirectorConfig& next, const std::string& nextText);

}  // namespace quorate::server::reload
