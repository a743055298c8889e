// The planner: the smallest list of IPVS operations that turns the kernel's table into the
// desired one (keepalived's clear_diff_services, seesaw's configUpdate), as a pure function.
#pragma once

#include <map>
#include <set>
#include <vector>

#include "server/kernel/ipvs.h"

namespace quorate::server::ipvs {

// One virtual service as it should be in the kernel.
struct DesiredService {
  kernel::ipvs::Service service;
  std::vector<kernel::ipvs::Destination> destinations;
};

// The kernel's key for `k`: fields that do not identify a service of its kind cleared (a fwmark
// service has no protocol, address or port; an address service no mark), so keys built by hand
// and keys read back from the kernel compare equal.
kernel::ipvs::ServiceKey normalized(const kernel::ipvs::ServiceKey& k);

// The smallest list of ops that turns `actual` (as read back from the kernel) into `desired` for
// the services in `desired`, plus DeleteService for the `owned` keys no longer desired that
// `actual` still has. Services neither desired nor owned are never touched.
//
// Per desired service, in the order of `desired`: AddService (missing) or EditService (settings
// differ, Service::sameSettings); then its destinations, keyed by (address, port): deletes
// (extra), edits (Destination::sameSettings differs), adds (missing), so that a shift of weights
// or thresholds never over-commits. The DeleteService ops come last, one per service (the kernel
// drops its destinations). Destination ops carry the service's key only. A key given twice in
// `desired` counts once (the first). O(n log n) in services plus destinations.
std::vector<kernel::ipvs::Op> plan(const std::vector<DesiredService>& desired,
                                   const std::vector<kernel::ipvs::ServiceState>& actual,
                                   const std::set<kernel::ipvs::ServiceKey>& owned);

// The kernel's table by normalized key, as the reconciler keeps its record of it.
using Table = std::map<kernel::ipvs::ServiceKey, kernel::ipvs::ServiceState>;

// The same plan against a table already indexed by key: no work for services not in `desired`
// (beyond the deletions of `owned` keys), so planning a few changed services is cheap.
std::vector<kernel::ipvs::Op> planAgainst(const std::vector<const DesiredService*>& desired,
                                          const Table& actual,
                                          const std::set<kernel::ipvs::ServiceKey>& owned);

}  // namespace quorate::server::ipvs
