// Balancer::view() on services of thousands of real servers, field by field against the same
// view computed here the slow, obvious way (scan every kernel destination per real server), so
// that an index in view() or in Reconciler::installed() that loses or mixes up an entry fails.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "server/ipvs/balancer.h"
#include "tests/server/ipvs/fake_ipvs.h"
#include "tests/server/ipvs/values.h"

namespace quorate::server::ipvs {
namespace {

namespace kipvs = kernel::ipvs;
using testing::ip;

// The in-memory IPVS, but its dumps carry per-destination counters that differ for every
// endpoint and list each service's destinations in a shuffled order, as the kernel's hash
// table would; the last dump is kept for the slow computation.
class CountingIpvs : public testing::FakeIpvs {
 public:
  explicit CountingIpvs(std::uint32_t seed) : random_(seed) {}

  Result<std::vector<kipvs::ServiceState>> dump() override {
    auto r = FakeIpvs::dump();
    if (!r) return r;
    std::vector<kipvs::ServiceState> states = std::move(r).value();
    for (auto& s : states) {
      s.stats.connections = s.service.key.port * 7u + 1;
      s.stats.inBytes = s.destinations.size();
      for (auto& d : s.destinations) {
        const auto& b = d.dest.address.bytes;
        const std::uint32_t id = (std::uint32_t{b[14]} << 24) | (std::uint32_t{b[15]} << 16) |
                                 (std::uint32_t{d.dest.port} & 0xffff);
        d.activeConnections = id % 100'003;
        d.inactiveConnections = id % 7'919 + d.dest.port;
        d.stats.connections = id;
        d.stats.inPackets = std::uint64_t{id} * 3 + s.service.key.port;
        d.stats.outBytes = std::uint64_t{id} << 20;
        d.stats.cps = d.dest.port;
      }
      std::shuffle(s.destinations.begin(), s.destinations.end(), random_);
    }
    lastDump = states;
    return states;
  }

  std::vector<kipvs::ServiceState> lastDump;

 private:
  std::mt19937 random_;
};

// What the test did to one real server, and what the pool should therefore say.
struct Expected {
  bool alive = true;
  std::int32_t weight = 0;
  std::string reason;
};

VirtualServerConfig bigService(const std::string& name, const std::string& vip, int count,
                               int thirdOctet) {
  VirtualServerConfig c;
  c.name = name;
  c.service.key = kipvs::ServiceKey::inet(kipvs::Protocol::Tcp, ip(vip), 80);
  c.quorum = count / 2;
  for (int i = 0; i < count; ++i) {
    // Two real servers per address (ports 8080 and 8081): an index keyed without the port, or
    // by the address alone, mixes them up.
    const int host = i / 2;
    RealServerConfig rs;
    rs.dest.address = ip("198.19." + std::to_string(thirdOctet + host / 250) + "." +
                         std::to_string(host % 250 + 1));
    rs.dest.port = static_cast<std::uint16_t>(8080 + i % 2);
    rs.dest.weight = 1 + i % 5;
    rs.inhibitOnFailure = i % 3 == 0;
    if (i % 4 != 0) rs.checks.push_back(check::CheckSpec{});
    c.realServers.push_back(std::move(rs));
  }
  // In no particular order, as a configuration may list them: nothing may rely on sorted input.
  std::shuffle(c.realServers.begin(), c.realServers.end(), std::mt19937(thirdOctet + 13));
  kipvs::Destination sorry;
  sorry.address = ip("198.18.1.1");
  sorry.port = 80;
  sorry.weight = 1;
  c.sorryServer = sorry;
  return c;
}

class BalancerViewTest : public ::testing::Test {
 protected:
  static constexpr std::uint32_t kSeed = 1313;

  BalancerViewTest() : kernel(kSeed) {
    // "big" and "other" follow lease 0 (held), "standby" lease 1 (not held); "other" loses its
    // quorum, so its sorry server is in the table.
    config.virtualServers = {bigService("big", "198.18.0.10", 4000, 0),
                             bigService("other", "198.18.0.11", 600, 20),
                             bigService("standby", "198.18.0.12", 300, 30)};
    leaseOf = {0, 0, 1};
    for (const auto& vs : config.virtualServers) {
      std::vector<Expected> e;
      for (const auto& rs : vs.realServers) e.push_back({true, rs.dest.weight, ""});
      expected.push_back(std::move(e));
    }
    balancer = std::make_unique<Balancer>(config, leaseOf, 0, kernel);
  }

  void setAlive(std::size_t vs, std::size_t rs, bool alive, const std::string& reason,
                std::optional<std::int32_t> weight = std::nullopt) {
    (void)balancer->setAlive(vs, rs, alive, reason, weight);
    Expected& e = expected[vs][rs];
    e.alive = alive;
    e.weight = weight.value_or(config.virtualServers[vs].realServers[rs].dest.weight);
    if (!reason.empty()) e.reason = reason;
  }

  // Verdicts all over "big" (dead, reweighted, back up) and enough deaths in "other" to lose
  // its quorum.
  void changeHealth() {
    for (std::size_t i = 0; i < expected[0].size(); i += 7) setAlive(0, i, false, "no answer");
    for (std::size_t i = 3; i < expected[0].size(); i += 11) setAlive(0, i, true, "ok", 9);
    for (std::size_t i = 14; i < expected[0].size(); i += 49) setAlive(0, i, true, "back");
    for (std::size_t i = 0; i < expected[1].size(); i += 1) {
      if (i % 20 != 19) setAlive(1, i, false, "down");
    }
  }

  // The view of virtual server `vs` computed the slow way: the pool's state from what this test
  // did, the counters by scanning the last dump (the last match wins, as the kernel lists each
  // once anyway), installed from the kernel's table itself (there with the weight desired).
  // `withCounters`: whether the balancer has a read of the kernel to show (none after a failure).
  VirtualServerView slowView(std::size_t vs, bool withCounters) const {
    const VirtualServerConfig& c = config.virtualServers[vs];
    VirtualServerView v;
    v.name = c.name;
    v.lease = leaseOf[vs];
    v.service = c.service.toString();
    v.programmed = leaseOf[vs] == 0;
    for (std::size_t i = 0; i < c.realServers.size(); ++i) {
      if (expected[vs][i].alive) v.aliveWeight += expected[vs][i].weight;
    }
    v.quorumUp = v.aliveWeight >= c.quorum;  // no hysteresis configured
    const kipvs::ServiceState* read = nullptr;
    if (withCounters) {
      for (const auto& s : kernel.lastDump) {
        if (s.service.key == c.service.key) read = &s;
      }
    }
    if (read) v.stats = read->stats;
    auto add = [&](const kipvs::Destination& d, bool alive, std::int32_t desiredWeight) {
      RealServerView r;
      r.endpoint = d.endpoint();
      r.weight = d.weight;
      r.weightInEffect = d.weight;
      r.alive = alive;
      const kipvs::Destination* in = kernel.find(c.service.key, d.address, d.port);
      r.installed = v.programmed && in != nullptr && in->weight == desiredWeight;
      if (read) {
        for (const auto& ds : read->destinations) {
          if (ds.dest.address == d.address && ds.dest.port == d.port) {
            r.activeConnections = ds.activeConnections;
            r.inactiveConnections = ds.inactiveConnections;
            r.stats = ds.stats;
          }
        }
      }
      v.realServers.push_back(std::move(r));
    };
    for (std::size_t i = 0; i < c.realServers.size(); ++i) {
      const Expected& e = expected[vs][i];
      add(c.realServers[i].dest, e.alive, v.quorumUp && e.alive ? e.weight : 0);
      v.realServers.back().weightInEffect = e.weight;
      v.realServers.back().checked = !c.realServers[i].checks.empty();
      v.realServers.back().health = e.reason;
    }
    add(*c.sorryServer, !v.quorumUp, c.sorryServer->weight);
    v.realServers.back().sorry = true;
    return v;
  }

  // Every field of every real server of the balancer's view against slowView().
  void expectViewIsTheSlowOne(bool withCounters, std::size_t expectInstalled) {
    SCOPED_TRACE("shuffle seed " + std::to_string(kSeed));
    const auto views = balancer->view();
    ASSERT_EQ(views.size(), config.virtualServers.size());
    std::size_t installed = 0, withConnections = 0;
    for (std::size_t vs = 0; vs < views.size(); ++vs) {
      const VirtualServerView want = slowView(vs, withCounters);
      const VirtualServerView& got = views[vs];
      SCOPED_TRACE("virtual server " + want.name);
      EXPECT_EQ(got.name, want.name);
      EXPECT_EQ(got.lease, want.lease);
      EXPECT_EQ(got.service, want.service);
      EXPECT_EQ(got.programmed, want.programmed);
      EXPECT_EQ(got.quorumUp, want.quorumUp);
      EXPECT_EQ(got.aliveWeight, want.aliveWeight);
      EXPECT_TRUE(got.stats == want.stats);
      ASSERT_EQ(got.realServers.size(), want.realServers.size());
      int mismatches = 0;
      for (std::size_t i = 0; i < want.realServers.size() && mismatches < 5; ++i) {
        const RealServerView& g = got.realServers[i];
        const RealServerView& w = want.realServers[i];
        const bool same = g.endpoint == w.endpoint && g.weight == w.weight &&
                          g.weightInEffect == w.weightInEffect && g.alive == w.alive &&
                          g.checked == w.checked && g.health == w.health &&
                          g.installed == w.installed && g.sorry == w.sorry &&
                          g.activeConnections == w.activeConnections &&
                          g.inactiveConnections == w.inactiveConnections && g.stats == w.stats;
        if (!same) {
          ++mismatches;
          ADD_FAILURE() << "real server " << i << " " << w.endpoint << ": got " << g.endpoint
                        << " weight " << g.weight << "/" << g.weightInEffect << " alive " << g.alive
                        << " checked " << g.checked << " health '" << g.health << "' installed "
                        << g.installed << " sorry " << g.sorry << " conns " << g.activeConnections
                        << "/" << g.inactiveConnections << " (" << g.stats.connections
                        << "); want weight " << w.weight << "/" << w.weightInEffect << " alive "
                        << w.alive << " checked " << w.checked << " health '" << w.health
                        << "' installed " << w.installed << " sorry " << w.sorry << " conns "
                        << w.activeConnections << "/" << w.inactiveConnections << " ("
                        << w.stats.connections << ")";
        }
        installed += w.installed;
        withConnections += w.activeConnections > 0;
      }
    }
    // The slow view itself is not vacuous: it has installed entries and (with a read) counters.
    EXPECT_EQ(installed, expectInstalled);
    if (withCounters) {
      EXPECT_GT(withConnections, installed / 2);
    }
  }

  CountingIpvs kernel;
  IpvsConfig config;
  std::vector<std::size_t> leaseOf;
  std::vector<std::vector<Expected>> expected;
  std::unique_ptr<Balancer> balancer;
};

TEST_F(BalancerViewTest, ThousandsOfRealServersShowWhatTheSlowScanShows) {
  ASSERT_TRUE(balancer->start().isOk());
  // Most verdicts before the lease is held (one reconcile then, for speed), a few after.
  changeHealth();
  balancer->activate(0);
  for (std::size_t i = 1; i < 200; i += 10) setAlive(0, i, i % 20 == 1, "late", 4);
  // A fresh read, so the view has the kernel's counters; nothing is left to repair.
  ASSERT_TRUE(balancer->resync().isOk());
  EXPECT_EQ(balancer->counters().opsFailed, 0u);
  // Installed: "big" has all but the dead that are not quiescent; "other" lost its quorum, so
  // only its quiescent ones (weight 0) and its sorry server; "standby" nothing.
  std::size_t big = 0, other = 1;
  for (std::size_t i = 0; i < expected[0].size(); ++i) {
    big += expected[0][i].alive || config.virtualServers[0].realServers[i].inhibitOnFailure;
  }
  for (const auto& rs : config.virtualServers[1].realServers) other += rs.inhibitOnFailure;
  expectViewIsTheSlowOne(true, big + other);
  EXPECT_FALSE(balancer->view()[0].lastError.has_value());
}

TEST_F(BalancerViewTest, DestinationsTheKernelRefusedAreShownNotInstalled) {
  ASSERT_TRUE(balancer->start().isOk());
  changeHealth();
  // Every op on a real server at 198.19.1.x fails from now on (500 of "big").
  kernel.failMatching = std::pair<std::string, int>{"198.19.1.", EIO};
  balancer->activate(0);
  ASSERT_TRUE(balancer->resync().isOk());
  EXPECT_GT(balancer->counters().opsFailed, 0u);
  EXPECT_TRUE(balancer->view()[0].lastError.has_value());
  // A failed op leaves no trusted read of the kernel: no counters, but installed stays exact.
  std::size_t installed = 0;
  for (std::size_t vs = 0; vs < 2; ++vs) {
    for (const auto& r : slowView(vs, false).realServers) installed += r.installed;
  }
  EXPECT_LT(installed, 4000u);
  expectViewIsTheSlowOne(false, installed);
}

}  // namespace
}  // namespace quorate::server::ipvs
