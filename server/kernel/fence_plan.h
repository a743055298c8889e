// The fence's time-window arithmetic as values: which slot an arm() writes, with what limits,
// whether the other slot must be rewritten too, and what the gate looks like after each outcome.
// No kernel, no clock: the caller passes the monotonic time of the arm. See docs/fence.md.
#pragma once

#include <chrono>
#include <cstdint>

namespace quorate::kernel::fence {

// The longest a gate is opened for, whatever the caller asks: leases last seconds, and a longer
// time would overflow a slot's end in nanoseconds (above ~292 years) and then outlive every later,
// shorter arm.
constexpr std::chrono::milliseconds kLongestGate = std::chrono::hours(24 * 365);

// One slot of a lease's gate as last committed (or perhaps committed: a failed batch may still
// have been applied, so its limits are then the later of the two).
struct Slot {
  bool open = false;
  std::uint64_t deadlineNs = 0;  // CLOCK_REALTIME: the element is the interval [0, deadlineNs)
  std::int64_t monoEndNs = 0;    // the kernel timeout's end on CLOCK_MONOTONIC, as estimated

  bool operator==(const Slot&) const = default;
};

// A lease's two slots, and the one the next arm writes.
struct Gate {
  Slot slots[2];
  int next = 0;

  bool operator==(const Gate&) const = default;
};

// What one arm() does.
struct ArmPlan {
  bool closes = false;  // `remaining` or the deadline is not positive: shut the gate instead
  std::chrono::milliseconds timeout{0};  // the element's kernel timeout: `remaining`, capped
  Slot fresh;                            // the limits written
  int slot = 0;                          // the slot written first
  // Then the other slot gets the same limits in a second transaction: it would otherwise stay
  // open later than this arm asks (it is kept only if it ends no later on both clocks).
  bool alsoOther = false;

  bool operator==(const ArmPlan&) const = default;
};

// Whether arm(remaining, realtimeDeadline) shuts the gate instead: either is not positive.
bool shutsInstead(std::chrono::milliseconds remaining, std::chrono::nanoseconds realtimeDeadline);

// The plan of arm(remaining, realtimeDeadline) on `gate`, made at monotonic time `nowMonoNs`.
ArmPlan planArm(const Gate& gate, std::chrono::milliseconds remaining,
                std::chrono::nanoseconds realtimeDeadline, std::int64_t nowMonoNs);

// The gate after writing `fresh` to `slot`: committed, the slot holds it and the next arm writes
// the other one; failed, the slot may hold either limits (so the later of both) and the next arm
// writes it again, so that the other slot, the last known good, is never the one written.
Gate afterWrite(Gate gate, int slot, const Slot& fresh, bool committed);

// The gate after a close (both slots emptied in one transaction); a failed one changes nothing
// known.
Gate afterClose(Gate gate, bool committed);

}  // namespace quorate::kernel::fence
