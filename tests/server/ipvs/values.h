// Short constructors of IPVS values for the tests of server/ipvs.
#pragma once

#include <cstdint>
#include <string>

#include "server/ipvs/config.h"
#include "server/kernel/ipvs.h"

namespace quorate::server::ipvs::testing {

inline net::IpAddress ip(const std::string& s) { return *net::IpAddress::parse(s); }

// A TCP service at address:port (scheduler wlc).
inline kernel::ipvs::Service service(const std::string& address, std::uint16_t port = 80) {
  kernel::ipvs::Service s;
  s.key = kernel::ipvs::ServiceKey::inet(kernel::ipvs::Protocol::Tcp, ip(address), port);
  return s;
}

// A direct-routing real server at address:80.
inline kernel::ipvs::Destination dest(const std::string& address, int weight = 1) {
  kernel::ipvs::Destination d;
  d.address = ip(address);
  d.port = 80;
  d.weight = weight;
  return d;
}

// A real server at `d`, unchecked, quiescent if `inhibit`.
inline RealServerConfig realServer(const kernel::ipvs::Destination& d, bool inhibit = false) {
  RealServerConfig rs;
  rs.dest = d;
  rs.inhibitOnFailure = inhibit;
  return rs;
}

}  // namespace quorate::server::ipvs::testing
