// The kernel-enforced fence: nftables rules that gate, for every VIP the director manages, ARP
// requests and replies, IPv6 neighbour advertisements and inbound/outbound traffic. The VIPs of a
// lease form a group, opened and shut together. A group is usable only while its gate is open:
// a kernel timeout (relative, immune to wall-clock steps) and a deadline on the kernel's real
// time (absolute, immune to the holder freezing between reading its clock and committing), both
// set by one arm(). So a frozen holder goes dark when its lease ends, with no help from the
// process. A renewal costs the same whatever the number of VIPs, and no packet waits on it: it
// writes one of two slots while the other still carries the previous renewal's gate. See
// docs/fence.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "common/net_types.h"
#include "common/status.h"

namespace quorate::kernel {

class Fence {
 public:
  virtual ~Fence() = default;
  // Replaces whatever an earlier run left (deletes and recreates the tables atomically) with
  // rules gating every address of `groups`, all closed. Group i (a lease's VIPs) is what arm(i)
  // and close(i) open and shut; an empty group gates nothing. An address in two groups, or an
  // unset one: EINVAL, nothing changed. Called at start-up and on reload.
  virtual Status install(const std::vector<std::vector<net::IpAddress>>& groups) = 0;
  // Opens group `group` until `remaining` from the commit (millisecond precision, counted by the
  // kernel in whole jiffies, which can only end it early) and no later than `realtimeDeadline`
  // (CLOCK_REALTIME since the epoch, nanoseconds). The caller reads CLOCK_REALTIME before its
  // lease clock, so a freeze in between only makes the deadline earlier. Afterwards the group is
  // open exactly until this arm's limits: the previous arm's slot, left alone so that no packet
  // waits on this commit, is kept only if both its limits end no later, else given this arm's
  // limits in a second transaction (until then, or if that one fails, it may stay open to its
  // own end).
  // `remaining` or `realtimeDeadline` <= 0 closes. An unknown group: EINVAL. Kernel errors
  // carry the kernel's errno and the failed command in nft syntax; after one the transaction
  // may or may not have been committed.
  virtual Status arm(std::size_t group, std::chrono::milliseconds remaining,
                     std::chrono::nanoseconds realtimeDeadline) = 0;
  // Shuts group `group` at once: both slots, in one transaction. An unknown group: EINVAL.
  virtual Status close(std::size_t group) = 0;
  // Gives group `group` exactly `addresses` (a reload's VIPs added to or removed from a lease),
  // leaving every other group alone and this group's gate as it is: open or closed, with the
  // same limits. An address new to the group is gated by that gate from the commit on. An
  // address that leaves the group is not let go but retired: mapped to `drop`, dark whatever any
  // gate says, until release(); so a VIP still on a device never answers unfenced while the
  // caller removes it. A retired address may be given to a group again.
  // One nftables transaction changes the verdict maps, all or nothing. The one exception is a
  // group's first IPv4 address when install() gave it none (or a first address at all): that
  // transaction also creates the group's ARP gate (or its whole chain) closed, and a second one
  // copies the group's open slots into it, no later than they end; until that commits, and if it
  // fails, the new addresses' ARP (or all their traffic) stays shut: dark, never open longer.
  // `group` may be the next index after the installed ones (with at least one installed): a
  // lease added by a reload, appended closed, every other group keeping its index. A lease
  // removed by a reload keeps its index: update() it to no address (every one retired), and
  // never arm it again.
  // Failures: an unknown group, an unset address, or one in another group: EINVAL, nothing
  // changed. A refused first transaction: nft's error text, nothing changed. A failed second one:
  // "copying the gate" in the text; the addresses are in the group, their new gate shut, and the
  // next arm() of the group opens it. A fence that was flushed behind its back is not reinstalled
  // here (the next arm() or close() does that).
  virtual Status update(std::size_t group, const std::vector<net::IpAddress>& addresses) = 0;
  // Lets retired addresses go (after the caller removed them from their devices): the fence then
  // ignores them, as any address it never knew. Addresses not retired are left as they are.
  virtual Status release(const std::vector<net::IpAddress>& addresses) = 0;
  // Removes the tables (clean shutdown of an unfenced configuration, tests).
  virtual Status uninstall() = 0;
};

// The nftables implementation: the ruleset is installed through libnftables, and each arm() and
// close() is one raw nfnetlink batch (nft's language has only whole seconds for `meta time`). It
// works in the network namespace of the thread that created it. `table` names the tables it owns
// (default "quorate"): "arp <table>" and "inet <table>".
std::unique_ptr<Fence> makeNftFence(std::string table = "quorate");

}  // namespace quorate::kernel
