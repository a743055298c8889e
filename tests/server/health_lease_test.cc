// OwnHealth's per-lease verdicts (server/health.h) with real scripts and real files on a real
// io_context: an item a lease names fails that lease only, and the global verdict stays.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>

#include "server/health.h"

namespace quorate::server {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

TrackScript script(const std::string& name, const std::string& program) {
  TrackScript t;
  t.name = name;
  t.argv = {program};
  t.interval = 20ms;
  t.timeout = 1000ms;
  t.fall = 1;
  t.rise = 1;
  return t;
}

// Runs `io` until `done` holds (or a generous bound passes: the caller asserts `done` after).
void runUntil(boost::asio::io_context& io, const std::function<bool()>& done) {
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (!done() && std::chrono::steady_clock::now() < end) io.run_for(10ms);
}

DirectorConfig twoLeases() {
  DirectorConfig c;
  c.leases.resize(2);
  c.leases[0].name = "web";
  c.leases[1].name = "dns";
  return c;
}

TEST(OwnHealthPerLease, AFailingScriptNamedByOneLeaseFailsThatLeaseOnly) {
  boost::asio::io_context io;
  DirectorConfig c = twoLeases();
  c.trackScripts = {script("gw", "/bin/false"), script("disk", "/bin/true")};
  c.leases[0].track.scripts = {{"gw", 0}};
  int changes = 0;
  OwnHealth health(c, nullptr, io, [&] { ++changes; });
  health.start(nullptr);
  runUntil(io, [&] { return !health.leaseVerdict("web").eligible(); });
  const auto web = health.leaseVerdict("web");
  ASSERT_FALSE(web.eligible());
  EXPECT_THAT(web.faults[0], HasSubstr("track script gw failing"));
  EXPECT_TRUE(health.leaseVerdict("dns").eligible());
  EXPECT_TRUE(health.healthy()) << "gw is named by a lease: not global";
  EXPECT_GE(changes, 1);
  health.stop();
}

TEST(OwnHealthPerLease, AScriptNoLeaseNamesStaysGlobal) {
  boost::asio::io_context io;
  DirectorConfig c = twoLeases();
  c.trackScripts = {script("gw", "/bin/false")};
  OwnHealth health(c, nullptr, io, [] {});
  health.start(nullptr);
  runUntil(io, [&] { return !health.healthy(); });
  EXPECT_FALSE(health.healthy());
  // The global verdict gates every lease in the lease host; the per-lease verdicts hold only
  // the leases' own items.
  EXPECT_TRUE(health.leaseVerdict("web").eligible());
  health.stop();
}

TEST(OwnHealthPerLease, ATrackFileIsReadAgainAndAMissingOneIsFatal) {
  boost::asio::io_context io;
  char dir[] = "/tmp/quorate-trackfile-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/state";
  auto write = [&](const char* text) { std::ofstream(path) << text; };
  write("0\n");
  DirectorConfig c = twoLeases();
  c.leases[1].track.files = {{path, 0}};
  OwnHealth health(c, nullptr, io, [] {});
  health.start(nullptr);
  io.run_for(50ms);
  EXPECT_TRUE(health.leaseVerdict("dns").eligible());
  write("1\n");
  runUntil(io, [&] { return !health.leaseVerdict("dns").eligible(); });
  EXPECT_THAT(health.leaseVerdict("dns").faults,
              ::testing::ElementsAre("track file " + path + " holds 1, not 0"));
  EXPECT_TRUE(health.leaseVerdict("web").eligible());
  EXPECT_TRUE(health.healthy());
  write("0");
  runUntil(io, [&] { return health.leaseVerdict("dns").eligible(); });
  EXPECT_TRUE(health.leaseVerdict("dns").eligible());
  std::remove(path.c_str());
  runUntil(io, [&] { return !health.leaseVerdict("dns").eligible(); });
  ASSERT_FALSE(health.leaseVerdict("dns").eligible());
  EXPECT_THAT(health.leaseVerdict("dns").faults[0], HasSubstr("No such file"));
  health.stop();
  ::rmdir(dir);
}

}  // namespace
}  // namespace quorate::server
