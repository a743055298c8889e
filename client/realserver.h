// quoratectl realserver setup|teardown: a direct-routing real server's side of LVS on this host.
// Each VIP on a device (lo: /32 or /128), so the host accepts what the director forwards
// unchanged, and ARP kept quiet about them (arp_ignore=1, arp_announce=2 on "all", which the
// kernel combines with each interface's own by taking the larger), so only the director answers.
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace quorate::client {

inline constexpr std::string_view kRealServerStateEnv = "QUORATE_RS_STATE";
inline constexpr std::string_view kDefaultRealServerState = "/run/quorate-realserver";

struct RealServerOptions {
  std::vector<std::string> vips;  // addresses, no prefix: IPv4 gets /32, IPv6 /128
  std::string device = "lo";
  // What setup added and the sysctl values it found (files "vips" and "sysctls", the format of
  // deploy/examples/three-node/realserver.sh, so either can undo the other).
  std::string stateDir = std::string(kDefaultRealServerState);
  std::string procSys = "/proc/sys";  // tests point it elsewhere
};

// An address a VIP may be: IPv4 or IPv6, no prefix, not a network's special address (unset,
// loopback, multicast). Empty when fine, else why not.
std::string realServerVipError(std::string_view text);

// Idempotent. setup: saves the sysctls (first time only), sets them, adds each VIP missing from
// the device, brings the device up. teardown: removes each VIP, and once none setup added is
// left, puts the saved sysctls back. Exit status 0, 1 on a failure (each named on `err`; what
// was done before it stays done and is recorded, so teardown undoes it), 2 on bad options.
int runRealServerSetup(const RealServerOptions& options, std::ostream& out, std::ostream& err);
int runRealServerTeardown(const RealServerOptions& options, std::ostream& out, std::ostream& err);

}  // namespace quorate::client
