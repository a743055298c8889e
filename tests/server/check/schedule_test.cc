// The check's timing as a state machine, stepped by hand: retries only confirm a failure of an
// up check, rounds count towards rise and fall, alpha starts down, warm-up spreads.
#include "server/check/schedule.h"

#include <gtest/gtest.h>

namespace quorate::server::check {
namespace {

using namespace std::chrono_literals;

CheckSpec spec(int retries, int rise, int fall) {
  CheckSpec s;
  s.kind = TcpSpec{};
  s.interval = 1000ms;
  s.retryDelay = 200ms;
  s.warmup = 1000ms;
  s.retries = retries;
  s.rise = rise;
  s.fall = fall;
  return s;
}

TEST(ScheduleTest, StartsUpUnlessAlpha) {
  EXPECT_TRUE(Schedule(spec(1, 1, 1), false).up());
  EXPECT_FALSE(Schedule(spec(1, 1, 1), true).up());
}

TEST(ScheduleTest, PassingRoundsWaitTheInterval) {
  Schedule s(spec(1, 1, 1), false);
  for (int i = 0; i < 3; ++i) {
    const auto step = s.onOutcome(true);
    EXPECT_EQ(step.next, 1000ms);
    EXPECT_TRUE(step.roundEnded);
    EXPECT_FALSE(step.changed);
  }
  EXPECT_EQ(s.passes(), 3);
}

TEST(ScheduleTest, RetriesConfirmAFailureBeforeTheCheckGoesDown) {
  Schedule s(spec(2, 1, 1), false);
  auto step = s.onOutcome(false);  // first failure: retry 1
  EXPECT_EQ(step.next, 200ms);
  EXPECT_FALSE(step.roundEnded);
  EXPECT_TRUE(s.up());
  step = s.onOutcome(false);  // retry 2
  EXPECT_EQ(step.next, 200ms);
  EXPECT_TRUE(s.up());
  step = s.onOutcome(false);  // retries used up: the round failed
  EXPECT_TRUE(step.roundEnded);
  EXPECT_TRUE(step.changed);
  EXPECT_FALSE(s.up());
  EXPECT_EQ(step.next, 1000ms);
  // Down, a failure needs no confirming: one attempt per round.
  step = s.onOutcome(false);
  EXPECT_TRUE(step.roundEnded);
  EXPECT_EQ(step.next, 1000ms);
}

TEST(ScheduleTest, APassDuringRetriesEndsTheRoundUp) {
  Schedule s(spec(3, 1, 1), false);
  EXPECT_FALSE(s.onOutcome(false).roundEnded);
  const auto step = s.onOutcome(true);
  EXPECT_TRUE(step.roundEnded);
  EXPECT_FALSE(step.changed);
  EXPECT_TRUE(s.up());
  EXPECT_EQ(s.retry(), 0);
  EXPECT_EQ(s.failures(), 0);
}

TEST(ScheduleTest, FallCountsFailedRoundsInARow) {
  Schedule s(spec(0, 1, 3), false);
  EXPECT_FALSE(s.onOutcome(false).changed);
  EXPECT_FALSE(s.onOutcome(false).changed);
  EXPECT_FALSE(s.onOutcome(true).changed);  // breaks the run
  EXPECT_FALSE(s.onOutcome(false).changed);
  EXPECT_FALSE(s.onOutcome(false).changed);
  EXPECT_TRUE(s.up());
  EXPECT_TRUE(s.onOutcome(false).changed);
  EXPECT_FALSE(s.up());
}

TEST(ScheduleTest, RiseCountsPassingRoundsInARow) {
  Schedule s(spec(1, 2, 1), true);  // alpha: down at start
  EXPECT_FALSE(s.onOutcome(true).changed);
  EXPECT_FALSE(s.onOutcome(false).changed);  // breaks the run (no retry while down)
  EXPECT_FALSE(s.onOutcome(true).changed);
  const auto step = s.onOutcome(true);
  EXPECT_TRUE(step.changed);
  EXPECT_TRUE(s.up());
}

TEST(ScheduleTest, WarmupSpreadsTheFirstAttemptOverItsWindow) {
  Schedule s(spec(1, 1, 1), false);
  EXPECT_EQ(s.firstDelay(0.0), 0ms);
  EXPECT_EQ(s.firstDelay(0.5), 500ms);
  EXPECT_LT(s.firstDelay(0.99999), 1000ms);
  EXPECT_LT(s.firstDelay(1.0), 1000ms);  // clamped inside the window
  CheckSpec none = spec(1, 1, 1);
  none.warmup = 0ms;
  EXPECT_EQ(Schedule(none, false).firstDelay(0.7), 0ms);
}

}  // namespace
}  // namespace quorate::server::check
