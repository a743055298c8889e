// OwnHealth's track scripts under reloads (server/health.h), with real scripts on a real
// io_context.
#include "server/health.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>

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
// that expired cannot be cancelled: its handler runs with success). In the director a reload runs
// as a handler on the loop, so it can be dispatched between a script timer's expiry and that
// timer's handler. Here a 1 ms timer of the test's own reloads a 1 ms script 2,000 times on the
// same io_context: the queued handler must find the script gone, not run it from freed memory
// (which crashed a director under a stream of SIGHUPs; ASan names it, the release build may not).
TEST(OwnHealth, ReloadingAScriptWhoseTimerFiredIsSafe) {
  boost::asio::io_context io;
  DirectorConfig config;
  config.trackScripts = {trueScript(1ms)};
  OwnHealth health(config, nullptr, io, [] {});
  boost::asio::steady_timer tick(io);
  int left = 2000;
  std::function<void()> next = [&] {
    tick.expires_after(1ms);
    tick.async_wait([&](const boost::system::error_code&) {
      health.reloadScripts({trueScript(left % 2 ? 1ms : 2ms)});
      if (--left > 0) {
        next();
      } else {
        health.stop();
      }
    });
  };
  health.start(nullptr);
  next();
  io.run_for(120s);
  EXPECT_EQ(left, 0);
  EXPECT_TRUE(health.healthy());
}

}  // namespace
}  // namespace quorate::server
