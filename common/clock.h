// The daemons' clock: the hardware's own rate plus the time spent suspended, which NTP does not
// slew; and CLOCK_REALTIME for the one place that needs it, the fence's absolute deadline.
#pragma once

#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdint>

#include "lease/types.h"

namespace quorate {

namespace detail {
inline std::int64_t nanos(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace detail

// Lease time. Never wall-clock time: a lease must not stretch when the date is set or the host
// sleeps. Not CLOCK_BOOTTIME or CLOCK_MONOTONIC either: NTP slews both (chrony by up to
// 83,333 ppm by default, far past the max_drift_ppm the timers are checked against).
// CLOCK_MONOTONIC_RAW runs at the oscillator's rate, which NTP never touches; the suspend
// offset (CLOCK_BOOTTIME - CLOCK_MONOTONIC, which changes only at a resume) adds the time spent
// suspended, which RAW does not count, so a lease still runs out while the host sleeps.
// What this clock cannot see: a virtual machine paused by its hypervisor stops every clock of
// the guest (docs/timing.md, "Clocks").
inline lease::Time bootNow() {
  const std::int64_t mono = detail::nanos(CLOCK_MONOTONIC);
  const std::int64_t boot = detail::nanos(CLOCK_BOOTTIME);
  const std::int64_t raw = detail::nanos(CLOCK_MONOTONIC_RAW);
  // The two reads of the offset are nanoseconds apart, so it jitters by as much: never let the
  // sum go back.
  static std::atomic<std::int64_t> last{0};
  std::int64_t now = raw + (boot - mono);
  std::int64_t seen = last.load(std::memory_order_relaxed);
  while (now > seen && !last.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
  }
  if (now < seen) now = seen;
  return lease::Time(lease::Duration(now));
}

// Wall-clock time since the epoch, as the kernel's nftables `meta time` sees it. Only for
// deadlines the kernel compares with that clock (the fence); never for lease arithmetic.
inline std::chrono::nanoseconds realtimeNow() {
  return std::chrono::nanoseconds(detail::nanos(CLOCK_REALTIME));
}

}  // namespace quorate
