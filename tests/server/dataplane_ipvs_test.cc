// The data plane with virtual servers, on recording fakes: the holder programs IPVS after the
// fence opens and before any VIP goes up; on loss the fence shuts, the VIPs go, then the
// services; the sync daemon follows the lease.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "server/config.h"
#include "server/dataplane.h"
#include "tests/server/fake_kernel.h"
#include "tests/server/test_config.h"

namespace quorate::server {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using testing::FakeKernel;

const std::string kConfig = testing::directorConfig(R"(
announce: {repeat: 1, interval_ms: 1}
instances:
  - name: web
    vips: [{address: 198.18.0.10/24, device: eth0}]
  - name: dns
    vips: [{address: 198.18.0.53/24, device: eth0}]
virtual_servers:
  - name: http
    instance: web
    address: 198.18.0.10
    port: 80
    scheduler: rr
    real_servers: [{address: 198.18.0.21}, {address: 198.18.0.22, weight: 2}]
  - name: resolver
    instance: dns
    protocol: udp
    address: 198.18.0.53
    port: 53
    real_servers: [{address: 198.18.0.31}]
ipvs:
  sync_daemon: {interface: eth0, sync_id: 7}
)");

class DataPlaneIpvsTest : public ::testing::Test {
 protected:
  DataPlaneIpvsTest() : config_(parseDirectorConfig(kConfig, "/etc/quorate/test.yaml")) {}
  std::unique_ptr<DataPlane> make() {
    return std::make_unique<DataPlane>(
        config_, kernel_.ports(), io_, [this] { return now_; },
        [] { return std::chrono::nanoseconds(1'700'000'000'000'000'000); });
  }

  DirectorConfig config_;
  FakeKernel kernel_;
  boost::asio::io_context io_;
  lease::Time now_ = lease::Time(milliseconds(10'000));
};

TEST_F(DataPlaneIpvsTest, EachVirtualServerFollowsItsInstancesLease) {
  ASSERT_EQ(config_.virtualServerLease, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(config_.syncLease, 0u);
}

TEST_F(DataPlaneIpvsTest, ClaimProgramsIpvsAfterTheFenceAndBeforeTheVip) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  EXPECT_THAT(kernel_.calls("ipvs."), ElementsAre("ipvs.sync backup"));
  kernel_.journal.clear();
  dp->hold(0, now_ + milliseconds(600));
  ASSERT_GE(kernel_.journal.size(), 6u);
  EXPECT_EQ(kernel_.journal[0], "fence.arm 198.18.0.10");
  EXPECT_EQ(kernel_.journal[1], "ipvs.add service tcp 198.18.0.10:80 rr");
  EXPECT_EQ(kernel_.journal[2], "ipvs.add 198.18.0.21:80 dr weight 1 to tcp 198.18.0.10:80");
  EXPECT_EQ(kernel_.journal[3], "ipvs.add 198.18.0.22:80 dr weight 2 to tcp 198.18.0.10:80");
  EXPECT_EQ(kernel_.journal[4], "ipvs.sync master");
  EXPECT_EQ(kernel_.journal[5], "vips.add 198.18.0.10");
  // Only this lease's virtual server.
  EXPECT_EQ(kernel_.ipvsPort.table.size(), 1u);
  ASSERT_NE(dp->balancer(), nullptr);
  EXPECT_TRUE(dp->balancer()->view()[0].programmed);
  EXPECT_FALSE(dp->balancer()->view()[1].programmed);

  // Renewals touch the fence only.
  kernel_.journal.clear();
  dp->hold(0, now_ + milliseconds(700));
  EXPECT_TRUE(kernel_.calls("ipvs.").empty());
}

TEST_F(DataPlaneIpvsTest, LossShutsTheFenceRemovesTheVipThenTheServices) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(0, now_ + milliseconds(600));
  dp->hold(1, now_ + milliseconds(600));
  EXPECT_EQ(kernel_.ipvsPort.table.size(), 2u);
  kernel_.journal.clear();
  dp->withdraw(0);
  ASSERT_GE(kernel_.journal.size(), 4u);
  EXPECT_EQ(kernel_.journal[0], "fence.close 198.18.0.10");
  EXPECT_EQ(kernel_.journal[1], "vips.remove 198.18.0.10");
  EXPECT_EQ(kernel_.journal[2], "ipvs.delete service tcp 198.18.0.10:80");
  EXPECT_EQ(kernel_.journal[3], "ipvs.sync backup");
  EXPECT_EQ(kernel_.ipvsPort.table.size(), 1u);  // the other lease's stays
  kernel_.journal.clear();
  dp->withdraw(0);
  EXPECT_TRUE(kernel_.journal.empty());
  dp->withdrawAll();  // shutdown: nothing left
  EXPECT_TRUE(kernel_.ipvsPort.table.empty());
  EXPECT_TRUE(kernel_.ipvsPort.daemons.empty());
}

TEST_F(DataPlaneIpvsTest, StartWithoutIpvsFailsNamingIt) {
  KernelPorts ports = kernel_.ports();
  ports.ipvs = nullptr;
  DataPlane dp(config_, ports, io_, [this] { return now_; });
  auto s = dp.start();
  EXPECT_FALSE(s);
  EXPECT_NE(s.message().find("IPVS"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace quorate::server
