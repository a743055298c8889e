// Virtual addresses on interfaces (rtnetlink through libnl-route-3): the one place the
// director adds and removes addresses.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/net_types.h"
#include "common/status.h"

namespace quorate::kernel {

class Vips {
 public:
  virtual ~Vips() = default;
  // Adds `vip`, or replaces it if present (RTM_NEWADDR with NLM_F_CREATE|NLM_F_REPLACE), with
  // the given valid lifetime (whole seconds, the kernel's unit; nullopt = forever). IPv6
  // addresses are added with IFA_F_NODAD so they answer at once. Fails (ENODEV) if the device
  // does not exist.
  virtual Status add(const net::Vip& vip, std::optional<std::chrono::seconds> validLifetime) = 0;
  // Removes `vip`; an address that is not there is success (idempotent).
  virtual Status remove(const net::Vip& vip) = 0;
  // The addresses currently on `device` (all families, labels filled for IPv4).
  virtual Result<std::vector<net::Vip>> list(const std::string& device) = 0;
};

// The rtnetlink implementation, in the calling thread's network namespace at the time of the
// call. Not thread-safe: use from one thread.
std::unique_ptr<Vips> makeNetlinkVips();

}  // namespace quorate::kernel
