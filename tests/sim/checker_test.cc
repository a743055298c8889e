// Unit tests of the simulation's own parts: the safety checker and the drifting clocks.
#include "sim/checker.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "sim/clock.h"

namespace quorate::sim {
namespace {

using namespace std::chrono_literals;
using lease::Duration;
using lease::Time;

constexpr Duration kHolderLease = 1500ms;
constexpr RealTime kSecond = 1'000'000'000;

std::vector<HolderView> holders(std::initializer_list<HolderView> h) { return h; }

TEST(Checker, AcceptsACleanHistory) {
  Checker c(kHolderLease);
  c.onHolders(0, {});
  c.onTenure(1 * kSecond, 0, 1);
  c.onHolders(1 * kSecond, holders({{0, 1, 1500ms}}));
  c.onHolders(2 * kSecond, holders({{0, 1, 500ms}}));
  c.onHolders(3 * kSecond, {});
  c.onTenure(3 * kSecond, 1, 2);
  c.onHolders(3 * kSecond, holders({{1, 2, 1400ms}}));
  c.onCrash(1);
  c.onTenure(5 * kSecond, 0, 7);
  c.onHolders(5 * kSecond, holders({{0, 7, 1ms}}));
  EXPECT_TRUE(c.ok()) << c.violation()->what;
  EXPECT_EQ(c.tenureCount(), 3u);
}

TEST(Checker, ReportsOverlappingHolders) {
  Checker c(kHolderLease);
  c.onTenure(1 * kSecond, 0, 1);
  c.onHolders(1 * kSecond, holders({{0, 1, 1500ms}}));
  c.onTenure(2 * kSecond, 1, 2);
  c.onHolders(2 * kSecond, holders({{0, 1, 500ms}, {1, 2, 1500ms}}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.violation()->at, 2 * kSecond);
  EXPECT_NE(c.violation()->what.find("two holders"), std::string::npos) << c.violation()->what;
}

TEST(Checker, ReportsAnEpochThatDoesNotGrow) {
  for (std::uint64_t second : {3u, 2u}) {  // equal, then lower
    Checker c(kHolderLease);
    c.onTenure(1 * kSecond, 0, 3);
    c.onHolders(1 * kSecond, holders({{0, 3, 1s}}));
    c.onHolders(4 * kSecond, {});
    c.onTenure(4 * kSecond, 1, second);
    ASSERT_FALSE(c.ok()) << "epoch " << second;
    EXPECT_EQ(c.violation()->at, 4 * kSecond);
    EXPECT_NE(c.violation()->what.find("not above"), std::string::npos) << c.violation()->what;
  }
}

TEST(Checker, EpochsMustGrowAcrossRestartsOfTheSameDirector) {
  Checker c(kHolderLease);
  c.onTenure(1 * kSecond, 0, 5);
  c.onCrash(0);
  c.onTenure(9 * kSecond, 0, 5);
  EXPECT_FALSE(c.ok());
}

TEST(Checker, ReportsAHolderWithoutATenure) {
  Checker c(kHolderLease);
  c.onTenure(1 * kSecond, 0, 4);
  c.onHolders(2 * kSecond, holders({{0, 5, 1s}}));  // epoch changed without a RoleChange
  EXPECT_FALSE(c.ok());
  Checker d(kHolderLease);
  d.onTenure(1 * kSecond, 0, 4);
  d.onCrash(0);
  d.onHolders(2 * kSecond, holders({{0, 4, 1s}}));  // a crashed tenure does not carry over
  EXPECT_FALSE(d.ok());
}

TEST(Checker, ReportsALeaseLongerThanHolderLease) {
  Checker c(kHolderLease);
  c.onTenure(1 * kSecond, 1, 1);
  c.onHolders(1 * kSecond, holders({{1, 1, kHolderLease + 1ns}}));
  EXPECT_FALSE(c.ok());
}

TEST(Checker, KeepsTheFirstViolation) {
  Checker c(kHolderLease);
  c.onTenure(1 * kSecond, 0, 2);
  c.onTenure(2 * kSecond, 1, 1);
  c.onHolders(3 * kSecond, holders({{0, 2, 1s}, {1, 1, 1s}}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.violation()->at, 2 * kSecond);
}

// Two processes that run as one node id are two holders: judged per process.
TEST(Checker, CountsHoldersPerProcessNotPerNodeId) {
  Checker c(kHolderLease);
  c.onTenure(1 * kSecond, 0, 1);
  c.onHolders(1 * kSecond, holders({{0, 1, 1s}}));
  c.onTenure(2 * kSecond, kCloneProc, 2);
  c.onHolders(2 * kSecond, holders({{0, 1, 500ms}, {kCloneProc, 2, 1s}}));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.violation()->what.find("n0'"), std::string::npos) << c.violation()->what;
  Checker d(kHolderLease);  // the clone's tenure is its own, not director A's
  d.onTenure(1 * kSecond, 0, 1);
  d.onHolders(2 * kSecond, holders({{kCloneProc, 1, 1s}}));
  EXPECT_FALSE(d.ok());
}

TEST(Checker, ReportsAnAnnouncementByAProcessThatDoesNotHold) {
  Checker c(kHolderLease);
  c.onTenure(1 * kSecond, 1, 3);
  const auto b = holders({{1, 3, 1s}});
  c.onAnnounce(1 * kSecond, 1, b);   // the holder itself
  c.onAnnounce(2 * kSecond, 0, {});  // nobody holds: it pulls traffic to no one's harm
  EXPECT_TRUE(c.ok()) << c.violation()->what;
  c.onAnnounce(3 * kSecond, 0, b);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.violation()->at, 3 * kSecond);
  EXPECT_NE(c.violation()->what.find("announced"), std::string::npos) << c.violation()->what;
}

TEST(Checker, EpochOrderCanBeLeftUnjudged) {
  Checker c(kHolderLease, false);
  c.onTenure(1 * kSecond, 0, 5);
  c.onHolders(1 * kSecond, holders({{0, 5, 1s}}));
  c.onHolders(3 * kSecond, {});
  c.onTenure(3 * kSecond, 0, 2);
  EXPECT_TRUE(c.ok()) << c.violation()->what;
  c.onTenure(4 * kSecond, 1, 2);
  c.onHolders(4 * kSecond, holders({{0, 2, 1s}, {1, 2, 1s}}));
  EXPECT_FALSE(c.ok());  // still one holder at a time
}

TEST(DriftClock, RunsAtItsRate) {
  const DriftClock fast(1000, 1'000'000);  // +1000 ppm
  EXPECT_EQ(fast.local(0), Time(1000ns));
  EXPECT_EQ(fast.local(kSecond), Time(Duration(1000 + kSecond + 1'000'000)));
  const DriftClock slow(0, -20'000'000);  // -2 %
  EXPECT_EQ(slow.local(100 * kSecond), Time(Duration(98 * kSecond)));
  EXPECT_EQ(slow.local(1), Time(0ns));  // 0.98 ns rounds down
}

// A node woken at realAt(t) has reached t, and one nanosecond earlier it had not.
TEST(DriftClock, WakesNeverBeforeTheLocalDeadline) {
  std::mt19937_64 rng(12345);
  for (int i = 0; i < 100'000; ++i) {
    const auto ppb = static_cast<std::int64_t>(rng() % 100'000'001) - 50'000'000;
    const auto offset = static_cast<std::int64_t>(rng() % (1ULL << 50)) - (1LL << 40);
    const DriftClock clock(offset, ppb);
    const RealTime real = static_cast<RealTime>(rng() % (1000 * kSecond));
    const Time deadline = clock.local(real) + Duration(static_cast<std::int64_t>(rng() % 5) - 2);
    const RealTime wake = clock.realAt(deadline);
    ASSERT_GE(clock.local(wake), deadline) << "ppb " << ppb << " offset " << offset;
    ASSERT_LT(clock.local(wake - 1), deadline) << "ppb " << ppb << " offset " << offset;
  }
  EXPECT_EQ(DriftClock(0, 0).realAt(Time::max()), kNever);
}

TEST(DriftClock, ResetKeepsTheReadingAtTheRebootInstant) {
  DriftClock c(123, 5000);
  c.reset(40 * kSecond, Time(7s), -3000);
  EXPECT_EQ(c.local(40 * kSecond), Time(7s));
  EXPECT_EQ(c.ppb(), -3000);
  EXPECT_LT(c.local(41 * kSecond), Time(8s));
}

// Rate changes, stops and jumps: the reading never goes back, and realAt() stays exact on
// the current segment and monotone.
TEST(DriftClock, RateChangesStopsAndJumpsKeepTheClockMonotoneAndExact) {
  std::mt19937_64 rng(777);
  for (int run = 0; run < 200; ++run) {
    DriftClock clock(static_cast<std::int64_t>(rng() % (1ULL << 40)), 0);
    RealTime real = 0;
    Time last = clock.local(real);
    for (int i = 0; i < 200; ++i) {
      real += static_cast<RealTime>(rng() % (3 * kSecond));
      const Time before = clock.local(real);
      ASSERT_GE(before, last);
      switch (rng() % 4) {
        case 0:
          clock.setRate(real, static_cast<std::int64_t>(rng() % 200'000'001) - 100'000'000);
          break;
        case 1:
          clock.stop(real);
          break;
        case 2:
          clock.start(real);
          break;
        default:
          clock.jump(real, Duration(static_cast<std::int64_t>(rng() % kSecond)));
          break;
      }
      const Time after = clock.local(real);
      ASSERT_GE(after, before);  // a change never moves the reading back
      last = after;
      const Time deadline = after + Duration(static_cast<std::int64_t>(rng() % kSecond));
      const RealTime wake = clock.realAt(deadline);
      if (clock.stopped()) {
        ASSERT_EQ(wake, deadline == after ? real : kNever);
        continue;
      }
      ASSERT_GE(wake, real);
      ASSERT_GE(clock.local(wake), deadline);
      if (wake > real) {
        ASSERT_LT(clock.local(wake - 1), deadline);
      }
      ASSERT_LE(clock.realAt(deadline - 1ns), wake);
    }
  }
}

TEST(DriftClock, AStoppedClockStandsStillAndGoesOnFromThere) {
  DriftClock c(0, 1'000'000);
  c.stop(10 * kSecond);
  const Time frozen = c.local(10 * kSecond);
  EXPECT_EQ(c.local(30 * kSecond), frozen);
  EXPECT_EQ(c.realAt(frozen + 1ns), kNever);
  c.start(30 * kSecond);
  EXPECT_EQ(c.local(30 * kSecond), frozen);
  EXPECT_EQ(c.local(31 * kSecond), frozen + Duration(kSecond + 1'000'000));
  c.jump(31 * kSecond, 2s);
  EXPECT_EQ(c.local(31 * kSecond), frozen + Duration(3 * kSecond + 1'000'000));
}

}  // namespace
}  // namespace quorate::sim
