// keepalived's virtual_server_group as quorate says it: named lists of services (addresses,
// last-octet ranges, firewall marks) that one virtual server's real servers and checks serve.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/net_types.h"
#include "server/kernel/ipvs.h"

namespace quorate::config {
class Map;  // common/yaml_config.h
class Value;
}  // namespace quorate::config

namespace quorate::server::ipvs {

// The most services one range may stand for: an IPv4 last octet holds 256, and an IPv6 group
// of 65,536 would be a typo rather than a plan.
inline constexpr std::size_t kMaxRangeMembers = 256;
// The most services one group may expand to (its ranges and marks together).
inline constexpr std::size_t kMaxGroupMembers = 1'024;

// One entry of a group: `count` consecutive addresses from `first` (count 1: one address) at
// `port`, or a firewall mark.
struct GroupEntry {
  bool isFwmark = false;
  net::IpAddress first;
  std::size_t count = 1;
  std::uint16_t port = 0;
  std::uint32_t fwmark = 0;
  std::string text;  // as written, for messages
};

struct ServiceGroup {
  std::string name;
  std::vector<GroupEntry> entries;
  std::size_t members = 0;  // services it expands to
  std::string key;          // "virtual_server_groups.web"
  int line = 0;
};
using ServiceGroups = std::map<std::string, ServiceGroup>;

// "198.18.1.10:80", "198.18.1.10-12:80" (the last octet), "[2001:db8::1]:53",
// "[2001:db8::a-f]:53" (the last group, hex), "fwmark:7". Fails on `v` naming what is wrong: a
// malformed entry, a reversed range, one past the last octet or group, or larger than
// kMaxRangeMembers.
GroupEntry parseGroupEntry(const config::Value& v);

// The top-level key "virtual_server_groups" (absent: none): NAME -> a non-empty list of entries,
// no service twice in a group, at most kMaxGroupMembers each. Throws quorate::ConfigError.
ServiceGroups parseServiceGroups(const config::Map& root);

// The services of `group` in its order: address entries with `protocol`, marks of `markFamily`.
std::vector<kernel::ipvs::ServiceKey> expandGroup(const ServiceGroup& group,
                                                  kernel::ipvs::Protocol protocol, int markFamily);

}  // namespace quorate::server::ipvs
