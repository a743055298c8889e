// Real servers an operator drained (quoratectl drain): the set, its durable file in the state
// directory, and how the operator's words name a virtual server and one of its real servers.
#pragma once

#include <compare>
#include <cstddef>
#include <set>
#include <string>
#include <string_view>

#include "common/status.h"
#include "server/ipvs/config.h"

namespace quorate::server::ipvs {

// A drained real server, by the names that survive a reload: the virtual server's name and the
// real server's endpoint ("198.18.0.21:80", "[2001:db8::21]:80").
struct DrainKey {
  std::string virtualServer;
  std::string realServer;
  std::string toString() const;  // "web 198.18.0.21:80"
  auto operator<=>(const DrainKey&) const = default;
};
using DrainSet = std::set<DrainKey>;

// The file's name in the director's state directory.
inline constexpr std::string_view kDrainsFile = "drains.json";

// {"version": 1, "drains": [{"virtual_server": "web", "real_server": "198.18.0.21:80"}]}, one
// line; the order is the set's.
std::string drainsToText(const DrainSet& drains);
// The inverse. An error (EINVAL) names `path` and what is wrong: a drain must never be dropped
// silently, so an unreadable file stops the start instead of putting servers back in service.
Result<DrainSet> drainsFromText(std::string_view text, const std::string& path);
// Far above what 20,000 real servers' drains take (about 4 MB); a larger file is damage.
inline constexpr std::size_t kMaxDrainsFileBytes = 16u << 20;
// A missing file is no drain at all. Anything but a regular file of at most kMaxDrainsFileBytes
// is an error naming `path` (read without blocking: a FIFO must not hang the start).
Result<DrainSet> loadDrains(const std::string& path);
// writeFileDurably: a crash leaves the old set or the new one.
Status saveDrains(const std::string& path, const DrainSet& drains);

// What a drain or an enable did.
struct DrainOutcome {
  DrainKey key;          // what the words resolved to
  bool changed = false;  // false: it was so already
  DrainSet drains;       // every drain in force afterwards
};

// Finds what the operator named. `virtualServer`: a name, a service ("tcp 198.18.0.10:80"), an
// endpoint ("198.18.0.10:80", any protocol, if only one has it) or "fwmark N". `realServer`: an
// endpoint, or an address alone if only one real server of that virtual server has it. The
// sorry server is not a real server. ENOENT when nothing matches, EINVAL when the words are
// malformed or match more than one; the message says which and lists the candidates.
Result<DrainKey> resolveDrain(const IpvsConfig& config, std::string_view virtualServer,
                              std::string_view realServer);

// The set after draining (`drain`) or enabling what the words name. Enabling also takes a drain
// in force by its exact words ("web", "198.18.0.21:80") when a reload removed that real server,
// so that no drain outlives the operator's wish to end it.
Result<DrainOutcome> changeDrain(const IpvsConfig& config, const DrainSet& drains,
                                 std::string_view virtualServer, std::string_view realServer,
                                 bool drain);

}  // namespace quorate::server::ipvs
