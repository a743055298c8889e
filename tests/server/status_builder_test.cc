// The status proto made of a domain snapshot: summary fields, node roles, virtual servers.
#include "server/grpc/status_builder.h"

#include <gtest/gtest.h>

namespace quorate::server {
namespace {

HostSnapshot twoLeases() {
  HostSnapshot s;
  s.cluster = "c";
  s.node = "a";
  LeaseSnapshot web;
  web.name = "web";
  web.role = "standby";
  web.reason = "b holds";
  web.holder = "b";
  web.epoch = 7;
  web.remainingMs = 900;
  web.preferred = "b";
  web.instances = {"web"};
  web.vips = {"198.18.0.10/24 dev eth0"};
  LeaseSnapshot dns = web;
  dns.name = "dns";
  dns.role = "holder";
  dns.holder = "a";
  dns.claimed = true;
  s.leases = {web, dns};
  s.nodes = {{"a", "198.18.0.1:7100", true, true, 0},
             {"b", "198.18.0.2:7100", false, true, 120},
             {"arbiter", "198.18.0.3:7100", false, false, -1}};
  s.healthy = false;
  s.problems = {"interface eth1 is down"};
  s.hasDataPlane = true;
  s.framesSuppressed = 3;
  s.lapses = 1;
  ipvs::VirtualServerView v;
  v.name = "resolver";
  v.lease = 1;
  v.service = "udp 198.18.0.53:53 rr";
  v.programmed = true;
  ipvs::RealServerView rs;
  rs.endpoint = "198.18.0.31:53";
  rs.weight = 2;
  rs.alive = true;
  v.realServers = {rs};
  s.virtualServers = {v};
  s.version = 42;
  return s;
}

TEST(StatusBuilderTest, SummaryRepeatsTheFirstLease) {
  const auto r = buildStatusReply(twoLeases());
  ASSERT_EQ(r.leases_size(), 2);
  EXPECT_EQ(r.role(), "standby");
  EXPECT_EQ(r.holder(), "b");
  EXPECT_EQ(r.epoch(), 7u);
  EXPECT_EQ(r.lease_remaining_ms(), 900);
  EXPECT_EQ(r.preferred(), "b");
  EXPECT_EQ(r.role_reason(), "b holds");
  EXPECT_EQ(r.leases(1).role(), "holder");
  EXPECT_TRUE(r.leases(1).vips_claimed());
  EXPECT_FALSE(r.leases(0).vips_claimed());
  EXPECT_EQ(r.version(), 42u);
  EXPECT_EQ(r.frames_suppressed(), 3u);
  EXPECT_EQ(r.lease_lapses(), 1u);
  EXPECT_FALSE(r.healthy());
  ASSERT_EQ(r.health_problems_size(), 1);
}

TEST(StatusBuilderTest, NodeRolesFollowTheFirstLeasesHolderAndReachability) {
  auto s = twoLeases();
  auto r = buildStatusReply(s);
  ASSERT_EQ(r.nodes_size(), 3);
  EXPECT_EQ(r.nodes(0).role(), "standby");  // ours: the summary role
  EXPECT_EQ(r.nodes(1).role(), "holder");
  EXPECT_EQ(r.nodes(2).role(), "arbiter");
  EXPECT_EQ(r.nodes(2).last_seen_ms(), -1);
  s.leases[0].holder.clear();
  r = buildStatusReply(s);
  EXPECT_EQ(r.nodes(1).role(), "standby");
  s.nodes[1].reachable = false;
  r = buildStatusReply(s);
  EXPECT_EQ(r.nodes(1).role(), "unknown");
}

TEST(StatusBuilderTest, VirtualServersNameTheirLease) {
  const auto r = buildStatusReply(twoLeases());
  ASSERT_EQ(r.virtual_servers_size(), 1);
  EXPECT_EQ(r.virtual_servers(0).lease(), "dns");
  ASSERT_EQ(r.virtual_servers(0).real_servers_size(), 1);
  EXPECT_EQ(r.virtual_servers(0).real_servers(0).weight(), 2);
  EXPECT_TRUE(r.virtual_servers(0).real_servers(0).alive());
}

}  // namespace
}  // namespace quorate::server
