// IPVS generic netlink messages: building requests and parsing replies (see ipvs_messages.h).
#include "server/kernel/ipvs_messages.h"

#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace quorate::kernel::ipvs::msg {
namespace {

using netlink::MessageBuilder;

// A request's nlmsghdr and genlmsghdr; the attributes follow.
MessageBuilder request(const Header& h, Command cmd, std::uint16_t flags) {
  MessageBuilder b;
  genlmsghdr g{};
  g.cmd = static_cast<std::uint8_t>(cmd);
  g.version = IPVS_GENL_VERSION;
  b.begin(h.familyId, flags, h.seq, g);
  return b;
}

// Nothing when an attribute or the message outgrew its 16- or 32-bit length: the channel
// refuses an empty message (EMSGSIZE) instead of sending a wrapped length.
Bytes finish(MessageBuilder& b) {
  b.end();
  if (!b.ok()) return {};
  return std::move(b).take();
}

// The kernel reads up to 16 bytes (union nf_inet_addr) of an address attribute; like ipvsadm,
// the whole union goes, zero-padded for IPv4.
void address(MessageBuilder& b, std::uint16_t type, const net::IpAddress& a) {
  b.attr(type, a.bytes.data(), 16);
}

constexpr std::uint16_t kChange = NLM_F_REQUEST | NLM_F_ACK;
constexpr std::uint16_t kDump = NLM_F_REQUEST | NLM_F_DUMP;

void serviceKey(MessageBuilder& b, const ServiceKey& k) {
  b.u16(IPVS_SVC_ATTR_AF, static_cast<std::uint16_t>(k.family));
  if (k.isFwmark()) {
    b.u32(IPVS_SVC_ATTR_FWMARK, k.fwmark);
  } else {
    b.u16(IPVS_SVC_ATTR_PROTOCOL, static_cast<std::uint16_t>(k.protocol));
    address(b, IPVS_SVC_ATTR_ADDR, k.address);
    b.be16(IPVS_SVC_ATTR_PORT, k.port);
  }
}

void service(MessageBuilder& b, const Service& s, bool full) {
  auto at = b.nest(IPVS_CMD_ATTR_SERVICE);
  serviceKey(b, s.key);
  if (full) {
    b.string(IPVS_SVC_ATTR_SCHED_NAME, s.scheduler);
    if (!s.persistenceEngine.empty()) b.string(IPVS_SVC_ATTR_PE_NAME, s.persistenceEngine);
    // Every user-settable flag is set or cleared: the mask covers them all, so an edit never
    // keeps a flag the desired state dropped.
    ip_vs_flags f{};
    f.flags = s.flags & flag::kUserMask;
    f.mask = ~0U;
    b.attr(IPVS_SVC_ATTR_FLAGS, &f, sizeof f);
    b.u32(IPVS_SVC_ATTR_TIMEOUT, s.timeout);
    b.u32(IPVS_SVC_ATTR_NETMASK, s.netmask);  // raw: network-order mask or IPv6 prefix length
  }
  b.endNest(at);
}

void destination(MessageBuilder& b, const Destination& d, bool full) {
  auto at = b.nest(IPVS_CMD_ATTR_DEST);
  address(b, IPVS_DEST_ATTR_ADDR, d.address);
  b.be16(IPVS_DEST_ATTR_PORT, d.port);
  b.u16(IPVS_DEST_ATTR_ADDR_FAMILY, static_cast<std::uint16_t>(d.address.family));
  if (full) {
    b.u32(IPVS_DEST_ATTR_FWD_METHOD, static_cast<std::uint32_t>(d.forward));
    b.u32(IPVS_DEST_ATTR_WEIGHT, static_cast<std::uint32_t>(d.weight));
    b.u32(IPVS_DEST_ATTR_U_THRESH, d.upperThreshold);
    b.u32(IPVS_DEST_ATTR_L_THRESH, d.lowerThreshold);
    if (d.forward == Forward::Tunnel) {
      b.u8(IPVS_DEST_ATTR_TUN_TYPE, static_cast<std::uint8_t>(d.tunnelType));
      b.be16(IPVS_DEST_ATTR_TUN_PORT, d.tunnelPort);
      b.u16(IPVS_DEST_ATTR_TUN_FLAGS, d.tunnelFlags);
    }
  }
  b.endNest(at);
}

// ---- parsing ----

Status malformed(const std::string& what) { return Status::fail(EPROTO, "IPVS reply: " + what); }

using netlink::Attributes;

std::optional<net::IpAddress> addressOf(std::span<const std::uint8_t> raw, int family) {
  net::IpAddress a;
  a.family = family;
  std::size_t n = family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
  if (n == 0 || raw.size() < n) return std::nullopt;
  std::memcpy(a.bytes.data(), raw.data(), n);
  return a;
}

Stats parseStats(std::span<const std::uint8_t> raw, bool wide) {
  Stats s;
  auto a = Attributes::parse(raw, IPVS_STATS_ATTR_MAX);
  if (!a) return s;
  auto get = [&](int t) -> std::uint64_t {
    if (wide) return a->get<std::uint64_t>(t).value_or(0);
    // The 32-bit nest carries bytes as u64 and the rest as u32.
    if (t == IPVS_STATS_ATTR_INBYTES || t == IPVS_STATS_ATTR_OUTBYTES) {
      return a->get<std::uint64_t>(t).value_or(0);
    }
    return a->get<std::uint32_t>(t).value_or(0);
  };
  s.connections = get(IPVS_STATS_ATTR_CONNS);
  s.inPackets = get(IPVS_STATS_ATTR_INPKTS);
  s.outPackets = get(IPVS_STATS_ATTR_OUTPKTS);
  s.inBytes = get(IPVS_STATS_ATTR_INBYTES);
  s.outBytes = get(IPVS_STATS_ATTR_OUTBYTES);
  s.cps = get(IPVS_STATS_ATTR_CPS);
  s.inPps = get(IPVS_STATS_ATTR_INPPS);
  s.outPps = get(IPVS_STATS_ATTR_OUTPPS);
  s.inBps = get(IPVS_STATS_ATTR_INBPS);
  s.outBps = get(IPVS_STATS_ATTR_OUTBPS);
  return s;
}

template <class A>
Stats statsOf(const A& a, std::size_t narrow, std::size_t wide) {
  if (a.has(wide)) return parseStats(a.raw(wide), true);
  if (a.has(narrow)) return parseStats(a.raw(narrow), false);
  return {};
}

// The one nest `type` at the top level of a reply.
std::optional<std::span<const std::uint8_t>> nest(std::span<const std::uint8_t> attrs,
                                                  std::size_t type) {
  auto top = Attributes::parse(attrs, IPVS_CMD_ATTR_MAX);
  if (!top || !top->has(type)) return std::nullopt;
  return top->raw(type);
}

}  // namespace

Command commandOf(Op::Kind kind) {
  switch (kind) {
    case Op::Kind::AddService:
      return Command::NewService;
    case Op::Kind::EditService:
      return Command::SetService;
    case Op::Kind::DeleteService:
      return Command::DelService;
    case Op::Kind::AddDestination:
      return Command::NewDest;
    case Op::Kind::EditDestination:
      return Command::SetDest;
    case Op::Kind::DeleteDestination:
      return Command::DelDest;
  }
  return Command::GetInfo;
}

Bytes encode(const Header& h, Command cmd, const Service& s, const Destination* d) {
  MessageBuilder b = request(h, cmd, kChange);
  bool fullService = cmd == Command::NewService || cmd == Command::SetService;
  service(b, s, fullService);
  if (d != nullptr) destination(b, *d, cmd == Command::NewDest || cmd == Command::SetDest);
  return finish(b);
}

Bytes encode(const Header& h, const Op& op) {
  return encode(h, commandOf(op.kind), op.service,
                op.isDestinationOp() ? &op.destination : nullptr);
}

Bytes getServices(const Header& h) {
  MessageBuilder b = request(h, Command::GetService, kDump);
  return finish(b);
}

Bytes getDestinations(const Header& h, const ServiceKey& key) {
  MessageBuilder b = request(h, Command::GetDest, kDump);
  auto at = b.nest(IPVS_CMD_ATTR_SERVICE);
  serviceKey(b, key);
  b.endNest(at);
  return finish(b);
}

Bytes getInfo(const Header& h) {
  MessageBuilder b = request(h, Command::GetInfo, NLM_F_REQUEST);
  return finish(b);
}

Bytes getDaemons(const Header& h) {
  MessageBuilder b = request(h, Command::GetDaemon, kDump);
  return finish(b);
}

Bytes newDaemon(const Header& h, const SyncDaemon& d) {
  MessageBuilder b = request(h, Command::NewDaemon, kChange);
  auto at = b.nest(IPVS_CMD_ATTR_DAEMON);
  b.u32(IPVS_DAEMON_ATTR_STATE, static_cast<std::uint32_t>(d.role));
  b.string(IPVS_DAEMON_ATTR_MCAST_IFN, d.interface);
  b.u32(IPVS_DAEMON_ATTR_SYNC_ID, d.syncId);
  if (d.maxLength != 0) b.u16(IPVS_DAEMON_ATTR_SYNC_MAXLEN, d.maxLength);
  if (d.group && d.group->isV4()) b.attr(IPVS_DAEMON_ATTR_MCAST_GROUP, d.group->bytes.data(), 4);
  if (d.group && d.group->isV6()) b.attr(IPVS_DAEMON_ATTR_MCAST_GROUP6, d.group->bytes.data(), 16);
  if (d.port != 0) b.u16(IPVS_DAEMON_ATTR_MCAST_PORT, d.port);
  if (d.ttl != 0) b.u8(IPVS_DAEMON_ATTR_MCAST_TTL, d.ttl);
  b.endNest(at);
  return finish(b);
}

Bytes delDaemon(const Header& h, SyncRole role) {
  MessageBuilder b = request(h, Command::DelDaemon, kChange);
  auto at = b.nest(IPVS_CMD_ATTR_DAEMON);
  b.u32(IPVS_DAEMON_ATTR_STATE, static_cast<std::uint32_t>(role));
  b.endNest(at);
  return finish(b);
}

Result<ServiceState> parseService(std::span<const std::uint8_t> attrs) {
  auto raw = nest(attrs, IPVS_CMD_ATTR_SERVICE);
  if (!raw) return malformed("service message without a service");
  auto a = Attributes::parse(*raw, IPVS_SVC_ATTR_MAX);
  if (!a) return malformed("service attributes overrun their nest");
  ServiceState st;
  Service& s = st.service;
  auto af = a->get<std::uint16_t>(IPVS_SVC_ATTR_AF);
  if (!af || (*af != AF_INET && *af != AF_INET6)) return malformed("service without a family");
  s.key.family = *af;
  if (auto mark = a->get<std::uint32_t>(IPVS_SVC_ATTR_FWMARK); mark && *mark != 0) {
    s.key.fwmark = *mark;
    s.key.protocol = Protocol::Tcp;
  } else {
    auto proto = a->get<std::uint16_t>(IPVS_SVC_ATTR_PROTOCOL);
    auto port = a->get<std::uint16_t>(IPVS_SVC_ATTR_PORT);
    std::optional<net::IpAddress> addr;
    if (a->has(IPVS_SVC_ATTR_ADDR)) addr = addressOf(a->raw(IPVS_SVC_ATTR_ADDR), *af);
    if (!proto || !port || !addr) return malformed("service without protocol, address or port");
    s.key.protocol = static_cast<Protocol>(*proto);
    s.key.address = *addr;
    s.key.port = ntohs(*port);
  }
  auto sched = a->string(IPVS_SVC_ATTR_SCHED_NAME);
  auto flags = a->get<ip_vs_flags>(IPVS_SVC_ATTR_FLAGS);
  auto timeout = a->get<std::uint32_t>(IPVS_SVC_ATTR_TIMEOUT);
  auto netmask = a->get<std::uint32_t>(IPVS_SVC_ATTR_NETMASK);
  if (!sched || !flags || !timeout || !netmask) {
    return malformed("service " + s.key.toString() + " without scheduler, flags or timeout");
  }
  s.scheduler = *sched;
  s.flags = flags->flags;
  s.timeout = *timeout;
  s.netmask = *netmask;
  s.persistenceEngine = a->string(IPVS_SVC_ATTR_PE_NAME).value_or("");
  st.stats = statsOf(*a, IPVS_SVC_ATTR_STATS, IPVS_SVC_ATTR_STATS64);
  return st;
}

Result<DestinationState> parseDestination(std::span<const std::uint8_t> attrs, int serviceFamily) {
  auto raw = nest(attrs, IPVS_CMD_ATTR_DEST);
  if (!raw) return malformed("destination message without a destination");
  auto a = Attributes::parse(*raw, IPVS_DEST_ATTR_MAX);
  if (!a) return malformed("destination attributes overrun their nest");
  DestinationState st;
  Destination& d = st.dest;
  int family = a->get<std::uint16_t>(IPVS_DEST_ATTR_ADDR_FAMILY).value_or(serviceFamily);
  std::optional<net::IpAddress> addr;
  if (a->has(IPVS_DEST_ATTR_ADDR)) addr = addressOf(a->raw(IPVS_DEST_ATTR_ADDR), family);
  auto port = a->get<std::uint16_t>(IPVS_DEST_ATTR_PORT);
  auto fwd = a->get<std::uint32_t>(IPVS_DEST_ATTR_FWD_METHOD);
  auto weight = a->get<std::uint32_t>(IPVS_DEST_ATTR_WEIGHT);
  if (!addr || !port || !fwd || !weight) {
    return malformed("destination without address, port, forwarding or weight");
  }
  d.address = *addr;
  d.port = ntohs(*port);
  d.forward = static_cast<Forward>(*fwd & IP_VS_CONN_F_FWD_MASK);
  d.weight = static_cast<std::int32_t>(*weight);
  d.upperThreshold = a->get<std::uint32_t>(IPVS_DEST_ATTR_U_THRESH).value_or(0);
  d.lowerThreshold = a->get<std::uint32_t>(IPVS_DEST_ATTR_L_THRESH).value_or(0);
  d.tunnelType = static_cast<TunnelType>(a->get<std::uint8_t>(IPVS_DEST_ATTR_TUN_TYPE).value_or(0));
  d.tunnelPort = ntohs(a->get<std::uint16_t>(IPVS_DEST_ATTR_TUN_PORT).value_or(0));
  d.tunnelFlags = a->get<std::uint16_t>(IPVS_DEST_ATTR_TUN_FLAGS).value_or(0);
  st.activeConnections = a->get<std::uint32_t>(IPVS_DEST_ATTR_ACTIVE_CONNS).value_or(0);
  st.inactiveConnections = a->get<std::uint32_t>(IPVS_DEST_ATTR_INACT_CONNS).value_or(0);
  st.persistentConnections = a->get<std::uint32_t>(IPVS_DEST_ATTR_PERSIST_CONNS).value_or(0);
  st.stats = statsOf(*a, IPVS_DEST_ATTR_STATS, IPVS_DEST_ATTR_STATS64);
  return st;
}

Result<SyncDaemon> parseDaemon(std::span<const std::uint8_t> attrs) {
  auto raw = nest(attrs, IPVS_CMD_ATTR_DAEMON);
  if (!raw) return malformed("daemon message without a daemon");
  auto a = Attributes::parse(*raw, IPVS_DAEMON_ATTR_MAX);
  if (!a) return malformed("daemon attributes overrun their nest");
  auto state = a->get<std::uint32_t>(IPVS_DAEMON_ATTR_STATE);
  auto ifn = a->string(IPVS_DAEMON_ATTR_MCAST_IFN);
  auto id = a->get<std::uint32_t>(IPVS_DAEMON_ATTR_SYNC_ID);
  if (!state || !ifn || !id) return malformed("daemon without state, interface or sync id");
  SyncDaemon d;
  d.role = static_cast<SyncRole>(*state);
  d.interface = *ifn;
  d.syncId = *id;
  d.maxLength = a->get<std::uint16_t>(IPVS_DAEMON_ATTR_SYNC_MAXLEN).value_or(0);
  if (a->has(IPVS_DAEMON_ATTR_MCAST_GROUP)) {
    d.group = addressOf(a->raw(IPVS_DAEMON_ATTR_MCAST_GROUP), AF_INET);
  } else if (a->has(IPVS_DAEMON_ATTR_MCAST_GROUP6)) {
    d.group = addressOf(a->raw(IPVS_DAEMON_ATTR_MCAST_GROUP6), AF_INET6);
  }
  d.port = a->get<std::uint16_t>(IPVS_DAEMON_ATTR_MCAST_PORT).value_or(0);
  d.ttl = a->get<std::uint8_t>(IPVS_DAEMON_ATTR_MCAST_TTL).value_or(0);
  return d;
}

Result<Info> parseInfo(std::span<const std::uint8_t> attrs) {
  auto a = Attributes::parse(attrs, IPVS_INFO_ATTR_MAX);
  if (!a) return malformed("info attributes overrun the message");
  auto version = a->get<std::uint32_t>(IPVS_INFO_ATTR_VERSION);
  auto size = a->get<std::uint32_t>(IPVS_INFO_ATTR_CONN_TAB_SIZE);
  if (!version || !size) return malformed("info without version or table size");
  return Info{*version, *size};
}

}  // namespace quorate::kernel::ipvs::msg
