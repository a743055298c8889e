// quoratectl ipvs: the kernel's IPVS table as text (ipvsadm -Ln --stats --exact, one table) and
// as JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "quorate/v1/quorate.pb.h"

namespace quorate::client {

// Service rows ("TCP  198.18.0.10:80 wlc", "FWM  5 wlc", "UDP  [2001:db8::10]:53 rr"
// "persistent 300", then "(web)" when it is a configured virtual server) each followed by its
// real servers ("  -> 198.18.0.21:80"). Columns: forwarding, weight, active and inactive
// connections, then with `rates` false the counters CONNS INPKTS OUTPKTS INBYTES OUTBYTES and
// CPS, with `rates` true CONNS CPS INPPS OUTPPS INBPS OUTBPS. Numbers exact and right-aligned;
// ends with a newline. An empty table says so.
std::string formatIpvsTable(const quorate::v1::IpvsTableReply& reply, bool rates);

// {"services": [{"protocol": "tcp" | null, "address": ... | null, "port": ... | null,
// "fwmark": N | null, "family": "ipv4" | "ipv6", "scheduler", "persistence_s", "virtual_server":
// NAME | null, "stats": {...}, "real_servers": [{"address", "port", "forward", "weight",
// "active_connections", "inactive_connections", "stats": {...}}]}]}; stats: connections,
// in_packets, out_packets, in_bytes, out_bytes, cps, in_pps, out_pps, in_bps, out_bps.
nlohmann::json ipvsTableToJson(const quorate::v1::IpvsTableReply& reply);

}  // namespace quorate::client
