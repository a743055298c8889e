// SIGHUP on the real daemons: it never stops them or moves the lease; a director re-reads its
// file and refuses (keeping what runs) a file that does not parse or that changes more than its
// virtual servers.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <string>
#include <thread>

#include "process/cluster.h"

namespace quorate::proctest {
namespace {

using namespace std::chrono_literals;

// Waits until `text` appears in the node's log.
bool logShows(const Cluster& c, const std::string& node, const std::string& text, Ms timeout) {
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (c.log(node).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

TEST(Reload, SighupRereadsTheFileAndNeverStopsTheDaemonsOrMovesTheLease) {
  Cluster c("reload");
  c.startAll();
  const auto h = c.waitForHolder(c.timers().startupBound());
  ASSERT_TRUE(h);
  const std::string path = c.configPath(kAlpha);
  const std::string good = readFile(path);

  // Nothing changed (and no virtual servers): nothing to do.
  c.signal(kAlpha, SIGHUP);
  EXPECT_TRUE(logShows(c, kAlpha, "SIGHUP: reload: no virtual servers, nothing to do", 3s))
      << c.log(kAlpha);
  // A file that does not parse: refused, naming the problem.
  writeFile(path, good + "bogus_key: 1\n");
  c.signal(kAlpha, SIGHUP);
  EXPECT_TRUE(logShows(c, kAlpha, "SIGHUP: reload refused, running configuration kept", 3s));
  EXPECT_TRUE(logShows(c, kAlpha, "bogus_key", 1s));
  // A change outside virtual_servers / ipvs: refused, it needs a restart.
  std::string other = good;
  const auto at = other.find("log_level: debug");
  ASSERT_NE(at, std::string::npos);
  other.replace(at, 16, "log_level: info ");
  writeFile(path, other);
  c.signal(kAlpha, SIGHUP);
  EXPECT_TRUE(
      logShows(c, kAlpha, "only virtual_servers and ipvs can change without a restart", 3s));
  writeFile(path, good);
  // The arbiter ignores it.
  c.signal(kArbiter, SIGHUP);
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(c.running(kAlpha));
  EXPECT_TRUE(c.running(kArbiter));
  const auto after = c.waitForHolder(2s);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->holder, h->holder);
  EXPECT_EQ(after->epoch, h->epoch);
}

}  // namespace
}  // namespace quorate::proctest
