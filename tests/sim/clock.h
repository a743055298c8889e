// Virtual real time and drifting node clocks, with exact integer conversion between them.
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "lease/types.h"

namespace quorate::sim {

// Nanoseconds of the simulation's "real" time, which no node can read.
using RealTime = std::int64_t;
inline constexpr RealTime kNever = std::numeric_limits<RealTime>::max();

// "12.345678901s", for traces and failure messages.
std::string formatReal(RealTime t);
std::string formatDuration(lease::Duration d);

// A node's local clock: local(real) = offset + floor(real * (1 + ppb / 1e9)).
// The rate is constant between reboots; ppb is the drift in parts per billion.
class DriftClock {
 public:
  DriftClock() = default;
  DriftClock(std::int64_t offsetNs, std::int64_t ppb) : offset_(offsetNs), ppb_(ppb) {}

  lease::Time local(RealTime real) const;

  // The earliest real instant at which local() >= t. Rounding up is what makes a
  // timer set for local deadline t never fire before the node's clock reads t.
  // kNever when t is out of any run's reach.
  RealTime realAt(lease::Time t) const;

  // A reboot: from real instant `real` on, the clock reads `reading` and runs at `ppb`.
  void reset(RealTime real, lease::Time reading, std::int64_t ppb);

  std::int64_t ppb() const { return ppb_; }
  double rate() const { return 1.0 + static_cast<double>(ppb_) * 1e-9; }

 private:
  std::int64_t drift(RealTime real) const;  // floor(real * ppb / 1e9)

  std::int64_t offset_ = 0;
  std::int64_t ppb_ = 0;
};

}  // namespace quorate::sim
