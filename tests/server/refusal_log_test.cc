// RefusalLog: the first refusal of each kind is an error line at once, repeats only once per
// interval, and kinds (peer, code, lease) do not silence each other.
#include "server/grpc/refusal_log.h"

#include <gtest/gtest.h>

namespace quorate::server {
namespace {

using namespace std::chrono_literals;

TEST(RefusalLog, TheFirstIsLoggedAndRepeatsOncePerInterval) {
  RefusalLog log(30s);
  const RefusalLog::Clock::time_point t0{};
  EXPECT_TRUE(log.shouldLog("arbiter", 8, "web", t0));
  EXPECT_FALSE(log.shouldLog("arbiter", 8, "web", t0 + 1s));
  EXPECT_FALSE(log.shouldLog("arbiter", 8, "web", t0 + 29s));
  EXPECT_TRUE(log.shouldLog("arbiter", 8, "web", t0 + 30s));
  EXPECT_FALSE(log.shouldLog("arbiter", 8, "web", t0 + 31s));
  EXPECT_TRUE(log.shouldLog("arbiter", 8, "web", t0 + 61s));
}

TEST(RefusalLog, EachPeerCodeAndLeaseHasItsOwnLine) {
  RefusalLog log(30s);
  const RefusalLog::Clock::time_point t0{};
  EXPECT_TRUE(log.shouldLog("arbiter", 8, "web", t0));
  EXPECT_TRUE(log.shouldLog("beta", 8, "web", t0));      // another peer
  EXPECT_TRUE(log.shouldLog("arbiter", 5, "web", t0));   // another refusal
  EXPECT_TRUE(log.shouldLog("arbiter", 8, "mail", t0));  // another lease
  EXPECT_FALSE(log.shouldLog("beta", 8, "web", t0 + 1s));
}

}  // namespace
}  // namespace quorate::server
