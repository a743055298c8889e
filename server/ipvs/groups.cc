// virtual_server_groups: parsing the entries (addresses, ranges, marks) and expanding a group
// into the services it stands for.
#include "server/ipvs/groups.h"

#include <sys/socket.h>

#include <charconv>
#include <set>
#include <string_view>
#include <utility>

#include "common/yaml_config.h"

namespace quorate::server::ipvs {
namespace {

namespace kipvs = kernel::ipvs;
using config::Map;
using config::Value;

constexpr std::string_view kForm =
    "expected ADDRESS:PORT, ADDRESS-LAST:PORT (a range of the last IPv4 octet), [IPV6]:PORT, "
    "[IPV6-LAST]:PORT (a range of the last hex group) or fwmark:N";

// A whole number in `text` of base `base`, or -1.
long long number(std::string_view text, int base) {
  long long n = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n, base);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return -1;
  return n;
}

// The last octet (IPv4) or last 16-bit group (IPv6) of `a`.
unsigned lastPart(const net::IpAddress& a) {
  return a.isV4() ? a.bytes[3] : (unsigned{a.bytes[14]} << 8) | a.bytes[15];
}

net::IpAddress withLastPart(net::IpAddress a, unsigned part) {
  if (a.isV4()) {
    a.bytes[3] = static_cast<std::uint8_t>(part);
  } else {
    a.bytes[14] = static_cast<std::uint8_t>(part >> 8);
    a.bytes[15] = static_cast<std::uint8_t>(part & 0xff);
  }
  return a;
}

}  // namespace

GroupEntry parseGroupEntry(const Value& v) {
  GroupEntry e;
  e.text = v.asString();
  const std::string_view t = e.text;
  if (t.rfind("fwmark:", 0) == 0) {
    const long long mark = number(t.substr(7), 10);
    if (mark < 1 || mark > 0xffffffffLL) {
      v.fail("expected fwmark:N with a firewall mark of 1 to 4294967295, got " +
             config::quote(e.text));
    }
    e.isFwmark = true;
    e.fwmark = static_cast<std::uint32_t>(mark);
    return e;
  }
  // Split host and port: "[v6]:port" or "v4:port".
  std::string_view host, port;
  if (!t.empty() && t.front() == '[') {
    const auto close = t.find("]:");
    if (close == std::string_view::npos)
      v.fail(std::string(kForm) + ", got " + config::quote(e.text));
    host = t.substr(1, close - 1);
    port = t.substr(close + 2);
  } else {
    const auto colon = t.rfind(':');
    if (colon == std::string_view::npos || t.find(':') != colon) {
      v.fail(std::string(kForm) + ", got " + config::quote(e.text));
    }
    host = t.substr(0, colon);
    port = t.substr(colon + 1);
  }
  const long long p = number(port, 10);
  if (p < 0 || p > 65535) v.fail("expected a port of 0 to 65535 in " + config::quote(e.text));
  e.port = static_cast<std::uint16_t>(p);

  // A range's end follows the last '-' (neither family's addresses hold one).
  std::string_view start = host, end;
  if (const auto dash = host.rfind('-'); dash != std::string_view::npos) {
    start = host.substr(0, dash);
    end = host.substr(dash + 1);
  }
  const auto a = net::IpAddress::parse(start);
  const bool bracketed = t.front() == '[';
  if (!a || a->isV6() != bracketed) {
    v.fail(std::string(kForm) + ", got " + config::quote(e.text));
  }
  e.first = *a;
  if (host.size() == start.size()) return e;
  const long long last = number(end, a->isV4() ? 10 : 16);
  const long long limit = a->isV4() ? 255 : 0xffff;
  const long long from = lastPart(*a);
  const std::string part = a->isV4() ? "octet" : "hex group";
  if (last < 0) {
    v.fail("range " + config::quote(e.text) + ": expected the last " + part + " after '-', got " +
           config::quote(std::string(end)));
  }
  if (last > limit) {
    v.fail("range " + config::quote(e.text) + " runs past the last " + part + " (" +
           std::to_string(limit) + "): a range changes only the last " + part);
  }
  if (last < from)
    v.fail("range " + config::quote(e.text) + " is reversed (ends before it starts)");
  if (static_cast<std::size_t>(last - from + 1) > kMaxRangeMembers) {
    v.fail("range " + config::quote(e.text) + " holds " + std::to_string(last - from + 1) +
           " addresses, more than the limit of " + std::to_string(kMaxRangeMembers));
  }
  e.count = static_cast<std::size_t>(last - from + 1);
  return e;
}

ServiceGroups parseServiceGroups(const Map& root) {
  ServiceGroups out;
  const auto groups = root.optional("virtual_server_groups");
  if (!groups) return out;
  if (!groups->node().IsMap()) groups->fail("expected a mapping of group names to lists");
  for (const auto& item : groups->node()) {
    const Value nameValue(
        groups->document(), item.first, groups->key(),
        item.first.Mark().is_null() ? groups->line() : item.first.Mark().line + 1);
    const std::string id = nameValue.asId();
    const Value list(groups->document(), item.second, groups->key() + "." + id,
                     item.second.Mark().is_null() ? nameValue.line() : item.second.Mark().line + 1);
    ServiceGroup g;
    g.name = id;
    g.key = list.key();
    g.line = list.line();
    std::set<std::pair<std::string, std::uint16_t>> seen;  // (address or mark, port)
    for (const Value& v : list.asList()) {
      GroupEntry e = parseGroupEntry(v);
      for (std::size_t i = 0; i < e.count; ++i) {
        const std::string what =
            e.isFwmark
                ? "fwmark:" + std::to_string(e.fwmark)
                : withLastPart(e.first, lastPart(e.first) + static_cast<unsigned>(i)).toString();
        if (!seen.emplace(what, e.port).second) {
          v.fail(what + (e.isFwmark ? "" : " port " + std::to_string(e.port)) +
                 " is already in group " + config::quote(id));
        }
      }
      g.members += e.count;
      if (g.members > kMaxGroupMembers) {
        v.fail("group " + config::quote(id) + " holds more than " +
               std::to_string(kMaxGroupMembers) + " services, the limit");
      }
      g.entries.push_back(std::move(e));
    }
    if (g.entries.empty()) list.fail("expected at least one member");
    if (!out.emplace(id, std::move(g)).second) {
      nameValue.fail("duplicate group " + config::quote(id));
    }
  }
  return out;
}

std::vector<kipvs::ServiceKey> expandGroup(const ServiceGroup& group, kipvs::Protocol protocol,
                                           int markFamily) {
  std::vector<kipvs::ServiceKey> out;
  for (const auto& e : group.entries) {
    if (e.isFwmark) {
      out.push_back(kipvs::ServiceKey::mark(markFamily, e.fwmark));
      continue;
    }
    const unsigned from = lastPart(e.first);
    for (std::size_t i = 0; i < e.count; ++i) {
      out.push_back(kipvs::ServiceKey::inet(
          protocol, withLastPart(e.first, from + static_cast<unsigned>(i)), e.port));
    }
  }
  return out;
}

}  // namespace quorate::server::ipvs
