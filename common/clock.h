// The daemons' clock: CLOCK_BOOTTIME, which keeps counting through suspend.
#pragma once

#include <time.h>

#include "lease/types.h"

namespace quorate {

// Never wall-clock time: a lease must not stretch when the date is set or the host sleeps.
inline lease::Time bootNow() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return lease::Time(lease::Duration(static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 +
                                     ts.tv_nsec));
}

}  // namespace quorate
