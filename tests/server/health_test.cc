// OwnHealth's track scripts under reloads (server/health.h), with real scripts on a real
// io_context.
#include "server/health.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>

namespace quorate::server {
namespace {

using namespace std::chrono_literals;

TrackScript trueScript(std::chrono::milliseconds interval) {
  TrackScript t;
  t.name = "t1";
  t.argv = {"/bin/true"};
  t.interval = interval;
  t.timeout = 1000ms;
  return t;
}

// A reload destroys a changed script while its timer's handler may already be queued (a timer
// that expired cannot be cancelled: the handler runs with success). Run a 1 ms script and
// change it hundreds of times, each time after letting the loop run a little: the queued
// handler must find the script gone, not run it from freed memory (which crashed a director
// under a stream of SIGHUPs; ASan names it at once, the release build crashes or corrupts).
TEST(OwnHealth, ReloadingAScriptWhoseTimerFiredIsSafe) {
  boost::asio::io_context io;
  DirectorConfig config;
  config.trackScripts = {trueScript(1ms)};
  int changes = 0;
  OwnHealth health(config, nullptr, io, [&] { ++changes; });
  health.start(nullptr);
  for (int i = 0; i < 400; ++i) {
    io.run_for(std::chrono::microseconds(500 + (i % 7) * 300));
    health.reloadScripts({trueScript(i % 2 ? 1ms : 2ms)});
  }
  io.run_for(20ms);
  EXPECT_TRUE(health.healthy());
  health.stop();
  io.run_for(10ms);
}

}  // namespace
}  // namespace quorate::server
