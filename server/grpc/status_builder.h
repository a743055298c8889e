// The operator API's StatusReply made of the lease host's domain snapshot: a pure function.
#pragma once

#include <optional>

#include "quorate/v1/quorate.pb.h"
#include "server/lease_host.h"

namespace quorate::server {

// The summary fields repeat the first lease; a node's role is "arbiter", ours, "holder" (the
// first lease's holder), or else "standby" when reachable and "unknown" when not.
v1::StatusReply buildStatusReply(const HostSnapshot& s);

// The daemon's parts beside the lease host, each absent when off. Copies of their counters.
struct PartCounters {
  std::optional<v1::HookCounters> hooks;
  std::optional<v1::EventLogCounters> eventLog;
  std::optional<v1::WatchdogCounters> watchdog;
};
v1::StatusReply buildStatusReply(const HostSnapshot& s, const PartCounters& parts);

}  // namespace quorate::server
