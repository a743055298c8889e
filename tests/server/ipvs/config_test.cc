// Unit tests of the IPVS config: every key of a valid file, each error with its line and key,
// the cross-check with instances, and damaged files that must fail cleanly.
#include "server/ipvs/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cctype>
#include <cstring>
#include <string>

#include "common/config_error.h"
#include "common/yaml_config.h"
#include "tests/common/config_test_util.h"

namespace quorate::server::ipvs {
namespace {

namespace kipvs = kernel::ipvs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kPath[] = "/etc/quorate/director.yaml";

// Line numbers matter: the tests refer to them.
constexpr char kValid[] =
    "virtual_servers:\n"                                               //  1
    "  - name: web\n"                                                  //  2
    "    instance: web\n"                                              //  3
    "    protocol: tcp\n"                                              //  4
    "    address: 198.18.0.10\n"                                       //  5
    "    port: 80\n"                                                   //  6
    "    scheduler: sh\n"                                              //  7
    "    scheduler_flags: [sh-fallback, sh-port]\n"                    //  8
    "    persistence_timeout: 300\n"                                   //  9
    "    persistence_granularity: 255.255.255.0\n"                     // 10
    "    forwarding: dr\n"                                             // 11
    "    quorum: 2\n"                                                  // 12
    "    hysteresis: 1\n"                                              // 13
    "    inhibit_on_failure: true\n"                                   // 14
    "    alpha: true\n"                                                // 15
    "    sorry_server: {address: 198.18.0.30, port: 80, weight: 2}\n"  // 16
    "    real_servers:\n"                                              // 17
    "      - address: 198.18.0.21\n"                                   // 18
    "        weight: 3\n"                                              // 19
    "        upper_threshold: 100\n"                                   // 20
    "        lower_threshold: 50\n"                                    // 21
    "      - address: 198.18.0.22\n"                                   // 22
    "        port: 80\n"                                               // 23
    "        inhibit_on_failure: false\n"                              // 24
    "        alpha: false\n"                                           // 25
    "      - address: 2001:db8::23\n"                                  // 26
    "        forwarding: tun\n"                                        // 27
    "        tunnel_type: gue\n"                                       // 28
    "        tunnel_port: 6080\n"                                      // 29
    "        tunnel_checksum: remcsum\n"                               // 30
    "  - name: dns\n"                                                  // 31
    "    instance: dns\n"                                              // 32
    "    protocol: udp\n"                                              // 33
    "    address: 2001:db8::53\n"                                      // 34
    "    port: 53\n"                                                   // 35
    "    scheduler: rr\n"                                              // 36
    "    one_packet: true\n"                                           // 37
    "    persistence_timeout: 60\n"                                    // 38
    "    persistence_granularity: 64\n"                                // 39
    "    persistence_engine: sip\n"                                    // 40
    "    forwarding: nat\n"                                            // 41
    "    real_servers:\n"                                              // 42
    "      - address: 2001:db8::1:53\n"                                // 43
    "        port: 5353\n"                                             // 44
    "  - name: marked\n"                                               // 45
    "    instance: web\n"                                              // 46
    "    fwmark: 7\n"                                                  // 47
    "    family: ipv6\n"                                               // 48
    "    scheduler: mh\n"                                              // 49
    "    scheduler_flags: [mh-port]\n"                                 // 50
    "    real_servers:\n"                                              // 51
    "      - address: 2001:db8::2:1\n"                                 // 52
    "        forwarding: tun\n"                                        // 53
    "        tunnel_type: gre\n"                                       // 54
    "        tunnel_checksum: csum\n"                                  // 55
    "  - name: sorry-only\n"                                           // 56
    "    instance: dns\n"                                              // 57
    "    address: 198.18.0.10\n"                                       // 58
    "    port: 443\n"                                                  // 59
    "    sorry_server: {address: 198.18.0.31}\n"                       // 60
    "ipvs:\n"                                                          // 61
    "  standby: warm\n"                                                // 62
    "  sync_daemon: {interface: eth0, sync_id: 51, max_length: 1400, group: 224.0.0.81, "
    "port: 8848, ttl: 2}\n";  // 63

IpvsConfig parse(const std::string& text) {
  return config::guarded(kPath, [&] {
    const config::Document doc(kPath, text);
    // A director config has more keys; "instances" stands for them.
    return parseIpvsConfig(doc.root({"virtual_servers", "ipvs", "instances"}));
  });
}

std::string errorOf(const std::string& text) {
  try {
    parse(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "parsed without error:\n" << text;
  return "";
}

net::IpAddress ip(const char* s) { return *net::IpAddress::parse(s); }

std::uint32_t networkOrder(const char* mask) {
  std::uint32_t out = 0;
  std::memcpy(&out, ip(mask).bytes.data(), sizeof out);
  return out;
}

TEST(IpvsConfig, ParsesEveryKey) {
  const IpvsConfig c = parse(kValid);
  ASSERT_EQ(c.virtualServers.size(), 4u);

  const VirtualServerConfig& web = c.virtualServers[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.instance, "web");
  EXPECT_EQ(web.key, "virtual_servers[0]");
  EXPECT_EQ(web.line, 2);
  EXPECT_EQ(web.instanceLine, 3);
  EXPECT_EQ(web.service.key, kipvs::ServiceKey::inet(kipvs::Protocol::Tcp, ip("198.18.0.10"), 80));
  EXPECT_EQ(web.service.scheduler, "sh");
  EXPECT_EQ(web.service.flags,
            kipvs::flag::kSched1 | kipvs::flag::kSched2 | kipvs::flag::kPersistent);
  EXPECT_EQ(web.service.timeout, 300u);
  EXPECT_EQ(web.service.netmask, networkOrder("255.255.255.0"));
  EXPECT_EQ(web.service.persistenceEngine, "");
  EXPECT_EQ(web.quorum, 2);
  EXPECT_EQ(web.hysteresis, 1);
  EXPECT_TRUE(web.inhibitOnFailure);
  EXPECT_TRUE(web.alpha);
  ASSERT_TRUE(web.sorryServer);
  EXPECT_EQ(web.sorryServer->address, ip("198.18.0.30"));
  EXPECT_EQ(web.sorryServer->port, 80);
  EXPECT_EQ(web.sorryServer->weight, 2);
  EXPECT_EQ(web.sorryServer->forward, kipvs::Forward::Direct);
  ASSERT_EQ(web.realServers.size(), 3u);
  const auto& r0 = web.realServers[0];
  EXPECT_EQ(r0.dest.address, ip("198.18.0.21"));
  EXPECT_EQ(r0.dest.port, 80);  // the service's
  EXPECT_EQ(r0.dest.forward, kipvs::Forward::Direct);
  EXPECT_EQ(r0.dest.weight, 3);
  EXPECT_EQ(r0.dest.upperThreshold, 100u);
  EXPECT_EQ(r0.dest.lowerThreshold, 50u);
  EXPECT_TRUE(r0.inhibitOnFailure);  // the virtual server's default
  EXPECT_TRUE(r0.alpha);
  const auto& r1 = web.realServers[1];
  EXPECT_EQ(r1.dest.weight, 1);
  EXPECT_FALSE(r1.inhibitOnFailure);
  EXPECT_FALSE(r1.alpha);
  const auto& r2 = web.realServers[2];
  EXPECT_EQ(r2.dest.address, ip("2001:db8::23"));  // tun may mix families
  EXPECT_EQ(r2.dest.forward, kipvs::Forward::Tunnel);
  EXPECT_EQ(r2.dest.tunnelType, kipvs::TunnelType::Gue);
  EXPECT_EQ(r2.dest.tunnelPort, 6080);
  EXPECT_EQ(r2.dest.tunnelFlags, kipvs::tunflag::kRemCsum);

  const VirtualServerConfig& dns = c.virtualServers[1];
  EXPECT_EQ(dns.service.key, kipvs::ServiceKey::inet(kipvs::Protocol::Udp, ip("2001:db8::53"), 53));
  EXPECT_EQ(dns.service.scheduler, "rr");
  EXPECT_EQ(dns.service.flags, kipvs::flag::kOnePacket | kipvs::flag::kPersistent);
  EXPECT_EQ(dns.service.timeout, 60u);
  EXPECT_EQ(dns.service.netmask, 64u);
  EXPECT_EQ(dns.service.persistenceEngine, "sip");
  EXPECT_EQ(dns.quorum, 1);
  EXPECT_EQ(dns.hysteresis, 0);
  EXPECT_FALSE(dns.sorryServer);
  ASSERT_EQ(dns.realServers.size(), 1u);
  EXPECT_EQ(dns.realServers[0].dest.forward, kipvs::Forward::Nat);
  EXPECT_EQ(dns.realServers[0].dest.port, 5353);
  EXPECT_FALSE(dns.realServers[0].alpha);

  const VirtualServerConfig& marked = c.virtualServers[2];
  EXPECT_EQ(marked.service.key, kipvs::ServiceKey::mark(AF_INET6, 7));
  EXPECT_EQ(marked.service.scheduler, "mh");
  EXPECT_EQ(marked.service.flags, kipvs::flag::kSched2);
  EXPECT_EQ(marked.service.timeout, 0u);
  EXPECT_EQ(marked.service.netmask, 128u);
  ASSERT_EQ(marked.realServers.size(), 1u);
  EXPECT_EQ(marked.realServers[0].dest.port, 0);
  EXPECT_EQ(marked.realServers[0].dest.tunnelType, kipvs::TunnelType::Gre);
  EXPECT_EQ(marked.realServers[0].dest.tunnelFlags, kipvs::tunflag::kCsum);

  const VirtualServerConfig& sorryOnly = c.virtualServers[3];
  EXPECT_EQ(sorryOnly.service.scheduler, "wlc");
  EXPECT_EQ(sorryOnly.service.flags, 0u);
  EXPECT_EQ(sorryOnly.service.netmask, 0xffffffffu);
  EXPECT_TRUE(sorryOnly.realServers.empty());
  ASSERT_TRUE(sorryOnly.sorryServer);
  EXPECT_EQ(sorryOnly.sorryServer->port, 443);
  EXPECT_EQ(sorryOnly.sorryServer->weight, 1);

  EXPECT_EQ(c.standby, StandbyMode::kWarm);
  ASSERT_TRUE(c.sync);
  EXPECT_EQ(c.sync->interface, "eth0");
  EXPECT_EQ(c.sync->syncId, 51u);
  EXPECT_EQ(c.sync->maxLength, 1400);
  EXPECT_EQ(c.sync->group, ip("224.0.0.81"));
  EXPECT_EQ(c.sync->port, 8848);
  EXPECT_EQ(c.sync->ttl, 2);
  const kipvs::SyncDaemon d = c.sync->daemon(kipvs::SyncRole::Backup);
  EXPECT_EQ(d.role, kipvs::SyncRole::Backup);
  EXPECT_EQ(d.interface, "eth0");
  EXPECT_EQ(d.syncId, 51u);
  EXPECT_EQ(d.group, ip("224.0.0.81"));
  EXPECT_EQ(d.maxLength, 1400);
  EXPECT_EQ(d.port, 8848);
  EXPECT_EQ(d.ttl, 2);

  const config::Document doc(kPath, kValid);
  checkAgainstInstances(c, {"web", "dns"}, doc.root({"virtual_servers", "ipvs"}).value());
}

TEST(IpvsConfig, BothKeysAreOptional) {
  const IpvsConfig c = parse("instances: []\n");
  EXPECT_TRUE(c.virtualServers.empty());
  EXPECT_EQ(c.standby, StandbyMode::kRemove);
  EXPECT_FALSE(c.sync);
}

TEST(IpvsConfig, Defaults) {
  const IpvsConfig c = parse(
      "virtual_servers:\n"
      "  - name: v\n"
      "    address: 198.18.0.10\n"
      "    port: 80\n"
      "    real_servers: [{address: 198.18.0.21}]\n"
      "ipvs: {sync_daemon: {interface: eth1}}\n");
  ASSERT_EQ(c.virtualServers.size(), 1u);
  const auto& vs = c.virtualServers[0];
  EXPECT_EQ(vs.instance, "");
  EXPECT_EQ(vs.instanceLine, 2);
  EXPECT_EQ(vs.service.key.protocol, kipvs::Protocol::Tcp);
  EXPECT_EQ(vs.service.scheduler, "wlc");
  EXPECT_EQ(vs.service.flags, 0u);
  EXPECT_EQ(vs.service.timeout, 0u);
  EXPECT_EQ(vs.service.netmask, 0xffffffffu);
  EXPECT_EQ(vs.quorum, 1);
  EXPECT_EQ(vs.hysteresis, 0);
  EXPECT_FALSE(vs.inhibitOnFailure);
  EXPECT_FALSE(vs.alpha);
  const auto& d = vs.realServers[0].dest;
  EXPECT_EQ(d.port, 80);
  EXPECT_EQ(d.forward, kipvs::Forward::Direct);
  EXPECT_EQ(d.weight, 1);
  EXPECT_EQ(d.upperThreshold, 0u);
  EXPECT_EQ(d.lowerThreshold, 0u);
  EXPECT_EQ(c.standby, StandbyMode::kRemove);
  ASSERT_TRUE(c.sync);
  EXPECT_EQ(c.sync->syncId, 0u);
  EXPECT_FALSE(c.sync->group);
  EXPECT_EQ(c.sync->port, 0);
  EXPECT_EQ(c.sync->ttl, 0);
}

TEST(IpvsConfig, AcceptsWhatIpvsadmAccepts) {
  // Same address and port with another protocol is another service.
  EXPECT_EQ(
      parse("virtual_servers:\n"
            "  - {name: a, address: 198.18.0.10, port: 53, real_servers: [{address: 10.0.0.1}]}\n"
            "  - {name: b, protocol: udp, address: 198.18.0.10, port: 53,\n"
            "     real_servers: [{address: 10.0.0.1}]}\n")
          .virtualServers.size(),
      2u);
  // Port 0 with persistence; a fwmark service's real servers on port 0 or mapped with nat.
  const IpvsConfig c = parse(
      "virtual_servers:\n"
      "  - {name: all, address: 198.18.0.10, port: 0, persistence_timeout: 10,\n"
      "     real_servers: [{address: 10.0.0.1}]}\n"
      "  - {name: m, fwmark: 1, forwarding: nat,\n"
      "     real_servers: [{address: 10.0.0.1}, {address: 10.0.0.2, port: 8080}]}\n"
      "  - {name: u, protocol: udp, address: 198.18.0.10, port: 1, one_packet: false,\n"
      "     persistence_timeout: 2147483647, real_servers: [{address: 10.0.0.1, weight: 0}]}\n");
  EXPECT_EQ(c.virtualServers[0].service.key.port, 0);
  EXPECT_EQ(c.virtualServers[0].realServers[0].dest.port, 0);
  EXPECT_EQ(c.virtualServers[1].realServers[0].dest.port, 0);
  EXPECT_EQ(c.virtualServers[1].realServers[1].dest.port, 8080);
  EXPECT_EQ(c.virtualServers[1].service.key, kipvs::ServiceKey::mark(AF_INET, 1));
  EXPECT_EQ(c.virtualServers[2].service.timeout, 2147483647u);
  EXPECT_EQ(c.virtualServers[2].realServers[0].dest.weight, 0);
}

// A minimal valid file; the error cases below change it.
constexpr char kBase[] =
    "virtual_servers:\n"               // 1
    "  - name: web\n"                  // 2
    "    address: 198.18.0.10\n"       // 3
    "    port: 80\n"                   // 4
    "    real_servers:\n"              // 5
    "      - address: 198.18.0.21\n";  // 6

struct ErrorCase {
  const char* name;
  std::string text;
  int line;
  const char* key;
  const char* what;  // a part of the message after the key
};

std::string base(const std::string& extraVsLines, const std::string& extraRsLines = "") {
  return kBase + extraRsLines + (extraVsLines.empty() ? "" : extraVsLines);
}

// `vs` replaces lines 3-4 (address and port) of kBase.
std::string service(const std::string& vs) { return testutil::editLines(kBase, 3, 2, vs); }

std::vector<ErrorCase> errorCases() {
  return {
      {"not a list", "virtual_servers: {name: web}\n", 1, "virtual_servers", "expected a list"},
      {"typo", base("    sheduler: rr\n"), 7, "virtual_servers[0].sheduler",
       "did you mean scheduler?"},
      {"missing name", testutil::editLines(kBase, 2, 2, "  - address: 198.18.0.10"), 2,
       "virtual_servers[0].name", "missing required key"},
      {"bad name", testutil::editLines(kBase, 2, 1, "  - name: web server"), 2,
       "virtual_servers[0].name", "expected a name"},
      {"duplicate name",
       std::string(kBase) +
           "  - {name: web, address: 198.18.0.11, port: 80, real_servers: [{address: "
           "198.18.0.21}]}\n",
       7, "virtual_servers[1]", "duplicate virtual server name \"web\" (also virtual_servers[0])"},
      {"duplicate service",
       std::string(kBase) + "  - {name: web2, address: 198.18.0.10, port: 80, real_servers: "
                            "[{address: 198.18.0.22}]}\n",
       7, "virtual_servers[1]", "service tcp 198.18.0.10:80 is also virtual_servers[0]"},
      {"bad protocol", base("    protocol: icmp\n"), 7, "virtual_servers[0].protocol",
       "expected one of tcp, udp, sctp"},
      {"protocol with fwmark", service("    fwmark: 3\n    protocol: udp"), 4,
       "virtual_servers[0].protocol", "not with fwmark"},
      {"port with fwmark", service("    fwmark: 3\n    port: 80"), 4, "virtual_servers[0].port",
       "not with fwmark"},
      {"family without fwmark", base("    family: ipv6\n"), 7, "virtual_servers[0].family",
       "only with fwmark"},
      {"bad family", service("    fwmark: 3\n    family: inet6"), 4, "virtual_servers[0].family",
       "expected one of ipv4, ipv6"},
      {"address and fwmark", base("    fwmark: 3\n"), 7, "virtual_servers[0].fwmark",
       "either address and port or fwmark"},
      {"neither address nor fwmark", service("    scheduler: rr"), 2, "virtual_servers[0]",
       "expected address and port, or fwmark"},
      {"fwmark 0", service("    fwmark: 0"), 3, "virtual_servers[0].fwmark",
       "must be between 1 and 4294967295"},
      {"address without port", service("    address: 198.18.0.10"), 2, "virtual_servers[0].port",
       "missing required key"},
      {"bad address", service("    address: 198.18.0.300\n    port: 80"), 3,
       "virtual_servers[0].address", "expected an IPv4 or IPv6 address, got \"198.18.0.300\""},
      {"address with prefix", service("    address: 198.18.0.10/24\n    port: 80"), 3,
       "virtual_servers[0].address", "expected an IPv4 or IPv6 address"},
      {"port 0 without persistence", service("    address: 198.18.0.10\n    port: 0"), 4,
       "virtual_servers[0].port", "port 0 (every port) needs persistence_timeout > 0"},
      {"port too big", service("    address: 198.18.0.10\n    port: 65536"), 4,
       "virtual_servers[0].port", "must be between 0 and 65535"},
      {"bad scheduler", base("    scheduler: fair\n"), 7, "virtual_servers[0].scheduler",
       "expected one of rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh"},
      {"flags for wlc", base("    scheduler_flags: [sh-port]\n"), 7,
       "virtual_servers[0].scheduler_flags", "scheduler wlc takes no flags"},
      {"mh flag for sh", base("    scheduler: sh\n    scheduler_flags: [mh-port]\n"), 8,
       "virtual_servers[0].scheduler_flags[0]", "expected sh-fallback or sh-port, got \"mh-port\""},
      {"flag twice",
       base("    scheduler: mh\n    scheduler_flags:\n      - mh-port\n      - mh-port\n"), 10,
       "virtual_servers[0].scheduler_flags[1]", "given twice"},
      {"flags not a list", base("    scheduler: sh\n    scheduler_flags: sh-port\n"), 8,
       "virtual_servers[0].scheduler_flags", "expected a list"},
      {"one_packet with tcp", base("    one_packet: true\n"), 7, "virtual_servers[0].one_packet",
       "for UDP services only"},
      {"one_packet not a bool", base("    one_packet: yes\n"), 7, "virtual_servers[0].one_packet",
       "expected one of true, false"},
      {"negative timeout", base("    persistence_timeout: -1\n"), 7,
       "virtual_servers[0].persistence_timeout", "must be between 0 and 2147483647"},
      {"huge timeout", base("    persistence_timeout: 2147483648\n"), 7,
       "virtual_servers[0].persistence_timeout", "must be between 0 and 2147483647"},
      {"granularity without persistence", base("    persistence_granularity: 255.255.255.0\n"), 7,
       "virtual_servers[0].persistence_granularity", "needs persistence_timeout > 0"},
      {"non-contiguous netmask",
       base("    persistence_timeout: 5\n    persistence_granularity: 255.0.255.0\n"), 8,
       "virtual_servers[0].persistence_granularity", "contiguous netmask"},
      {"netmask 0", base("    persistence_timeout: 5\n    persistence_granularity: 0.0.0.0\n"), 8,
       "virtual_servers[0].persistence_granularity", "contiguous netmask of /1 to /32"},
      {"prefix length for IPv4",
       base("    persistence_timeout: 5\n    persistence_granularity: 24\n"), 8,
       "virtual_servers[0].persistence_granularity", "expected an IPv4 netmask"},
      {"IPv6 prefix too long",
       service("    fwmark: 1\n    family: ipv6\n    persistence_timeout: 5\n"
               "    persistence_granularity: 129"),
       6, "virtual_servers[0].persistence_granularity", "between 1 and 128"},
      {"bad persistence engine", base("    persistence_timeout: 5\n    persistence_engine: http\n"),
       8, "virtual_servers[0].persistence_engine", "expected one of sip"},
      {"engine without persistence", base("    persistence_engine: sip\n"), 7,
       "virtual_servers[0].persistence_engine", "needs persistence_timeout > 0"},
      {"bad forwarding", base("    forwarding: masq\n"), 7, "virtual_servers[0].forwarding",
       "expected one of dr, nat, tun"},
      {"quorum 0", base("    quorum: 0\n"), 7, "virtual_servers[0].quorum",
       "must be between 1 and"},
      {"hysteresis at quorum", base("    quorum: 2\n    hysteresis: 2\n"), 8,
       "virtual_servers[0].hysteresis", "must be below quorum (2), got 2"},
      {"negative hysteresis", base("    hysteresis: -1\n"), 7, "virtual_servers[0].hysteresis",
       "must be between 0 and"},
      {"inhibit not a bool", base("    inhibit_on_failure: yes\n"), 7,
       "virtual_servers[0].inhibit_on_failure", "expected one of true, false"},
      {"alpha not a bool", base("", "        alpha: 1\n"), 7,
       "virtual_servers[0].real_servers[0].alpha", "expected one of true, false"},
      {"real_servers not a list", testutil::editLines(kBase, 5, 2, "    real_servers: 198.18.0.21"),
       5, "virtual_servers[0].real_servers", "expected a list"},
      {"real server typo", base("", "        weigh: 2\n"), 7,
       "virtual_servers[0].real_servers[0].weigh", "did you mean weight?"},
      {"real server without address", testutil::editLines(kBase, 6, 1, "      - weight: 1"), 6,
       "virtual_servers[0].real_servers[0].address", "missing required key"},
      {"weight too big", base("", "        weight: 65536\n"), 7,
       "virtual_servers[0].real_servers[0].weight", "must be between 0 and 65535"},
      {"lower not below upper",
       base("", "        upper_threshold: 10\n        lower_threshold: 10\n"), 8,
       "virtual_servers[0].real_servers[0].lower_threshold",
       "must be below upper_threshold (10), got 10"},
      {"family mismatch", testutil::editLines(kBase, 6, 1, "      - address: 2001:db8::21"), 6,
       "virtual_servers[0].real_servers[0].address",
       "IPv6 address in an IPv4 virtual server: only forwarding tun may mix address families"},
      {"family mismatch with nat default",
       base("    forwarding: nat\n", "      - address: 2001:db8::22\n        port: 80\n"), 7,
       "virtual_servers[0].real_servers[1].address", "only forwarding tun may mix"},
      {"tunnel_type with dr", base("", "        tunnel_type: ipip\n"), 7,
       "virtual_servers[0].real_servers[0].tunnel_type", "only with forwarding tun"},
      {"bad tunnel_type", base("", "        forwarding: tun\n        tunnel_type: vxlan\n"), 8,
       "virtual_servers[0].real_servers[0].tunnel_type", "expected one of ipip, gue, gre"},
      {"gue without port", base("", "        forwarding: tun\n        tunnel_type: gue\n"), 6,
       "virtual_servers[0].real_servers[0]", "tunnel_type gue needs tunnel_port"},
      {"gue port 0",
       base("", "        forwarding: tun\n        tunnel_type: gue\n        tunnel_port: 0\n"), 9,
       "virtual_servers[0].real_servers[0].tunnel_port", "must be between 1 and 65535"},
      {"tunnel_port with ipip", base("", "        forwarding: tun\n        tunnel_port: 6080\n"), 8,
       "virtual_servers[0].real_servers[0].tunnel_port", "only with tunnel_type gue"},
      {"checksum with ipip", base("", "        forwarding: tun\n        tunnel_checksum: csum\n"),
       8, "virtual_servers[0].real_servers[0].tunnel_checksum", "ipip tunnels carry no checksum"},
      {"remcsum with gre",
       base("",
            "        forwarding: tun\n        tunnel_type: gre\n"
            "        tunnel_checksum: remcsum\n"),
       9, "virtual_servers[0].real_servers[0].tunnel_checksum",
       "remcsum only with tunnel_type gue"},
      {"bad checksum",
       base("",
            "        forwarding: tun\n        tunnel_type: gre\n"
            "        tunnel_checksum: crc\n"),
       9, "virtual_servers[0].real_servers[0].tunnel_checksum",
       "expected one of none, csum, remcsum"},
      {"duplicate endpoint", base("", "      - address: 198.18.0.21\n        port: 80\n"), 7,
       "virtual_servers[0].real_servers[1]",
       "real server 198.18.0.21:80 is also virtual_servers[0].real_servers[0]"},
      {"dr with another port", base("", "        port: 8080\n"), 7,
       "virtual_servers[0].real_servers[0].port",
       "with forwarding dr packets keep the service's port 80"},
      {"nat to port 0", base("", "        forwarding: nat\n        port: 0\n"), 8,
       "virtual_servers[0].real_servers[0].port", "forwarding nat needs the port"},
      {"no real servers", testutil::editLines(kBase, 5, 2, ""), 2, "virtual_servers[0]",
       "expected at least one entry in real_servers, or a sorry_server"},
      {"empty real servers", testutil::editLines(kBase, 5, 2, "    real_servers: []"), 2,
       "virtual_servers[0]", "expected at least one entry in real_servers, or a sorry_server"},
      {"sorry server is a real server", base("    sorry_server: {address: 198.18.0.21}\n"), 7,
       "virtual_servers[0].sorry_server",
       "sorry server 198.18.0.21:80 is also real server virtual_servers[0].real_servers[0]"},
      {"sorry server family", base("    sorry_server: {address: \"2001:db8::30\"}\n"), 7,
       "virtual_servers[0].sorry_server.address", "only forwarding tun may mix"},
      {"sorry server alpha", base("    sorry_server: {address: 198.18.0.30, alpha: true}\n"), 7,
       "virtual_servers[0].sorry_server.alpha", "unknown key"},
      {"ipvs not a mapping", "ipvs: warm\n", 1, "ipvs", "expected a mapping"},
      {"ipvs typo", "ipvs:\n  stanby: warm\n", 2, "ipvs.stanby", "did you mean standby?"},
      {"bad standby", "ipvs:\n  standby: hot\n", 2, "ipvs.standby", "expected one of remove, warm"},
      {"sync without interface", "ipvs:\n  sync_daemon:\n    sync_id: 1\n", 2,
       "ipvs.sync_daemon.interface", "missing required key"},
      {"sync bad interface", "ipvs:\n  sync_daemon: {interface: eth0/1}\n", 2,
       "ipvs.sync_daemon.interface", "expected an interface name"},
      {"sync_id too big", "ipvs:\n  sync_daemon:\n    interface: eth0\n    sync_id: 256\n", 4,
       "ipvs.sync_daemon.sync_id", "must be between 0 and 255"},
      {"unicast group", "ipvs:\n  sync_daemon:\n    interface: eth0\n    group: 198.18.0.1\n", 4,
       "ipvs.sync_daemon.group", "expected a multicast address"},
      {"ttl too big", "ipvs:\n  sync_daemon:\n    interface: eth0\n    ttl: 256\n", 4,
       "ipvs.sync_daemon.ttl", "must be between 0 and 255"},
      {"max_length too big", "ipvs:\n  sync_daemon:\n    interface: eth0\n    max_length: 65536\n",
       4, "ipvs.sync_daemon.max_length", "must be between 0 and 65535"},
  };
}

class IpvsConfigError : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(IpvsConfigError, NamesFileLineAndKey) {
  const ErrorCase& c = GetParam();
  const std::string message = errorOf(c.text);
  EXPECT_THAT(message,
              StartsWith(std::string(kPath) + ":" + std::to_string(c.line) + ": " + c.key + ": "))
      << c.text;
  EXPECT_THAT(message, HasSubstr(c.what)) << c.text;
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Each, IpvsConfigError, ::testing::ValuesIn(errorCases()),
                         [](const ::testing::TestParamInfo<ErrorCase>& p) {
                           std::string name;
                           for (const char* c = p.param.name; *c; ++c) {
                             name += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
                           }
                           return name;
                         });

std::string crossCheckError(const std::string& text, const std::vector<std::string>& instances) {
  try {
    config::guarded(kPath, [&] {
      const config::Document doc(kPath, text);
      const config::Map root = doc.root({"virtual_servers", "ipvs"});
      checkAgainstInstances(parseIpvsConfig(root), instances, root.value());
    });
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(IpvsConfig, InstanceMustExist) {
  EXPECT_EQ(crossCheckError(kValid, {"web"}),
            std::string(kPath) +
                ":32: virtual_servers[1].instance: no instance named \"dns\" (have web)");
  EXPECT_EQ(crossCheckError(kValid, {}),
            std::string(kPath) +
                ":3: virtual_servers[0].instance: no instance named \"web\" (none is configured)");
  EXPECT_EQ(crossCheckError(kValid, {"web", "dns"}), "");
}

TEST(IpvsConfig, InstanceMayBeLeftOutOnlyWithOneLease) {
  EXPECT_EQ(crossCheckError(kBase, {}), "");
  EXPECT_EQ(crossCheckError(kBase, {"web"}), "");
  EXPECT_EQ(crossCheckError(kBase, {"a", "b"}),
            std::string(kPath) +
                ":2: virtual_servers[0].instance: missing: with several instances (a, b), name "
                "the one whose lease this virtual server follows");
}

TEST(IpvsConfig, DamagedFilesFailCleanly) {
  const auto inputs = testutil::mutationsOf(kValid, 7, /*exhaustive=*/false, 3000);
  const int parsed =
      testutil::expectOnlyConfigErrors(inputs, kPath, [](const std::string& text) { parse(text); });
  EXPECT_LT(parsed, static_cast<int>(inputs.size()));
}

}  // namespace
}  // namespace quorate::server::ipvs
