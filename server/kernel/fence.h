// The kernel-enforced fence: nftables sets with per-element timeouts that gate, for every VIP
// the director manages, ARP replies, IPv6 neighbour advertisements and inbound/outbound
// traffic. A VIP is usable only while its element in the "live" set is unexpired, so a frozen
// holder goes dark when its lease ends, with no help from the process.
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
  // Opens the fence for `vips` until `remaining` from now (millisecond precision), replacing any
  // earlier expiry of those elements, in one atomic transaction. Every address must be managed.
  virtual Status arm(const std::vector<IpAddress>& vips, std::chrono::milliseconds remaining) = 0;
  // Closes the fence for `vips` at once (absent elements are fine).
  virtual Status close(const std::vector<IpAddress>& vips) = 0;
  // Removes the tables (clean shutdown of an unfenced configuration, tests).
  virtual Status uninstall() = 0;
};

// The nftables implementation (libnftables), in the calling thread's network namespace.
// `table` names the tables it owns (default "quorate"): "arp <table>" and "inet <table>".
std::unique_ptr<Fence> makeNftFence(std::string table = "quorate");

}  // namespace quorate::kernel
