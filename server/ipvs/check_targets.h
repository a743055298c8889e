// The IPVS configuration's real servers as the health checker takes them: the one place that
// knows both, so the checks link no IPVS or kernel library.
#pragma once

#include <vector>

#include "server/check/targets.h"
#include "server/ipvs/config.h"

namespace quorate::server::ipvs {

// Every real server of every virtual server (of a group: once, not once per member), in the
// configuration's order, keyed by its virtual
// server's name and its destination, each check aimed at its connect_ip / connect_port or the
// destination.
std::vector<check::CheckedServer> checkedServers(const IpvsConfig& config);

}  // namespace quorate::server::ipvs
