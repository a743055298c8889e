// The fence's time-window arithmetic (see fence_plan.h).
#include "server/kernel/fence_plan.h"

#include <algorithm>

namespace quorate::kernel::fence {

bool shutsInstead(std::chrono::milliseconds remaining, std::chrono::nanoseconds realtimeDeadline) {
  return remaining.count() <= 0 || realtimeDeadline.count() <= 0;
}

ArmPlan planArm(const Gate& gate, std::chrono::milliseconds remaining,
                std::chrono::nanoseconds realtimeDeadline, std::int64_t nowMonoNs) {
  ArmPlan p;
  if (shutsInstead(remaining, realtimeDeadline)) {
    p.closes = true;
    return p;
  }
  p.timeout = std::min(remaining, kLongestGate);
  p.fresh = Slot{true, static_cast<std::uint64_t>(realtimeDeadline.count()),
                 nowMonoNs + std::chrono::nanoseconds(p.timeout).count()};
  p.slot = gate.next;
  const Slot& prev = gate.slots[1 - gate.next];
  // The previous renewal's slot stays only if it ends no later than this arm on both clocks: an
  // arm never leaves the gate open past what it asked for, beyond an earlier, longer arm.
  p.alsoOther =
      prev.open && (prev.deadlineNs > p.fresh.deadlineNs || prev.monoEndNs > p.fresh.monoEndNs);
  return p;
}

Gate afterWrite(Gate gate, int slot, const Slot& fresh, bool committed) {
  Slot& s = gate.slots[slot];
  if (committed) {
    s = fresh;
    gate.next = 1 - slot;
  } else {
    s = Slot{true, std::max(s.deadlineNs, fresh.deadlineNs),
             std::max(s.monoEndNs, fresh.monoEndNs)};
    gate.next = slot;
  }
  return gate;
}

Gate afterClose(Gate gate, bool committed) { return committed ? Gate{} : gate; }

}  // namespace quorate::kernel::fence
