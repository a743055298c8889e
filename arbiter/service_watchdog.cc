// The arbiter's watchdog thread: probe, pet, sleep.
#include "arbiter/service_watchdog.h"

namespace quorate::arbiter {

ArbiterWatchdog::ArbiterWatchdog(std::chrono::microseconds interval, std::function<void()> probe,
                                 std::function<void()> pet)
    : interval_(interval), probe_(std::move(probe)), pet_(std::move(pet)) {
  thread_ = std::thread([this] { run(); });
}

ArbiterWatchdog::~ArbiterWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ArbiterWatchdog::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    probe_();  // outside mu_: a stuck probe must not keep the destructor's notify waiting
    pet_();
    pets_.fetch_add(1, std::memory_order_relaxed);
    lock.lock();
    cv_.wait_for(lock, petEvery(), [this] { return stop_; });
  }
}

}  // namespace quorate::arbiter
