// The reconciler: the only writer of IPVS. Reads the kernel's table back, plans the difference
// to the desired table and applies it tolerantly; remembers which services it owns and which
// destinations are installed (seesaw's "alive" vs "installed": alive is the pool's business).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "server/ipvs/plan.h"
#include "server/kernel/ipvs.h"

namespace quorate::server::ipvs {

// Not thread-safe: call it from the one thread or strand that owns the data plane.
class Reconciler {
 public:
  struct Summary {
    std::size_t planned = 0, applied = 0, failed = 0;
    std::vector<std::string> errors;  // each failed op's Status message, in op order
  };
  // Totals since construction, for metrics and the status API.
  struct Counters {
    std::uint64_t syncs = 0;           // sync(), update() and withdraw() calls
    std::uint64_t opsApplied = 0;      // ops the kernel accepted
    std::uint64_t opsFailed = 0;       // ops the kernel refused
    std::uint64_t kernelFailures = 0;  // dump or apply that failed as a whole
    std::uint64_t reads = 0;           // full reads of the kernel's table
  };

  explicit Reconciler(kernel::ipvs::Ipvs& ipvs);

  // Reads the kernel's table, plans (see plan()) and applies tolerantly. Every desired key becomes
  // owned; an owned key no longer desired is deleted and disowned once its deletion succeeds (or
  // the kernel no longer has it). A destination is installed when its op succeeded or it already
  // matched; a failed one is not, and the next sync retries it. Fails as a whole (nothing
  // recorded but ownership of the desired keys) only when the dump or the transport fails.
  Result<Summary> sync(const std::vector<DesiredService>& desired);

  // Like sync(), but plans against the table as this reconciler last saw it (its last read plus
  // every op the kernel accepted since) instead of reading the kernel: the path for changes that
  // must be quick (a claim, a health verdict, a reload). Reads the kernel (sync) when it has no
  // such table: at first, and after any failure. Drift made behind its back is repaired by the
  // next sync(), which the owner runs periodically.
  Result<Summary> update(const std::vector<DesiredService>& desired);

  // Takes ownership of `keys` without touching the kernel: a later sync or withdraw deletes
  // them unless desired (the services a killed earlier run left behind).
  void adopt(const std::vector<kernel::ipvs::ServiceKey>& keys);

  // Deletes every owned service (on losing the lease), tolerantly and without reading the table
  // first. Disowns each service whose deletion succeeded; one whose deletion failed stays owned so
  // that calling withdraw() again retries it.
  Result<Summary> withdraw();

  // Whether the destination (address, port) of service `key` is in the kernel as desired.
  // O(log n) in the destinations of that service.
  bool installed(const kernel::ipvs::ServiceKey& key, const net::IpAddress& address,
                 std::uint16_t port) const;
  const std::set<kernel::ipvs::ServiceKey>& owned() const { return owned_; }
  // The message of the last failed op on service `key`; nullopt once a later sync found it clean
  // (its ops all succeeded, or it needed none) or it was disowned.
  std::optional<std::string> lastError(const kernel::ipvs::ServiceKey& key) const;
  const Counters& counters() const { return counters_; }
  // The kernel's table as last read (with its counters), plus the ops accepted since; null
  // when it must be read again.
  const Table* known() const { return known_ ? &*known_ : nullptr; }

 private:
  using Endpoint = std::pair<net::IpAddress, std::uint16_t>;

  // Applies `ops`; fills `summary` and returns one status per op, or the transport's failure.
  Result<std::vector<Status>> apply(const std::vector<kernel::ipvs::Op>& ops, Summary& summary);

  // Plans against known_ and applies; records ownership, installed state and known_. With
  // `incremental`, services whose desired state equals the one last reconciled cleanly are not
  // planned at all (a 1% change costs 1% of a full plan).
  Result<Summary> reconcile(const std::vector<DesiredService>& desired, bool incremental);
  // Brings known_ up to date with ops the kernel accepted (any failure forgets it).
  void learn(const std::vector<kernel::ipvs::Op>& ops, const std::vector<Status>& results);

  kernel::ipvs::Ipvs& ipvs_;
  // The kernel's table as last read, plus the ops it accepted since; unset: read it next time.
  std::optional<Table> known_;
  std::set<kernel::ipvs::ServiceKey> owned_;
  // The last desired table by position, and whether every op of each entry went through
  // then: an update skips an entry whose desired state is still the same (compared by
  // position when the services are the same as last time, else by key).
  std::vector<DesiredService> lastDesired_;
  std::vector<bool> lastClean_;
  bool ownedIsWanted_ = false;  // owned_ holds exactly the last desired keys
  // Per service, the installed endpoints in ascending order (installed() searches them).
  std::map<kernel::ipvs::ServiceKey, std::vector<Endpoint>> installed_;
  std::map<kernel::ipvs::ServiceKey, std::string> lastError_;
  Counters counters_;
};

}  // namespace quorate::server::ipvs
