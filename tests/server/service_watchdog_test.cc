// systemd's service watchdog: pets only while the loop's lease timer is on time and the checks'
// thread answers; the arbiter's only while every cluster lock can be taken.
#include "server/service_watchdog.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <future>

#include "arbiter/service_watchdog.h"

namespace quorate::server {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

bool waitUntil(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  const auto until = SteadyClock::now() + limit;
  while (!pred()) {
    if (SteadyClock::now() > until) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// An io_context run by a thread of its own until the object goes.
struct RunningContext {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard{io.get_executor()};
  std::thread thread{[this] { io.run(); }};
  ~RunningContext() { halt(); }
  void halt() {
    io.stop();
    if (thread.joinable()) thread.join();
  }
};

TEST(ServiceWatchdog, AnOverdueLeaseTimerWithholdsThePet) {
  asio::io_context io;
  int pets = 0;
  SteadyClock::time_point due = SteadyClock::now();
  ServiceWatchdog::Options o;
  o.interval = 300ms;
  o.pet = [&] { ++pets; };
  o.leaseTimerDue = [&] { return due; };
  ServiceWatchdog w(io, o);
  EXPECT_TRUE(w.tick());
  due = SteadyClock::now() - 400ms;  // the loop has not run its timer for longer than the interval
  EXPECT_FALSE(w.tick());
  EXPECT_EQ(pets, 1);
  EXPECT_EQ(w.counters().withheld.load(), 1u);
  due = SteadyClock::now() + 1s;  // a timer far in the future is not overdue
  EXPECT_TRUE(w.tick());
  EXPECT_EQ(pets, 2);
}

TEST(ServiceWatchdog, AChecksThreadThatStopsAnsweringStopsThePets) {
  RunningContext checks;
  RunningContext loop;
  std::atomic<int> pets{0};
  ServiceWatchdog::Options o;
  o.interval = 300ms;
  o.pet = [&] { ++pets; };
  o.toChecks = [&](std::function<void()> fn) { asio::post(checks.io, std::move(fn)); };
  ServiceWatchdog w(loop.io, o);
  asio::post(loop.io, [&] { w.start(); });
  ASSERT_TRUE(waitUntil([&] { return pets >= 3; }, 5s));
  EXPECT_EQ(w.counters().withheld.load(), 0u);

  std::promise<void> thaw;
  asio::post(checks.io, [f = thaw.get_future().share()] { f.wait(); });
  ASSERT_TRUE(waitUntil([&] { return w.counters().withheld.load() > 0; }, 5s));
  const int frozenAt = pets.load();
  std::this_thread::sleep_for(500ms);  // more than one interval: not a single pet
  EXPECT_EQ(pets.load(), frozenAt);

  thaw.set_value();
  EXPECT_TRUE(waitUntil([&] { return pets > frozenAt; }, 5s));
  std::promise<void> stopped;
  asio::post(loop.io, [&] {
    w.stop();
    stopped.set_value();
  });
  stopped.get_future().wait();
  loop.halt();  // no handler of w's runs once w is gone
  checks.halt();
}

TEST(ArbiterWatchdog, AStuckClusterLockStopsThePets) {
  std::mutex clusterLock;
  std::atomic<int> pets{0};
  arbiter::ArbiterWatchdog w(
      300ms, [&] { const std::lock_guard<std::mutex> lock(clusterLock); }, [&] { ++pets; });
  ASSERT_TRUE(waitUntil([&] { return pets >= 2; }, 5s));
  int frozenAt = 0;
  {
    const std::lock_guard<std::mutex> stuck(clusterLock);
    std::this_thread::sleep_for(150ms);  // a pet in progress finishes
    frozenAt = pets.load();
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(pets.load(), frozenAt);
  }
  EXPECT_TRUE(waitUntil([&] { return pets > frozenAt; }, 5s));
}

}  // namespace
}  // namespace quorate::server
