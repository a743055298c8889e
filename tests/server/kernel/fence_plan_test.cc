// The fence's time-window arithmetic as values: slot choice, the kernel timeout from `remaining`
// and its one-year cap, "the other slot is kept only if it ends no later", and the gate after a
// committed or failed write. No kernel, no clock.
#include "server/kernel/fence_plan.h"

#include <gtest/gtest.h>

#include <chrono>

namespace quorate::kernel::fence {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

constexpr std::int64_t kNow = 5'000'000'000;               // CLOCK_MONOTONIC of the arm
constexpr std::int64_t kReal = 1'800'000'000'000'000'000;  // CLOCK_REALTIME deadline
constexpr std::int64_t kSecond = 1'000'000'000;

Gate committed(Gate g, const ArmPlan& p) { return afterWrite(g, p.slot, p.fresh, true); }

TEST(FencePlan, AFreshGateWritesSlotAWithTheCallersLimits) {
  const ArmPlan p = planArm(Gate{}, milliseconds(1500), nanoseconds(kReal), kNow);
  EXPECT_FALSE(p.closes);
  EXPECT_EQ(p.slot, 0);
  EXPECT_EQ(p.timeout, milliseconds(1500));
  EXPECT_EQ(p.fresh, (Slot{true, static_cast<std::uint64_t>(kReal), kNow + 1'500'000'000}));
  EXPECT_FALSE(p.alsoOther) << "the other slot is shut: nothing to shorten";
}

TEST(FencePlan, RenewalsAlternateSlots) {
  Gate g;
  for (int i = 0; i < 4; ++i) {
    const ArmPlan p =
        planArm(g, milliseconds(1500), nanoseconds(kReal + i * kSecond), kNow + i * kSecond);
    EXPECT_EQ(p.slot, i % 2) << "renewal " << i;
    EXPECT_FALSE(p.alsoOther) << "renewal " << i << " ends later than the one before";
    g = committed(g, p);
    EXPECT_EQ(g.next, 1 - i % 2);
    EXPECT_EQ(g.slots[i % 2], p.fresh);
  }
}

TEST(FencePlan, TheOtherSlotIsKeptOnlyIfItEndsNoLaterOnBothClocks) {
  const Gate g = committed(Gate{}, planArm(Gate{}, milliseconds(1500), nanoseconds(kReal), kNow));
  // Same ends on both clocks: kept ("no later" includes equal).
  EXPECT_FALSE(planArm(g, milliseconds(1500), nanoseconds(kReal), kNow).alsoOther);
  // An earlier real-time deadline: the old slot would outlive this arm.
  const ArmPlan earlierDeadline = planArm(g, milliseconds(1500), nanoseconds(kReal - 1), kNow);
  EXPECT_TRUE(earlierDeadline.alsoOther);
  EXPECT_EQ(earlierDeadline.slot, 1);
  // A shorter kernel timeout with the same deadline: likewise.
  EXPECT_TRUE(planArm(g, milliseconds(1499), nanoseconds(kReal), kNow).alsoOther);
  // Later on one clock but earlier on the other still shortens.
  EXPECT_TRUE(planArm(g, milliseconds(9000), nanoseconds(kReal - kSecond), kNow).alsoOther);
}

TEST(FencePlan, NothingPositiveClosesInstead) {
  EXPECT_TRUE(planArm(Gate{}, milliseconds(0), nanoseconds(kReal), kNow).closes);
  EXPECT_TRUE(planArm(Gate{}, milliseconds(-5), nanoseconds(kReal), kNow).closes);
  EXPECT_TRUE(planArm(Gate{}, milliseconds(1500), nanoseconds(0), kNow).closes);
  EXPECT_TRUE(planArm(Gate{}, milliseconds(1500), nanoseconds(-1), kNow).closes);
  EXPECT_FALSE(planArm(Gate{}, milliseconds(1), nanoseconds(1), kNow).closes);
}

TEST(FencePlan, TheKernelTimeoutIsCappedAtOneYear) {
  const ArmPlan p = planArm(Gate{}, hours(24 * 365 * 300), nanoseconds(kReal), kNow);
  EXPECT_EQ(p.timeout, hours(24 * 365));
  EXPECT_EQ(p.fresh.monoEndNs, kNow + std::int64_t{365} * 24 * 3600 * kSecond);
  EXPECT_EQ(planArm(Gate{}, hours(24 * 365) - milliseconds(1), nanoseconds(kReal), kNow).timeout,
            hours(24 * 365) - milliseconds(1));
}

TEST(FencePlan, AFailedWriteMayHaveCommittedAndIsWrittenAgain) {
  Gate g = committed(Gate{}, planArm(Gate{}, milliseconds(1500), nanoseconds(kReal), kNow));
  // Slot b held an older, longer-on-the-monotonic-clock gate (as after a failed earlier write).
  g.slots[1] = Slot{true, 10, kNow + 100 * kSecond};
  const ArmPlan p = planArm(g, milliseconds(1500), nanoseconds(kReal), kNow);
  ASSERT_EQ(p.slot, 1);
  const Gate after = afterWrite(g, p.slot, p.fresh, false);
  EXPECT_EQ(after.slots[1], (Slot{true, static_cast<std::uint64_t>(kReal), kNow + 100 * kSecond}))
      << "the later of both limits, on each clock";
  EXPECT_EQ(after.slots[0], g.slots[0]) << "the last known good slot is untouched";
  EXPECT_EQ(after.next, 1) << "the next arm writes the uncertain slot again, never the good one";
}

TEST(FencePlan, ACommittedCloseShutsBothSlotsAFailedOneChangesNothingKnown) {
  const Gate g = committed(Gate{}, planArm(Gate{}, milliseconds(1500), nanoseconds(kReal), kNow));
  EXPECT_EQ(afterClose(g, true), Gate{});
  EXPECT_EQ(afterClose(g, false), g);
}

}  // namespace
}  // namespace quorate::kernel::fence
