// The drift conditions: defaults are safe, each broken condition is named.
#include "lease/timing.h"

#include <gtest/gtest.h>

namespace quorate::lease {
namespace {

using std::chrono::milliseconds;

TEST(Timing, DefaultsAreSafe) { EXPECT_EQ(validate(Timing{}), std::nullopt); }

TEST(Timing, HolderLeaseMustEndBeforeAcceptorLeaseUnderDrift) {
  Timing t;
  t.acceptorLease = t.holderLease;  // no room for drift
  auto err = validate(t);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("acceptor_lease_ms"), std::string::npos) << *err;
  t.rho = 0;  // without drift equal leases are fine
  t.quarantine = t.acceptorLease;
  EXPECT_EQ(validate(t), std::nullopt);
}

TEST(Timing, QuarantineMustCoverHolderLease) {
  Timing t;
  t.quarantine = milliseconds(1400);
  t.acceptorLease = milliseconds(1400);
  t.holderLease = milliseconds(1400);
  auto err = validate(t);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("lease"), std::string::npos) << *err;
  t = Timing{};
  t.quarantine = milliseconds(1502);
  err = validate(t);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("quarantine_ms"), std::string::npos) << *err;
}

TEST(Timing, AcceptorLeaseMustNotOutliveQuarantine) {
  Timing t;
  t.acceptorLease = milliseconds(1900);
  auto err = validate(t);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("acceptor_lease_ms must be <= quarantine_ms"), std::string::npos) << *err;
}

TEST(Timing, RenewIntervalLeavesTwoAttempts) {
  Timing t;
  t.renewInterval = milliseconds(800);
  auto err = validate(t);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("renew_interval_ms"), std::string::npos) << *err;
}

TEST(Timing, RejectsNonsense) {
  Timing t;
  t.rho = 0.5;
  EXPECT_TRUE(validate(t));
  t = Timing{};
  t.holderLease = milliseconds(0);
  EXPECT_TRUE(validate(t));
}

TEST(Timing, MinAcceptorLeaseIsTight) {
  const Timing t;
  const Duration a = minAcceptorLease(t.holderLease, t.rho);
  Timing ok = t;
  ok.acceptorLease = a;
  EXPECT_EQ(validate(ok), std::nullopt);
  Timing bad = t;
  bad.acceptorLease = a - milliseconds(1);
  EXPECT_TRUE(validate(bad));
}

}  // namespace
}  // namespace quorate::lease
