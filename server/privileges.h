// The director's least privilege: which capabilities it keeps after start-up and why, the
// programs its configuration runs (with the user each runs as), and the load-time refusal of
// scripts that others than root or their user could change.
#pragma once

#include <string>
#include <vector>

#include "common/privileges.h"
#include "server/config.h"

namespace quorate::server {

// One program the configuration runs: where it is configured, its path, and the user it runs
// as ("" for the director's own identity, which is also what an empty script_user means).
struct ConfiguredScript {
  std::string where;    // "hooks.notify_master of lease 'web'", "track_scripts 'gw'", ...
  std::string program;  // argv[0]
  std::string user;
};

// Every program `c` runs: hooks of every lease, track scripts, fence_before_claim, MISC_CHECK
// scripts and real servers' notify_up/notify_down; a per-program user wins over script_user.
std::vector<ConfiguredScript> configuredScripts(const DirectorConfig& c);

// checkScriptSecurity() for each configured script; throws ConfigError ("file: where: ...")
// naming the first unsafe one, its path and mode.
void checkConfiguredScripts(const DirectorConfig& c);

// What the director keeps once started (for a director running as root), each for a reason:
//   CAP_NET_ADMIN  VIPs and links (rtnetlink), the nftables fence, IPVS (generic netlink), the
//                  sysctls of a VIP's device, and netlink sockets reopened after an error;
//   CAP_NET_RAW    gratuitous ARP, unsolicited NA and VRRPv3 adverts (AF_PACKET), reopened
//                  after an error; ping checks' raw ICMP sockets where net.ipv4.ping_group_range
//                  admits no group of the director's;
//   CAP_SETUID, CAP_SETGID   only when a program runs as another user than the director's:
//                  the child sets its groups, gid and uid before exec;
//   CAP_KILL       with those: the deadline kills the program's process group, which then
//                  belongs to another user.
// Everything else is dropped from every thread, the bounding set included, with no_new_privs.
privileges::CapMask directorCapabilities(const DirectorConfig& c);

// Whether some program of `c` runs as a user other than the director's (so the child needs
// CAP_SETUID/CAP_SETGID and the deadline CAP_KILL).
bool scriptsSwitchUser(const DirectorConfig& c);

}  // namespace quorate::server
