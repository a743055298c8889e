// The members of a virtual_server_group in the balancer, against an in-memory IPVS: one verdict
// by name reaches every member's service, a reload that adds a member gives it the group's
// health, and a drain by the group's name holds in every member.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/ipvs/balancer.h"
#include "server/ipvs/drains.h"
#include "tests/server/ipvs/fake_ipvs.h"
#include "tests/server/ipvs/values.h"

namespace quorate::server::ipvs {
namespace {

namespace kipvs = kernel::ipvs;
using testing::dest;
using testing::FakeIpvs;
using testing::ip;

kipvs::ServiceKey member(const std::string& vip) {
  return kipvs::ServiceKey::inet(kipvs::Protocol::Tcp, ip(vip), 80);
}

// Group "front" of `vips` (as parseIpvsConfig expands it): one entry per member, one name, the
// same checked real servers.
IpvsConfig group(const std::vector<std::string>& vips) {
  IpvsConfig c;
  for (std::size_t i = 0; i < vips.size(); ++i) {
    VirtualServerConfig vs;
    vs.name = "web";
    vs.group = "front";
    vs.member = i;
    vs.service.key = member(vips[i]);
    for (const char* a : {"198.18.0.21", "198.18.0.22"}) {
      vs.realServers.push_back(testing::realServer(dest(a)));
      vs.realServers.back().checks = {check::CheckSpec{}};
    }
    c.virtualServers.push_back(std::move(vs));
  }
  return c;
}

class BalancerGroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config = group({"198.18.1.10", "198.18.1.11", "198.18.1.12"});
    balancer = std::make_unique<Balancer>(config, std::vector<std::size_t>(3, 0), 0, kernel);
    ASSERT_TRUE(balancer->start().isOk());
    balancer->activate(0);
  }
  bool has(const std::string& vip, const char* rs) const {
    return kernel.find(member(vip), ip(rs), 80) != nullptr;
  }

  FakeIpvs kernel;
  IpvsConfig config;
  std::unique_ptr<Balancer> balancer;
};

TEST_F(BalancerGroupTest, OneVerdictReachesEveryMember) {
  ASSERT_EQ(kernel.table.size(), 3u);
  const auto events = balancer->setAlive("web", ip("198.18.0.22"), 80, false, "refused");
  EXPECT_EQ(events.size(), 3u);  // one transition per member
  for (const char* vip : {"198.18.1.10", "198.18.1.11", "198.18.1.12"}) {
    SCOPED_TRACE(vip);
    EXPECT_TRUE(has(vip, "198.18.0.21"));
    EXPECT_FALSE(has(vip, "198.18.0.22"));
  }
  (void)balancer->setAlive("web", ip("198.18.0.22"), 80, true, "connected");
  for (const char* vip : {"198.18.1.10", "198.18.1.11", "198.18.1.12"}) {
    EXPECT_TRUE(has(vip, "198.18.0.22")) << vip;
  }
}

TEST_F(BalancerGroupTest, AReloadAddsAndRemovesMembersWithTheGroupsHealth) {
  (void)balancer->setAlive("web", ip("198.18.0.22"), 80, false, "refused");
  kernel.resetCounters();
  // 198.18.1.10 leaves, 198.18.1.13 joins; the checker has no news for it (the real servers'
  // keys did not change), so its health must come from the group.
  const std::string summary =
      balancer->reload(group({"198.18.1.11", "198.18.1.12", "198.18.1.13"}), {0, 0, 0}, 0);
  EXPECT_THAT(summary, ::testing::HasSubstr("2 real servers kept their health")) << summary;
  EXPECT_THAT(kernel.journal,
              ::testing::UnorderedElementsAre(
                  "delete service tcp 198.18.1.10:80", "add service tcp 198.18.1.13:80 wlc",
                  "add 198.18.0.21:80 dr weight 1 to tcp 198.18.1.13:80"));
  EXPECT_FALSE(has("198.18.1.13", "198.18.0.22"));
  EXPECT_TRUE(has("198.18.1.13", "198.18.0.21"));
}

TEST_F(BalancerGroupTest, ADrainByTheGroupsNameHoldsInEveryMember) {
  // The operator may name the group's virtual server by its name or by any member's service.
  for (const char* words : {"web", "tcp 198.18.1.12:80", "198.18.1.11:80"}) {
    const auto key = resolveDrain(balancer->config(), words, "198.18.0.21");
    ASSERT_TRUE(key) << words << ": " << key.status().message();
    EXPECT_EQ(key->toString(), "web 198.18.0.21:80");
  }
  balancer->setDrains({DrainKey{"web", "198.18.0.21:80"}});
  for (const char* vip : {"198.18.1.10", "198.18.1.11", "198.18.1.12"}) {
    ASSERT_TRUE(has(vip, "198.18.0.21")) << vip;
    EXPECT_EQ(kernel.find(member(vip), ip("198.18.0.21"), 80)->weight, 0) << vip;
  }
}

}  // namespace
}  // namespace quorate::server::ipvs
