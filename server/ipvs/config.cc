// The director's IPVS configuration: virtual servers and standby behaviour, parsed and checked.
#include "server/ipvs/config.h"

#include <sys/socket.h>

#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "common/yaml_config.h"
#include "server/check/config.h"
#include "server/config_limits.h"
#include "server/ipvs/groups.h"

namespace quorate::server::ipvs {
namespace {

namespace kipvs = kernel::ipvs;
using config::Map;
using config::Value;

constexpr std::int64_t kMaxInt32 = std::numeric_limits<std::int32_t>::max();
constexpr std::size_t kMaxIfName = 15;  // IFNAMSIZ - 1
constexpr std::size_t kMaxServices = kMaxVirtualServers;
constexpr std::size_t kMaxDestinations = kMaxRealServers;

std::string familyName(int family) { return family == AF_INET6 ? "IPv6" : "IPv4"; }

net::IpAddress asAddress(const Value& v) {
  const std::string text = v.asString();
  const auto a = net::IpAddress::parse(text);
  if (!a) v.fail("expected an IPv4 or IPv6 address, got " + config::quote(text));
  return *a;
}

std::uint16_t asPort(const Value& v, std::int64_t min = 0) {
  return static_cast<std::uint16_t>(v.asInt(min, 65535, "port"));
}

std::string interfaceName(const Value& v) {
  const std::string name = v.asString();
  if (name.size() > kMaxIfName || name == "." || name == ".." ||
      name.find_first_of("/: \t") != std::string::npos) {
    v.fail("expected an interface name of 1 to 15 characters without '/', ':' or spaces, got " +
           config::quote(name));
  }
  return name;
}

bool isMulticast(const net::IpAddress& a) {
  return a.isV4() ? (a.bytes[0] & 0xf0) == 0xe0 : a.bytes[0] == 0xff;
}

kipvs::Forward asForward(const Value& v) {
  return *kipvs::parseForward(v.asOneOf({"dr", "nat", "tun"}));
}

// persistence_granularity: a contiguous dotted netmask for IPv4 (kept in network order, as the
// kernel keeps it), a prefix length for IPv6.
std::uint32_t asGranularity(const Value& v, int family) {
  if (family == AF_INET6) {
    return static_cast<std::uint32_t>(v.asInt(1, 128, "IPv6 prefix length"));
  }
  const std::string text = v.asString();
  const auto a = net::IpAddress::parse(text);
  if (!a || !a->isV4()) {
    v.fail("expected an IPv4 netmask such as 255.255.255.0, got " + config::quote(text));
  }
  const std::uint32_t host = (std::uint32_t{a->bytes[0]} << 24) |
                             (std::uint32_t{a->bytes[1]} << 16) |
                             (std::uint32_t{a->bytes[2]} << 8) | a->bytes[3];
  const std::uint32_t inverted = ~host;
  if (host == 0 || (inverted & (inverted + 1)) != 0) {
    v.fail("expected a contiguous netmask of /1 to /32 (such as 255.255.255.0), got " +
           config::quote(text));
  }
  std::uint32_t network = 0;
  std::memcpy(&network, a->bytes.data(), sizeof network);
  return network;
}

// A real server's or the sorry server's settings. `service` is the parsed service (its key gives
// the family), `defaultPort` the port when none is given, `forward` the virtual server's default
// forwarding method.
kipvs::Destination parseDestination(const Map& m, const Value& where, const kipvs::Service& service,
                                    std::uint16_t defaultPort, kipvs::Forward forward) {
  kipvs::Destination d;
  const Value address = m.required("address");
  d.address = asAddress(address);
  d.forward = forward;
  if (const auto f = m.optional("forwarding")) d.forward = asForward(*f);
  const bool tun = d.forward == kipvs::Forward::Tunnel;
  if (d.address.family != service.key.family && !tun) {
    address.fail(familyName(d.address.family) + " address in an " + familyName(service.key.family) +
                 " virtual server: only forwarding tun may mix address families");
  }

  d.port = defaultPort;
  if (const auto p = m.optional("port")) {
    d.port = asPort(*p);
    const bool mapsPorts = d.forward == kipvs::Forward::Nat || service.key.isFwmark();
    if (!mapsPorts && d.port != service.key.port) {
      p->fail("with forwarding " + kipvs::toString(d.forward) +
              " packets keep the service's port " + std::to_string(service.key.port) +
              ": leave port out or use forwarding nat");
    }
    if (d.forward == kipvs::Forward::Nat && d.port == 0 && service.key.port != 0) {
      p->fail("forwarding nat needs the port to translate to (1..65535)");
    }
  }

  if (const auto w = m.optional("weight")) {
    d.weight = static_cast<std::int32_t>(w->asInt(0, 65535, "weight"));
  }
  if (const auto u = m.optional("upper_threshold")) {
    d.upperThreshold = static_cast<std::uint32_t>(u->asInt(0, kMaxInt32, "connections"));
  }
  if (const auto l = m.optional("lower_threshold")) {
    d.lowerThreshold = static_cast<std::uint32_t>(l->asInt(0, kMaxInt32, "connections"));
    if (d.upperThreshold > 0 && d.lowerThreshold >= d.upperThreshold) {
      l->fail("must be below upper_threshold (" + std::to_string(d.upperThreshold) + "), got " +
              std::to_string(d.lowerThreshold));
    }
  }

  const auto type = m.optional("tunnel_type");
  const auto port = m.optional("tunnel_port");
  const auto checksum = m.optional("tunnel_checksum");
  for (const auto* v : {&type, &port, &checksum}) {
    if (*v && !tun) (*v)->fail("only with forwarding tun");
  }
  if (type) {
    const std::string t = type->asOneOf({"ipip", "gue", "gre"});
    d.tunnelType = t == "gue"   ? kipvs::TunnelType::Gue
                   : t == "gre" ? kipvs::TunnelType::Gre
                                : kipvs::TunnelType::Ipip;
  }
  if (d.tunnelType == kipvs::TunnelType::Gue) {
    if (!port) where.fail("tunnel_type gue needs tunnel_port (the GUE UDP port)");
    d.tunnelPort = asPort(*port, 1);
  } else if (port) {
    port->fail("only with tunnel_type gue");
  }
  if (checksum) {
    const std::string c = checksum->asOneOf({"none", "csum", "remcsum"});
    if (d.tunnelType == kipvs::TunnelType::Ipip) {
      checksum->fail("ipip tunnels carry no checksum: only with tunnel_type gue or gre");
    }
    if (c == "remcsum" && d.tunnelType != kipvs::TunnelType::Gue) {
      checksum->fail("remcsum only with tunnel_type gue");
    }
    d.tunnelFlags = c == "csum"      ? kipvs::tunflag::kCsum
                    : c == "remcsum" ? kipvs::tunflag::kRemCsum
                                     : 0;
  }
  return d;
}

// Everything of a virtual server that makes the kernel's service. `member`: the service of one
// member of its group, which the group gave (its protocol and family are already applied).
kipvs::Service parseService(const Map& m, const Value& where, const kipvs::ServiceKey* member) {
  kipvs::Service s;
  const auto address = m.optional("address");
  const auto fwmark = m.optional("fwmark");
  const auto port = m.optional("port");
  const auto protocol = m.optional("protocol");
  const auto family = m.optional("family");
  if (member) {
    for (const auto* x : {&address, &fwmark, &port}) {
      if (*x) (*x)->fail("not with group (the group's members give the services)");
    }
  } else {
    if (address && fwmark) fwmark->fail("a virtual server has either address and port or fwmark");
    if (!address && !fwmark)
      where.fail("expected address and port, or fwmark, or group (of virtual_server_groups)");
  }
  if (member) {
    s.key = *member;
  } else if (fwmark) {
    if (port) port->fail("not with fwmark (the mark selects the packets, whatever their port)");
    if (protocol) protocol->fail("not with fwmark (the mark selects the packets)");
    int f = AF_INET;
    if (family) f = family->asOneOf({"ipv4", "ipv6"}) == "ipv6" ? AF_INET6 : AF_INET;
    s.key = kipvs::ServiceKey::mark(
        f, static_cast<std::uint32_t>(fwmark->asInt(1, 0xffffffff, "firewall mark")));
  } else {
    if (family) family->fail("only with fwmark (an address has its own family)");
    kipvs::Protocol proto = kipvs::Protocol::Tcp;
    if (protocol) proto = *kipvs::parseProtocol(protocol->asOneOf({"tcp", "udp", "sctp"}));
    const net::IpAddress a = asAddress(*address);
    const Value p = port ? *port : m.required("port");  // an address needs a port
    s.key = kipvs::ServiceKey::inet(proto, a, asPort(p));
  }

  if (const auto sch = m.optional("scheduler")) {
    s.scheduler = sch->asOneOf(
        {"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"});
  }
  if (const auto flags = m.optional("scheduler_flags")) {
    // sh and mh name the same two flags after themselves (IP_VS_SVC_F_SCHED_{SH,MH}_*).
    if (s.scheduler != "sh" && s.scheduler != "mh") {
      flags->fail("scheduler " + s.scheduler + " takes no flags (only sh and mh do)");
    }
    const std::map<std::string, std::uint32_t> known = {
        {s.scheduler + "-fallback", kipvs::flag::kSched1},
        {s.scheduler + "-port", kipvs::flag::kSched2}};
    for (const Value& f : flags->asList()) {
      const std::string name = f.asString();
      const auto it = known.find(name);
      if (it == known.end()) {
        f.fail("expected " + s.scheduler + "-fallback or " + s.scheduler + "-port, got " +
               config::quote(name));
      }
      if (s.flags & it->second) f.fail("flag " + name + " given twice");
      s.flags |= it->second;
    }
  }
  if (const auto ops = m.optional("one_packet")) {
    if (ops->asBool()) {
      if (!s.key.isFwmark() && s.key.protocol != kipvs::Protocol::Udp) {
        ops->fail("one-packet scheduling is for UDP services only");
      }
      s.flags |= kipvs::flag::kOnePacket;
    }
  }

  const auto timeout = m.optional("persistence_timeout");
  if (timeout) s.timeout = static_cast<std::uint32_t>(timeout->asInt(0, kMaxInt32, "seconds"));
  if (s.timeout > 0) s.flags |= kipvs::flag::kPersistent;
  s.netmask = s.key.family == AF_INET6 ? 128 : 0xffffffff;
  if (const auto g = m.optional("persistence_granularity")) {
    if (s.timeout == 0) g->fail("needs persistence_timeout > 0");
    s.netmask = asGranularity(*g, s.key.family);
  }
  if (const auto pe = m.optional("persistence_engine")) {
    s.persistenceEngine = pe->asOneOf({"sip"});
    if (s.timeout == 0) pe->fail("needs persistence_timeout > 0");
  }
  if (port && !fwmark && s.key.port == 0 && s.timeout == 0) {
    port->fail("port 0 (every port) needs persistence_timeout > 0, as in ipvsadm");
  }
  if (member && !member->isFwmark() && s.key.port == 0 && s.timeout == 0) {
    where.fail("group member " + s.key.toString() +
               ": port 0 (every port) needs persistence_timeout > 0, as in ipvsadm");
  }
  return s;
}

// The keys of a virtual server's entry.
Map virtualServerMap(const Value& v) {
  return v.asMap({"name",
                  "instance",
                  "group",
                  "protocol",
                  "address",
                  "port",
                  "fwmark",
                  "family",
                  "scheduler",
                  "scheduler_flags",
                  "one_packet",
                  "persistence_timeout",
                  "persistence_granularity",
                  "persistence_engine",
                  "forwarding",
                  "quorum",
                  "hysteresis",
                  "inhibit_on_failure",
                  "alpha",
                  "sorry_server",
                  "delay_loop_ms",
                  "checks",
                  "real_servers"});
}

// The virtual server of entry `v` (its keys `m`). A member of a group gets `member` as its service
// and `realPort` as its real servers' default port; a plain one has neither.
VirtualServerConfig parseVirtualServer(const Value& v, const Map& m,
                                       const kipvs::ServiceKey* member = nullptr,
                                       std::optional<std::uint16_t> realPort = std::nullopt) {
  VirtualServerConfig vs;
  vs.key = v.key();
  vs.line = v.line();
  vs.instanceLine = v.line();
  vs.name = m.required("name").asId();
  if (const auto i = m.optional("instance")) {
    vs.instance = i->asId();
    vs.instanceLine = i->line();
  }
  vs.service = parseService(m, v, member);
  const std::uint16_t defaultPort = realPort.value_or(vs.service.key.port);
  kipvs::Forward forward = kipvs::Forward::Direct;
  if (const auto f = m.optional("forwarding")) forward = asForward(*f);

  if (const auto q = m.optional("quorum"))
    vs.quorum = static_cast<int>(q->asInt(1, kMaxInt32, "weight"));
  if (const auto h = m.optional("hysteresis")) {
    vs.hysteresis = static_cast<int>(h->asInt(0, kMaxInt32, "weight"));
    if (vs.hysteresis >= vs.quorum) {
      h->fail("must be below quorum (" + std::to_string(vs.quorum) + "), got " +
              std::to_string(vs.hysteresis));
    }
  }
  if (const auto x = m.optional("inhibit_on_failure")) vs.inhibitOnFailure = x->asBool();
  if (const auto x = m.optional("alpha")) vs.alpha = x->asBool();
  check::CheckDefaults checkDefaults;
  if (const auto x = m.optional("delay_loop_ms"))
    checkDefaults.interval = x->asMillis(10, 86'400'000);
  std::vector<check::CheckSpec> checks;
  if (const auto x = m.optional("checks")) {
    checks = check::parseChecks(*x, checkDefaults, vs.service.key.family);
  }

  using Endpoint = std::pair<net::IpAddress, std::uint16_t>;
  std::map<Endpoint, std::string> endpoints;  // -> key of the server that has it
  if (const auto list = m.optional("real_servers")) {
    for (const Value& rv : list->asList()) {
      const Map rm =
          rv.asMap({"address", "port", "weight", "forwarding", "upper_threshold", "lower_threshold",
                    "tunnel_type", "tunnel_port", "tunnel_checksum", "inhibit_on_failure", "alpha",
                    "checks", "notify_up", "notify_down"});
      RealServerConfig rs;
      rs.dest = parseDestination(rm, rv, vs.service, defaultPort, forward);
      rs.checks = checks;
      if (const auto x = rm.optional("checks")) {
        rs.checks = check::parseChecks(*x, checkDefaults, rs.dest.address.family);
      }
      if (const auto x = rm.optional("notify_up")) rs.notifyUp = x->asCommand();
      if (const auto x = rm.optional("notify_down")) rs.notifyDown = x->asCommand();
      rs.inhibitOnFailure = vs.inhibitOnFailure;
      rs.alpha = vs.alpha;
      if (const auto x = rm.optional("inhibit_on_failure")) rs.inhibitOnFailure = x->asBool();
      if (const auto x = rm.optional("alpha")) rs.alpha = x->asBool();
      const auto [it, fresh] = endpoints.emplace(Endpoint{rs.dest.address, rs.dest.port}, rv.key());
      if (!fresh) rv.fail("real server " + rs.dest.endpoint() + " is also " + it->second);
      vs.realServers.push_back(std::move(rs));
    }
  }
  if (const auto sv = m.optional("sorry_server")) {
    const Map sm = sv->asMap({"address", "port", "weight", "forwarding", "upper_threshold",
                              "lower_threshold", "tunnel_type", "tunnel_port", "tunnel_checksum"});
    vs.sorryServer = parseDestination(sm, *sv, vs.service, defaultPort, forward);
    const auto it = endpoints.find(Endpoint{vs.sorryServer->address, vs.sorryServer->port});
    if (it != endpoints.end()) {
      sv->fail("sorry server " + vs.sorryServer->endpoint() + " is also real server " + it->second);
    }
  }
  if (vs.realServers.empty() && !vs.sorryServer) {
    v.fail("expected at least one entry in real_servers, or a sorry_server");
  }
  return vs;
}

// The services of entry `v`: one for a plain virtual server, one per member for `group: NAME`
// (sharing the name, the real servers and so the checks; see VirtualServerConfig::group).
std::vector<VirtualServerConfig> parseVirtualServers(const Value& v, const ServiceGroups& groups) {
  const Map m = virtualServerMap(v);
  const auto groupValue = m.optional("group");
  if (!groupValue) return {parseVirtualServer(v, m)};
  const std::string name = groupValue->asId();
  const auto it = groups.find(name);
  if (it == groups.end()) {
    std::string known;
    for (const auto& [n, g] : groups) known += (known.empty() ? "" : ", ") + n;
    groupValue->fail("no virtual_server_groups entry " + config::quote(name) +
                     (known.empty() ? " (none is configured)" : " (have " + known + ")"));
  }
  kipvs::Protocol proto = kipvs::Protocol::Tcp;
  if (const auto p = m.optional("protocol")) {
    proto = *kipvs::parseProtocol(p->asOneOf({"tcp", "udp", "sctp"}));
  }
  int markFamily = AF_INET;
  if (const auto f = m.optional("family")) {
    markFamily = f->asOneOf({"ipv4", "ipv6"}) == "ipv6" ? AF_INET6 : AF_INET;
  }
  const std::vector<kipvs::ServiceKey> keys = expandGroup(it->second, proto, markFamily);
  // A mark keeps the packet's port, so a real server behind a mark member defaults to the port
  // the address members share (if they share one): then each real server is one endpoint in
  // every member, checked once and drained by one name.
  std::optional<std::uint16_t> sharedPort;
  bool onePort = true;
  for (const auto& k : keys) {
    if (k.isFwmark()) continue;
    if (sharedPort && *sharedPort != k.port) onePort = false;
    sharedPort = k.port;
  }
  if (!onePort) sharedPort.reset();
  std::vector<VirtualServerConfig> out;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    std::optional<std::uint16_t> realPort;
    if (keys[i].isFwmark() && sharedPort) realPort = sharedPort;
    VirtualServerConfig vs = parseVirtualServer(v, m, &keys[i], realPort);
    vs.group = name;
    vs.member = i;
    if (i > 0) {
      // Each real server must be the same endpoint in every member (one check, one drain key).
      const auto& first = out.front();
      for (std::size_t r = 0; r < vs.realServers.size(); ++r) {
        const auto& a = first.realServers[r].dest;
        const auto& b = vs.realServers[r].dest;
        if (a.address != b.address || a.port != b.port) {
          v.document().fail(v.line(), v.key() + ".real_servers[" + std::to_string(r) + "]",
                            "is " + a.endpoint() + " for " + first.service.key.toString() +
                                " but " + b.endpoint() + " for " + keys[i].toString() +
                                " of group " + config::quote(name) +
                                ": give it a port (with forwarding nat where the members' ports "
                                "differ), so that it is one real server in every member");
        }
      }
    }
    out.push_back(std::move(vs));
  }
  return out;
}

SyncDaemonConfig parseSyncDaemon(const Value& v) {
  const Map m = v.asMap({"interface", "sync_id", "max_length", "group", "port", "ttl"});
  SyncDaemonConfig s;
  s.interface = interfaceName(m.required("interface"));
  if (const auto x = m.optional("sync_id")) {
    s.syncId = static_cast<std::uint32_t>(x->asInt(0, 255, "sync id"));
  }
  if (const auto x = m.optional("max_length")) {
    s.maxLength = static_cast<std::uint16_t>(x->asInt(0, 65535, "bytes"));
  }
  if (const auto x = m.optional("group")) {
    s.group = asAddress(*x);
    if (!isMulticast(*s.group)) {
      x->fail("expected a multicast address (224.0.0.0/4 or ff00::/8), got " + s.group->toString());
    }
  }
  if (const auto x = m.optional("port")) s.port = asPort(*x);
  if (const auto x = m.optional("ttl")) s.ttl = static_cast<std::uint8_t>(x->asInt(0, 255, "hops"));
  return s;
}

}  // namespace

kernel::ipvs::SyncDaemon SyncDaemonConfig::daemon(kernel::ipvs::SyncRole role) const {
  kernel::ipvs::SyncDaemon d;
  d.role = role;
  d.interface = interface;
  d.syncId = syncId;
  d.maxLength = maxLength;
  d.group = group;
  d.port = port;
  d.ttl = ttl;
  return d;
}

IpvsConfig parseIpvsConfig(const config::Map& root) {
  IpvsConfig c;
  const ServiceGroups groups = parseServiceGroups(root);
  if (const auto list = root.optional("virtual_servers")) {
    std::map<std::string, std::string> names;           // name -> key of its entry
    std::map<kipvs::ServiceKey, std::string> services;  // service -> key of its entry
    std::size_t destinations = 0;
    for (const Value& v : list->asList()) {
      std::vector<VirtualServerConfig> members = parseVirtualServers(v, groups);
      if (const auto [it, fresh] = names.emplace(members.front().name, v.key()); !fresh) {
        v.fail("duplicate virtual server name " + config::quote(members.front().name) + " (also " +
               it->second + ")");
      }
      for (auto& vs : members) {
        if (const auto [it, fresh] = services.emplace(vs.service.key, v.key()); !fresh) {
          v.fail("service " + vs.service.key.toString() + " is also " + it->second);
        }
        destinations += vs.realServers.size();
        // Groups multiply services and destinations: the limits hold for what IPVS gets.
        if (c.virtualServers.size() + 1 > kMaxServices || destinations > kMaxDestinations) {
          v.fail("with its group's members, more than " + std::to_string(kMaxServices) +
                 " services or " + std::to_string(kMaxDestinations) +
                 " real server entries in IPVS, the limit");
        }
        c.virtualServers.push_back(std::move(vs));
      }
    }
  }
  if (const auto v = root.optional("ipvs")) {
    const Map m = v->asMap({"standby", "sync_daemon", "resync_interval_ms"});
    if (const auto r = m.optional("resync_interval_ms")) c.resyncInterval = r->asMillis(100);
    if (const auto s = m.optional("standby")) {
      c.standby =
          s->asOneOf({"remove", "warm"}) == "warm" ? StandbyMode::kWarm : StandbyMode::kRemove;
    }
    if (const auto s = m.optional("sync_daemon")) c.sync = parseSyncDaemon(*s);
  }
  return c;
}

void checkAgainstInstances(const IpvsConfig& ipvs, const std::vector<std::string>& instanceNames,
                           const config::Value& where) {
  const std::set<std::string> known(instanceNames.begin(), instanceNames.end());
  std::string list;
  for (const auto& n : instanceNames) list += (list.empty() ? "" : ", ") + n;
  for (const auto& vs : ipvs.virtualServers) {
    if (vs.instance.empty()) {
      if (instanceNames.size() > 1) {
        where.document().fail(vs.line, vs.key + ".instance",
                              "missing: with several instances (" + list +
                                  "), name the one whose lease this virtual server follows");
      }
    } else if (!known.count(vs.instance)) {
      where.document().fail(vs.instanceLine, vs.key + ".instance",
                            "no instance named " + config::quote(vs.instance) +
                                (list.empty() ? " (none is configured)" : " (have " + list + ")"));
    }
  }
}

}  // namespace quorate::server::ipvs
