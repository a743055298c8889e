// systemd's service watchdog for the arbiter: a thread that pets only after it got through
// every cluster's lock, so a request stuck under one (a hung disk during the fsync of an epoch)
// stops the pets and systemd restarts the arbiter.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace quorate::arbiter {

class ArbiterWatchdog {
 public:
  // `probe` returns once the service is seen working (ArbiterService::probeClusters); it may
  // block, and then no pet is sent. `pet` sends WATCHDOG=1. Starts the thread: a probe and a pet
  // now, then every interval/3.
  ArbiterWatchdog(std::chrono::microseconds interval, std::function<void()> probe,
                  std::function<void()> pet);
  // Stops the thread; waits for a probe in progress to return.
  ~ArbiterWatchdog();
  ArbiterWatchdog(const ArbiterWatchdog&) = delete;
  ArbiterWatchdog& operator=(const ArbiterWatchdog&) = delete;

  std::uint64_t pets() const { return pets_.load(std::memory_order_relaxed); }
  std::chrono::microseconds petEvery() const { return interval_ / 3; }

 private:
  void run();

  std::chrono::microseconds interval_;
  std::function<void()> probe_;
  std::function<void()> pet_;
  std::atomic<std::uint64_t> pets_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace quorate::arbiter
