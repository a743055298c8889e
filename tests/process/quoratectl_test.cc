// quoratectl, the real binary, against a live cluster: status --json and step-down.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "process/cluster.h"

namespace quorate::proctest {
namespace {

using namespace std::chrono_literals;

#ifdef QUORATECTL

RunResult ctl(const Cluster& c, const std::string& director, std::vector<std::string> args) {
  std::vector<std::string> argv = {QUORATECTL, "--endpoint", c.operatorEndpoint(director)};
  argv.insert(argv.end(), args.begin(), args.end());
  return runProgram(argv, 5000ms);
}

TEST(Quoratectl, StatusJsonAndStepDownAgainstALiveCluster) {
  Cluster c("quoratectl");
  c.startAll();
  const auto h = c.waitForHealthy(c.timers().startupBound() + 3s);
  ASSERT_TRUE(h);
  const std::string standby = otherDirector(h->holder);

  for (const auto& d : {kAlpha, kBeta}) {
    SCOPED_TRACE(d);
    const RunResult r = ctl(c, d, {"status", "--json"});
    ASSERT_EQ(r.exitCode, 0) << r.err;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j.at("cluster"), c.clusterId());
    EXPECT_EQ(j.at("node"), d);
    EXPECT_EQ(j.at("role"), d == h->holder ? "holder" : "standby");
    EXPECT_EQ(j.at("holder"), h->holder);
    EXPECT_EQ(j.at("epoch"), h->epoch);
    ASSERT_TRUE(j.at("lease_remaining_ms").is_number_integer());
    EXPECT_GT(j.at("lease_remaining_ms").get<int>(), 0);
    ASSERT_TRUE(j.at("nodes").is_array());
    ASSERT_EQ(j.at("nodes").size(), 3u);
    for (const auto& n : j.at("nodes")) {
      const std::string id = n.at("id");
      EXPECT_EQ(n.at("role"), id == kArbiter    ? "arbiter"
                              : id == h->holder ? "holder"
                                                : "standby")
          << id;
      EXPECT_EQ(n.at("reachable"), true) << id;
      ASSERT_TRUE(n.at("last_seen_ms").is_number_integer()) << id;
      EXPECT_GE(n.at("last_seen_ms").get<int>(), 0) << id;
    }
  }

  const RunResult refused = ctl(c, standby, {"step-down"});
  EXPECT_EQ(refused.exitCode, 1) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("FAILED_PRECONDITION"), std::string::npos) << refused.err;

  const RunResult done = ctl(c, h->holder, {"step-down"});
  EXPECT_EQ(done.exitCode, 0) << done.err;
  EXPECT_NE(done.out.find("handed to " + standby), std::string::npos) << done.out;
  EXPECT_TRUE(c.waitForSelfHolder(standby, 1s)) << standby << " did not take over";
}

// step-down --hold: the preferred director steps down for maintenance and does not preempt the
// lease back while the hold lasts (well past its preemption delay); --clear-hold ends it and it
// takes the lease back. Bad durations are refused with the reason, before or by the director.
TEST(Quoratectl, StepDownWithAHoldKeepsThePreferredDirectorOffUntilCleared) {
  Cluster c("quoratectl-hold", ClusterOptions{}.prefer(kAlpha).preemptAfter(300ms));
  c.startAll();
  ASSERT_TRUE(c.waitForSelfHolder(kAlpha, c.timers().startupBound() + 3s));

  const RunResult bad = ctl(c, kAlpha, {"step-down", "--hold", "5x"});
  EXPECT_EQ(bad.exitCode, 2) << bad.out << bad.err;
  EXPECT_NE(bad.err.find("expected a duration"), std::string::npos) << bad.err;
  const RunResult tooLong = ctl(c, kAlpha, {"step-down", "--hold", "8d"});
  EXPECT_EQ(tooLong.exitCode, 1) << tooLong.out << tooLong.err;
  EXPECT_NE(tooLong.err.find("longer than a week"), std::string::npos) << tooLong.err;
  EXPECT_TRUE(c.waitForSelfHolder(kAlpha, 1s)) << "a refused request moved the lease";

  const RunResult held = ctl(c, kAlpha, {"step-down", "--hold", "60s", "--json"});
  ASSERT_EQ(held.exitCode, 0) << held.err;
  EXPECT_EQ(nlohmann::json::parse(held.out).at("hold_remaining_ms"), 60000) << held.out;
  ASSERT_TRUE(c.waitForSelfHolder(kBeta, 3s));
  std::this_thread::sleep_for(2s);  // more than six preemption delays
  EXPECT_TRUE(c.waitForSelfHolder(kBeta, 100ms)) << "alpha preempted during its hold";
  const RunResult status = ctl(c, kAlpha, {"status", "--json"});
  ASSERT_EQ(status.exitCode, 0) << status.err;
  const auto lease = nlohmann::json::parse(status.out).at("leases").at(0);
  EXPECT_GT(lease.at("hold_remaining_ms").get<std::int64_t>(), 50'000) << status.out;

  const RunResult cleared = ctl(c, kAlpha, {"step-down", "--clear-hold"});
  ASSERT_EQ(cleared.exitCode, 0) << cleared.err;
  EXPECT_NE(cleared.out.find("hold cleared"), std::string::npos) << cleared.out;
  EXPECT_TRUE(c.waitForSelfHolder(kAlpha, 5s)) << "alpha did not preempt after the hold ended";
}

#else

TEST(Quoratectl, StatusJsonAndStepDownAgainstALiveCluster) {
  GTEST_SKIP() << "quoratectl is not part of this build";
}

#endif

}  // namespace
}  // namespace quorate::proctest
