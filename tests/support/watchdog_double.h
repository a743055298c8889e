// A watchdog device double at the device boundary: a FIFO whose reader stamps every pet
// (CLOCK_MONOTONIC) and "fires" (records when the host would reboot) once no pet came for its
// timeout. Never a real watchdog: nothing here can reboot the machine.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace quorate::testutil {

inline std::int64_t monotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

class WatchdogDouble {
 public:
  // Creates the FIFO at `path` (which must not exist) and starts reading it. Like a device, the
  // countdown starts at the first pet; a 'V' as the last byte before the writer closes disarms
  // it (the watchdog core's magic close); a writer that closes without it leaves it running.
  WatchdogDouble(std::string path, std::chrono::milliseconds timeout)
      : path_(std::move(path)), timeoutNs_(timeout.count() * 1'000'000) {
    if (::mkfifo(path_.c_str(), 0600) != 0) {
      throw std::runtime_error("mkfifo " + path_ + ": " + std::strerror(errno));
    }
    fd_ = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error("open " + path_ + ": " + std::strerror(errno));
    thread_ = std::thread([this] { run(); });
  }
  ~WatchdogDouble() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  WatchdogDouble(const WatchdogDouble&) = delete;
  WatchdogDouble& operator=(const WatchdogDouble&) = delete;

  const std::string& path() const { return path_; }
  std::chrono::milliseconds timeout() const {
    return std::chrono::milliseconds(timeoutNs_ / 1'000'000);
  }
  // When each pet arrived (CLOCK_MONOTONIC ns).
  std::vector<std::int64_t> pets() const {
    std::lock_guard lock(mu_);
    return pets_;
  }
  std::size_t petCount() const {
    std::lock_guard lock(mu_);
    return pets_.size();
  }
  // When it fired: the last pet before a silence of its timeout, plus the timeout.
  std::optional<std::int64_t> firedNs() const {
    std::lock_guard lock(mu_);
    return fired_;
  }
  bool disarmed() const {
    std::lock_guard lock(mu_);
    return disarmed_;
  }

 private:
  void run() {
    char buf[256];
    while (!stop_) {
      int waitMs = 20;
      {
        std::lock_guard lock(mu_);
        if (armed() && !fired_) {
          const std::int64_t left = pets_.back() + timeoutNs_ - monotonicNs();
          waitMs = static_cast<int>(std::clamp<std::int64_t>(left / 1'000'000 + 1, 0, 20));
        }
      }
      pollfd p{fd_, POLLIN, 0};
      const int n = ::poll(&p, 1, waitMs);
      const std::int64_t now = monotonicNs();
      bool hangUp = false;
      std::unique_lock lock(mu_);
      // Judge the silence before reading: a pet read now came after the deadline if it passed.
      checkFired(now);
      if (n > 0 && (p.revents & POLLIN)) {
        const ssize_t got = ::read(fd_, buf, sizeof buf);
        for (ssize_t i = 0; i < got; ++i) {
          if (buf[i] == 'V') {
            lastWasMagic_ = true;
          } else {
            lastWasMagic_ = false;
            disarmed_ = false;
            pets_.push_back(now);
          }
        }
      } else if (n > 0 && (p.revents & POLLHUP)) {
        // The writer closed. A FIFO keeps reporting that until a writer opens again.
        if (lastWasMagic_ && !pets_.empty()) disarmed_ = true;
        hangUp = true;
      }
      lock.unlock();
      if (hangUp) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  bool armed() const { return !pets_.empty() && !disarmed_; }
  void checkFired(std::int64_t now) {
    if (fired_ || !armed()) return;
    if (now >= pets_.back() + timeoutNs_) fired_ = pets_.back() + timeoutNs_;
  }

  std::string path_;
  std::int64_t timeoutNs_;
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<std::int64_t> pets_;
  std::optional<std::int64_t> fired_;
  bool disarmed_ = false;
  bool lastWasMagic_ = false;
  std::thread thread_;
};

}  // namespace quorate::testutil
