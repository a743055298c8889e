// Real directors and arbiter in namespaces: the holder answers for the VIP, and when it is
// killed the other director does, with no moment where both answer.
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
