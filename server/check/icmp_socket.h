// The socket a ping check sends its echo on: an unprivileged ICMP datagram ("ping") socket
// where net.ipv4.ping_group_range admits the director's group, else a raw one (the director
// keeps CAP_NET_RAW: server/privileges.h).
#pragma once

#include <cstdint>
#include <optional>

#include "common/net_types.h"
#include "common/status.h"

namespace quorate::server::check {

struct IcmpSocket {
  int fd = -1;       // non-blocking, close-on-exec; the caller owns it
  bool raw = false;  // a raw socket: it receives every ICMP message for the host, and an IPv4
                     // one with the IP header in front
  // The echo identifier the kernel gives a ping socket's requests (its bound "port"); a raw
  // socket sends the caller's.
  std::optional<std::uint16_t> id;
};

// Opens an ICMP (ICMPv6 when `v6`) socket, bound to `bindTo` when set, connected to `to`: a
// ping socket if the kernel allows one, else a raw socket that passes only echo replies and
// unreachable errors. `allowPing` false goes straight to the raw one (a test's way to take it).
Result<IcmpSocket> openIcmpSocket(const net::IpAddress& to,
                                  const std::optional<net::IpAddress>& bindTo,
                                  bool allowPing = true);

}  // namespace quorate::server::check
