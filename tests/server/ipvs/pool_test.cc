// Unit tests of the pool: quorum with hysteresis, quiescent servers, the sorry server, alpha.
#include "server/ipvs/pool.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/server/ipvs/values.h"

namespace quorate::server::ipvs {
namespace {

namespace kipvs = kernel::ipvs;
using Kind = PoolEvent::Kind;

using testing::dest;
using testing::ip;

// A virtual server "web" with real servers 10.0.0.1.. of the given weights.
VirtualServerConfig web(const std::vector<int>& weights, int quorum = 1, int hysteresis = 0) {
  VirtualServerConfig c;
  c.name = "web";
  c.service.key = kipvs::ServiceKey::inet(kipvs::Protocol::Tcp, ip("198.18.0.10"), 80);
  c.quorum = quorum;
  c.hysteresis = hysteresis;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    c.realServers.push_back(
        testing::realServer(dest("10.0.0." + std::to_string(i + 1), weights[i])));
  }
  return c;
}

// "address:weight" of each desired destination, in order.
std::vector<std::string> table(const Pool& p) {
  const DesiredService d = p.desired();
  EXPECT_EQ(d.service.key, p.config().service.key);
  std::vector<std::string> out;
  for (const auto& x : d.destinations) {
    out.push_back(x.address.toString() + ":" + std::to_string(x.weight));
  }
  return out;
}

std::vector<Kind> kinds(const std::vector<PoolEvent>& events) {
  std::vector<Kind> out;
  for (const auto& e : events) out.push_back(e.kind);
  return out;
}

TEST(Pool, AllAliveServeWithTheirWeights) {
  const Pool p(web({1, 2, 0}));
  EXPECT_TRUE(p.quorumUp());
  EXPECT_EQ(p.aliveWeight(), 3);
  EXPECT_THAT(table(p), ::testing::ElementsAre("10.0.0.1:1", "10.0.0.2:2", "10.0.0.3:0"));
}

TEST(Pool, SorryServerWhenNoneAlive) {
  VirtualServerConfig c = web({1, 1});
  c.sorryServer = dest("10.0.0.99");
  Pool p(c);
  EXPECT_THAT(table(p), ::testing::ElementsAre("10.0.0.1:1", "10.0.0.2:1"));

  auto events = p.setAlive(0, false, "connect timeout");
  EXPECT_THAT(kinds(events), ::testing::ElementsAre(Kind::kRealServerDown));
  EXPECT_EQ(events[0].toString(), "web: real server 10.0.0.1:80 down: connect timeout");
  EXPECT_THAT(table(p), ::testing::ElementsAre("10.0.0.2:1"));

  events = p.setAlive(1, false, "connection refused");
  EXPECT_THAT(kinds(events), ::testing::ElementsAre(Kind::kRealServerDown, Kind::kQuorumDown));
  EXPECT_EQ(events[1].toString(),
            "web: quorum lost: alive weight 0 < quorum 1 - hysteresis 0 (sorry server "
            "10.0.0.99:80)");
  EXPECT_EQ(events[1].aliveWeight, 0);
  EXPECT_FALSE(p.quorumUp());
  EXPECT_THAT(table(p), ::testing::ElementsAre("10.0.0.99:1"));

  events = p.setAlive(1, true, "connected");
  EXPECT_THAT(kinds(events), ::testing::ElementsAre(Kind::kRealServerUp, Kind::kQuorumUp));
  EXPECT_EQ(events[1].toString(), "web: quorum gained: alive weight 1 >= quorum 1 + hysteresis 0");
  EXPECT_THAT(table(p), ::testing::ElementsAre("10.0.0.2:1"));
}

TEST(Pool, NoSorryServerMeansAnEmptyTable) {
  Pool p(web({1}));
  p.setAlive(0, false);
  EXPECT_FALSE(p.quorumUp());
  EXPECT_TRUE(p.desired().destinations.empty());
}

TEST(Pool, QuiescentServersStayWithWeightZeroOthersAreRemoved) {
  VirtualServerConfig c = web({1, 2, 3});
  c.realServers[1].inhibitOnFailure = true;
  Pool p(c);
  p.setAlive(0, false);
  p.setAlive(1, false);
  EXPECT_TRUE(p.quorumUp());
  EXPECT_THAT(table(p), ::testing::ElementsAre("10.0.0.2:0", "10.0.0.3:3"));
  p.setAlive(1, true);
  EXPECT_THAT(table(p), ::testing::ElementsAre("10.0.0.2:2", "10.0.0.3:3"));
}

TEST(Pool, LostQuorumTakesAliveServersOutAndKeepsQuiescentOnesAtZero) {
  VirtualServerConfig c = web({1, 1, 1}, /*quorum=*/2);
  c.realServers[0].inhibitOnFailure = true;
  c.realServers[2].inhibitOnFailure = true;
  c.sorryServer = dest("10.0.0.99", 5);
  Pool p(c);
  p.setAlive(1, false);
  EXPECT_TRUE(p.quorumUp());
  const auto events = p.setAlive(2, false);
  EXPECT_THAT(kinds(events), ::testing::ElementsAre(Kind::kRealServerDown, Kind::kQuorumDown));
  // 10.0.0.1 is alive but without quorum it serves no more; quiescent means weight 0.
  EXPECT_THAT(table(p), ::testing::ElementsAre("10.0.0.1:0", "10.0.0.3:0", "10.0.0.99:5"));
}

TEST(Pool, HysteresisKeepsAFlappingPoolSteady) {
  // Quorum 3, hysteresis 1: down below 2, up again at 4.
  Pool p(web({1, 1, 1, 1}, 3, 1));
  EXPECT_TRUE(p.quorumUp());
  EXPECT_THAT(kinds(p.setAlive(0, false)), ::testing::ElementsAre(Kind::kRealServerDown));  // 3
  EXPECT_THAT(kinds(p.setAlive(1, false)), ::testing::ElementsAre(Kind::kRealServerDown));  // 2
  for (int i = 0; i < 5; ++i) {  // 2 <-> 3 around the quorum: no quorum change
    EXPECT_THAT(kinds(p.setAlive(1, true)), ::testing::ElementsAre(Kind::kRealServerUp));
    EXPECT_THAT(kinds(p.setAlive(1, false)), ::testing::ElementsAre(Kind::kRealServerDown));
    EXPECT_TRUE(p.quorumUp());
  }
  EXPECT_THAT(kinds(p.setAlive(2, false)),
              ::testing::ElementsAre(Kind::kRealServerDown, Kind::kQuorumDown));         // 1 < 2
  EXPECT_THAT(kinds(p.setAlive(2, true)), ::testing::ElementsAre(Kind::kRealServerUp));  // 2
  for (int i = 0; i < 5; ++i) {  // 2 <-> 3: still no quorum
    EXPECT_THAT(kinds(p.setAlive(1, true)), ::testing::ElementsAre(Kind::kRealServerUp));
    EXPECT_THAT(kinds(p.setAlive(1, false)), ::testing::ElementsAre(Kind::kRealServerDown));
    EXPECT_FALSE(p.quorumUp());
  }
  p.setAlive(1, true);  // 3
  EXPECT_FALSE(p.quorumUp());
  EXPECT_TRUE(p.desired().destinations.empty());
  EXPECT_THAT(kinds(p.setAlive(0, true)),
              ::testing::ElementsAre(Kind::kRealServerUp, Kind::kQuorumUp));  // 4 >= 3 + 1
  EXPECT_EQ(p.aliveWeight(), 4);
}

TEST(Pool, StartsUpAtQuorumWithoutHysteresis) {
  EXPECT_TRUE(Pool(web({1, 1, 1}, 3, 2)).quorumUp());
  EXPECT_FALSE(Pool(web({1, 1}, 3, 2)).quorumUp());
}

TEST(Pool, WeightsCountTowardsQuorum) {
  Pool p(web({5, 1, 1}, 6));
  EXPECT_TRUE(p.quorumUp());
  EXPECT_THAT(kinds(p.setAlive(1, false)), ::testing::ElementsAre(Kind::kRealServerDown));  // 6
  EXPECT_THAT(kinds(p.setAlive(0, false)),
              ::testing::ElementsAre(Kind::kRealServerDown, Kind::kQuorumDown));  // 1
  EXPECT_THAT(kinds(p.setAlive(0, true)),
              ::testing::ElementsAre(Kind::kRealServerUp, Kind::kQuorumUp));  // 6
}

TEST(Pool, AlphaServersStartDownUntilChecked) {
  VirtualServerConfig c = web({1, 1, 1});
  c.realServers[0].alpha = true;
  c.realServers[1].alpha = true;
  c.sorryServer = dest("10.0.0.99");
  // Server 1 has no health check: nothing would ever bring it up, so it starts alive.
  Pool p(c, {true, false, true});
  EXPECT_FALSE(p.realServers()[0].alive);
  EXPECT_TRUE(p.realServers()[1].alive);
  EXPECT_FALSE(p.realServers()[1].checked);
  EXPECT_TRUE(p.realServers()[2].alive);
  EXPECT_THAT(table(p), ::testing::ElementsAre("10.0.0.2:1", "10.0.0.3:1"));
  EXPECT_THAT(kinds(p.setAlive(0, true, "ok")), ::testing::ElementsAre(Kind::kRealServerUp));
  EXPECT_THAT(table(p), ::testing::ElementsAre("10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"));
}

TEST(Pool, AllAlphaStartsWithoutQuorumOnTheSorryServer) {
  VirtualServerConfig c = web({1, 1});
  for (auto& r : c.realServers) r.alpha = true;
  c.sorryServer = dest("10.0.0.99");
  Pool p(c);
  EXPECT_FALSE(p.quorumUp());
  EXPECT_THAT(table(p), ::testing::ElementsAre("10.0.0.99:1"));
  EXPECT_THAT(kinds(p.setAlive(ip("10.0.0.2"), 80, true, "HTTP 200")),
              ::testing::ElementsAre(Kind::kRealServerUp, Kind::kQuorumUp));
  EXPECT_THAT(table(p), ::testing::ElementsAre("10.0.0.2:1"));
}

TEST(Pool, NoChangeNoEvent) {
  Pool p(web({1, 1}));
  EXPECT_TRUE(p.setAlive(0, true).empty());
  EXPECT_TRUE(p.setAlive(7, false).empty());
  EXPECT_TRUE(p.setAlive(ip("10.0.0.1"), 81, false).empty());
  EXPECT_TRUE(p.setAlive(ip("10.0.0.9"), 80, false).empty());
  EXPECT_EQ(p.indexOf(ip("10.0.0.2"), 80), 1u);
  EXPECT_EQ(p.indexOf(ip("10.0.0.2"), 81), std::nullopt);
  const auto events = p.setAlive(ip("10.0.0.2"), 80, false);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].endpoint, "10.0.0.2:80");
  EXPECT_EQ(events[0].virtualServer, "web");
  EXPECT_EQ(events[0].aliveWeight, 1);
  EXPECT_EQ(events[0].toString(), "web: real server 10.0.0.2:80 down");
}

TEST(Pool, DynamicWeightReplacesTheConfiguredOneAndMovesTheQuorum) {
  Pool p(web({1, 1}, /*quorum=*/3));
  EXPECT_FALSE(p.quorumUp());
  // A dynamic script check (misc_dynamic) says weight 5 while up: one event each.
  auto events = p.setAlive(0, true, "script check: exit 7: weight 5", 5);
  EXPECT_THAT(kinds(events), ::testing::ElementsAre(Kind::kRealServerWeight, Kind::kQuorumUp));
  EXPECT_EQ(events[0].weight, 5);
  EXPECT_EQ(events[0].toString(),
            "web: real server 10.0.0.1:80 weight 5: script check: exit 7: weight 5");
  EXPECT_EQ(p.aliveWeight(), 6);
  EXPECT_THAT(table(p), ::testing::ElementsAre("10.0.0.1:5", "10.0.0.2:1"));
  EXPECT_EQ(p.realServers()[0].reason, "script check: exit 7: weight 5");
  // The same again changes nothing; back to the configured weight (nullopt) loses quorum.
  EXPECT_TRUE(p.setAlive(0, true, "again", 5).empty());
  events = p.setAlive(0, true, "script check: exit 0");
  EXPECT_THAT(kinds(events), ::testing::ElementsAre(Kind::kRealServerWeight, Kind::kQuorumDown));
  EXPECT_EQ(p.aliveWeight(), 2);
  // Dead with a weight: down, and the weight counts for nothing while dead.
  events = p.setAlive(1, false, "http check: status 500", 9);
  EXPECT_THAT(kinds(events),
              ::testing::ElementsAre(Kind::kRealServerDown, Kind::kRealServerWeight));
  EXPECT_EQ(p.aliveWeight(), 1);
}

}  // namespace
}  // namespace quorate::server::ipvs
