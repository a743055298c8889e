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

// A node's local clock, piecewise linear in real time. Within the current segment,
// which began at real instant base:
//   local(real) = offset + (real - base) + floor((real - base) * ppb / 1e9)
// ppb is the drift in parts per billion. A reboot starts a segment at a new reading; a
// rate change starts one at the current reading; a stopped clock (a paused VM) reads the
// same until it runs again. local() never goes back within a segment, and a rate change
// or a stop never makes it go back either.
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
  // From real instant `real` (not before the segment's start) on, the clock runs at
  // `ppb`, continuing from what it reads at `real`. A stopped clock stays stopped.
  void setRate(RealTime real, std::int64_t ppb);
  // The clock stops at real instant `real`: it reads local(real) until start().
  // realAt() of a later reading is kNever while it is stopped.
  void stop(RealTime real);
  // A stopped clock runs again from real instant `real`, from the reading it stopped at.
  void start(RealTime real);
  // The clock jumps forward by `by` (>= 0) at real instant `real`.
  void jump(RealTime real, lease::Duration by);

  std::int64_t ppb() const { return ppb_; }
  bool stopped() const { return stopped_; }
  double rate() const { return 1.0 + static_cast<double>(ppb_) * 1e-9; }

 private:
  std::int64_t drift(RealTime sinceBase) const;  // floor(sinceBase * ppb / 1e9)
  // Starts a segment at `real` that reads `reading` there.
  void rebase(RealTime real, std::int64_t reading);

  std::int64_t offset_ = 0;  // the reading at base_
  RealTime base_ = 0;
  std::int64_t ppb_ = 0;
  bool stopped_ = false;
};

}  // namespace quorate::sim
