// IPVS values: names, comparisons and text.
#include "server/kernel/ipvs.h"

#include <sys/socket.h>

#include <string>

namespace quorate::kernel::ipvs {

std::string toString(Protocol p) {
  switch (p) {
    case Protocol::Tcp:
      return "tcp";
    case Protocol::Udp:
      return "udp";
    case Protocol::Sctp:
      return "sctp";
  }
  return "proto" + std::to_string(static_cast<int>(p));
}

std::optional<Protocol> parseProtocol(std::string_view text) {
  if (text == "tcp") return Protocol::Tcp;
  if (text == "udp") return Protocol::Udp;
  if (text == "sctp") return Protocol::Sctp;
  return std::nullopt;
}

std::string toString(Forward f) {
  switch (f) {
    case Forward::Nat:
      return "nat";
    case Forward::Local:
      return "local";
    case Forward::Tunnel:
      return "tun";
    case Forward::Direct:
      return "dr";
    case Forward::Bypass:
      return "bypass";
  }
  return "fwd" + std::to_string(static_cast<int>(f));
}

std::optional<Forward> parseForward(std::string_view text) {
  if (text == "dr" || text == "direct") return Forward::Direct;
  if (text == "nat" || text == "masq") return Forward::Nat;
  if (text == "tun" || text == "tunnel") return Forward::Tunnel;
  return std::nullopt;
}

ServiceKey ServiceKey::inet(Protocol protocol, net::IpAddress address, std::uint16_t port) {
  ServiceKey k;
  k.family = address.family;
  k.protocol = protocol;
  k.address = address;
  k.port = port;
  return k;
}

ServiceKey ServiceKey::mark(int family, std::uint32_t fwmark) {
  ServiceKey k;
  k.family = family;
  k.protocol = Protocol::Tcp;
  k.fwmark = fwmark;
  return k;
}

namespace {

std::string endpointText(const net::IpAddress& a, std::uint16_t port) {
  return (a.isV6() ? "[" + a.toString() + "]" : a.toString()) + ":" + std::to_string(port);
}

}  // namespace

std::string ServiceKey::toString() const {
  if (isFwmark()) {
    return "fwmark " + std::to_string(fwmark) + (family == AF_INET6 ? " ipv6" : " ipv4");
  }
  return ipvs::toString(protocol) + " " + endpointText(address, port);
}

bool Service::sameSettings(const Service& o) const {
  return scheduler == o.scheduler && (flags & flag::kUserMask) == (o.flags & flag::kUserMask) &&
         timeout == o.timeout && netmask == o.netmask && persistenceEngine == o.persistenceEngine;
}

std::string Service::toString() const {
  std::string s = key.toString() + " " + scheduler;
  if (flags & flag::kPersistent) s += " persistent " + std::to_string(timeout) + "s";
  if (flags & flag::kOnePacket) s += " ops";
  if (flags & (flag::kSched1 | flag::kSched2 | flag::kSched3)) {
    s += " sched-flags " + std::to_string((flags >> 3) & 7);
  }
  if (!persistenceEngine.empty()) s += " pe " + persistenceEngine;
  return s;
}

bool Destination::sameSettings(const Destination& o) const {
  if (forward != o.forward || weight != o.weight || upperThreshold != o.upperThreshold ||
      lowerThreshold != o.lowerThreshold) {
    return false;
  }
  if (forward != Forward::Tunnel) return true;
  return tunnelType == o.tunnelType && tunnelFlags == o.tunnelFlags &&
         (tunnelType != TunnelType::Gue || tunnelPort == o.tunnelPort);
}

std::string Destination::endpoint() const { return endpointText(address, port); }

std::string Destination::toString() const {
  std::string s = endpoint() + " " + ipvs::toString(forward) + " weight " + std::to_string(weight);
  if (upperThreshold || lowerThreshold) {
    s += " thresholds " + std::to_string(lowerThreshold) + ".." + std::to_string(upperThreshold);
  }
  return s;
}

std::string Op::toString() const {
  switch (kind) {
    case Kind::AddService:
      return "add service " + service.toString();
    case Kind::EditService:
      return "edit service " + service.toString();
    case Kind::DeleteService:
      return "delete service " + service.key.toString();
    case Kind::AddDestination:
      return "add " + destination.toString() + " to " + service.key.toString();
    case Kind::EditDestination:
      return "edit " + destination.toString() + " in " + service.key.toString();
    case Kind::DeleteDestination:
      return "delete " + destination.endpoint() + " from " + service.key.toString();
  }
  return "unknown op";
}

}  // namespace quorate::kernel::ipvs
