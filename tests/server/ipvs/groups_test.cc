// Unit tests of virtual_server_groups: entries and ranges parsed, a group expanded into one
// service per member sharing the real servers (checked once), and each bad entry refused with
// its key and line.
#include "server/ipvs/groups.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>

#include "common/config_error.h"
#include "common/yaml_config.h"
#include "server/ipvs/check_targets.h"
#include "server/ipvs/config.h"
#include "tests/common/config_test_util.h"

namespace quorate::server::ipvs {
namespace {

namespace kipvs = kernel::ipvs;
using ::testing::HasSubstr;

constexpr char kPath[] = "/etc/quorate/director.yaml";

IpvsConfig parse(const std::string& text) {
  return config::guarded(kPath, [&] {
    const config::Document doc(kPath, text);
    return parseIpvsConfig(doc.root({"virtual_servers", "virtual_server_groups", "ipvs"}));
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

// A virtual server of group `members` (a YAML flow list) with two checked real servers.
std::string withGroup(const std::string& members, const std::string& extra = "",
                      const std::string& realServers = "") {
  return "virtual_server_groups:\n"
         "  front: " +
         members +
         "\n"
         "virtual_servers:\n"
         "  - name: web\n"
         "    group: front\n"
         "    scheduler: rr\n"
         "    persistence_timeout: 30\n" +
         extra +
         "    checks: [{type: tcp}]\n"
         "    real_servers:\n" +
         (realServers.empty() ? "      - {address: 198.18.2.1, port: 80}\n"
                                "      - {address: 198.18.2.2, port: 80}\n"
                              : realServers);
}

TEST(VirtualServerGroups, RangeAndMarkBecomeOneServicePerMemberWithTheSameRealServers) {
  const IpvsConfig c = parse(withGroup("[\"198.18.1.10-12:80\", \"fwmark:7\"]"));
  ASSERT_EQ(c.virtualServers.size(), 4u);
  const std::vector<kipvs::ServiceKey> want = {
      kipvs::ServiceKey::inet(kipvs::Protocol::Tcp, ip("198.18.1.10"), 80),
      kipvs::ServiceKey::inet(kipvs::Protocol::Tcp, ip("198.18.1.11"), 80),
      kipvs::ServiceKey::inet(kipvs::Protocol::Tcp, ip("198.18.1.12"), 80),
      kipvs::ServiceKey::mark(AF_INET, 7)};
  for (std::size_t i = 0; i < want.size(); ++i) {
    const VirtualServerConfig& vs = c.virtualServers[i];
    SCOPED_TRACE(vs.service.key.toString());
    EXPECT_EQ(vs.service.key, want[i]);
    EXPECT_EQ(vs.name, "web");
    EXPECT_EQ(vs.group, "front");
    EXPECT_EQ(vs.member, i);
    EXPECT_EQ(vs.service.scheduler, "rr");
    EXPECT_EQ(vs.service.timeout, 30u);
    ASSERT_EQ(vs.realServers.size(), 2u);
    // The mark member's real servers take the address members' port: one endpoint everywhere.
    EXPECT_EQ(vs.realServers[0].dest.endpoint(), "198.18.2.1:80");
    EXPECT_EQ(vs.realServers[1].dest.endpoint(), "198.18.2.2:80");
    EXPECT_EQ(vs.realServers[0].checks.size(), 1u);
  }
  // Each real server is checked once, not once per member.
  const auto checked = checkedServers(c);
  ASSERT_EQ(checked.size(), 2u);
  EXPECT_EQ(checked[0].key.virtualServer, "web");
  EXPECT_EQ(checked[0].key.endpoint(), "198.18.2.1:80");
  EXPECT_EQ(checked[1].key.endpoint(), "198.18.2.2:80");
}

TEST(VirtualServerGroups, Ipv6RangeIsTheLastHexGroupAndTakesTheProtocol) {
  const IpvsConfig c = parse(withGroup("[\"[2001:db8::fe-101]:53\", \"fwmark:9\"]",
                                       "    protocol: udp\n    family: ipv6\n",
                                       "      - {address: 2001:db8::2:1, port: 53}\n"));
  ASSERT_EQ(c.virtualServers.size(), 5u);
  EXPECT_EQ(c.virtualServers[0].service.key,
            kipvs::ServiceKey::inet(kipvs::Protocol::Udp, ip("2001:db8::fe"), 53));
  EXPECT_EQ(c.virtualServers[2].service.key,
            kipvs::ServiceKey::inet(kipvs::Protocol::Udp, ip("2001:db8::100"), 53));
  EXPECT_EQ(c.virtualServers[3].service.key,
            kipvs::ServiceKey::inet(kipvs::Protocol::Udp, ip("2001:db8::101"), 53));
  EXPECT_EQ(c.virtualServers[4].service.key, kipvs::ServiceKey::mark(AF_INET6, 9));
}

TEST(VirtualServerGroups, SingleAddressesAndAPlainVirtualServerBeside) {
  const IpvsConfig c = parse(withGroup("[\"198.18.1.10:80\", \"198.18.1.20:80\"]") +
                             "  - name: other\n"
                             "    address: 198.18.1.30\n"
                             "    port: 80\n"
                             "    real_servers: [{address: 198.18.2.3}]\n");
  ASSERT_EQ(c.virtualServers.size(), 3u);
  EXPECT_EQ(c.virtualServers[1].service.key.address, ip("198.18.1.20"));
  EXPECT_EQ(c.virtualServers[2].name, "other");
  EXPECT_EQ(c.virtualServers[2].group, "");
  // The group's two real servers once, and the plain one's (unchecked) real server.
  EXPECT_EQ(checkedServers(c).size(), 3u);
}

TEST(VirtualServerGroups, BadEntriesNameTheirKeyAndLine) {
  struct Case {
    std::string members;
    std::string key;
    std::string what;
  };
  const Case cases[] = {
      {"[\"198.18.1.12-10:80\"]", "virtual_server_groups.front[0]", "is reversed"},
      {"[\"198.18.1.250-256:80\"]", "virtual_server_groups.front[0]",
       "runs past the last octet (255)"},
      {"[\"[2001:db8::1-fffff]:53\"]", "virtual_server_groups.front[0]",
       "runs past the last hex group"},
      {"[\"[2001:db8::1-200]:53\"]", "virtual_server_groups.front[0]",
       "holds 512 addresses, more than the limit of 256"},
      {"[\"198.18.1.10-x:80\"]", "virtual_server_groups.front[0]", "expected the last octet"},
      {"[\"198.18.1.10\"]", "virtual_server_groups.front[0]", "expected ADDRESS:PORT"},
      {"[\"2001:db8::1:53\"]", "virtual_server_groups.front[0]", "expected ADDRESS:PORT"},
      {"[\"198.18.1.10:99999\"]", "virtual_server_groups.front[0]", "expected a port"},
      {"[\"fwmark:0\"]", "virtual_server_groups.front[0]", "firewall mark of 1 to"},
      {"[\"198.18.1.10:80\", \"198.18.1.9-11:80\"]", "virtual_server_groups.front[1]",
       "198.18.1.10 port 80 is already in group \"front\""},
      {"[\"fwmark:7\", \"fwmark:7\"]", "virtual_server_groups.front[1]", "already in group"},
      {"[]", "virtual_server_groups.front", "expected at least one member"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.members);
    const std::string e = errorOf(withGroup(c.members));
    EXPECT_THAT(e, HasSubstr(std::string(kPath) + ":2: " + c.key + ": ")) << e;
    EXPECT_THAT(e, HasSubstr(c.what)) << e;
  }
}

TEST(VirtualServerGroups, BadUseByAVirtualServerIsRefused) {
  EXPECT_THAT(errorOf(withGroup("[\"198.18.1.10:80\"]", "    address: 198.18.1.10\n")),
              HasSubstr(":8: virtual_servers[0].address: not with group"));
  EXPECT_THAT(errorOf(withGroup("[\"198.18.1.10:80\"]", "    fwmark: 3\n")),
              HasSubstr("virtual_servers[0].fwmark: not with group"));
  EXPECT_THAT(errorOf("virtual_server_groups: {front: [\"198.18.1.10:80\"]}\n"
                      "virtual_servers:\n"
                      "  - {name: web, group: back, real_servers: [{address: 198.18.2.1}]}\n"),
              HasSubstr(":3: virtual_servers[0].group: no virtual_server_groups entry \"back\" "
                        "(have front)"));
  // A member that another virtual server also serves.
  EXPECT_THAT(
      errorOf(withGroup("[\"198.18.1.10-11:80\"]") +
              "  - {name: other, address: 198.18.1.11, port: 80, "
              "real_servers: [{address: 198.18.2.3}]}\n"),
      HasSubstr("virtual_servers[1]: service tcp 198.18.1.11:80 is also virtual_servers[0]"));
  // Port 0 needs persistence, as a plain virtual server's does.
  EXPECT_THAT(errorOf("virtual_server_groups: {front: [\"198.18.1.10:0\"]}\n"
                      "virtual_servers:\n"
                      "  - {name: web, group: front, real_servers: [{address: 198.18.2.1}]}\n"),
              HasSubstr("group member tcp 198.18.1.10:0: port 0 (every port) needs "
                        "persistence_timeout"));
  // Members on different ports under nat with a real server that gives none: it would be a
  // different endpoint per member.
  EXPECT_THAT(errorOf(withGroup("[\"198.18.1.10:80\", \"198.18.1.11:8080\"]",
                                "    forwarding: nat\n", "      - {address: 198.18.2.1}\n")),
              HasSubstr("virtual_servers[0].real_servers[0]: is 198.18.2.1:80 for tcp "
                        "198.18.1.10:80 but 198.18.2.1:8080 for tcp 198.18.1.11:8080"));
  // An IPv4 real server in an IPv6 member, named at the real server.
  EXPECT_THAT(errorOf(withGroup("[\"198.18.1.10:80\", \"[2001:db8::1]:80\"]")),
              HasSubstr("virtual_servers[0].real_servers[0].address: IPv4 address in an IPv6"));
}

TEST(VirtualServerGroups, ExpansionIsBoundedInAll) {
  // 16 groups of 256 and one more: past the services limit, named at the virtual server.
  std::string text = "virtual_server_groups:\n";
  for (int g = 0; g < 17; ++g) {
    text += "  g" + std::to_string(g) + ": [\"198.18." + std::to_string(g) + ".0-255:80\"]\n";
  }
  text += "virtual_servers:\n";
  for (int g = 0; g < 17; ++g) {
    text += "  - {name: v" + std::to_string(g) + ", group: g" + std::to_string(g) +
            ", real_servers: [{address: 198.19.0.1}]}\n";
  }
  EXPECT_THAT(errorOf(text), HasSubstr("virtual_servers[16]: with its group's members, more than "
                                       "4096 services"));
}

}  // namespace
}  // namespace quorate::server::ipvs
