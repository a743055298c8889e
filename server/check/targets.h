// What the checker is given to check: each real server's key and its checks with the address
// and port each connects to. The IPVS side maps its configuration to these
// (server/ipvs/check_targets.h), so the checks need no IPVS or kernel library.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include "common/net_types.h"
#include "server/check/spec.h"

namespace quorate::server::check {

// Names one checked real server: its virtual server's name and its address and port. Verdicts
// carry it back, and a reload keeps the state of a real server whose key stays.
struct ServerKey {
  std::string virtualServer;
  net::IpAddress address;
  std::uint16_t port = 0;
  auto operator<=>(const ServerKey&) const = default;
  // "198.18.0.21:80", "[2001:db8::1]:80": the notify programs' QUORATE_REAL_SERVER.
  std::string endpoint() const;
};

// One check and where it connects.
struct CheckTarget {
  CheckSpec spec;
  Target target;
  bool operator==(const CheckTarget&) const = default;
};

// Where `spec` connects for a real server at `address`:`port`: there, unless the check says
// otherwise (keepalived's connect_ip / connect_port), from its bind_to.
CheckTarget checkTarget(const CheckSpec& spec, const net::IpAddress& address, std::uint16_t port);

// One real server's checks, all of which must pass.
struct CheckedServer {
  ServerKey key;
  std::vector<CheckTarget> checks;
  bool alpha = false;  // starts down until its checks say otherwise
  // Programs run when it goes up / down (keepalived's notify_up / notify_down); empty: none.
  std::vector<std::string> notifyUp;
  std::vector<std::string> notifyDown;
};

}  // namespace quorate::server::check
