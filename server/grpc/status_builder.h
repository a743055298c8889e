// The operator API's StatusReply made of the lease host's domain snapshot: a pure function.
#pragma once

#include "quorate/v1/quorate.pb.h"
#include "server/lease_host.h"

namespace quorate::server {

// The summary fields repeat the first lease; a node's role is "arbiter", ours, "holder" (the
// first lease's holder), or else "standby" when reachable and "unknown" when not.
v1::StatusReply buildStatusReply(const HostSnapshot& s);

}  // namespace quorate::server
