// The director's IPVS configuration: virtual servers (keepalived's virtual_server blocks) and
// how IPVS behaves on the standby, parsed from the director's YAML and checked.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/net_types.h"
#include "server/check/spec.h"
#include "server/kernel/ipvs.h"

namespace quorate::config {
class Map;  // common/yaml_config.h
class Value;
}  // namespace quorate::config

namespace quorate::server::ipvs {

struct RealServerConfig {
  kernel::ipvs::Destination dest;
  bool inhibitOnFailure = false;  // quiescent: when dead, kept with weight 0 instead of removed
  bool alpha = false;             // starts down until a health check says otherwise
  // Its health checks, all of which must pass (its own `checks`, else the virtual server's).
  // None: nothing checks it and it is alive.
  std::vector<check::CheckSpec> checks;
  // Programs run when it goes up / down (keepalived's notify_up / notify_down); empty: none.
  std::vector<std::string> notifyUp;
  std::vector<std::string> notifyDown;
};

struct VirtualServerConfig {
  // Unique, except among the members of one group (virtual_server_groups), which share it: it
  // names their real servers' checks (each runs once for all members) and drains.
  std::string name;
  std::string instance;  // the instance whose lease it follows ("" = the only lease)
  kernel::ipvs::Service service;
  std::vector<RealServerConfig> realServers;
  std::optional<kernel::ipvs::Destination> sorryServer;
  // The group this service is a member of ("" = none) and its place in the group's expansion;
  // every member has the same real servers, in the same order, with the same endpoints.
  std::string group;
  std::size_t member = 0;
  int quorum = 1;                 // sum of the weights of alive real servers the pool needs
  int hysteresis = 0;             // 0 <= hysteresis < quorum
  bool inhibitOnFailure = false;  // the default of its real servers
  bool alpha = false;             // the default of its real servers

  // Where it came from, for checks made after parsing (checkAgainstInstances): the key path of
  // its entry ("virtual_servers[2]"), the entry's line and the line of its `instance` key (the
  // entry's when absent).
  std::string key;
  int line = 0;
  int instanceLine = 0;
};

// On the director that does not hold the lease: kRemove deletes the virtual servers it owns (the
// default, nothing is left to answer), kWarm keeps them programmed (so a connection-sync backup
// has its destinations and a takeover changes nothing in IPVS).
enum class StandbyMode { kRemove, kWarm };

// The kernel's connection synchronisation daemon (ipvsadm --start-daemon).
struct SyncDaemonConfig {
  std::string interface;
  std::uint32_t syncId = 0;             // 0..255
  std::uint16_t maxLength = 0;          // 0: kernel default
  std::optional<net::IpAddress> group;  // multicast; unset: kernel default 224.0.0.81
  std::uint16_t port = 0;               // 0: kernel default 8848
  std::uint8_t ttl = 0;                 // 0: kernel default 1

  // The daemon in `role` as kernel::ipvs::Ipvs::startSyncDaemon wants it.
  kernel::ipvs::SyncDaemon daemon(kernel::ipvs::SyncRole role) const;
};

struct IpvsConfig {
  std::vector<VirtualServerConfig> virtualServers;
  StandbyMode standby = StandbyMode::kRemove;
  std::optional<SyncDaemonConfig> sync;
  // How often the kernel's table is read back and drift (someone else's ipvsadm) repaired.
  std::chrono::milliseconds resyncInterval{10'000};
};

// Parses the top-level keys "virtual_servers", "virtual_server_groups" and "ipvs" of a director
// config (any may be absent; `root` must allow them). A virtual server with `group: NAME` becomes
// one entry per member of the group, in the group's order. Throws quorate::ConfigError ("file:line:
// key: what") on any problem. Checks everything that needs no other part of the file; the instances
// are checked by checkAgainstInstances().
IpvsConfig parseIpvsConfig(const config::Map& root);

// The checks that need the director's instances, which parseIpvsConfig does not see: a virtual
// server's `instance` must name one of `instanceNames`, and may be left out only when there is at
// most one instance (with several, which lease it follows would be a guess; naming any instance
// of a sync group is enough). `where` is any value of the same document (e.g. root.value()): the
// errors name the offending virtual server's `instance` key and line, in that document.
// Throws quorate::ConfigError.
void checkAgainstInstances(const IpvsConfig& ipvs, const std::vector<std::string>& instanceNames,
                           const config::Value& where);

}  // namespace quorate::server::ipvs
