// Watchdog self-fencing with the real daemons: alpha, the holder, pets a watchdog double (a FIFO
// read by the test, tests/support/watchdog_double.h); it is frozen with SIGSTOP, or cut off from
// both peers, and the double must fire (the host would reboot) before beta claims the VIP. The
// same check against the test-only build that pets whatever its lease, with a countdown longer
// than the lease, must see beta claim first.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "netns/director_cluster.h"
#include "support/temp_dir.h"
#include "support/watchdog_double.h"

namespace quorate::netns {
namespace {

// Short timers, still long enough for a real daemon on a loaded machine: holder lease 3 s,
// watchdog 1.5 s (1500 + margin 104 + renewal 500 <= 3000).
constexpr int kHolderLeaseMs = 3000;
constexpr int kWatchdogMs = 1500;
constexpr int kPetIntervalMs = 250;

double toMs(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

// When the double fired and when beta claimed, both from one fault.
struct Race {
  std::int64_t faultNs = 0;
  std::optional<std::int64_t> firedNs;
  // Beta's claim is after the start of the last status query that found it not claiming, and
  // before the end of the first that found it claiming.
  std::int64_t notYetNs = 0;
  std::optional<std::int64_t> claimedByNs;
  std::size_t petsBefore = 0;
  // The double fired before beta could have claimed: before any moment beta may have held.
  bool firedFirst() const { return firedNs && *firedNs <= notYetNs; }
};

class DirectorWatchdog : public ::testing::Test {
 protected:
  // Starts the cluster with alpha's watchdog at the double (countdown `deviceMs`), runs
  // `binary` for the directors, and waits until alpha holds and the double sees pets.
  void start(const std::string& binary, int deviceMs) {
    double_.emplace(fifoDir_.file("watchdog"), Ms(deviceMs));
    ClusterOptions o;
    o.holderLeaseMs = kHolderLeaseMs;
    o.acceptorLeaseMs = 3200;
    o.quarantineMs = 3400;
    o.renewIntervalMs = 500;
    o.ctlTimeout = Ms(5000);
    o.directorBinary = binary;
    o.extraYamlFor[kAlpha] = "watchdog: {device: " + double_->path() +
                             ", timeout_ms: " + std::to_string(kWatchdogMs) +
                             ", interval_ms: " + std::to_string(kPetIntervalMs) + "}\n";
    cluster_.emplace(topo_, o);
    cluster_->startAll();
    ASSERT_TRUE(cluster_->waitUntilHolds(kAlpha, Ms(20'000))) << "alpha does not hold:\n"
                                                              << cluster_->logTail(kAlpha);
    ASSERT_TRUE(cluster_->waitForHolder(Ms(20'000)));
    // Several countdowns of holding: a healthy holder is never refused long enough to fire.
    const std::size_t pets = double_->petCount();
    std::this_thread::sleep_for(Ms(2 * kHolderLeaseMs));
    ASSERT_GE(double_->petCount(), pets + 4) << cluster_->logTail(kAlpha);
    ASSERT_FALSE(double_->firedNs()) << "the double fired while alpha held and ran:\n"
                                     << cluster_->logTail(kAlpha);
    ASSERT_EQ(cluster_->holderSeenBy(kAlpha), kAlpha);
  }

  bool betaClaims() const {
    const auto s = cluster_->status(kBeta);
    return s && (*s)["leases"][0]["role"] == "holder" && (*s)["leases"][0]["vips_claimed"] == true;
  }

  // After the fault at `faultNs`, polls beta until it claims (or `limit` passes).
  Race race(std::int64_t faultNs, std::size_t petsBefore, Ms limit = Ms(20'000)) {
    Race r;
    r.faultNs = faultNs;
    r.notYetNs = faultNs;
    r.petsBefore = petsBefore;
    const std::int64_t end = monoNs() + limit.count() * 1'000'000;
    while (monoNs() < end) {
      const std::int64_t asked = monoNs();
      if (betaClaims()) {
        r.claimedByNs = monoNs();
        break;
      }
      r.notYetNs = asked;
      std::this_thread::sleep_for(Ms(5));
    }
    r.firedNs = double_->firedNs();
    return r;
  }

  void print(const char* label, const Race& r) const {
    const auto since = [&](std::optional<std::int64_t> ns) {
      return ns ? std::to_string(static_cast<long long>(toMs(*ns - r.faultNs))) : "never";
    };
    std::printf(
        "[%s] the double fired at %s ms after the fault; beta claimed between %.0f and %s ms "
        "after it; %zu pets before the fault, %zu in all\n",
        label, since(r.firedNs).c_str(), toMs(r.notYetNs - r.faultNs), since(r.claimedByNs).c_str(),
        r.petsBefore, double_->petCount());
    std::fflush(stdout);
  }

  Race freezeAlpha() {
    const auto pid = cluster_->pid(kAlpha);
    EXPECT_TRUE(pid);
    if (!pid) return {};
    const std::size_t pets = double_->petCount();
    const std::int64_t at = monoNs();
    EXPECT_TRUE(topo_.stop(*pid));
    Race r = race(at, pets);
    EXPECT_TRUE(topo_.cont(*pid));
    return r;
  }

  Race cutOffAlpha() {
    const std::size_t pets = double_->petCount();
    const std::int64_t at = monoNs();
    topo_.partition({kAlpha}, {kBeta, kArbiter});
    Race r = race(at, pets);
    topo_.heal();
    return r;
  }

  testutil::TempDir fifoDir_{"quorate-watchdog"};
  Topology topo_;
  std::optional<testutil::WatchdogDouble> double_;
  std::optional<DirectorCluster> cluster_;  // destroyed first: the daemons before the double
};

TEST_F(DirectorWatchdog, FrozenHolderIsRebootedBeforeThePeerClaims) {
  ASSERT_NO_FATAL_FAILURE(start("quorate-director", kWatchdogMs));
  const Race r = freezeAlpha();
  print("freeze", r);
  ASSERT_TRUE(r.claimedByNs) << "beta never claimed:\n" << cluster_->logTail(kBeta);
  ASSERT_TRUE(r.firedNs) << "the double never fired";
  EXPECT_TRUE(r.firedFirst()) << "fired " << toMs(*r.firedNs - r.faultNs)
                              << " ms after the freeze, beta may have claimed from "
                              << toMs(r.notYetNs - r.faultNs) << " ms";
}

TEST_F(DirectorWatchdog, HolderCutOffFromItsPeersStopsPettingAndIsRebootedBeforeThePeerClaims) {
  ASSERT_NO_FATAL_FAILURE(start("quorate-director", kWatchdogMs));
  const Race r = cutOffAlpha();
  print("cut off", r);
  ASSERT_TRUE(r.claimedByNs) << "beta never claimed:\n" << cluster_->logTail(kBeta);
  ASSERT_TRUE(r.firedNs) << "the double never fired:\n" << cluster_->logTail(kAlpha);
  EXPECT_TRUE(r.firedFirst()) << "fired " << toMs(*r.firedNs - r.faultNs)
                              << " ms after the cut, beta may have claimed from "
                              << toMs(r.notYetNs - r.faultNs) << " ms";
  // It ran on, refusing: pets went on for a while after the cut, then stopped.
  EXPECT_GT(double_->petCount(), r.petsBefore);
}

// SIGTERM: the holder hands over, then writes the magic close; the double stays quiet. A
// director killed instead (no magic close) leaves the countdown running, and the double fires:
// the same check sees the difference.
TEST_F(DirectorWatchdog, ACleanStopDisarmsTheWatchdogAndAKillDoesNot) {
  ASSERT_NO_FATAL_FAILURE(start("quorate-director", kWatchdogMs));
  const auto exit = cluster_->terminate(kAlpha, Ms(10'000));
  ASSERT_TRUE(exit) << "alpha did not stop:\n" << cluster_->logTail(kAlpha);
  EXPECT_EQ(exit->code, 0) << cluster_->logTail(kAlpha);
  ASSERT_TRUE(waitUntil([&] { return double_->disarmed(); }, Ms(5000)))
      << cluster_->logTail(kAlpha);
  std::this_thread::sleep_for(Ms(2 * kWatchdogMs));
  EXPECT_FALSE(double_->firedNs()) << "fired after a clean stop";

  // Started again (beta holds now; alpha pets as a standby), then killed.
  cluster_->startDirector(kAlpha);
  const std::size_t pets = double_->petCount();
  ASSERT_TRUE(waitUntil([&] { return double_->petCount() > pets + 2; }, Ms(20'000)))
      << cluster_->logTail(kAlpha);
  ASSERT_NO_FATAL_FAILURE(cluster_->signal(kAlpha, SIGKILL));
  EXPECT_TRUE(waitUntil([&] { return double_->firedNs().has_value(); }, Ms(3 * kWatchdogMs)))
      << "the double did not fire after a kill: it could not tell a clean stop";
  EXPECT_FALSE(double_->disarmed());
}

// The test-only build pets whatever the lease, with a countdown of twice the lease and no margin
// (server/main.cc, QUORATE_TEST_UNGATED_WATCHDOG); the double counts the same. Each check above
// must see beta claim first.
TEST_F(DirectorWatchdog, TheFreezeCheckCatchesADirectorThatPetsWhateverItsLease) {
  ASSERT_NO_FATAL_FAILURE(start("quorate-director-ungated-watchdog", 2 * kHolderLeaseMs));
  const Race r = freezeAlpha();
  print("ungated freeze", r);
  ASSERT_TRUE(r.claimedByNs) << "beta never claimed:\n" << cluster_->logTail(kBeta);
  EXPECT_FALSE(r.firedFirst()) << "the freeze check missed the ungated build";
}

TEST_F(DirectorWatchdog, TheCutOffCheckCatchesADirectorThatPetsWhateverItsLease) {
  ASSERT_NO_FATAL_FAILURE(start("quorate-director-ungated-watchdog", 2 * kHolderLeaseMs));
  const Race r = cutOffAlpha();
  print("ungated cut off", r);
  ASSERT_TRUE(r.claimedByNs) << "beta never claimed:\n" << cluster_->logTail(kBeta);
  EXPECT_FALSE(r.firedFirst()) << "the cut-off check missed the ungated build";
}

}  // namespace
}  // namespace quorate::netns
