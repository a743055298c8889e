// The data plane's ordering and bookkeeping, on recording fakes of the kernel ports: fence
// before addresses on claim, fence shut before anything else on withdraw, announcements, and
// no frame after the lease end.
#include "server/dataplane.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "server/config.h"
#include "tests/server/fake_kernel.h"
#include "tests/server/test_config.h"

namespace quorate::server {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;
using testing::FakeKernel;

const std::string kConfig = testing::directorConfig(R"(
announce: {repeat: 3, interval_ms: 1}
instances:
  - name: web
    vips:
      - {address: 198.18.0.10/24, device: eth0, label: "eth0:web"}
      - {address: "2001:db8::10/64", device: eth0}
    vrrp: {vrid: 51, priority: 150, advert_interval_ms: 1000}
  - name: gw
    vips: [{address: 198.18.1.1/24, device: eth0}]
)");

class DataPlaneTest : public ::testing::Test {
 protected:
  DataPlaneTest() : config_(parseDirectorConfig(kConfig, "/etc/quorate/test.yaml")) {
    // The interface's own addresses, which VRRP adverts come from.
    for (const char* a : {"198.18.0.1/24", "fe80::1/64"}) {
      kernel_.addresses["eth0"].push_back(net::Vip{*net::IpPrefix::parse(a), "eth0", ""});
    }
  }
  std::size_t vipsUp() {
    std::size_t n = 0;
    for (const auto& v : kernel_.addresses["eth0"])
      n += v.prefix.address.toString() != "198.18.0.1" && v.prefix.address.toString() != "fe80::1";
    return n;
  }

  std::unique_ptr<DataPlane> make(bool fence = true) {
    return std::make_unique<DataPlane>(
        config_, kernel_.ports(fence), io_,
        [this] {
          reads_.push_back("lease");
          return now_;
        },
        [this] {
          reads_.push_back("realtime");
          const auto t = realNow_;
          now_ += freezeAfterRealtime_;  // the process stalls right after reading real time
          return t;
        });
  }

  DirectorConfig config_;
  FakeKernel kernel_;
  boost::asio::io_context io_;
  lease::Time now_ = lease::Time(milliseconds(10'000));
  std::chrono::nanoseconds realNow_{1'700'000'000'123'456'789};  // CLOCK_REALTIME
  lease::Duration freezeAfterRealtime_{0};
  std::vector<std::string> reads_;  // "realtime", "lease", in call order
};

TEST_F(DataPlaneTest, StartClosesTheFenceOverEveryVipThenRemovesLeftovers) {
  auto dp = make();
  kernel_.addresses["eth0"].push_back(config_.instances[0].vips[0]);  // left by an earlier run
  ASSERT_TRUE(dp->start());
  EXPECT_THAT(kernel_.journal, ElementsAre("fence.install 198.18.0.10 2001:db8::10 198.18.1.1",
                                           "vips.remove 198.18.0.10", "vips.remove 2001:db8::10",
                                           "vips.remove 198.18.1.1"));
  EXPECT_EQ(vipsUp(), 0u);
}

TEST_F(DataPlaneTest, StartFailsWhenTheFenceCannotBeInstalled) {
  auto dp = make();
  kernel_.failNextErrno = EPERM;
  const auto s = dp->start();
  EXPECT_FALSE(s);
  EXPECT_EQ(s.err(), EPERM);
}

TEST_F(DataPlaneTest, ClaimOpensTheFenceBeforeAddingAddressesThenAnnounces) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  kernel_.journal.clear();
  dp->hold(0, now_ + milliseconds(600));
  ASSERT_GE(kernel_.journal.size(), 3u);
  EXPECT_EQ(kernel_.journal[0], "fence.arm 198.18.0.10 2001:db8::10");
  EXPECT_EQ(kernel_.journal[1], "vips.add 198.18.0.10");
  EXPECT_EQ(kernel_.journal[2], "vips.add 2001:db8::10");
  EXPECT_EQ(kernel_.lastArm, milliseconds(600));
  EXPECT_TRUE(dp->claimed(0));
  EXPECT_FALSE(dp->claimed(1));
  EXPECT_TRUE(kernel_.calls("vips.add 198.18.1.1").empty()) << "the other lease's VIP";
  // The first announcement goes out at once: one GARP, one NA, one VRRP advert per family
  // that has VIPs.
  EXPECT_EQ(kernel_.frames.size(), 2u + 2u);
  EXPECT_EQ(kernel_.frames[0].second, kernel::gratuitousArp(kernel_.links["eth0"].mac,
                                                            *net::IpAddress::parse("198.18.0.10")));
  // The burst continues on the timer: repeat 3 in all (the VRRP advert timer runs on).
  for (int i = 0; i < 100 && dp->counters().announcements < 6; ++i) io_.run_one();
  EXPECT_EQ(dp->counters().announcements, 3u * 2u);
  EXPECT_EQ(dp->counters().framesSuppressed, 0u) << "the lease is still valid";
  EXPECT_TRUE(dp->withdraw(0));
  io_.run();  // nothing left scheduled once withdrawn
  EXPECT_EQ(dp->counters().announcements, 3u * 2u);
}

TEST_F(DataPlaneTest, RenewalMovesOnlyTheFence) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(0, now_ + milliseconds(600));
  kernel_.journal.clear();
  dp->hold(0, now_ + milliseconds(600));  // nothing new
  EXPECT_TRUE(kernel_.journal.empty());
  now_ += milliseconds(150);
  dp->hold(0, now_ + milliseconds(590));
  EXPECT_THAT(kernel_.journal, ElementsAre("fence.arm 198.18.0.10 2001:db8::10"));
  EXPECT_EQ(kernel_.lastArm, milliseconds(590));
  EXPECT_EQ(dp->counters().fenceRenewals, 1u);
}

TEST_F(DataPlaneTest, TheFenceDeadlineIsRealTimeNowPlusWhatIsLeftOfTheLease) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  // A lease end that is not a whole number of milliseconds away: the deadline keeps the
  // nanoseconds, the relative timeout is truncated to milliseconds.
  const auto left = milliseconds(600) + std::chrono::microseconds(250);
  reads_.clear();
  dp->hold(0, now_ + left);
  EXPECT_EQ(kernel_.lastArm, milliseconds(600));
  EXPECT_EQ(kernel_.lastArmDeadline, realNow_ + left);
  ASSERT_EQ(reads_.size(), 2u + kernel_.frames.size()) << "a lease clock read per frame";
  EXPECT_EQ(reads_[0], "realtime") << "real time must be read first";
  EXPECT_EQ(std::count(reads_.begin(), reads_.end(), "lease"), 1 + std::ssize(kernel_.frames));
  // Renewal: both move with the lease.
  now_ += milliseconds(150);
  realNow_ += milliseconds(150);
  dp->hold(0, now_ + milliseconds(590));
  EXPECT_EQ(kernel_.lastArm, milliseconds(590));
  EXPECT_EQ(kernel_.lastArmDeadline, realNow_ + milliseconds(590));
}

TEST_F(DataPlaneTest, AFreezeBetweenTheClockReadsOnlyMakesTheDeadlineEarlier) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  const auto realAtRead = realNow_;
  freezeAfterRealtime_ = milliseconds(100);  // stalls 100 ms after reading real time
  const lease::Time leaseEnd = now_ + milliseconds(600);
  dp->hold(0, leaseEnd);
  // The lease clock was read 100 ms late: 500 ms left, counted from the earlier real time.
  EXPECT_EQ(kernel_.lastArm, milliseconds(500));
  EXPECT_EQ(kernel_.lastArmDeadline, realAtRead + milliseconds(500));
  EXPECT_LT(*kernel_.lastArmDeadline, realAtRead + milliseconds(600));
}

TEST_F(DataPlaneTest, WithdrawShutsTheFenceFirstAndIsIdempotent) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(0, now_ + milliseconds(600));
  kernel_.journal.clear();
  EXPECT_TRUE(dp->withdraw(0));
  ASSERT_GE(kernel_.journal.size(), 3u);
  EXPECT_EQ(kernel_.journal[0], "fence.close 198.18.0.10 2001:db8::10");
  EXPECT_EQ(kernel_.journal[1], "vips.remove 198.18.0.10");
  EXPECT_EQ(kernel_.journal[2], "vips.remove 2001:db8::10");
  EXPECT_EQ(vipsUp(), 0u);
  EXPECT_FALSE(dp->claimed(0));
  kernel_.journal.clear();
  EXPECT_TRUE(dp->withdraw(0));
  EXPECT_TRUE(kernel_.journal.empty());
  // Pending announcements were cancelled: nothing more goes out.
  const auto sent = kernel_.frames.size();
  io_.run();
  EXPECT_EQ(kernel_.frames.size(), sent);
}

TEST_F(DataPlaneTest, ALeaseAlreadyOverIsNotClaimed) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  kernel_.journal.clear();
  dp->hold(0, now_);
  EXPECT_TRUE(kernel_.calls("vips.add").empty());
  EXPECT_FALSE(dp->claimed(0));
}

TEST_F(DataPlaneTest, NoAddressGoesUpWhileTheFenceCannotOpen) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  kernel_.failNextErrno = ENOMEM;
  dp->hold(0, now_ + milliseconds(600));
  EXPECT_TRUE(kernel_.calls("vips.add").empty());
  EXPECT_FALSE(dp->claimed(0));
  EXPECT_EQ(dp->counters().kernelErrors, 1u);
  dp->hold(0, now_ + milliseconds(600));  // the next event retries
  EXPECT_EQ(kernel_.calls("vips.add").size(), 2u);
  EXPECT_TRUE(dp->claimed(0));
}

TEST_F(DataPlaneTest, AFailedAddressIsRetriedOnTheNextRenewal) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  kernel_.journal.clear();
  dp->hold(1, now_ + milliseconds(600));
  dp->withdraw(1);
  // This time the fence opens but the address cannot be added.
  kernel_.journal.clear();
  kernel_.failAddress = "198.18.1.1";
  dp->hold(1, now_ + milliseconds(600));
  EXPECT_TRUE(dp->claimed(1));
  EXPECT_EQ(vipsUp(), 0u);
  kernel_.failAddress.reset();
  now_ += milliseconds(150);
  dp->hold(1, now_ + milliseconds(600));
  EXPECT_EQ(vipsUp(), 1u);
}

TEST_F(DataPlaneTest, WithdrawRemovesAddressesEvenWhenTheFenceCannotClose) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(1, now_ + milliseconds(600));
  kernel_.failNextErrno = EBUSY;  // fence.close
  EXPECT_FALSE(dp->withdraw(1));
  EXPECT_EQ(vipsUp(), 0u);
  EXPECT_EQ(dp->counters().kernelErrors, 1u);
}

// Finding 6 of issue 11: our own frames leave through AF_PACKET, which the fence does not see.

TEST_F(DataPlaneTest, AnAnnounceTimerFiringAfterTheLeaseEndSendsNothingAndWithdraws) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(1, now_ + milliseconds(600));
  ASSERT_EQ(kernel_.frames.size(), 1u);  // the burst's first GARP, within the lease
  now_ += milliseconds(700);             // frozen past the lease end with the burst's timer due
  kernel_.journal.clear();
  io_.run();
  EXPECT_EQ(kernel_.frames.size(), 1u) << "a GARP left after the lease end";
  EXPECT_EQ(dp->counters().framesSuppressed, 1u);
  EXPECT_EQ(dp->counters().lapses, 1u);
  // It withdrew on its own, fence first, and nothing is scheduled any more.
  EXPECT_FALSE(dp->claimed(1));
  EXPECT_EQ(vipsUp(), 0u);
  ASSERT_FALSE(kernel_.journal.empty());
  EXPECT_EQ(kernel_.journal.front(), "fence.close 198.18.1.1");
}

// The test-only fault the netns freeze test runs as its broken daemon: with it, the late GARPs
// of the test above leave, and nothing counts as suppressed.
TEST_F(DataPlaneTest, TheUngatedFramesTestFaultLetsLateFramesLeave) {
  config_.testFaults.ungatedFrames = true;
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(1, now_ + milliseconds(600));
  ASSERT_EQ(kernel_.frames.size(), 1u);
  now_ += milliseconds(700);
  io_.run();
  EXPECT_EQ(kernel_.frames.size(), 3u) << "the whole burst, two frames after the lease end";
  EXPECT_EQ(dp->counters().framesSuppressed, 0u);
}

TEST_F(DataPlaneTest, ReannounceAfterTheLeaseEndSendsNothing) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(1, now_ + milliseconds(600));
  io_.run();
  io_.restart();
  ASSERT_EQ(kernel_.frames.size(), 3u);
  now_ += milliseconds(600);  // exactly the lease end: already over
  dp->reannounce(1);
  io_.run();
  EXPECT_EQ(kernel_.frames.size(), 3u) << "reannounce sent after the lease end";
  EXPECT_EQ(dp->counters().framesSuppressed, 1u);
  EXPECT_FALSE(dp->claimed(1));
}

TEST_F(DataPlaneTest, TheClockIsReadBeforeEveryFrameNotOncePerRound) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  const lease::Time leaseEnd = now_ + milliseconds(600);
  // The process stalls right after handing the GARP to the kernel, past the lease end:
  // the NA of the same round must stay home.
  kernel_.after = [&](const std::string& call) {
    if (call == "announce 7") now_ = leaseEnd + milliseconds(1);
  };
  dp->hold(0, leaseEnd);
  ASSERT_EQ(kernel_.frames.size(), 1u);
  EXPECT_EQ(kernel_.frames[0].second, kernel::gratuitousArp(kernel_.links["eth0"].mac,
                                                            *net::IpAddress::parse("198.18.0.10")));
  // Neither the NA nor the VRRP adverts of the claim, nor the resign of the withdrawal that
  // follows, left.
  EXPECT_EQ(dp->counters().vrrpAdverts, 0u);
  EXPECT_GE(dp->counters().framesSuppressed, 2u);
  EXPECT_FALSE(dp->claimed(0));
  io_.run_for(milliseconds(50));  // bounded: lease 0 has a VRRP timer if a bug keeps it
  EXPECT_EQ(kernel_.frames.size(), 1u);
}

TEST_F(DataPlaneTest, AStallBetweenTheLeaseCheckAndTheFirstFrameSendsNothing) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  const lease::Time leaseEnd = now_ + milliseconds(600);
  // hold() read the clock well before the end; the process then stalls adding the address.
  kernel_.after = [&](const std::string& call) {
    if (call == "vips.add 198.18.1.1") now_ = leaseEnd;
  };
  dp->hold(1, leaseEnd);
  EXPECT_TRUE(kernel_.frames.empty());
  EXPECT_EQ(dp->counters().framesSuppressed, 1u);
  EXPECT_FALSE(dp->claimed(1));
}

TEST_F(DataPlaneTest, TheResignAdvertLeavesOnlyBeforeTheLeaseEnd) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(0, now_ + milliseconds(600));
  ASSERT_EQ(dp->counters().vrrpAdverts, 2u);
  now_ += milliseconds(600);
  EXPECT_TRUE(dp->withdraw(0));
  EXPECT_EQ(dp->counters().vrrpAdverts, 2u) << "a resign advert left after the lease end";
  EXPECT_EQ(dp->counters().framesSuppressed, 1u);
  // Before the end (a planned step-down) it does leave: see VrrpAdvertsCarryPriority...
}

TEST_F(DataPlaneTest, AFenceThatCannotCloseIsReportedAndTheCloseRetried) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(1, now_ + milliseconds(600));
  kernel_.journal.clear();
  kernel_.failFenceClose = EBUSY;
  EXPECT_FALSE(dp->withdraw(1)) << "the VIPs may still answer";
  EXPECT_FALSE(dp->claimed(1));
  EXPECT_EQ(vipsUp(), 0u) << "the addresses go anyway";
  // Every later withdraw retries the close until it succeeds.
  now_ += milliseconds(100);
  EXPECT_FALSE(dp->withdraw(1));
  kernel_.failFenceClose = 0;
  EXPECT_TRUE(dp->withdraw(1));
  EXPECT_EQ(kernel_.calls("fence.close").size(), 3u);
  kernel_.journal.clear();
  EXPECT_TRUE(dp->withdraw(1));
  EXPECT_TRUE(kernel_.journal.empty()) << "closed: nothing more to do";
  EXPECT_EQ(dp->counters().kernelErrors, 2u);
}

// The resign advert (priority 0) is VRRP's handover: a listening backup becomes master at once
// instead of after its master-down interval. After a close that failed, our VIPs may still
// answer until the fence's own deadline, so a resign then makes two answerers, exactly what
// dropping Release and Handover in Director::step is there to prevent.
TEST_F(DataPlaneTest, NoResignAdvertWhileTheFenceMayStillBeOpen) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(0, now_ + milliseconds(600));
  ASSERT_EQ(dp->counters().vrrpAdverts, 2u);
  kernel_.failFenceClose = EBUSY;
  ASSERT_FALSE(dp->withdraw(0)) << "the VIPs may still answer";
  EXPECT_EQ(dp->counters().vrrpAdverts, 2u)
      << "a resign advert handed VRRP listeners over while the fence may be open";
}

TEST_F(DataPlaneTest, AFailedCloseIsDarkOnceTheLastArmHasRunOut) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(1, now_ + milliseconds(600));
  now_ += milliseconds(300);
  dp->hold(1, now_ + milliseconds(600));  // renewed: open until +900 now
  now_ += milliseconds(400);              // past the first end, not the second
  kernel_.failNextErrno = EBUSY;
  EXPECT_FALSE(dp->withdraw(1));
  now_ += milliseconds(200);  // the kernel has shut the fence by itself
  kernel_.failNextErrno = EBUSY;
  EXPECT_TRUE(dp->withdraw(1));
  kernel_.journal.clear();
  EXPECT_TRUE(dp->withdraw(1));
  EXPECT_TRUE(kernel_.journal.empty());
}

TEST_F(DataPlaneTest, AnArmThatFailedMayHaveOpenedTheFence) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(1, now_ + milliseconds(600));
  now_ += milliseconds(300);
  kernel_.failNextErrno = ENOBUFS;        // fence.arm: its ack lost, perhaps committed
  dp->hold(1, now_ + milliseconds(600));  // asked for +900
  now_ += milliseconds(400);
  kernel_.failNextErrno = EBUSY;
  EXPECT_FALSE(dp->withdraw(1)) << "the failed arm's end counts, not only the last good one's";
}

TEST_F(DataPlaneTest, AClaimAfterAFailedCloseArmsAgainAndAnnounces) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(1, now_ + milliseconds(600));
  kernel_.failNextErrno = EBUSY;
  EXPECT_FALSE(dp->withdraw(1));
  const auto sent = kernel_.frames.size();
  kernel_.journal.clear();
  dp->hold(1, now_ + milliseconds(600));
  EXPECT_TRUE(dp->claimed(1));
  ASSERT_FALSE(kernel_.journal.empty());
  EXPECT_EQ(kernel_.journal.front(), "fence.arm 198.18.1.1");
  EXPECT_EQ(kernel_.frames.size(), sent + 1);
  EXPECT_TRUE(dp->withdraw(1));
}

TEST_F(DataPlaneTest, WithoutAFenceAnAddressThatStaysIsNotDark) {
  auto dp = make(false);
  ASSERT_TRUE(dp->start());
  dp->hold(1, now_ + milliseconds(600));
  kernel_.failNextErrno = EBUSY;  // vips.remove
  EXPECT_FALSE(dp->withdraw(1));
  EXPECT_EQ(vipsUp(), 1u);
  EXPECT_TRUE(dp->withdraw(1));  // retried
  EXPECT_EQ(vipsUp(), 0u);
}

TEST_F(DataPlaneTest, WithoutAFenceAddressesStillFollowTheLease) {
  auto dp = make(false);
  ASSERT_TRUE(dp->start());
  dp->hold(1, now_ + milliseconds(600));
  dp->withdraw(1);
  EXPECT_TRUE(kernel_.calls("fence").empty());
  EXPECT_EQ(kernel_.calls("vips.add").size(), 1u);
  EXPECT_EQ(kernel_.calls("vips.remove 198.18.1.1").size(), 2u);  // start + withdraw
}

TEST_F(DataPlaneTest, VrrpAdvertsCarryPriorityAndResignWithZero) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(0, now_ + milliseconds(600));
  EXPECT_EQ(dp->counters().vrrpAdverts, 2u);  // IPv4 and IPv6
  kernel::VrrpAdvert ad;
  ad.vrid = 51;
  ad.priority = 150;
  ad.interval = milliseconds(1000);
  ad.source = *net::IpAddress::parse("198.18.0.1");
  ad.addresses = {*net::IpAddress::parse("198.18.0.10")};
  const auto expected = kernel::vrrpAdvert(kernel_.links["eth0"].mac, ad);
  bool found = false;
  for (const auto& [ifindex, f] : kernel_.frames) found = found || (ifindex == 7 && f == expected);
  EXPECT_TRUE(found) << "IPv4 advert from the interface's own address";
  dp->withdraw(0);
  ad.priority = 0;
  const auto resign = kernel::vrrpAdvert(kernel_.links["eth0"].mac, ad);
  found = false;
  for (const auto& [ifindex, f] : kernel_.frames) found = found || f == resign;
  EXPECT_TRUE(found) << "priority 0 advert on withdraw";
  EXPECT_EQ(dp->counters().vrrpAdverts, 4u);
}

TEST_F(DataPlaneTest, ReannounceStartsANewBurstOnlyWhileClaimed) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->reannounce(1);
  EXPECT_EQ(dp->counters().announcements, 0u);
  dp->hold(1, now_ + milliseconds(600));
  io_.run();
  io_.restart();
  EXPECT_EQ(dp->counters().announcements, 3u);
  dp->reannounce(1);
  io_.run();
  EXPECT_EQ(dp->counters().announcements, 6u);
}

TEST(DataPlaneVmac, VipsLiveOnTheMacvlanWithTheVirtualMac) {
  const auto config = parseDirectorConfig(testing::directorConfig(R"(
announce: {repeat: 1}
instances:
  - name: web
    vips: [{address: 198.18.0.10/24, device: eth0}]
    vrrp: {vrid: 51, use_vmac: true}
)"),
                                          "/etc/quorate/vmac.yaml");
  FakeKernel k;
  k.addresses["eth0"].push_back(net::Vip{*net::IpPrefix::parse("198.18.0.1/24"), "eth0", ""});
  boost::asio::io_context io;
  lease::Time now(milliseconds(10'000));
  DataPlane dp(config, k.ports(), io, [&] { return now; });
  ASSERT_TRUE(dp.start());
  // The macvlan with 00:00:5e:00:01:33, and a parent that no longer answers ARP for the VIP.
  EXPECT_EQ(k.calls("links.macvlan"),
            std::vector<std::string>{"links.macvlan vrrp.51 on eth0 00:00:5e:00:01:33"});
  EXPECT_EQ(k.calls("sysctl"), std::vector<std::string>{"sysctl eth0.arp_ignore=1"});
  dp.hold(0, now + milliseconds(600));
  ASSERT_EQ(k.addresses["vrrp.51"].size(), 1u);
  EXPECT_TRUE(k.addresses["eth0"].size() == 1u) << "only the parent's own address";
  // Announcements and adverts leave through the macvlan, from the virtual MAC; the advert's
  // source is the parent's own address.
  const int vmacIndex = k.links["vrrp.51"].index;
  const auto vmac = k.links["vrrp.51"].mac;
  EXPECT_EQ(k.frames.front().first, vmacIndex);
  EXPECT_EQ(k.frames.front().second,
            kernel::gratuitousArp(vmac, *net::IpAddress::parse("198.18.0.10")));
  kernel::VrrpAdvert ad;
  ad.vrid = 51;
  ad.source = *net::IpAddress::parse("198.18.0.1");
  ad.addresses = {*net::IpAddress::parse("198.18.0.10")};
  bool advert = false;
  for (const auto& [i, f] : k.frames)
    advert = advert || (i == vmacIndex && f == kernel::vrrpAdvert(vmac, ad));
  EXPECT_EQ(dp.counters().vrrpAdverts, 1u);
  EXPECT_EQ(k.frames.size(), 2u);
  EXPECT_TRUE(advert);
  dp.withdraw(0);
  EXPECT_TRUE(k.addresses["vrrp.51"].empty());
}

TEST(DataPlaneVrrp, AnAdvertTimerFiringAfterTheLeaseEndSendsNothing) {
  const auto config = parseDirectorConfig(testing::directorConfig(R"(
announce: {repeat: 1}
instances:
  - name: web
    vips: [{address: 198.18.0.10/24, device: eth0}]
    vrrp: {vrid: 51, advert_interval_ms: 10}
)"),
                                          "/etc/quorate/vrrp.yaml");
  FakeKernel k;
  k.addresses["eth0"].push_back(net::Vip{*net::IpPrefix::parse("198.18.0.1/24"), "eth0", ""});
  boost::asio::io_context io;
  lease::Time now(milliseconds(10'000));
  DataPlane dp(config, k.ports(), io, [&] { return now; });
  ASSERT_TRUE(dp.start());
  dp.hold(0, now + milliseconds(600));
  EXPECT_EQ(dp.counters().vrrpAdverts, 1u);
  // Within the lease the advert timer sends as before.
  now += milliseconds(10);
  ASSERT_EQ(io.run_one(), 1u);
  EXPECT_EQ(dp.counters().vrrpAdverts, 2u);
  const auto frames = k.frames.size();
  now += milliseconds(700);  // frozen past the lease end with the timer due
  ASSERT_EQ(io.run_one(), 1u);
  EXPECT_EQ(k.frames.size(), frames) << "a VRRP advert left after the lease end";
  EXPECT_EQ(dp.counters().framesSuppressed, 2u);  // the periodic advert and the resign
  EXPECT_EQ(dp.counters().lapses, 1u);
  EXPECT_FALSE(dp.claimed(0));
  // Nothing left scheduled (bounded, so that a broken build fails instead of hanging).
  EXPECT_EQ(io.run_for(milliseconds(50)), 0u);
  EXPECT_EQ(k.frames.size(), frames);
}

// A reload's VIPs (updateVips): the fence changes first, in one call, and nothing else of the
// lease moves: no arm, no close, no other address.
net::Vip vip(const char* prefix) { return net::Vip{*net::IpPrefix::parse(prefix), "eth0", ""}; }
// The journal without the frames sent.
std::vector<std::string> portCalls(const FakeKernel& k) {
  std::vector<std::string> out;
  for (const auto& j : k.journal) {
    if (j.rfind("announce", 0) != 0) out.push_back(j);
  }
  return out;
}

TEST_F(DataPlaneTest, AVipAddedToAHeldLeaseIsFencedBeforeItGoesUpThenAnnounced) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(0, now_ + milliseconds(600));
  kernel_.journal.clear();
  const std::size_t frames = kernel_.frames.size();
  auto vips = DataPlane::leaseVips(config_, config_.leases[0]);
  ASSERT_EQ(vips, dp->vipsOf(0));
  vips.push_back(vip("198.18.0.11/24"));
  ASSERT_TRUE(dp->updateVips(0, vips));
  EXPECT_THAT(portCalls(kernel_), ElementsAre("fence.update 0 198.18.0.10 2001:db8::10 198.18.0.11",
                                              "vips.add 198.18.0.11"));
  EXPECT_TRUE(dp->claimed(0));
  EXPECT_EQ(dp->vipsOf(0), vips);
  // Announced at once, the new VIP with the others.
  const auto garp =
      kernel::gratuitousArp(kernel_.links["eth0"].mac, *net::IpAddress::parse("198.18.0.11"));
  bool announced = false;
  for (std::size_t i = frames; i < kernel_.frames.size(); ++i)
    announced = announced || kernel_.frames[i].second == garp;
  EXPECT_TRUE(announced);
  // The next renewal only moves the fence; a withdrawal takes the new VIP too.
  kernel_.journal.clear();
  dp->hold(0, now_ + milliseconds(900));
  EXPECT_THAT(portCalls(kernel_), ElementsAre("fence.arm 198.18.0.10 2001:db8::10 198.18.0.11"));
  EXPECT_TRUE(dp->withdraw(0));
  EXPECT_FALSE(kernel_.calls("vips.remove 198.18.0.11").empty());
}

TEST_F(DataPlaneTest, AVipRemovedFromAHeldLeaseIsFencedDarkBeforeItGoesThenReleased) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(0, now_ + milliseconds(600));
  kernel_.journal.clear();
  ASSERT_TRUE(dp->updateVips(0, {config_.instances[0].vips[0]}));
  EXPECT_THAT(portCalls(kernel_),
              ElementsAre("fence.update 0 198.18.0.10", "vips.remove 2001:db8::10",
                          "fence.release 2001:db8::10"));
  EXPECT_TRUE(dp->claimed(0));
  EXPECT_EQ(vipsUp(), 1u);
}

// A reload removes a held lease: the fence shuts first, then the addresses go, then the
// addresses are retired in the fence (dark whatever the gate) and, off every device, let go of.
TEST_F(DataPlaneTest, ALeaseRemovedByAReloadIsDarkBeforeItsAddressesGoThenLeavesTheFence) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(0, now_ + milliseconds(600));
  dp->hold(1, now_ + milliseconds(600));
  kernel_.journal.clear();
  ASSERT_TRUE(dp->retireLease(1));
  EXPECT_THAT(portCalls(kernel_),
              ElementsAre("fence.close 198.18.1.1", "vips.remove 198.18.1.1", "fence.update 1",
                          "vips.remove 198.18.1.1", "fence.release 198.18.1.1"));
  EXPECT_FALSE(dp->claimed(1));
  EXPECT_TRUE(dp->vipsOf(1).empty());
  EXPECT_TRUE(dp->claimed(0)) << "the other lease is left alone";
  EXPECT_EQ(vipsUp(), 2u);
  // Never claimed again, whatever the lease host says.
  kernel_.journal.clear();
  dp->hold(1, now_ + milliseconds(600));
  EXPECT_TRUE(kernel_.journal.empty());
}

TEST_F(DataPlaneTest, ALeaseRemovedWhoseAddressCannotGoStaysFencedDark) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(1, now_ + milliseconds(600));
  kernel_.journal.clear();
  kernel_.after = [this](const std::string& what) {
    if (what == "fence.update 1") kernel_.failNextErrno = EBUSY;  // the next call: a removal
  };
  const auto s = dp->retireLease(1);
  EXPECT_FALSE(s);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("an address is still up"));
  EXPECT_TRUE(kernel_.calls("fence.release 198.18.1.1").empty())
      << "let go of by the fence while still on its device";
}

// A reload adds a lease: the next index, its VIPs in a new fence group, closed; a claim later
// opens it and puts them up, as for any lease.
TEST_F(DataPlaneTest, ALeaseAddedByAReloadIsFencedClosedAndClaimedLikeAnyOther) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(0, now_ + milliseconds(600));
  kernel_.journal.clear();
  InstanceConfig mail;
  mail.name = "mail";
  mail.vips = {vip("198.18.2.1/24")};
  config_.instances.push_back(mail);
  LeaseConfig lease;
  lease.name = "mail";
  lease.instances = {"mail"};
  config_.leases.push_back(lease);
  ASSERT_TRUE(dp->addLease(lease));
  EXPECT_THAT(portCalls(kernel_), ElementsAre("fence.update 2 198.18.2.1"));
  EXPECT_FALSE(dp->claimed(2));
  EXPECT_EQ(dp->vipsOf(2), std::vector<net::Vip>{vip("198.18.2.1/24")});
  kernel_.journal.clear();
  dp->hold(2, now_ + milliseconds(600));
  EXPECT_THAT(portCalls(kernel_), ElementsAre("fence.arm 198.18.2.1", "vips.add 198.18.2.1"));
  EXPECT_TRUE(dp->claimed(0));
}

TEST_F(DataPlaneTest, ALeaseTheFenceRefusesIsNotAdded) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  InstanceConfig mail;
  mail.name = "mail";
  mail.vips = {vip("198.18.2.1/24")};
  config_.instances.push_back(mail);
  LeaseConfig lease;
  lease.name = "mail";
  lease.instances = {"mail"};
  kernel_.failNextErrno = EINVAL;
  const auto s = dp->addLease(lease);
  EXPECT_FALSE(s);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("lease mail not added"));
  EXPECT_THROW((void)dp->vipsOf(2), std::out_of_range);
}

TEST_F(DataPlaneTest, AVipThatCannotBeRemovedStaysFencedDark) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(0, now_ + milliseconds(600));
  kernel_.journal.clear();
  kernel_.after = [this](const std::string& what) {
    if (what.rfind("fence.update", 0) == 0) kernel_.failNextErrno = EBUSY;
  };
  ASSERT_TRUE(dp->updateVips(0, {config_.instances[0].vips[0]}));
  EXPECT_THAT(portCalls(kernel_),
              ElementsAre("fence.update 0 198.18.0.10", "vips.remove 2001:db8::10"))
      << "released from the fence while still on its device";
}

TEST_F(DataPlaneTest, AVipThatCannotBeRemovedKeepsOnlyItselfFencedDark) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(0, now_ + milliseconds(600));
  kernel_.journal.clear();
  kernel_.failCalls.insert("vips.remove 2001:db8::10");
  ASSERT_TRUE(dp->updateVips(0, {vip("198.18.0.11/24")}));
  // 198.18.0.10 is off its device: released. 2001:db8::10 is not: it stays retired (dark).
  EXPECT_THAT(kernel_.calls("fence.release"), ElementsAre("fence.release 198.18.0.10"));
}

TEST_F(DataPlaneTest, AVipAddedToALeaseNotHeldIsFencedOnly) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(0, now_ + milliseconds(600));
  kernel_.journal.clear();
  ASSERT_TRUE(dp->updateVips(1, {config_.instances[1].vips[0], vip("198.18.1.2/24")}));
  EXPECT_THAT(portCalls(kernel_), ElementsAre("fence.update 1 198.18.1.1 198.18.1.2"));
  // Claimed later, it goes up with the others, behind the opened fence.
  kernel_.journal.clear();
  dp->hold(1, now_ + milliseconds(600));
  EXPECT_THAT(portCalls(kernel_), ElementsAre("fence.arm 198.18.1.1 198.18.1.2",
                                              "vips.add 198.18.1.1", "vips.add 198.18.1.2"));
}

TEST_F(DataPlaneTest, AFenceThatRefusesAnUpdateChangesNothing) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(0, now_ + milliseconds(600));
  kernel_.journal.clear();
  const auto before = dp->vipsOf(0);
  kernel_.failNextErrno = EPERM;
  const Status s = dp->updateVips(0, {config_.instances[0].vips[0], vip("198.18.0.11/24")});
  EXPECT_EQ(s.err(), EPERM);
  EXPECT_THAT(s.message(), ::testing::HasSubstr("VIPs not changed"));
  // The second call gives the fence the lease's VIPs again (a no-op here: nothing committed).
  EXPECT_THAT(portCalls(kernel_), ElementsAre("fence.update 0 198.18.0.10 198.18.0.11",
                                              "fence.update 0 198.18.0.10 2001:db8::10"));
  EXPECT_EQ(dp->vipsOf(0), before);
  EXPECT_TRUE(dp->claimed(0));
}

TEST_F(DataPlaneTest, AnUpdateThatFailsAfterTheFenceTookItPutsTheFenceBack) {
  auto dp = make();
  ASSERT_TRUE(dp->start());
  dp->hold(0, now_ + milliseconds(600));
  const auto before = dp->vipsOf(0);
  // The fence commits 198.18.0.10 + 198.18.0.11 (2001:db8::10 retired), then reports a failure.
  kernel_.fenceUpdateFailsAfterCommit = EIO;
  const Status s = dp->updateVips(0, {config_.instances[0].vips[0], vip("198.18.0.11/24")});
  EXPECT_EQ(s.err(), EIO);
  EXPECT_EQ(dp->vipsOf(0), before);
  // The fence gates exactly what the data plane keeps up and announces: else 2001:db8::10 stays
  // dark on the holder, and 198.18.0.11 stays in this lease's group.
  std::vector<net::IpAddress> kept;
  for (const auto& v : before) kept.push_back(v.prefix.address);
  ASSERT_EQ(kernel_.fence.groups.size(), 2u);
  EXPECT_EQ(kernel_.fence.groups[0], kept);
  EXPECT_EQ(vipsUp(), 2u);
  EXPECT_TRUE(dp->claimed(0));
}

}  // namespace
}  // namespace quorate::server
