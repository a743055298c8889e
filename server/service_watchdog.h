// systemd's service watchdog (WATCHDOG=1), petted from the director's loop thread only while
// the loop and the checks' thread are seen working. Not the hardware watchdog (watchdog.h),
// which fences a hung holder; this one lets systemd restart a hung daemon.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace quorate::server {

class ServiceWatchdog {
 public:
  using Pet = std::function<void()>;
  // Runs a function on the checks' thread (asio::post to its io_context).
  using PostToChecks = std::function<void(std::function<void()>)>;
  // The loop's lease timer: when it is due (steady_clock). A timer overdue by more than the
  // interval means the loop no longer runs its handlers on time.
  using TimerDue = std::function<std::chrono::steady_clock::time_point()>;

  struct Options {
    std::chrono::microseconds interval{0};  // systemd's WatchdogSec; pets every third of it
    Pet pet;                                // sends WATCHDOG=1
    PostToChecks toChecks;                  // empty: no checks' thread to watch
    TimerDue leaseTimerDue;                 // empty: not watched
    // Test builds only (DirectorConfig::testFaults): block the loop while this file exists;
    // pet from a thread of our own whatever the loop does (the mutant the notify test catches).
    std::string freezeLoopFile;
    bool petFromAnyThread = false;
  };

  struct Counters {
    std::atomic<std::uint64_t> pets{0};
    std::atomic<std::uint64_t> withheld{0};  // ticks that found the loop or the checks stuck
  };

  // Timers on `loop`, the io_context of the lease host.
  ServiceWatchdog(boost::asio::io_context& loop, Options options);
  ~ServiceWatchdog();
  ServiceWatchdog(const ServiceWatchdog&) = delete;
  ServiceWatchdog& operator=(const ServiceWatchdog&) = delete;

  // Ticks now and then every interval/3 on the loop thread, until stop(). On the loop thread
  // (or before it runs).
  void start();
  // No pet after it returns. On the loop thread (or once the loop has stopped).
  void stop();
  // One decision on the loop thread: pets when the lease timer is not overdue and the checks'
  // thread answered a ping within the interval; posts the next ping. Returns whether it petted.
  // The first withheld pet of a run is logged as an error (systemd will restart us).
  bool tick();

  const Counters& counters() const { return counters_; }
  std::chrono::microseconds petEvery() const { return options_.interval / 3; }

 private:
  void schedule();
  void scheduleFreezeCheck();

  Options options_;
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer freezeTimer_;
  // When the checks' thread last ran a ping, in steady_clock nanoseconds. Shared with the pings
  // in flight, which may outlive this object in a stopped io_context's queue.
  std::shared_ptr<std::atomic<std::int64_t>> checksAnswered_;
  bool running_ = false;
  std::uint64_t withheldRun_ = 0;
  Counters counters_;
  std::atomic<bool> stopThread_{false};
  std::thread anyThread_;  // petFromAnyThread only
};

}  // namespace quorate::server
