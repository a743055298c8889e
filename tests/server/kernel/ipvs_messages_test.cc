// IPVS generic netlink messages against golden bytes (laid out by hand from the kernel's uapi
// <linux/ip_vs.h> and ip_vs_ctl.c's parsers), round trips of every option, and malformed
// replies. No root, no kernel; and the port's error on a kernel without IPVS.
#include "server/kernel/ipvs_messages.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cstring>
#include <random>
#include <span>
#include <vector>

#include "server/kernel/ipvs.h"

namespace quorate::kernel::ipvs {
namespace {

using Bytes = std::vector<std::uint8_t>;

net::IpAddress ip(const char* s) { return *net::IpAddress::parse(s); }

Service tcpService() {
  Service s;
  s.key = ServiceKey::inet(Protocol::Tcp, ip("198.18.0.10"), 80);
  s.scheduler = "wlc";
  return s;
}

// The attributes of a message (after nlmsghdr + genlmsghdr).
std::span<const std::uint8_t> attrsOf(const Bytes& m) {
  return std::span<const std::uint8_t>(m).subspan(NLMSG_HDRLEN + GENL_HDRLEN);
}

TEST(IpvsMessages, NewServiceGoldenBytes) {
  Bytes got = msg::encode({0x1c, 7}, msg::Command::NewService, tcpService());
  const Bytes want = {
      // nlmsghdr: length 104, type 0x1c (the family), flags REQUEST|ACK, seq 7, port 0
      0x68, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x05, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00,
      // genlmsghdr: cmd IPVS_CMD_NEW_SERVICE, version 1
      0x01, 0x01, 0x00, 0x00,
      // IPVS_CMD_ATTR_SERVICE nest: 4 + 80 bytes
      0x54, 0x00, 0x01, 0x00,
      // AF = AF_INET (u16)
      0x06, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00,
      // PROTOCOL = IPPROTO_TCP (u16)
      0x06, 0x00, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00,
      // ADDR: union nf_inet_addr, 198.18.0.10 then zeros
      0x14, 0x00, 0x03, 0x00, 0xc6, 0x12, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00,
      // PORT = 80, network order
      0x06, 0x00, 0x04, 0x00, 0x00, 0x50, 0x00, 0x00,
      // SCHED_NAME "wlc\0"
      0x08, 0x00, 0x06, 0x00, 'w', 'l', 'c', 0x00,
      // FLAGS: struct ip_vs_flags {flags 0, mask ~0}
      0x0c, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
      // TIMEOUT 0
      0x08, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
      // NETMASK /32
      0x08, 0x00, 0x09, 0x00, 0xff, 0xff, 0xff, 0xff};
  EXPECT_EQ(got, want);
}

TEST(IpvsMessages, NewDestinationGoldenBytes) {
  Destination d;
  d.address = ip("198.18.0.21");
  d.port = 8080;
  d.forward = Forward::Direct;
  d.weight = 3;
  d.upperThreshold = 100;
  d.lowerThreshold = 10;
  Bytes got = msg::encode({0x1c, 9}, msg::Command::NewDest, tcpService(), &d);
  const Bytes want = {// nlmsghdr: length 140
                      0x8c, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x05, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00,
                      0x00, 0x00, 0x00,
                      // IPVS_CMD_NEW_DEST
                      0x05, 0x01, 0x00, 0x00,
                      // service nest (key only): 4 + 44 bytes
                      0x30, 0x00, 0x01, 0x00, 0x06, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x06,
                      0x00, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0x14, 0x00, 0x03, 0x00, 0xc6, 0x12,
                      0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                      0x00, 0x06, 0x00, 0x04, 0x00, 0x00, 0x50, 0x00, 0x00,
                      // IPVS_CMD_ATTR_DEST nest: 4 + 68 bytes
                      0x48, 0x00, 0x02, 0x00,
                      // ADDR 198.18.0.21
                      0x14, 0x00, 0x01, 0x00, 0xc6, 0x12, 0x00, 0x15, 0x00, 0x00, 0x00, 0x00, 0x00,
                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                      // PORT 8080 = 0x1f90, network order
                      0x06, 0x00, 0x02, 0x00, 0x1f, 0x90, 0x00, 0x00,
                      // ADDR_FAMILY AF_INET
                      0x06, 0x00, 0x0b, 0x00, 0x02, 0x00, 0x00, 0x00,
                      // FWD_METHOD = IP_VS_CONN_F_DROUTE (3)
                      0x08, 0x00, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00,
                      // WEIGHT 3
                      0x08, 0x00, 0x04, 0x00, 0x03, 0x00, 0x00, 0x00,
                      // U_THRESH 100, L_THRESH 10
                      0x08, 0x00, 0x05, 0x00, 0x64, 0x00, 0x00, 0x00, 0x08, 0x00, 0x06, 0x00, 0x0a,
                      0x00, 0x00, 0x00};
  EXPECT_EQ(got, want);
}

TEST(IpvsMessages, DeleteAndDumpCarryOnlyTheKey) {
  Service s = tcpService();
  s.key = ServiceKey::mark(AF_INET6, 0x2a);
  Bytes del = msg::encode({0x1c, 1}, msg::Command::DelService, s);
  const Bytes want = {0x28, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
                      0x00, 0x00, 0x00,
                      // IPVS_CMD_DEL_SERVICE
                      0x03, 0x01, 0x00, 0x00,
                      // service nest: AF_INET6 (10), FWMARK 42
                      0x14, 0x00, 0x01, 0x00, 0x06, 0x00, 0x01, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x08,
                      0x00, 0x05, 0x00, 0x2a, 0x00, 0x00, 0x00};
  EXPECT_EQ(del, want);

  Bytes dump = msg::getServices({0x1c, 2});
  const Bytes wantDump = {0x14, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x03,  // REQUEST|DUMP
                          0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                          0x04, 0x01, 0x00, 0x00};  // IPVS_CMD_GET_SERVICE
  EXPECT_EQ(dump, wantDump);
}

TEST(IpvsMessages, SyncDaemonGoldenBytes) {
  SyncDaemon d;
  d.role = SyncRole::Backup;
  d.interface = "eth1";
  d.syncId = 51;
  Bytes got = msg::newDaemon({0x1c, 3}, d);
  const Bytes want = {0x34, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x05, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00,
                      0x00, 0x00, 0x00,
                      // IPVS_CMD_NEW_DAEMON
                      0x09, 0x01, 0x00, 0x00,
                      // IPVS_CMD_ATTR_DAEMON nest (type 3): 4 + 28 bytes
                      0x20, 0x00, 0x03, 0x00,
                      // STATE = IP_VS_STATE_BACKUP
                      0x08, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00,
                      // MCAST_IFN "eth1\0" (padded)
                      0x09, 0x00, 0x02, 0x00, 'e', 't', 'h', '1', 0x00, 0x00, 0x00, 0x00,
                      // SYNC_ID 51
                      0x08, 0x00, 0x03, 0x00, 0x33, 0x00, 0x00, 0x00};
  EXPECT_EQ(got, want);
  auto back = msg::parseDaemon(attrsOf(got));
  ASSERT_TRUE(back.isOk()) << back.status().message();
  EXPECT_EQ(*back, d);
}

// Every option of a service survives encode → parse (the request's nest has the layout of the
// kernel's reply).
TEST(IpvsMessages, ServiceOptionsRoundTrip) {
  std::vector<Service> cases;
  Service a = tcpService();
  cases.push_back(a);
  Service v6;
  v6.key = ServiceKey::inet(Protocol::Udp, ip("2001:db8::10"), 53);
  v6.scheduler = "sh";
  v6.flags = flag::kOnePacket | flag::kSched1 | flag::kSched2;
  v6.netmask = 64;
  cases.push_back(v6);
  Service persistent = tcpService();
  persistent.key = ServiceKey::inet(Protocol::Sctp, ip("198.18.0.11"), 0);
  persistent.scheduler = "mh";
  persistent.flags = flag::kPersistent | flag::kSched2;
  persistent.timeout = 300;
  persistent.netmask = 0x00ffffff;  // 255.255.255.0 in network order
  persistent.persistenceEngine = "sip";
  cases.push_back(persistent);
  Service mark;
  mark.key = ServiceKey::mark(AF_INET, 7);
  mark.scheduler = "lblcr";
  cases.push_back(mark);
  for (const auto& s : cases) {
    auto back = msg::parseService(attrsOf(msg::encode({1, 1}, msg::Command::NewService, s)));
    ASSERT_TRUE(back.isOk()) << back.status().message();
    EXPECT_EQ(back->service.key, s.key) << s.toString();
    EXPECT_TRUE(back->service.sameSettings(s))
        << back->service.toString() << " vs " << s.toString();
  }
}

TEST(IpvsMessages, DestinationOptionsRoundTrip) {
  std::vector<Destination> cases;
  Destination nat;
  nat.address = ip("198.18.0.21");
  nat.port = 80;
  nat.forward = Forward::Nat;
  nat.weight = 0;
  cases.push_back(nat);
  Destination gue;
  gue.address = ip("2001:db8::21");  // mixed family: tun only
  gue.port = 80;
  gue.forward = Forward::Tunnel;
  gue.weight = 65535;
  gue.tunnelType = TunnelType::Gue;
  gue.tunnelPort = 6080;
  gue.tunnelFlags = tunflag::kRemCsum;
  cases.push_back(gue);
  Destination dr;
  dr.address = ip("198.18.0.22");
  dr.port = 443;
  dr.upperThreshold = 5000;
  dr.lowerThreshold = 4000;
  cases.push_back(dr);
  for (const auto& d : cases) {
    Bytes m = msg::encode({1, 1}, msg::Command::NewDest, tcpService(), &d);
    auto back = msg::parseDestination(attrsOf(m), AF_INET);
    ASSERT_TRUE(back.isOk()) << back.status().message();
    EXPECT_EQ(back->dest.address, d.address);
    EXPECT_EQ(back->dest.port, d.port);
    EXPECT_TRUE(back->dest.sameSettings(d)) << back->dest.toString() << " vs " << d.toString();
  }
}

// A reply as the kernel writes it: both stats nests; the 64-bit one wins.
TEST(IpvsMessages, ParsesStatisticsOfAReply) {
  Bytes attrs;
  auto put = [&](std::uint16_t type, const void* data, std::size_t len) {
    nlattr a{static_cast<std::uint16_t>(NLA_HDRLEN + len), type};
    const auto* h = reinterpret_cast<const std::uint8_t*>(&a);
    attrs.insert(attrs.end(), h, h + sizeof a);
    const auto* p = static_cast<const std::uint8_t*>(data);
    attrs.insert(attrs.end(), p, p + len);
    attrs.resize(NLA_ALIGN(attrs.size()));
  };
  auto nest = [&](std::uint16_t type, auto&& body) {
    std::size_t at = attrs.size();
    put(type, nullptr, 0);
    body();
    auto len = static_cast<std::uint16_t>(attrs.size() - at);
    std::memcpy(attrs.data() + at, &len, sizeof len);
  };
  nest(2 /* IPVS_CMD_ATTR_DEST */, [&] {
    std::uint8_t addr[16] = {198, 18, 0, 21};
    put(1, addr, 16);
    std::uint16_t port = htons(80);
    put(2, &port, 2);
    std::uint32_t fwd = 0, weight = 7, active = 12, inactive = 3, persist = 1;
    put(3, &fwd, 4);
    put(4, &weight, 4);
    put(7, &active, 4);
    put(8, &inactive, 4);
    put(9, &persist, 4);
    nest(10 /* STATS, 32-bit */, [&] {
      std::uint32_t conns = 1;
      put(1, &conns, 4);
    });
    nest(12 /* STATS64 */, [&] {
      std::uint64_t conns = 5'000'000'000ULL, inBytes = 1234, cps = 9;
      put(1, &conns, 8);
      put(4, &inBytes, 8);
      put(6, &cps, 8);
    });
  });
  auto d = msg::parseDestination(attrs, AF_INET);
  ASSERT_TRUE(d.isOk()) << d.status().message();
  EXPECT_EQ(d->dest.address, ip("198.18.0.21"));
  EXPECT_EQ(d->dest.forward, Forward::Nat);
  EXPECT_EQ(d->dest.weight, 7);
  EXPECT_EQ(d->activeConnections, 12u);
  EXPECT_EQ(d->inactiveConnections, 3u);
  EXPECT_EQ(d->persistentConnections, 1u);
  EXPECT_EQ(d->stats.connections, 5'000'000'000ULL);
  EXPECT_EQ(d->stats.inBytes, 1234u);
  EXPECT_EQ(d->stats.cps, 9u);
}

TEST(IpvsMessages, MalformedRepliesAreErrorsNotCrashes) {
  Bytes m = msg::encode({1, 1}, msg::Command::NewService, tcpService());
  auto attrs = attrsOf(m);
  // Cut anywhere: an error naming the reply, never a crash or a half-parsed service.
  for (std::size_t n = 0; n < attrs.size(); ++n) {
    auto r = msg::parseService(attrs.first(n));
    if (!r.isOk()) {
      EXPECT_EQ(r.status().err(), EPROTO);
      EXPECT_NE(r.status().what().find("IPVS reply"), std::string::npos);
    }
  }
  EXPECT_FALSE(msg::parseService({}).isOk());
  EXPECT_FALSE(msg::parseDestination({}, AF_INET).isOk());
  EXPECT_FALSE(msg::parseInfo({}).isOk());
  // Random bytes: any result, no crash (run under the sanitizers in the fuzz target later).
  std::mt19937 rng(1);
  for (int i = 0; i < 20000; ++i) {
    Bytes junk(rng() % 200);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    (void)msg::parseService(junk);
    (void)msg::parseDestination(junk, AF_INET6);
    (void)msg::parseDaemon(junk);
    (void)msg::parseInfo(junk);
  }
}

}  // namespace
}  // namespace quorate::kernel::ipvs

namespace quorate::kernel::ipvs {
namespace {

// On a kernel without IPVS (the build machines), every call is a clear error, never a crash.
TEST(IpvsPort, AKernelWithoutIpvsIsAClearError) {
  auto port = makeNetlinkIpvs();
  auto info = port->info();
  if (info.isOk()) GTEST_SKIP() << "this kernel has IPVS";
  EXPECT_EQ(info.status().err(), ENOENT);
  EXPECT_NE(info.status().message().find("no IPVS in this kernel"), std::string::npos)
      << info.status().message();
  EXPECT_FALSE(port->dump().isOk());
  EXPECT_FALSE(port->apply({}, true).isOk());
  EXPECT_FALSE(port->stopSyncDaemon(SyncRole::Master).isOk());
}

}  // namespace
}  // namespace quorate::kernel::ipvs
