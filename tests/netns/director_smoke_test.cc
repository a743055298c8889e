// Real directors and arbiter in namespaces: the holder answers for the VIP, and when it is
// killed the other director does, with no moment where both answer.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include "netns/checker.h"
#include "netns/director_cluster.h"

namespace quorate::netns {
namespace {

TEST(DirectorNetns, HolderAnswersForTheVipAndAKilledHolderIsReplaced) {
  Topology topo;
  DirectorCluster cluster(topo);
  ArpProber prober(topo);
  AddressWatcher watcher(topo);
  cluster.startAll();
  const auto holder = cluster.waitForHolder(Ms(10'000));
  ASSERT_EQ(holder, kAlpha) << "preferred alpha holds after a cold start";
  ASSERT_TRUE(watcher.waitFor(kAlpha, true, Ms(5000)));
  const auto alphaMac = *Mac::parse(topo.host(kAlpha).mac);
  const auto betaMac = *Mac::parse(topo.host(kBeta).mac);
  ASSERT_TRUE(prober.waitForReply([&](const ArpReply& r) { return r.sender == alphaMac; }, monoNs(),
                                  Ms(5000)));

  cluster.signal(kAlpha, SIGKILL);
  ASSERT_TRUE(prober.waitForReply([&](const ArpReply& r) { return r.sender == betaMac; }, monoNs(),
                                  Ms(5000)));
  ASSERT_TRUE(prober.waitRounds(40, Ms(5000)));
  prober.stop();
  watcher.stop();

  const auto checker = SplitBrainChecker::forTopology(topo);
  const auto history = prober.history();
  const auto windows = checker.arpWindows(history);
  EXPECT_TRUE(windows.empty()) << describe(windows);
  const auto owned = checker.ownershipWindows(watcher.histories());
  EXPECT_TRUE(owned.empty()) << describe(owned);
  const auto gaps = checker.failoverGaps(history);
  ASSERT_EQ(gaps.size(), 1u) << describe(gaps);
  std::printf("failover gap after kill -9: %s\n", gaps[0].describe().c_str());
}

}  // namespace
}  // namespace quorate::netns

namespace quorate::netns {
namespace {

// keepalived's use_vmac: the VIP lives on the macvlan vrrp.51 with 00:00:5e:00:01:33, so the
// client sees one MAC whoever holds; only the holder's vmac answers, never a parent interface.
TEST(DirectorNetns, VirtualMacAnswersFromWhicheverDirectorHolds) {
  Topology topo;
  ClusterOptions o;
  o.instances = {{"web", {kVip + "/24"}, "", 51, true}};
  DirectorCluster cluster(topo, o);
  ArpProber prober(topo);
  AddressWatcher watcher(topo);
  cluster.startAll();
  ASSERT_EQ(cluster.waitForHolder(Ms(10'000)), kAlpha);
  const auto vmac = *Mac::parse("00:00:5e:00:01:33");
  ASSERT_TRUE(
      prober.waitForReply([&](const ArpReply& r) { return r.sender == vmac; }, monoNs(), Ms(5000)));
  EXPECT_THAT(topo.check(kAlpha, "ip -br addr show dev vrrp.51"),
              ::testing::HasSubstr("198.18.0.10"));
  cluster.signal(kAlpha, SIGKILL);
  topo.linkDown(kAlpha);  // the dead holder's kernel must not answer meanwhile
  ASSERT_TRUE(watcher.waitFor(kBeta, true, Ms(5000)));
  const auto since = monoNs();
  ASSERT_TRUE(
      prober.waitForReply([&](const ArpReply& r) { return r.sender == vmac; }, since, Ms(5000)));
  ASSERT_TRUE(prober.waitRounds(20, Ms(5000)));
  prober.stop();
  watcher.stop();
  const auto history = prober.history();
  for (const auto& r : history.replies) {
    EXPECT_EQ(r.sender, vmac) << "a parent interface answered for the VIP";
  }
  const auto checker = SplitBrainChecker::forTopology(topo);
  const auto owned = checker.ownershipWindows(watcher.histories());
  EXPECT_TRUE(owned.empty()) << describe(owned);
}

}  // namespace
}  // namespace quorate::netns
