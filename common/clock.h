// The daemons' clock: CLOCK_BOOTTIME, which keeps counting through suspend; and CLOCK_REALTIME
// for the one place that needs it, the fence's absolute deadline.
#pragma once

#include <time.h>

#include <chrono>

#include "lease/types.h"

namespace quorate {

// Never wall-clock time: a lease must not stretch when the date is set or the host sleeps.
inline lease::Time bootNow() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return lease::Time(
      lease::Duration(static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec));
}

// Wall-clock time since the epoch, as the kernel's nftables `meta time` sees it. Only for
// deadlines the kernel compares with that clock (the fence); never for lease arithmetic.
inline std::chrono::nanoseconds realtimeNow() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::chrono::nanoseconds(static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 +
                                  ts.tv_nsec);
}

}  // namespace quorate
