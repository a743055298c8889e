// The kernel-enforced fence: nftables sets that gate, for every VIP the director manages, ARP
// replies, IPv6 neighbour advertisements and inbound/outbound traffic. A VIP is usable only while
// both of its gates are open: its element in a "live" set is unexpired (a relative timeout) and
// the kernel's real time is before its deadline in an "until" set (an absolute time). So a frozen
// holder goes dark when its lease ends, with no help from the process, even if it froze between
// reading its clock and committing. See docs/fence.md.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "server/kernel/net_types.h"
#include "server/kernel/status.h"

namespace quorate::kernel {

class Fence {
 public:
  virtual ~Fence() = default;
  // Replaces whatever an earlier run left (deletes and recreates the tables atomically) with
  // rules gating `managed`, all closed (no live elements). Called at start-up and on reload.
  virtual Status install(const std::vector<IpAddress>& managed) = 0;
  // Opens the fence for `vips` until `remaining` from the commit (millisecond precision, counted
  // by the kernel in whole jiffies) and no later than `realtimeDeadline` (CLOCK_REALTIME since the
  // epoch, nanoseconds), replacing both earlier limits of those VIPs in one atomic transaction.
  // The caller reads CLOCK_REALTIME before its lease clock, so a freeze in between only makes
  // the deadline earlier. Every address must be managed (EINVAL otherwise, nothing applied);
  // `remaining` or `realtimeDeadline` <= 0 closes. Kernel errors carry the kernel's errno.
  virtual Status arm(const std::vector<IpAddress>& vips, std::chrono::milliseconds remaining,
                     std::chrono::nanoseconds realtimeDeadline) = 0;
  // Closes the fence for `vips` at once (absent elements are fine).
  virtual Status close(const std::vector<IpAddress>& vips) = 0;
  // Removes the tables (clean shutdown of an unfenced configuration, tests).
  virtual Status uninstall() = 0;
};

// The nftables implementation: tables and rules through libnftables, element changes as raw
// nfnetlink batches (nft's language has only whole seconds for `meta time`). It works in the
// network namespace of the thread that created it.
// `table` names the tables it owns (default "quorate"): "arp <table>" and "inet <table>".
std::unique_ptr<Fence> makeNftFence(std::string table = "quorate");

}  // namespace quorate::kernel
