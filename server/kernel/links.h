// Interfaces as the director needs them: index, MAC, whether the link is usable, and a
// stream of changes (for track_interface); plus the macvlan a virtual MAC (use_vmac) lives on.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/net_types.h"
#include "common/status.h"

namespace quorate::kernel {

struct LinkInfo {
  std::string name;
  int index = 0;
  net::MacAddress mac{};
  bool adminUp = false;  // IFF_UP
  bool running = false;  // IFF_RUNNING (carrier and operstate up/unknown)
  bool usable() const { return adminUp && running; }
};

class Links {
 public:
  virtual ~Links() = default;
  // Fails with ENODEV when there is no such interface.
  virtual Result<LinkInfo> get(const std::string& name) = 0;
  // Creates (or keeps, if it already exists with the same parent and MAC) a macvlan `name` in
  // private mode on `parent` with `mac`, and sets it up. keepalived's use_vmac.
  virtual Status ensureMacvlan(const std::string& name, const std::string& parent,
                               const net::MacAddress& mac) = 0;
  // Deletes interface `name`; absent is success.
  virtual Status removeLink(const std::string& name) = 0;
  // Sets /proc/sys/net/ipv4/conf/<device>/<key> (e.g. arp_ignore) in the calling thread's
  // network namespace. Fails with ENOENT for an unknown device or key.
  virtual Status setIpv4Conf(const std::string& device, const std::string& key,
                             const std::string& value) = 0;
};

std::unique_ptr<Links> makeNetlinkLinks();

// Subscribes to RTNLGRP_LINK. fd() becomes readable when changes arrive; drain() reads them
// all and returns the names of links whose state may have changed (callers then re-read them
// with Links::get). Non-blocking.
class LinkWatcher {
 public:
  virtual ~LinkWatcher() = default;
  virtual int fd() const = 0;
  virtual Result<std::vector<std::string>> drain() = 0;
};

Result<std::unique_ptr<LinkWatcher>> makeLinkWatcher();

}  // namespace quorate::kernel
