// IPVS generic netlink messages: building requests and parsing replies (see ipvs_messages.h).
#include "server/kernel/ipvs_messages.h"

#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/ip_vs.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

namespace quorate::kernel::ipvs::msg {
namespace {

// Appends one netlink message: header, genl header, attributes; nests close in order.
class Builder {
 public:
  Builder(const Header& h, Command cmd, std::uint16_t flags) {
    nlmsghdr n{};
    n.nlmsg_type = h.familyId;
    n.nlmsg_flags = flags;
    n.nlmsg_seq = h.seq;
    put(&n, sizeof n);
    genlmsghdr g{};
    g.cmd = static_cast<std::uint8_t>(cmd);
    g.version = IPVS_GENL_VERSION;
    put(&g, sizeof g);
  }

  void attr(std::uint16_t type, const void* data, std::size_t len) {
    nlattr a{};
    a.nla_type = type;
    a.nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + len);
    put(&a, sizeof a);
    put(data, len);
    pad();
  }
  void u8(std::uint16_t type, std::uint8_t v) { attr(type, &v, sizeof v); }
  void u16(std::uint16_t type, std::uint16_t v) { attr(type, &v, sizeof v); }
  void u32(std::uint16_t type, std::uint32_t v) { attr(type, &v, sizeof v); }
  void be16(std::uint16_t type, std::uint16_t host) { u16(type, htons(host)); }
  void string(std::uint16_t type, const std::string& s) { attr(type, s.c_str(), s.size() + 1); }
  // The kernel reads up to 16 bytes (union nf_inet_addr) of an address attribute; like
  // ipvsadm, the whole union goes, zero-padded for IPv4.
  void address(std::uint16_t type, const net::IpAddress& a) { attr(type, a.bytes.data(), 16); }

  std::size_t begin(std::uint16_t type) {
    std::size_t at = bytes_.size();
    nlattr a{};
    a.nla_type = type;
    put(&a, sizeof a);
    return at;
  }
  void end(std::size_t at) {
    auto len = static_cast<std::uint16_t>(bytes_.size() - at);
    std::memcpy(bytes_.data() + at + offsetof(nlattr, nla_len), &len, sizeof len);
  }

  Bytes finish() && {
    auto len = static_cast<std::uint32_t>(bytes_.size());
    std::memcpy(bytes_.data() + offsetof(nlmsghdr, nlmsg_len), &len, sizeof len);
    return std::move(bytes_);
  }

 private:
  void put(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  void pad() { bytes_.resize(NLA_ALIGN(bytes_.size()), 0); }

  Bytes bytes_;
};

constexpr std::uint16_t kChange = NLM_F_REQUEST | NLM_F_ACK;
constexpr std::uint16_t kDump = NLM_F_REQUEST | NLM_F_DUMP;

void serviceKey(Builder& b, const ServiceKey& k) {
  b.u16(IPVS_SVC_ATTR_AF, static_cast<std::uint16_t>(k.family));
  if (k.isFwmark()) {
    b.u32(IPVS_SVC_ATTR_FWMARK, k.fwmark);
  } else {
    b.u16(IPVS_SVC_ATTR_PROTOCOL, static_cast<std::uint16_t>(k.protocol));
    b.address(IPVS_SVC_ATTR_ADDR, k.address);
    b.be16(IPVS_SVC_ATTR_PORT, k.port);
  }
}

void service(Builder& b, const Service& s, bool full) {
  auto at = b.begin(IPVS_CMD_ATTR_SERVICE);
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
  b.end(at);
}

void destination(Builder& b, const Destination& d, bool full) {
  auto at = b.begin(IPVS_CMD_ATTR_DEST);
  b.address(IPVS_DEST_ATTR_ADDR, d.address);
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
  b.end(at);
}

// ---- parsing ----

Status malformed(const std::string& what) { return Status::fail(EPROTO, "IPVS reply: " + what); }

// The attributes of one level, indexed by type (the last one of a type wins, as in the kernel).
template <std::size_t N>
class Attrs {
 public:
  static std::optional<Attrs> parse(std::span<const std::uint8_t> data) {
    Attrs a;
    std::size_t off = 0;
    while (off + NLA_HDRLEN <= data.size()) {
      nlattr h;
      std::memcpy(&h, data.data() + off, sizeof h);
      if (h.nla_len < NLA_HDRLEN || off + h.nla_len > data.size()) return std::nullopt;
      std::uint16_t type = h.nla_type & NLA_TYPE_MASK;
      if (type < N) a.v_[type] = data.subspan(off + NLA_HDRLEN, h.nla_len - NLA_HDRLEN);
      off += NLA_ALIGN(h.nla_len);
    }
    return a;
  }
  bool has(std::size_t t) const { return v_[t].has_value(); }
  std::span<const std::uint8_t> raw(std::size_t t) const { return *v_[t]; }
  template <class T>
  std::optional<T> get(std::size_t t) const {
    if (!v_[t] || v_[t]->size() < sizeof(T)) return std::nullopt;
    T out;
    std::memcpy(&out, v_[t]->data(), sizeof out);
    return out;
  }
  std::optional<std::string> string(std::size_t t) const {
    if (!v_[t]) return std::nullopt;
    const auto& s = *v_[t];
    std::size_t n = 0;
    while (n < s.size() && s[n] != 0) ++n;
    return std::string(reinterpret_cast<const char*>(s.data()), n);
  }

 private:
  std::array<std::optional<std::span<const std::uint8_t>>, N> v_{};
};

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
  auto a = Attrs<IPVS_STATS_ATTR_MAX + 1>::parse(raw);
  if (!a) return s;
  auto get = [&](int t) -> std::uint64_t {
    if (wide) return a->template get<std::uint64_t>(t).value_or(0);
    // The 32-bit nest carries bytes as u64 and the rest as u32.
    if (t == IPVS_STATS_ATTR_INBYTES || t == IPVS_STATS_ATTR_OUTBYTES) {
      return a->template get<std::uint64_t>(t).value_or(0);
    }
    return a->template get<std::uint32_t>(t).value_or(0);
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
  auto top = Attrs<IPVS_CMD_ATTR_MAX + 1>::parse(attrs);
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
  Builder b(h, cmd, kChange);
  bool fullService = cmd == Command::NewService || cmd == Command::SetService;
  service(b, s, fullService);
  if (d != nullptr) destination(b, *d, cmd == Command::NewDest || cmd == Command::SetDest);
  return std::move(b).finish();
}

Bytes encode(const Header& h, const Op& op) {
  return encode(h, commandOf(op.kind), op.service,
                op.isDestinationOp() ? &op.destination : nullptr);
}

Bytes getServices(const Header& h) { return Builder(h, Command::GetService, kDump).finish(); }

Bytes getDestinations(const Header& h, const ServiceKey& key) {
  Builder b(h, Command::GetDest, kDump);
  auto at = b.begin(IPVS_CMD_ATTR_SERVICE);
  serviceKey(b, key);
  b.end(at);
  return std::move(b).finish();
}

Bytes getInfo(const Header& h) { return Builder(h, Command::GetInfo, NLM_F_REQUEST).finish(); }

Bytes getDaemons(const Header& h) { return Builder(h, Command::GetDaemon, kDump).finish(); }

Bytes newDaemon(const Header& h, const SyncDaemon& d) {
  Builder b(h, Command::NewDaemon, kChange);
  auto at = b.begin(IPVS_CMD_ATTR_DAEMON);
  b.u32(IPVS_DAEMON_ATTR_STATE, static_cast<std::uint32_t>(d.role));
  b.string(IPVS_DAEMON_ATTR_MCAST_IFN, d.interface);
  b.u32(IPVS_DAEMON_ATTR_SYNC_ID, d.syncId);
  if (d.maxLength != 0) b.u16(IPVS_DAEMON_ATTR_SYNC_MAXLEN, d.maxLength);
  if (d.group && d.group->isV4()) b.attr(IPVS_DAEMON_ATTR_MCAST_GROUP, d.group->bytes.data(), 4);
  if (d.group && d.group->isV6()) b.attr(IPVS_DAEMON_ATTR_MCAST_GROUP6, d.group->bytes.data(), 16);
  if (d.port != 0) b.u16(IPVS_DAEMON_ATTR_MCAST_PORT, d.port);
  if (d.ttl != 0) b.u8(IPVS_DAEMON_ATTR_MCAST_TTL, d.ttl);
  b.end(at);
  return std::move(b).finish();
}

Bytes delDaemon(const Header& h, SyncRole role) {
  Builder b(h, Command::DelDaemon, kChange);
  auto at = b.begin(IPVS_CMD_ATTR_DAEMON);
  b.u32(IPVS_DAEMON_ATTR_STATE, static_cast<std::uint32_t>(role));
  b.end(at);
  return std::move(b).finish();
}

Result<ServiceState> parseService(std::span<const std::uint8_t> attrs) {
  auto raw = nest(attrs, IPVS_CMD_ATTR_SERVICE);
  if (!raw) return malformed("service message without a service");
  auto a = Attrs<IPVS_SVC_ATTR_MAX + 1>::parse(*raw);
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
  auto a = Attrs<IPVS_DEST_ATTR_MAX + 1>::parse(*raw);
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
  auto a = Attrs<IPVS_DAEMON_ATTR_MAX + 1>::parse(*raw);
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
  auto a = Attrs<IPVS_INFO_ATTR_MAX + 1>::parse(attrs);
  if (!a) return malformed("info attributes overrun the message");
  auto version = a->get<std::uint32_t>(IPVS_INFO_ATTR_VERSION);
  auto size = a->get<std::uint32_t>(IPVS_INFO_ATTR_CONN_TAB_SIZE);
  if (!version || !size) return malformed("info without version or table size");
  return Info{*version, *size};
}

}  // namespace quorate::kernel::ipvs::msg
