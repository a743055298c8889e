// IPVS (the kernel's layer-4 load balancer) as values, and the interface through which the
// director programs it. The only implementation that touches the kernel is generic netlink
// (netlink_ipvs.cc, family "IPVS"); messages are built and parsed by ipvs_messages.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/net_types.h"
#include "common/status.h"

namespace quorate::kernel::ipvs {

// IPPROTO_* numbers as the kernel keys services by them.
enum class Protocol : std::uint16_t { Tcp = 6, Udp = 17, Sctp = 132 };
std::string toString(Protocol p);  // "tcp", "udp", "sctp"
std::optional<Protocol> parseProtocol(std::string_view text);

// A virtual service is identified either by protocol + address + port or by a firewall mark
// (with an address family). Exactly the kernel's lookup key.
struct ServiceKey {
  int family = 0;  // AF_INET / AF_INET6
  Protocol protocol = Protocol::Tcp;
  net::IpAddress address;  // unset for fwmark services
  std::uint16_t port = 0;  // host order
  std::uint32_t fwmark = 0;

  static ServiceKey inet(Protocol protocol, net::IpAddress address, std::uint16_t port);
  static ServiceKey mark(int family, std::uint32_t fwmark);
  bool isFwmark() const { return fwmark != 0; }
  std::string toString() const;  // "tcp 198.18.0.10:80", "tcp [2001:db8::1]:80", "fwmark 5 ipv4"
  auto operator<=>(const ServiceKey&) const = default;
};

// Service flags (IP_VS_SVC_F_*). SCHED1..3 mean sh-fallback/sh-port (sh) and
// mh-fallback/mh-port (mh).
namespace flag {
inline constexpr std::uint32_t kPersistent = 0x0001;
inline constexpr std::uint32_t kHashed = 0x0002;  // kernel-internal; ignored in comparisons
inline constexpr std::uint32_t kOnePacket = 0x0004;
inline constexpr std::uint32_t kSched1 = 0x0008;
inline constexpr std::uint32_t kSched2 = 0x0010;
inline constexpr std::uint32_t kSched3 = 0x0020;
inline constexpr std::uint32_t kUserMask = kPersistent | kOnePacket | kSched1 | kSched2 | kSched3;
}  // namespace flag

struct Service {
  ServiceKey key;
  std::string scheduler = "wlc";  // rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh
  std::uint32_t flags = 0;        // flag::*; kPersistent is set iff timeout > 0
  std::uint32_t timeout = 0;      // persistence timeout, seconds (0: not persistent)
  // Persistence granularity: an IPv4 netmask in network order as the kernel keeps it
  // (0xffffffff = /32), or an IPv6 prefix length (128).
  std::uint32_t netmask = 0xffffffff;
  std::string persistenceEngine;  // "sip" or empty

  // Same configuration (the kernel-internal hashed flag does not count).
  bool sameSettings(const Service& o) const;
  std::string toString() const;
};

enum class Forward : std::uint32_t { Nat = 0, Local = 1, Tunnel = 2, Direct = 3, Bypass = 4 };
std::string toString(Forward f);  // "nat", "local", "tun", "dr", "bypass"
std::optional<Forward> parseForward(std::string_view text);

enum class TunnelType : std::uint8_t { Ipip = 0, Gue = 1, Gre = 2 };
namespace tunflag {
inline constexpr std::uint16_t kCsum = 1 << 0;
inline constexpr std::uint16_t kRemCsum = 1 << 1;
}  // namespace tunflag

struct Destination {
  net::IpAddress address;  // the real server; its family may differ from the service's only for tun
  std::uint16_t port = 0;  // host order
  Forward forward = Forward::Direct;
  std::int32_t weight = 1;
  std::uint32_t upperThreshold = 0;  // 0: no limit
  std::uint32_t lowerThreshold = 0;
  TunnelType tunnelType = TunnelType::Ipip;  // tun only
  std::uint16_t tunnelPort = 0;              // gue only, host order
  std::uint16_t tunnelFlags = 0;             // tunflag::*

  bool sameSettings(const Destination& o) const;
  std::string endpoint() const;  // "198.18.0.21:80"
  std::string toString() const;
};

// Counters as the kernel reports them (64-bit set when available).
struct Stats {
  std::uint64_t connections = 0, inPackets = 0, outPackets = 0, inBytes = 0, outBytes = 0;
  std::uint64_t cps = 0, inPps = 0, outPps = 0, inBps = 0, outBps = 0;  // rates, per second
  auto operator<=>(const Stats&) const = default;
};

struct DestinationState {
  Destination dest;
  std::uint32_t activeConnections = 0, inactiveConnections = 0, persistentConnections = 0;
  Stats stats;
};

struct ServiceState {
  Service service;
  Stats stats;
  std::vector<DestinationState> destinations;
};

// The kernel's connection synchronisation daemon.
enum class SyncRole : std::uint32_t { Master = 1, Backup = 2 };
struct SyncDaemon {
  SyncRole role = SyncRole::Master;
  std::string interface;  // multicast interface
  std::uint32_t syncId = 0;
  std::uint16_t maxLength = 0;          // UDP payload; 0: kernel default
  std::optional<net::IpAddress> group;  // multicast group; default 224.0.0.81
  std::uint16_t port = 0;               // 0: kernel default (8848)
  std::uint8_t ttl = 0;                 // 0: kernel default (1)
  auto operator<=>(const SyncDaemon&) const = default;
};

// One change to the kernel's table.
struct Op {
  enum class Kind {
    AddService,
    EditService,
    DeleteService,
    AddDestination,
    EditDestination,
    DeleteDestination
  };
  Kind kind;
  Service service;          // key only for DeleteService and destination ops
  Destination destination;  // destination ops
  bool isDestinationOp() const {
    return kind == Kind::AddDestination || kind == Kind::EditDestination ||
           kind == Kind::DeleteDestination;
  }
  std::string toString() const;
};

struct Info {
  std::uint32_t version = 0;  // e.g. 0x010201 = 1.2.1
  std::uint32_t connTableSize = 0;
};

// The director's port to IPVS in its network namespace. Not thread-safe.
class Ipvs {
 public:
  virtual ~Ipvs() = default;
  virtual Result<Info> info() = 0;
  // Every service with its destinations and statistics.
  virtual Result<std::vector<ServiceState>> dump() = 0;
  // Applies `ops` in order. With `tolerant`, adding what exists edits it instead, and
  // deleting what is missing is not an error (the reconciler's idempotence). Returns one
  // status per op (all attempted; a failure does not stop the rest), or a transport failure.
  virtual Result<std::vector<Status>> apply(const std::vector<Op>& ops, bool tolerant) = 0;
  virtual Result<std::vector<SyncDaemon>> syncDaemons() = 0;
  virtual Status startSyncDaemon(const SyncDaemon& d) = 0;
  virtual Status stopSyncDaemon(SyncRole role) = 0;
};

// Generic netlink IPVS client in the calling thread's network namespace.
std::unique_ptr<Ipvs> makeNetlinkIpvs();

}  // namespace quorate::kernel::ipvs
