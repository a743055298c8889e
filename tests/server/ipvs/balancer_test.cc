// The load balancer following the lease, against an in-memory IPVS: the holder's table, the
// standby's (removed or warm), leftovers of a killed run, the sync daemon's role, and health.
#include "server/ipvs/balancer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "tests/server/ipvs/fake_ipvs.h"
#include "tests/server/ipvs/values.h"

namespace quorate::server::ipvs {
namespace {

namespace kipvs = kernel::ipvs;
using testing::FakeIpvs;

using testing::dest;
using testing::ip;

VirtualServerConfig vs(const std::string& name, const std::string& vip,
                       std::vector<std::string> servers) {
  VirtualServerConfig c;
  c.name = name;
  c.service.key = kipvs::ServiceKey::inet(kipvs::Protocol::Tcp, ip(vip), 80);
  for (const auto& s : servers) c.realServers.push_back(testing::realServer(dest(s)));
  return c;
}

// Two virtual servers on lease 0 and one on lease 1 (active/active, say).
IpvsConfig twoLeases() {
  IpvsConfig c;
  c.virtualServers = {vs("web", "198.18.0.10", {"198.18.0.21", "198.18.0.22"}),
                      vs("api", "198.18.0.11", {"198.18.0.23"}),
                      vs("dns", "198.18.0.12", {"198.18.0.24"})};
  return c;
}

class BalancerTest : public ::testing::Test {
 protected:
  void make(IpvsConfig c) {
    config = std::move(c);
    balancer = std::make_unique<Balancer>(config, std::vector<std::size_t>{0, 0, 1}, 0, kernel);
  }
  bool has(const std::string& vip) const {
    return kernel.table.count(kipvs::ServiceKey::inet(kipvs::Protocol::Tcp, ip(vip), 80)) > 0;
  }

  FakeIpvs kernel;
  IpvsConfig config;
  std::unique_ptr<Balancer> balancer;
};

TEST_F(BalancerTest, TheStandbyHasNoTableAndTheHolderGetsItsLeasesServices) {
  make(twoLeases());
  ASSERT_TRUE(balancer->start().isOk());
  EXPECT_TRUE(kernel.table.empty());
  balancer->activate(0);
  EXPECT_TRUE(has("198.18.0.10"));
  EXPECT_TRUE(has("198.18.0.11"));
  EXPECT_FALSE(has("198.18.0.12"));  // lease 1 is someone else's
  EXPECT_EQ(kernel.destinationCount(), 3u);
  balancer->activate(1);
  EXPECT_TRUE(has("198.18.0.12"));
  balancer->deactivate(0);
  EXPECT_FALSE(has("198.18.0.10"));
  EXPECT_FALSE(has("198.18.0.11"));
  EXPECT_TRUE(has("198.18.0.12"));
  auto views = balancer->view();
  ASSERT_EQ(views.size(), 3u);
  EXPECT_FALSE(views[0].programmed);
  EXPECT_TRUE(views[2].programmed);
  EXPECT_TRUE(views[2].realServers[0].installed);
  EXPECT_FALSE(views[0].realServers[0].installed);
}

TEST_F(BalancerTest, ActivationIsIdempotentAndCheap) {
  make(twoLeases());
  ASSERT_TRUE(balancer->start().isOk());
  balancer->activate(0);
  kernel.resetCounters();
  balancer->activate(0);  // every renewal calls it
  EXPECT_EQ(kernel.ops, 0);
  EXPECT_EQ(kernel.dumps, 0);
  balancer->deactivate(1);  // never held
  EXPECT_EQ(kernel.ops, 0);
}

TEST_F(BalancerTest, WarmStandbyKeepsEveryServiceProgrammed) {
  IpvsConfig c = twoLeases();
  c.standby = StandbyMode::kWarm;
  make(c);
  ASSERT_TRUE(balancer->start().isOk());
  EXPECT_EQ(kernel.table.size(), 3u);
  kernel.resetCounters();
  balancer->activate(0);
  balancer->deactivate(0);
  EXPECT_EQ(kernel.ops, 0);  // a takeover changes nothing in IPVS
  EXPECT_EQ(kernel.table.size(), 3u);
  balancer->stop();  // but shutdown leaves nothing behind
  EXPECT_TRUE(kernel.table.empty());
}

TEST_F(BalancerTest, StartRemovesWhatAKilledRunLeftButNotForeignServices) {
  make(twoLeases());
  kipvs::Service leftover;
  leftover.key = kipvs::ServiceKey::inet(kipvs::Protocol::Tcp, ip("198.18.0.10"), 80);
  kernel.put(leftover, {dest("198.18.0.29")});
  kipvs::Service foreign;
  foreign.key = kipvs::ServiceKey::inet(kipvs::Protocol::Udp, ip("198.18.0.10"), 53);
  kernel.put(foreign, {dest("198.18.0.30")});
  ASSERT_TRUE(balancer->start().isOk());
  EXPECT_FALSE(has("198.18.0.10"));
  EXPECT_EQ(kernel.table.count(foreign.key), 1u);
  // On claim the service comes back as configured, not as the leftover had it.
  balancer->activate(0);
  EXPECT_EQ(kernel.find(leftover.key, ip("198.18.0.29"), 80), nullptr);
  EXPECT_NE(kernel.find(leftover.key, ip("198.18.0.21"), 80), nullptr);
}

TEST_F(BalancerTest, NoIpvsMeansTheDirectorCannotStart) {
  make(twoLeases());
  kernel.failNextDump = ENOENT;
  auto s = balancer->start();
  EXPECT_FALSE(s.isOk());
}

TEST_F(BalancerTest, SyncDaemonIsMasterOnTheHolderAndBackupOnTheStandby) {
  IpvsConfig c = twoLeases();
  c.sync.emplace();
  c.sync->interface = "eth0";
  c.sync->syncId = 51;
  make(c);
  // A killed run's master daemon is stopped; the standby runs a backup.
  kernel.daemons[kipvs::SyncRole::Master] = c.sync->daemon(kipvs::SyncRole::Master);
  ASSERT_TRUE(balancer->start().isOk());
  ASSERT_EQ(kernel.daemons.size(), 1u);
  EXPECT_EQ(kernel.daemons.count(kipvs::SyncRole::Backup), 1u);
  EXPECT_EQ(kernel.daemons.at(kipvs::SyncRole::Backup).syncId, 51u);
  balancer->activate(1);  // not the lease the daemon follows
  EXPECT_EQ(kernel.daemons.count(kipvs::SyncRole::Backup), 1u);
  balancer->activate(0);
  ASSERT_EQ(kernel.daemons.size(), 1u);
  EXPECT_EQ(kernel.daemons.count(kipvs::SyncRole::Master), 1u);
  EXPECT_EQ(kernel.daemons.at(kipvs::SyncRole::Master).interface, "eth0");
  balancer->deactivate(0);
  ASSERT_EQ(kernel.daemons.size(), 1u);
  EXPECT_EQ(kernel.daemons.count(kipvs::SyncRole::Backup), 1u);
  balancer->stop();
  EXPECT_TRUE(kernel.daemons.empty());
}

TEST_F(BalancerTest, HealthChangesTheHoldersTableAtOnceAndTheStandbysNot) {
  IpvsConfig c = twoLeases();
  c.virtualServers[0].inhibitOnFailure = true;
  for (auto& rs : c.virtualServers[0].realServers) rs.inhibitOnFailure = true;
  make(c);
  ASSERT_TRUE(balancer->start().isOk());
  auto events = balancer->setAlive(0, 0, false, "connect timeout");  // standby: no table
  ASSERT_FALSE(events.empty());
  EXPECT_TRUE(kernel.table.empty());
  balancer->activate(0);
  const auto key = c.virtualServers[0].service.key;
  EXPECT_EQ(kernel.find(key, ip("198.18.0.21"), 80)->weight, 0);  // quiescent
  balancer->setAlive(0, 0, true, "HTTP 200");
  EXPECT_EQ(kernel.find(key, ip("198.18.0.21"), 80)->weight, 1);
  EXPECT_TRUE(balancer->setAlive(0, 0, true, "again").empty());  // no change, no event
}

TEST_F(BalancerTest, ResyncRepairsDriftAndFillsTheCounters) {
  make(twoLeases());
  ASSERT_TRUE(balancer->start().isOk());
  balancer->activate(0);
  kernel.table.erase(
      kipvs::ServiceKey::inet(kipvs::Protocol::Tcp, ip("198.18.0.11"), 80));  // ipvsadm -D
  ASSERT_TRUE(balancer->resync().isOk());
  EXPECT_TRUE(has("198.18.0.11"));
}

TEST_F(BalancerTest, ReloadAppliesOnlyTheDifferenceAndKeepsHealth) {
  IpvsConfig c = twoLeases();
  for (auto& rs : c.virtualServers[0].realServers) {
    rs.inhibitOnFailure = true;
    rs.checks = {check::CheckSpec{}};  // checked: their health carries over
  }
  make(c);
  ASSERT_TRUE(balancer->start().isOk());
  balancer->activate(0);
  (void)balancer->setAlive(0, 1, false, "refused");  // 198.18.0.22 dead: weight 0
  IpvsConfig next = c;
  next.virtualServers[0].realServers[0].dest.weight = 4;       // one real server changes
  next.virtualServers.erase(next.virtualServers.begin() + 1);  // "api" goes
  kernel.resetCounters();
  const std::string summary = balancer->reload(next, {0, 1}, 0);
  EXPECT_NE(summary.find("2 IPVS changes applied, 0 failed"), std::string::npos) << summary;
  EXPECT_THAT(kernel.journal, ::testing::UnorderedElementsAre(
                                  "edit 198.18.0.21:80 dr weight 4 in tcp 198.18.0.10:80",
                                  "delete service tcp 198.18.0.11:80"));
  EXPECT_EQ(kernel.dumps, 0);
  // The dead real server stayed dead (health kept), so still quiescent.
  const auto key = c.virtualServers[0].service.key;
  EXPECT_EQ(kernel.find(key, ip("198.18.0.22"), 80)->weight, 0);
  EXPECT_FALSE(has("198.18.0.12"));  // "dns" follows lease 1, not held
  balancer->activate(1);
  EXPECT_TRUE(has("198.18.0.12"));
}

TEST_F(BalancerTest, AReloadThatDropsTheChecksOfADeadRealServerMakesItAlive) {
  IpvsConfig c = twoLeases();
  c.virtualServers[0].realServers[1].checks = {check::CheckSpec{}};
  make(c);
  ASSERT_TRUE(balancer->start().isOk());
  balancer->activate(0);
  (void)balancer->setAlive(0, 1, false, "refused");
  const auto key = c.virtualServers[0].service.key;
  EXPECT_EQ(kernel.find(key, ip("198.18.0.22"), 80), nullptr);
  IpvsConfig next = c;
  next.virtualServers[0].realServers[1].checks.clear();  // nothing checks it any more
  balancer->reload(next, {0, 0, 1}, 0);
  EXPECT_NE(kernel.find(key, ip("198.18.0.22"), 80), nullptr);
  EXPECT_TRUE(balancer->view()[0].realServers[1].alive);
  EXPECT_FALSE(balancer->view()[0].realServers[1].checked);
}

TEST_F(BalancerTest, ReloadRestartsAChangedSyncDaemonInItsRole) {
  IpvsConfig c = twoLeases();
  c.sync.emplace();
  c.sync->interface = "eth0";
  c.sync->syncId = 1;
  make(c);
  ASSERT_TRUE(balancer->start().isOk());
  balancer->activate(0);
  IpvsConfig next = c;
  next.sync->syncId = 2;
  (void)balancer->reload(next, {0, 0, 1}, 0);
  ASSERT_EQ(kernel.daemons.size(), 1u);
  EXPECT_EQ(kernel.daemons.at(kipvs::SyncRole::Master).syncId, 2u);
}

}  // namespace
}  // namespace quorate::server::ipvs
