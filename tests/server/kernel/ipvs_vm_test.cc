// The generic netlink IPVS client against the real kernel (in the VM: the host kernel has no
// IPVS). Every service and destination option is programmed by quorate and read back both by
// quorate and by ipvsadm; errors come back as values. Runs in a private network namespace
// (netns_main.cc), so IPVS starts empty and everything vanishes with the process.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "server/kernel/ipvs.h"
#include "tests/server/kernel/command_output.h"

namespace quorate::kernel::ipvs {
namespace {

using testing::commandOutput;

net::IpAddress ip(const char* s) { return *net::IpAddress::parse(s); }

// The lines of `text` that contain `needle`.
std::vector<std::string> linesWith(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) out.push_back(line);
  }
  return out;
}

// The service line of `key` in `ipvsadm -Ln` output and the destination lines under it.
struct Listed {
  std::string service;
  std::vector<std::string> destinations;
};
Listed listed(const std::string& text, const std::string& serviceToken) {
  Listed l;
  std::istringstream in(text);
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("  -> ", 0) == 0) {
      if (inside) l.destinations.push_back(line);
      continue;
    }
    inside =
        line.find(serviceToken + " ") != std::string::npos ||
        (line.size() >= serviceToken.size() &&
         line.compare(line.size() - serviceToken.size(), serviceToken.size(), serviceToken) == 0);
    if (inside) l.service = line;
  }
  return l;
}

class IpvsKernel : public ::testing::Test {
 protected:
  // The kernel checks that a real server's address is unicast in the local routing table,
  // which a namespace has only once lo is up.
  void SetUp() override {
    ASSERT_EQ(std::system("ip link set lo up"), 0);
    ipvs_ = makeNetlinkIpvs();
    auto info = ipvs_->info();
    ASSERT_TRUE(info.isOk()) << info.status().message();
  }

  // The tests share the process's namespace: each leaves it as it found it.
  void TearDown() override {
    if ((std::system("ipvsadm -C; ipvsadm --stop-daemon master 2>/dev/null; "
                     "ipvsadm --stop-daemon backup 2>/dev/null; "
                     "ip link del q0 2>/dev/null; ip link del q1 2>/dev/null; true")) != 0) {
    }
  }

  void applyOk(const std::vector<Op>& ops, bool tolerant = false) {
    auto r = ipvs_->apply(ops, tolerant);
    ASSERT_TRUE(r.isOk()) << r.status().message();
    for (std::size_t i = 0; i < ops.size(); ++i) {
      ASSERT_TRUE((*r)[i].isOk()) << (*r)[i].message();
    }
  }

  const ServiceState* find(const std::vector<ServiceState>& all, const ServiceKey& k) {
    for (const auto& s : all) {
      if (s.service.key == k) return &s;
    }
    return nullptr;
  }

  std::unique_ptr<Ipvs> ipvs_;
};

Op addService(const Service& s) { return Op{Op::Kind::AddService, s, {}}; }
Op addDest(const Service& s, const Destination& d) { return Op{Op::Kind::AddDestination, s, d}; }

TEST_F(IpvsKernel, InfoNamesTheKernelsIpvs) {
  auto info = ipvs_->info();
  ASSERT_TRUE(info.isOk());
  EXPECT_GE(info->version, 0x010200u);
  EXPECT_GT(info->connTableSize, 0u);
  std::string text = commandOutput("ipvsadm -Ln");
  char want[64];
  std::snprintf(want, sizeof want, "version %u.%u.%u", info->version >> 16,
                (info->version >> 8) & 0xff, info->version & 0xff);
  EXPECT_NE(text.find(want), std::string::npos) << text;
}

// Every scheduler, protocol, family and fwmark, with their flags: quorate's read-back equals
// what it programmed, and ipvsadm lists the same.
TEST_F(IpvsKernel, EveryServiceOptionRoundTrips) {
  const std::vector<std::string> schedulers = {"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh",
                                               "sh", "sed", "nq", "fo",  "ovf",  "mh"};
  std::vector<Service> services;
  std::uint16_t port = 1000;
  for (const auto& sched : schedulers) {
    Service v4;
    v4.key = ServiceKey::inet(Protocol::Tcp, ip("198.18.0.10"), port++);
    v4.scheduler = sched;
    services.push_back(v4);
    Service v6;
    v6.key = ServiceKey::inet(Protocol::Udp, ip("2001:db8::10"), port++);
    v6.scheduler = sched;
    v6.netmask = 128;
    services.push_back(v6);
  }
  Service sh;  // scheduler flags
  sh.key = ServiceKey::inet(Protocol::Tcp, ip("198.18.0.11"), 80);
  sh.scheduler = "sh";
  sh.flags = flag::kSched1 | flag::kSched2;  // sh-fallback, sh-port
  services.push_back(sh);
  Service mh = sh;
  mh.key.port = 81;
  mh.scheduler = "mh";
  services.push_back(mh);
  Service persistent;
  persistent.key = ServiceKey::inet(Protocol::Sctp, ip("198.18.0.12"), 443);
  persistent.scheduler = "wlc";
  persistent.flags = flag::kPersistent;
  persistent.timeout = 300;
  persistent.netmask = htonl(0xffffff00);  // 255.255.255.0
  services.push_back(persistent);
  Service persistent6;
  persistent6.key = ServiceKey::inet(Protocol::Tcp, ip("2001:db8::12"), 0);  // all ports
  persistent6.scheduler = "rr";
  persistent6.flags = flag::kPersistent;
  persistent6.timeout = 60;
  persistent6.netmask = 64;
  services.push_back(persistent6);
  Service ops;
  ops.key = ServiceKey::inet(Protocol::Udp, ip("198.18.0.13"), 53);
  ops.scheduler = "rr";
  ops.flags = flag::kOnePacket;
  services.push_back(ops);
  Service mark4;
  mark4.key = ServiceKey::mark(AF_INET, 7);
  mark4.scheduler = "wrr";
  services.push_back(mark4);
  Service mark6;
  mark6.key = ServiceKey::mark(AF_INET6, 8);
  mark6.scheduler = "lc";
  mark6.netmask = 128;
  services.push_back(mark6);

  std::vector<Op> opsList;
  for (const auto& s : services) opsList.push_back(addService(s));
  applyOk(opsList);

  auto dumped = ipvs_->dump();
  ASSERT_TRUE(dumped.isOk()) << dumped.status().message();
  EXPECT_EQ(dumped->size(), services.size());
  const std::string text = commandOutput("ipvsadm -Ln");
  for (const auto& s : services) {
    const ServiceState* got = find(*dumped, s.key);
    ASSERT_NE(got, nullptr) << s.toString();
    EXPECT_TRUE(got->service.sameSettings(s))
        << "programmed " << s.toString() << ", read back " << got->service.toString();
    // ipvsadm's view.
    std::string token;
    if (s.key.isFwmark()) {
      token = "FWM  " + std::to_string(s.key.fwmark) + (s.key.family == AF_INET6 ? " IPv6" : "");
    } else {
      std::string proto = s.key.protocol == Protocol::Tcp   ? "TCP"
                          : s.key.protocol == Protocol::Udp ? "UDP"
                                                            : "SCTP";
      std::string addr =
          s.key.address.isV6() ? "[" + s.key.address.toString() + "]" : s.key.address.toString();
      token = addr + ":" + std::to_string(s.key.port);
      auto l = listed(text, token);
      EXPECT_EQ(l.service.rfind(proto, 0), 0u) << l.service;
    }
    auto l = listed(text, token);
    ASSERT_FALSE(l.service.empty()) << token << " not in\n" << text;
    EXPECT_NE(l.service.find(" " + s.scheduler), std::string::npos) << l.service;
    if (s.flags & flag::kPersistent) {
      EXPECT_NE(l.service.find("persistent " + std::to_string(s.timeout)), std::string::npos)
          << l.service;
    }
    if (s.key.protocol == Protocol::Sctp) {  // the one with /24 granularity
      EXPECT_NE(l.service.find("mask 255.255.255.0"), std::string::npos) << l.service;
    }
    if (s.flags & flag::kOnePacket) {
      EXPECT_NE(l.service.find("ops"), std::string::npos) << l.service;
    }
    if (s.scheduler == "sh" && (s.flags & flag::kSched1)) {
      EXPECT_NE(l.service.find("sh-fallback"), std::string::npos) << l.service;
      EXPECT_NE(l.service.find("sh-port"), std::string::npos) << l.service;
    }
    if (s.scheduler == "mh" && (s.flags & flag::kSched1)) {
      EXPECT_NE(l.service.find("mh-fallback"), std::string::npos) << l.service;
      EXPECT_NE(l.service.find("mh-port"), std::string::npos) << l.service;
    }
  }
}

TEST_F(IpvsKernel, EveryDestinationOptionRoundTrips) {
  Service s;
  s.key = ServiceKey::inet(Protocol::Tcp, ip("198.18.0.10"), 80);
  s.scheduler = "wlc";
  std::vector<Destination> dests;
  Destination dr;
  dr.address = ip("198.18.0.21");
  dr.port = 80;
  dr.forward = Forward::Direct;
  dr.weight = 3;
  dests.push_back(dr);
  Destination nat;
  nat.address = ip("198.18.0.22");
  nat.port = 8080;
  nat.forward = Forward::Nat;
  nat.weight = 0;  // quiescent
  nat.upperThreshold = 1000;
  nat.lowerThreshold = 800;
  dests.push_back(nat);
  Destination ipip;
  ipip.address = ip("198.18.0.23");
  ipip.port = 80;
  ipip.forward = Forward::Tunnel;
  ipip.weight = 65535;
  dests.push_back(ipip);
  Destination gue = ipip;
  gue.address = ip("198.18.0.24");
  gue.tunnelType = TunnelType::Gue;
  gue.tunnelPort = 6080;
  gue.tunnelFlags = tunflag::kCsum;
  dests.push_back(gue);
  Destination gre = ipip;
  gre.address = ip("198.18.0.25");
  gre.tunnelType = TunnelType::Gre;
  gre.tunnelFlags = tunflag::kRemCsum;
  dests.push_back(gre);
  Destination mixed = ipip;  // IPv6 real server behind an IPv4 service: tunnel only
  mixed.address = ip("2001:db8::26");
  dests.push_back(mixed);

  std::vector<Op> ops = {addService(s)};
  for (const auto& d : dests) ops.push_back(addDest(s, d));
  applyOk(ops);

  auto dumped = ipvs_->dump();
  ASSERT_TRUE(dumped.isOk()) << dumped.status().message();
  const ServiceState* got = find(*dumped, s.key);
  ASSERT_NE(got, nullptr);
  ASSERT_EQ(got->destinations.size(), dests.size());
  for (const auto& d : dests) {
    auto it = std::find_if(got->destinations.begin(), got->destinations.end(), [&](auto& x) {
      return x.dest.address == d.address && x.dest.port == d.port;
    });
    ASSERT_NE(it, got->destinations.end()) << d.toString();
    EXPECT_TRUE(it->dest.sameSettings(d))
        << "programmed " << d.toString() << ", read back " << it->dest.toString();
  }

  const std::string plain = commandOutput("ipvsadm -Ln -t 198.18.0.10:80");
  const std::string thresholds = commandOutput("ipvsadm -Ln --thresholds -t 198.18.0.10:80");
  const std::string tun = commandOutput("ipvsadm -Ln --tun-info -t 198.18.0.10:80");
  auto line = [](const std::string& text, const std::string& endpoint) {
    auto l = linesWith(text, "-> " + endpoint + " ");
    return l.empty() ? std::string() : l.front();
  };
  EXPECT_NE(line(plain, "198.18.0.21:80").find("Route"), std::string::npos) << plain;
  EXPECT_NE(line(plain, "198.18.0.21:80").find(" 3 "), std::string::npos) << plain;
  EXPECT_NE(line(plain, "198.18.0.22:8080").find("Masq"), std::string::npos) << plain;
  EXPECT_NE(line(plain, "198.18.0.22:8080").find(" 0 "), std::string::npos) << plain;
  EXPECT_NE(line(plain, "198.18.0.23:80").find("Tunnel"), std::string::npos) << plain;
  EXPECT_NE(line(plain, "198.18.0.23:80").find("65535"), std::string::npos) << plain;
  EXPECT_NE(line(plain, "[2001:db8::26]:80").find("Tunnel"), std::string::npos) << plain;
  const std::string t = line(thresholds, "198.18.0.22:8080");
  EXPECT_NE(t.find("1000"), std::string::npos) << thresholds;
  EXPECT_NE(t.find("800"), std::string::npos) << thresholds;
  // ipvsadm 1.31 lists tunnel type, port and checksum flags with --tun-info.
  EXPECT_NE(line(tun, "198.18.0.24:80").find("gue"), std::string::npos) << tun;
  EXPECT_NE(line(tun, "198.18.0.24:80").find("6080"), std::string::npos) << tun;
  EXPECT_NE(line(tun, "198.18.0.25:80").find("gre"), std::string::npos) << tun;
}

TEST_F(IpvsKernel, EditsChangeSettingsInPlace) {
  Service s;
  s.key = ServiceKey::inet(Protocol::Tcp, ip("198.18.0.10"), 80);
  s.scheduler = "rr";
  Destination d;
  d.address = ip("198.18.0.21");
  d.port = 80;
  applyOk({addService(s), addDest(s, d)});

  Service s2 = s;
  s2.scheduler = "wlc";
  s2.flags = flag::kPersistent;
  s2.timeout = 120;
  Destination d2 = d;
  d2.weight = 9;
  d2.forward = Forward::Nat;
  applyOk({Op{Op::Kind::EditService, s2, {}}, Op{Op::Kind::EditDestination, s2, d2}});
  auto dumped = ipvs_->dump();
  ASSERT_TRUE(dumped.isOk());
  const ServiceState* got = find(*dumped, s.key);
  ASSERT_NE(got, nullptr);
  EXPECT_TRUE(got->service.sameSettings(s2)) << got->service.toString();
  ASSERT_EQ(got->destinations.size(), 1u);
  EXPECT_TRUE(got->destinations[0].dest.sameSettings(d2)) << got->destinations[0].dest.toString();

  // And back: clearing persistence clears the flag (the mask covers every flag).
  applyOk({Op{Op::Kind::EditService, s, {}}});
  dumped = ipvs_->dump();
  ASSERT_TRUE(dumped.isOk());
  EXPECT_TRUE(find(*dumped, s.key)->service.sameSettings(s));
}

TEST_F(IpvsKernel, TolerantApplyIsIdempotentAndStrictApplyNamesTheError) {
  Service s;
  s.key = ServiceKey::inet(Protocol::Tcp, ip("198.18.0.10"), 80);
  Destination d;
  d.address = ip("198.18.0.21");
  d.port = 80;
  std::vector<Op> ops = {addService(s), addDest(s, d)};
  applyOk(ops);

  // Strict: exists / missing are errors naming the op.
  auto again = ipvs_->apply(ops, false);
  ASSERT_TRUE(again.isOk());
  EXPECT_EQ((*again)[0].err(), EEXIST);
  EXPECT_NE((*again)[0].message().find("add service tcp 198.18.0.10:80"), std::string::npos)
      << (*again)[0].message();
  EXPECT_EQ((*again)[1].err(), EEXIST);
  Destination other = d;
  other.address = ip("198.18.0.29");
  auto missing = ipvs_->apply({Op{Op::Kind::DeleteDestination, s, other}}, false);
  ASSERT_TRUE(missing.isOk());
  EXPECT_EQ((*missing)[0].err(), ENOENT) << (*missing)[0].message();

  // Tolerant: adding what exists edits it; deleting what is missing is done.
  Destination heavier = d;
  heavier.weight = 5;
  applyOk({addService(s), addDest(s, heavier), Op{Op::Kind::DeleteDestination, s, other}}, true);
  Service gone;
  gone.key = ServiceKey::inet(Protocol::Udp, ip("198.18.0.99"), 1);
  applyOk({Op{Op::Kind::DeleteService, gone, {}}}, true);
  auto dumped = ipvs_->dump();
  ASSERT_TRUE(dumped.isOk());
  ASSERT_EQ(find(*dumped, s.key)->destinations.size(), 1u);
  EXPECT_EQ(find(*dumped, s.key)->destinations[0].dest.weight, 5);
}

TEST_F(IpvsKernel, KernelRefusalsAreValuesNamingTheOp) {
  Service bad;
  bad.key = ServiceKey::inet(Protocol::Tcp, ip("198.18.0.10"), 81);
  bad.scheduler = "nosuch";
  Service absent;
  absent.key = ServiceKey::inet(Protocol::Tcp, ip("198.18.0.10"), 82);
  Destination d;
  d.address = ip("198.18.0.21");
  d.port = 80;
  auto r = ipvs_->apply({addService(bad), addDest(absent, d)}, true);
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_FALSE((*r)[0].isOk());
  EXPECT_NE((*r)[0].message().find("nosuch"), std::string::npos) << (*r)[0].message();
  EXPECT_EQ((*r)[1].err(), ESRCH) << (*r)[1].message();
  // Nothing half-made is left.
  auto dumped = ipvs_->dump();
  ASSERT_TRUE(dumped.isOk());
  EXPECT_TRUE(dumped->empty());
}

// Many changes in one call are pipelined in batches; all land.
TEST_F(IpvsKernel, ThousandsOfOpsInOneApply) {
  std::vector<Op> ops;
  for (int i = 0; i < 300; ++i) {
    Service s;
    s.key = ServiceKey::inet(Protocol::Tcp, ip("198.18.1.1"), static_cast<std::uint16_t>(1 + i));
    ops.push_back(addService(s));
    for (int j = 0; j < 10; ++j) {
      Destination d;
      d.address = net::IpAddress::parse("198.18.2." + std::to_string(1 + j)).value();
      d.port = 80;
      ops.push_back(addDest(s, d));
    }
  }
  applyOk(ops);
  auto dumped = ipvs_->dump();
  ASSERT_TRUE(dumped.isOk());
  ASSERT_EQ(dumped->size(), 300u);
  std::size_t n = 0;
  for (const auto& s : *dumped) n += s.destinations.size();
  EXPECT_EQ(n, 3000u);
  EXPECT_EQ(linesWith(commandOutput("ipvsadm -Ln"), "  -> 198.18.2.").size(), 3000u);
}

// Traffic through a service: quorate's counters equal ipvsadm's exact ones.
TEST_F(IpvsKernel, StatisticsMatchIpvsadm) {
  ASSERT_EQ(std::system("ip link add q0 type dummy && ip link set q0 up && "
                        "ip addr add 198.18.0.1/24 dev q0 && ip addr add 198.18.0.10/32 dev q0"),
            0);
  Service s;
  s.key = ServiceKey::inet(Protocol::Tcp, ip("198.18.0.10"), 80);
  Destination d;  // a local real server: the kernel makes it "local" forwarding
  d.address = ip("198.18.0.1");
  d.port = 80;
  applyOk({addService(s), addDest(s, d)});

  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in any{};
  any.sin_family = AF_INET;
  any.sin_port = htons(80);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
  ASSERT_EQ(::listen(listener, 64), 0);
  constexpr int kConnections = 7;
  for (int i = 0; i < kConnections; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in vip{};
    vip.sin_family = AF_INET;
    vip.sin_port = htons(80);
    inet_pton(AF_INET, "198.18.0.10", &vip.sin_addr);
    ASSERT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&vip), sizeof vip), 0) << strerror(errno);
    ASSERT_EQ(::send(c, "hello", 5, 0), 5);
    int a = ::accept(listener, nullptr, nullptr);
    ASSERT_GE(a, 0);
    ::close(a);
    ::close(c);
  }
  ::close(listener);

  // The kernel folds its per-CPU counters into what it reports every 2 s (the rate
  // estimator): wait for that, then read quorate's view on both sides of ipvsadm's, until
  // nothing moved in between.
  std::string text;
  Result<std::vector<ServiceState>> dumped = std::vector<ServiceState>{};
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    auto before = ipvs_->dump();
    text = commandOutput("ipvsadm -Ln --stats --exact -t 198.18.0.10:80");
    dumped = ipvs_->dump();
    ASSERT_TRUE(before.isOk() && dumped.isOk());
    if (find(*before, s.key)->stats == find(*dumped, s.key)->stats) break;
  }
  const ServiceState* got = find(*dumped, s.key);
  ASSERT_NE(got, nullptr);
  ASSERT_EQ(got->destinations.size(), 1u);
  EXPECT_EQ(got->stats.connections, static_cast<std::uint64_t>(kConnections));
  EXPECT_GT(got->stats.inPackets, 0u);
  EXPECT_GT(got->stats.inBytes, 0u);
  const Stats& st = got->stats;
  auto l = listed(text, "198.18.0.10:80");
  std::istringstream fields(l.service);
  std::string proto, endpoint;
  std::uint64_t conns = 0, inPkts = 0, outPkts = 0, inBytes = 0, outBytes = 0;
  fields >> proto >> endpoint >> conns >> inPkts >> outPkts >> inBytes >> outBytes;
  EXPECT_EQ(conns, st.connections) << text;
  EXPECT_EQ(inPkts, st.inPackets) << text;
  EXPECT_EQ(outPkts, st.outPackets) << text;
  EXPECT_EQ(inBytes, st.inBytes) << text;
  EXPECT_EQ(outBytes, st.outBytes) << text;
  EXPECT_EQ(got->destinations[0].stats.connections, static_cast<std::uint64_t>(kConnections));
}

TEST_F(IpvsKernel, SyncDaemonStartsReportsAndStops) {
  ASSERT_EQ(std::system("ip link add q1 type dummy && ip link set q1 up && "
                        "ip addr add 198.18.0.1/24 dev q1"),
            0);
  SyncDaemon master;
  master.role = SyncRole::Master;
  master.interface = "q1";
  master.syncId = 51;
  SyncDaemon backup = master;
  backup.role = SyncRole::Backup;
  auto started = ipvs_->startSyncDaemon(master);
  ASSERT_TRUE(started.isOk()) << started.message();
  started = ipvs_->startSyncDaemon(backup);
  ASSERT_TRUE(started.isOk()) << started.message();
  auto daemons = ipvs_->syncDaemons();
  ASSERT_TRUE(daemons.isOk()) << daemons.status().message();
  ASSERT_EQ(daemons->size(), 2u);
  const std::string text = commandOutput("ipvsadm -L --daemon");
  EXPECT_NE(text.find("master sync daemon"), std::string::npos) << text;
  EXPECT_NE(text.find("backup sync daemon"), std::string::npos) << text;
  EXPECT_NE(text.find("syncid=51"), std::string::npos) << text;
  // A second master is refused as a value.
  auto twice = ipvs_->startSyncDaemon(master);
  EXPECT_FALSE(twice.isOk());
  EXPECT_NE(twice.message().find("start IPVS sync daemon (master on q1"), std::string::npos)
      << twice.message();
  ASSERT_TRUE(ipvs_->stopSyncDaemon(SyncRole::Master).isOk());
  ASSERT_TRUE(ipvs_->stopSyncDaemon(SyncRole::Backup).isOk());
  daemons = ipvs_->syncDaemons();
  ASSERT_TRUE(daemons.isOk());
  EXPECT_TRUE(daemons->empty());
}

}  // namespace
}  // namespace quorate::kernel::ipvs
