// Watchdog self-fencing: when the director may pet its watchdog (a pure rule and the timing
// condition checked at load), and the timer on the loop thread that does it.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "lease/timing.h"
#include "lease/types.h"
#include "server/config.h"
#include "server/kernel/watchdog_device.h"

namespace quorate::server {

// Whether a pet at lease-clock time `now` is allowed. Holding no lease: always (only a hung loop
// stops the pets). Holding: only if `now + timeout + margin <= earliestHeldLeaseEnd`, so that if
// the daemon hangs right after this pet, the device's countdown reboots the host before that
// lease ends, and so before any acceptor's grant of it ends and another director can claim.
bool petAllowed(lease::Time now, lease::Duration timeout, lease::Duration margin,
                std::optional<lease::Time> earliestHeldLeaseEnd);

// The margin petAllowed() keeps: the configured allowance (w.margin) plus what clock drift may
// cost over one countdown. The device may count up to rho slow and the lease clock may run up to
// rho fast, so a countdown of T ends up to 2·rho·T/(1 - rho) later, in lease-clock time, than
// the lease clock says; rounded up to a whole millisecond.
lease::Duration watchdogMargin(const WatchdogConfig& w, double rho);

// Why `w` is unsafe or unworkable with `timing`, naming the numbers; nullopt when
//   timeout + margin (watchdogMargin) + renew_interval <= holder_lease
// (a holder renewed on time always has more than timeout + margin left, so a healthy holder is
// never refused a pet; the condition leaves no room for a renewal's round trip, see
// docs/timing.md) and 3 · interval <= timeout (a late or refused pet or two still leave time
// for the next before the countdown ends).
std::optional<std::string> watchdogTimingProblem(const WatchdogConfig& w,
                                                 const lease::Timing& timing);

// Pets the device every `interval` on the daemon's io_context while petAllowed(). Running on the
// same thread as the lease loop is the health check: a loop that hangs (or a process that is
// stopped) stops the pets. All methods on that thread, except counters().
class Watchdog {
 public:
  using Clock = std::function<lease::Time()>;
  // The earliest end of a lease this director holds (LeaseHost::earliestHeldLeaseEnd).
  using HeldLeaseEnd = std::function<std::optional<lease::Time>()>;

  struct Counters {
    std::atomic<std::uint64_t> pets{0};
    std::atomic<std::uint64_t> refusals{0};     // held lease too short for another countdown
    std::atomic<std::uint64_t> petFailures{0};  // the device refused the pet
  };

  // `device` must outlive the watchdog; its timeout() is the countdown petAllowed() assumes.
  // With `ungated` (test only: DirectorConfig::testFaults.ungatedWatchdog) every tick pets.
  Watchdog(boost::asio::io_context& io, kernel::WatchdogDevice& device,
           std::chrono::milliseconds interval, lease::Duration margin, Clock clock,
           HeldLeaseEnd heldLeaseEnd, bool ungated = false);

  // Ticks now and then every interval until stop().
  void start();
  // No pet after this returns; the device is left as it is (the caller disarms it).
  void stop();
  // One decision: reads the clock and the held leases, and pets if allowed. Returns whether it
  // petted. Logs the first refusal (warning) and the first failed pet (error) of a run.
  bool tick();

  const Counters& counters() const { return counters_; }
  lease::Duration margin() const { return margin_; }

 private:
  void schedule();

  boost::asio::steady_timer timer_;
  kernel::WatchdogDevice& device_;
  std::chrono::milliseconds interval_;
  lease::Duration margin_;
  Clock clock_;
  HeldLeaseEnd heldLeaseEnd_;
  bool ungated_;
  bool running_ = false;
  std::uint64_t refusedRun_ = 0;  // refusals since the last pet
  std::uint64_t failedRun_ = 0;   // failed pets since the last pet
  Counters counters_;
};

}  // namespace quorate::server
