// Watchdog self-fencing without a device or a daemon: the petting rule (and a broken rule the
// same property check must catch), the timing condition and its config keys, and the timer with
// a manual clock and a recording device.
#include "server/watchdog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "common/config_error.h"
#include "server/config.h"
#include "tests/server/test_config.h"

namespace quorate::server {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

lease::Time at(std::int64_t ms) { return lease::Time(milliseconds(ms)); }

using Rule =
    std::function<bool(lease::Time, lease::Duration, lease::Duration, std::optional<lease::Time>)>;

// The property a rule must keep: a pet it allows while a lease is held leaves the whole
// countdown plus the margin inside that lease, so a hang right after the pet reboots the host
// before the lease ends. Returns the first (now, leaseEnd) in a sweep that breaks it.
std::optional<std::pair<std::int64_t, std::int64_t>> firstViolation(const Rule& rule) {
  const lease::Duration timeout = 1500ms;
  const lease::Duration margin = 103ms;
  for (std::int64_t end = 0; end <= 4000; end += 7) {
    for (std::int64_t now = 0; now <= 4000; now += 1) {
      if (!rule(at(now), timeout, margin, at(end))) continue;
      if (at(now) + timeout + margin > at(end)) return std::make_pair(now, end);
    }
  }
  return std::nullopt;
}

TEST(PetAllowed, KeepsTheCountdownAndTheMarginInsideTheHeldLease) {
  EXPECT_EQ(firstViolation(petAllowed), std::nullopt);
  // The edge: exactly timeout + margin left is allowed, a nanosecond less is not.
  EXPECT_TRUE(petAllowed(at(1000), 1500ms, 100ms, at(2600)));
  EXPECT_FALSE(petAllowed(at(1000) + 1ns, 1500ms, 100ms, at(2600)));
  // A lease past its end (held, not yet withdrawn) refuses.
  EXPECT_FALSE(petAllowed(at(3000), 1500ms, 100ms, at(2600)));
  // Holding nothing: only a hung loop stops the pets.
  EXPECT_TRUE(petAllowed(at(3000), 1500ms, 100ms, std::nullopt));
}

TEST(PetAllowed, ThePropertyCheckCatchesBrokenRules) {
  // Pets while the lease lasts, ignoring the countdown: a hang after the pet reboots too late.
  const Rule whileHeld = [](lease::Time now, lease::Duration, lease::Duration,
                            std::optional<lease::Time> end) { return !end || now < *end; };
  // Forgets the margin.
  const Rule noMargin = [](lease::Time now, lease::Duration timeout, lease::Duration,
                           std::optional<lease::Time> end) {
    return !end || now + timeout <= *end;
  };
  // Pets whatever the lease (the ungated test build).
  const Rule always = [](lease::Time, lease::Duration, lease::Duration,
                         std::optional<lease::Time>) { return true; };
  EXPECT_NE(firstViolation(whileHeld), std::nullopt);
  EXPECT_NE(firstViolation(noMargin), std::nullopt);
  EXPECT_NE(firstViolation(always), std::nullopt);
}

WatchdogConfig watchdog(std::int64_t timeoutMs, std::int64_t intervalMs, std::int64_t marginMs) {
  WatchdogConfig w;
  w.timeout = milliseconds(timeoutMs);
  w.interval = milliseconds(intervalMs);
  w.margin = milliseconds(marginMs);
  return w;
}

lease::Timing timing(std::int64_t holderMs, std::int64_t renewMs, double rho) {
  lease::Timing t;
  t.holderLease = milliseconds(holderMs);
  t.acceptorLease = milliseconds(holderMs * 11 / 10);
  t.quarantine = milliseconds(holderMs * 12 / 10);
  t.renewInterval = milliseconds(renewMs);
  t.rho = rho;
  return t;
}

TEST(WatchdogTiming, MarginIsTheAllowancePlusTwiceTheDriftOverOneCountdown) {
  // 2 * 0.001 * 1500 / 0.999 = 3.003 ms, rounded up to 4.
  EXPECT_EQ(watchdogMargin(watchdog(1500, 500, 100), 0.001), milliseconds(104));
  EXPECT_EQ(watchdogMargin(watchdog(1500, 500, 100), 0.0), milliseconds(100));
  // 2 * 0.05 * 10000 / 0.95 = 1052.6 ms.
  EXPECT_EQ(watchdogMargin(watchdog(10'000, 3000, 0), 0.05), milliseconds(1053));
}

TEST(WatchdogTiming, TimeoutMarginAndRenewalMustFitInTheHolderLease) {
  // 1500 + 104 + 500 = 2104 <= 3000.
  EXPECT_EQ(watchdogTimingProblem(watchdog(1500, 500, 100), timing(3000, 500, 0.001)),
            std::nullopt);
  // Exactly fitting: 2396 + 104 + 500 = 3000 (drift of 2396 ms: 4.8 -> 5 ms; so 2395 fits).
  EXPECT_EQ(watchdogTimingProblem(watchdog(2395, 500, 100), timing(3000, 500, 0.001)),
            std::nullopt);
  const auto tooLong = watchdogTimingProblem(watchdog(2500, 500, 100), timing(3000, 500, 0.001));
  ASSERT_TRUE(tooLong);
  EXPECT_THAT(*tooLong, HasSubstr("2500 + 106"));
  EXPECT_THAT(*tooLong, HasSubstr("> 3000"));
  EXPECT_THAT(*tooLong, HasSubstr("at most 2394"));
  // A timeout longer than the lease, margin zero: refused.
  EXPECT_TRUE(watchdogTimingProblem(watchdog(4000, 1000, 0), timing(3000, 500, 0.0)));
  // Drift alone can break it: rho 5 % over 1500 ms is 158 ms.
  EXPECT_EQ(watchdogTimingProblem(watchdog(1500, 500, 0), timing(2100, 500, 0.0)), std::nullopt);
  EXPECT_TRUE(watchdogTimingProblem(watchdog(1500, 500, 0), timing(2100, 500, 0.05)));
}

TEST(WatchdogTiming, IntervalMustBeAtMostAThirdOfTheTimeout) {
  EXPECT_EQ(watchdogTimingProblem(watchdog(1500, 500, 100), timing(3000, 500, 0.001)),
            std::nullopt);
  const auto why = watchdogTimingProblem(watchdog(1500, 501, 100), timing(3000, 500, 0.001));
  ASSERT_TRUE(why);
  EXPECT_THAT(*why, HasSubstr("501 > 1500 / 3"));
}

std::string configWith(const std::string& watchdogYaml) {
  return testing::directorConfig(
      "timers: {holder_lease_ms: 3000, acceptor_lease_ms: 3200, quarantine_ms: 3400, "
      "renew_interval_ms: 500}\n" +
      watchdogYaml);
}

TEST(WatchdogConfigKeys, ParsedWithDefaultsAndAbsentMeansNone) {
  EXPECT_FALSE(parseDirectorConfig(configWith(""), "/etc/quorate/a.yaml").watchdog);
  const auto c =
      parseDirectorConfig(configWith("watchdog: {timeout_ms: 1500}\n"), "/etc/quorate/a.yaml");
  ASSERT_TRUE(c.watchdog);
  EXPECT_EQ(c.watchdog->device, "/dev/watchdog");
  EXPECT_EQ(c.watchdog->timeout, 1500ms);
  EXPECT_EQ(c.watchdog->interval, 375ms);
  EXPECT_EQ(c.watchdog->margin, 100ms);
  const auto d = parseDirectorConfig(
      configWith("watchdog: {device: wd, timeout_ms: 2000, interval_ms: 200, margin_ms: 50}\n"),
      "/etc/quorate/a.yaml");
  ASSERT_TRUE(d.watchdog);
  EXPECT_EQ(d.watchdog->device, "/etc/quorate/wd");
  EXPECT_EQ(d.watchdog->interval, 200ms);
  EXPECT_EQ(d.watchdog->margin, 50ms);
}

std::string errorOf(const std::string& text) {
  try {
    parseDirectorConfig(text, "/etc/quorate/a.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(WatchdogConfigKeys, AnUnsafeOrUnworkableWatchdogIsRefusedAtLoadNamingTheNumbers) {
  const std::string tooLong = errorOf(configWith("watchdog: {timeout_ms: 2600}\n"));
  EXPECT_THAT(tooLong, HasSubstr("/etc/quorate/a.yaml:"));
  EXPECT_THAT(tooLong, HasSubstr("watchdog"));
  EXPECT_THAT(tooLong, HasSubstr("2600 + 106"));
  EXPECT_THAT(tooLong, HasSubstr("> 3000"));
  EXPECT_THAT(errorOf(configWith("watchdog: {timeout_ms: 1500, interval_ms: 600}\n")),
              HasSubstr("600 > 1500 / 3"));
  EXPECT_THAT(errorOf(configWith("watchdog: {device: /dev/watchdog}\n")), HasSubstr("timeout_ms"));
  EXPECT_THAT(errorOf(configWith("watchdog: {timeout_ms: 1500, nowayout: true}\n")),
              HasSubstr("nowayout"));
  EXPECT_THAT(errorOf(configWith("watchdog: {timeout_ms: 0}\n")), HasSubstr("timeout_ms"));
  EXPECT_THAT(errorOf(configWith("watchdog: {timeout_ms: soon}\n")), HasSubstr("timeout_ms"));
}

// Records pets; fails them on demand.
struct RecordingDevice : kernel::WatchdogDevice {
  std::vector<lease::Time> pets;
  lease::Time* clock = nullptr;
  bool failPets = false;
  milliseconds countdown{1500};
  std::string name = "/dev/test-watchdog";
  Status pet() override {
    if (failPets) return Status::fail(EPIPE, "pet watchdog " + name);
    pets.push_back(*clock);
    return Status::ok();
  }
  Status disarm() override { return Status::ok(); }
  milliseconds timeout() const override { return countdown; }
  bool takesIoctls() const override { return false; }
  const std::string& path() const override { return name; }
};

class WatchdogTimerTest : public ::testing::Test {
 protected:
  WatchdogTimerTest() { device_.clock = &now_; }
  std::unique_ptr<Watchdog> make(bool ungated = false, milliseconds interval = 500ms) {
    return std::make_unique<Watchdog>(
        io_, device_, interval, 100ms, [this] { return now_; }, [this] { return leaseEnd_; },
        ungated);
  }

  boost::asio::io_context io_;
  RecordingDevice device_;
  lease::Time now_ = at(10'000);
  std::optional<lease::Time> leaseEnd_;
};

TEST_F(WatchdogTimerTest, AHolderWhoseLeaseIsNotRenewedStopsPettingBeforeItsEnd) {
  auto w = make();
  // Standby: pets.
  EXPECT_TRUE(w->tick());
  // Holder renewed: 3000 ms left each time it looks.
  leaseEnd_ = now_ + 3000ms;
  EXPECT_TRUE(w->tick());
  // Renewals stop: the clock runs on in 100 ms steps towards the end.
  std::optional<lease::Time> lastPet;
  const lease::Time end = *leaseEnd_;
  while (now_ < end + 500ms) {
    now_ += 100ms;
    if (w->tick()) lastPet = now_;
  }
  ASSERT_TRUE(lastPet);
  // The last pet's countdown and margin end no later than the lease.
  EXPECT_LE(*lastPet + 1500ms + 100ms, end);
  EXPECT_GE(*lastPet + 1500ms + 100ms, end - 100ms) << "stopped petting early";
  EXPECT_EQ(w->counters().pets.load(), device_.pets.size());
  EXPECT_EQ(w->counters().refusals.load(), 21u);  // end-1500 .. end+500, every 100 ms
  // Released (holds nothing): pets again.
  leaseEnd_.reset();
  EXPECT_TRUE(w->tick());
}

TEST_F(WatchdogTimerTest, TheUngatedTestFaultPetsPastTheLeaseAndIsCaughtByTheSameCheck) {
  auto w = make(/*ungated=*/true);
  leaseEnd_ = now_ + 3000ms;
  const lease::Time end = *leaseEnd_;
  std::optional<lease::Time> lastPet;
  while (now_ < end) {
    now_ += 100ms;
    if (w->tick()) lastPet = now_;
  }
  ASSERT_TRUE(lastPet);
  EXPECT_GT(*lastPet + 1500ms + 100ms, end) << "the check above would not catch this fault";
  EXPECT_EQ(w->counters().refusals.load(), 0u);
}

TEST_F(WatchdogTimerTest, AFailedPetIsCountedAndDoesNotStopTheTimer) {
  auto w = make();
  device_.failPets = true;
  EXPECT_FALSE(w->tick());
  EXPECT_FALSE(w->tick());
  EXPECT_EQ(w->counters().petFailures.load(), 2u);
  device_.failPets = false;
  EXPECT_TRUE(w->tick());
  EXPECT_EQ(w->counters().pets.load(), 1u);
}

TEST_F(WatchdogTimerTest, OnTheIoContextItPetsEveryIntervalUntilStopped) {
  auto w = make(false, 1ms);
  w->start();
  EXPECT_EQ(device_.pets.size(), 1u) << "start() pets at once";
  for (int i = 0; i < 5; ++i) ASSERT_EQ(io_.run_one(), 1u);
  EXPECT_EQ(device_.pets.size(), 6u);
  // A held lease too short for another countdown: the timer runs on, refusing.
  leaseEnd_ = now_ + 1000ms;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(io_.run_one(), 1u);
  EXPECT_EQ(device_.pets.size(), 6u);
  EXPECT_EQ(w->counters().refusals.load(), 3u);
  w->stop();
  io_.restart();
  io_.run();  // only the cancelled wait is left, and it pets nothing
  EXPECT_EQ(device_.pets.size(), 6u);
  EXPECT_EQ(w->counters().refusals.load(), 3u);
}

}  // namespace
}  // namespace quorate::server
