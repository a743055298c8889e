// Claim order: fence open, addresses, announcements. Withdraw order: fence shut, addresses,
// silence. The fence is what protects a frozen holder; addresses are what a live one serves;
// our own frames bypass the fence, so each one checks the lease end itself.
#include "server/dataplane.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "server/kernel/packets.h"

namespace quorate::server {
namespace {

namespace asio = boost::asio;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

}  // namespace

DataPlane::DataPlane(const DirectorConfig& config, KernelPorts ports, asio::io_context& io,
                     Clock clock, RealtimeClock realtime)
    : config_(config),
      ports_(ports),
      io_(io),
      clock_(std::move(clock)),
      realtime_(std::move(realtime)) {
  for (const auto& lc : config_.leases) {
    for (const auto& name : lc.instances) {
      const auto& inst = config_.instance(name);
      if (inst.vrrp && inst.vrrp->useVmac) {
        const int family = inst.vips.front().prefix.address.family;
        vmacs_.push_back(Vmac{inst.vrrp->vmacName(), inst.vips.front().device,
                              kernel::vrrpVirtualMac(family, inst.vrrp->vrid), family == AF_INET});
      }
    }
    leases_.push_back(makeLease(lc, leases_.size()));
  }
  if (!config_.ipvs.virtualServers.empty() && ports_.ipvs != nullptr) {
    balancer_ = std::make_unique<ipvs::Balancer>(config_.ipvs, config_.virtualServerLease,
                                                 config_.syncLease, *ports_.ipvs);
  }
}

DataPlane::~DataPlane() = default;

DataPlane::Lease DataPlane::makeLease(const LeaseConfig& lc, std::size_t index) {
  Lease l;
  l.index = index;
  l.name = lc.name;
  for (const auto& name : lc.instances) {
    if (config_.instance(name).vrrp) l.vrrpInstances.push_back(name);
  }
  l.vips = leaseVips(config_, lc);
  for (const auto& v : l.vips) l.addresses.push_back(v.prefix.address);
  l.announceTimer = std::make_unique<asio::steady_timer>(io_);
  l.vrrpTimer = std::make_unique<asio::steady_timer>(io_);
  return l;
}

Status DataPlane::addLease(const LeaseConfig& lease) {
  for (const auto& name : lease.instances) {
    const auto& inst = config_.instance(name);
    if (inst.vrrp && inst.vrrp->useVmac) {
      return Status::fail(EINVAL, "lease " + lease.name + ": instance " + name +
                                      " uses use_vmac, set up only at start");
    }
  }
  Lease l = makeLease(lease, leases_.size());
  // The new group is closed: its addresses answer nothing until a claim arms it.
  if (ports_.fence && !l.addresses.empty()) {
    if (auto s = ports_.fence->update(l.index, l.addresses); !s) {
      fail(s);
      // A failed second transaction ("copying the gate") left the addresses in the group, shut:
      // the lease exists in the fence, and its next arm opens it.
      if (s.what().find("copying the gate") == std::string::npos) {
        return s.withWhat("lease " + lease.name + " not added: " + s.what());
      }
    }
  }
  spdlog::info("lease {}: added by a reload with {} VIPs, fenced closed", lease.name,
               l.vips.size());
  leases_.push_back(std::move(l));
  return Status::ok();
}

Status DataPlane::retireLease(std::size_t index) {
  Lease& l = leases_.at(index);
  if (l.retired && l.vips.empty()) return Status::ok();
  if (l.retired) {
    // A retirement that left something behind, retried: an address that a lease added since
    // holds is that lease's now (its fence group, maybe its device), never taken off here.
    std::erase_if(l.vips, [&](const net::Vip& v) {
      return std::any_of(leases_.begin(), leases_.end(), [&](const Lease& o) {
        return !o.retired && std::find(o.addresses.begin(), o.addresses.end(), v.prefix.address) !=
                                 o.addresses.end();
      });
    });
    l.addresses.clear();
    for (const auto& v : l.vips) l.addresses.push_back(v.prefix.address);
  }
  l.vrrpInstances.clear();  // the daemon takes their instances out of the configuration
  // Fence closed, then the addresses off (if the lease host has not withdrawn it yet).
  const bool dark = withdraw(index);
  std::string left;
  // Retired in the fence: dropped whatever the group's gate says, even if the close failed.
  bool retiredInFence = !ports_.fence || l.addresses.empty();
  if (!retiredInFence) {
    if (auto s = ports_.fence->update(index, {}); !s) {
      fail(s);
      left = "its VIPs stay in the fence (" + s.what() + ")";
    } else {
      retiredInFence = true;
    }
  }
  bool removedAll = true;
  for (const auto& v : l.vips) {
    if (auto s = ports_.vips->remove(v); !s) {
      fail(s);
      removedAll = false;
    }
  }
  if (!removedAll) left += std::string(left.empty() ? "" : "; ") + "an address is still up";
  // Let go of only once off every device, and only once retired (dark) in the fence.
  if (ports_.fence && retiredInFence && removedAll && !l.addresses.empty()) {
    if (auto s = ports_.fence->release(l.addresses); !s) {
      fail(s);
      left +=
          std::string(left.empty() ? "" : "; ") + "its VIPs stay fenced dark (" + s.what() + ")";
    }
  }
  if (!dark && !retiredInFence) {
    left += std::string(left.empty() ? "" : "; ") +
            "the fence did not close: its VIPs may answer until the lease's end";
  }
  spdlog::info("lease {}: removed by a reload: {} VIPs withdrawn and out of the fence{}", l.name,
               l.vips.size(), left.empty() ? "" : ", but " + left);
  l.retired = true;
  // What is left stays in vips (see retiring()): the next reload tries again.
  if (!left.empty()) return Status::fail(EIO, "lease " + l.name + " removed, but " + left);
  l.vips.clear();
  l.addresses.clear();
  return Status::ok();
}

std::vector<net::Vip> DataPlane::leaseVips(const DirectorConfig& config, const LeaseConfig& lease) {
  std::vector<net::Vip> out;
  for (const auto& name : lease.instances) {
    const auto& inst = config.instance(name);
    for (auto v : inst.vips) {
      // With use_vmac the VIPs live on the macvlan.
      if (inst.vrrp && inst.vrrp->useVmac) v.device = inst.vrrp->vmacName();
      out.push_back(v);
    }
  }
  return out;
}

Status DataPlane::updateVips(std::size_t index, const std::vector<net::Vip>& vips) {
  Lease& l = leases_.at(index);
  auto in = [](const std::vector<net::Vip>& list, const net::Vip& v) {
    return std::find(list.begin(), list.end(), v) != list.end();
  };
  std::vector<net::Vip> added, removed;
  for (const auto& v : vips) {
    if (!in(l.vips, v)) added.push_back(v);
  }
  for (const auto& v : l.vips) {
    if (!in(vips, v)) removed.push_back(v);
  }
  std::vector<net::IpAddress> addresses;
  for (const auto& v : vips) addresses.push_back(v.prefix.address);
  if (added.empty() && removed.empty()) {  // reordered at most: the order frames leave in
    l.vips = vips;
    l.addresses = std::move(addresses);
    return Status::ok();
  }
  // The fence first, in one transaction, with the lease's gate as it is: a removed address is
  // dark from here on (retired) although it is still on its device, and an added one is gated
  // like the lease's other VIPs before it can be on any device. If the fence refuses, nothing
  // changed: the addresses stay as they were, all fenced.
  if (ports_.fence) {
    if (auto s = ports_.fence->update(index, addresses); !s) {
      fail(s);
      // A failed update may still have changed the fence: its second transaction (copying the
      // gate to a new chain) failed after the first committed, or an ack was lost. The data
      // plane keeps the old VIPs, so the fence goes back to them: else a VIP still up and
      // announced stays retired (dark), and an added one stays in this lease's group, where no
      // later reload can give it to another lease. When nothing had changed this is a no-op.
      // The addresses it takes back out stay retired (dark): they are on no device.
      if (auto back = ports_.fence->update(index, l.addresses); !back) {
        fail(back);
        spdlog::critical(
            "lease {}: the fence may keep VIPs the data plane does not ({}); a "
            "restart puts them in step",
            l.name, back.message());
      }
      return s.withWhat("lease " + l.name + ": VIPs not changed: " + s.what());
    }
  }
  // Addresses that only moved to another device or prefix stay in the fence.
  std::vector<net::IpAddress> gone;
  for (const auto& v : removed) {
    if (std::find(addresses.begin(), addresses.end(), v.prefix.address) == addresses.end()) {
      gone.push_back(v.prefix.address);
    }
  }
  l.vips = vips;
  l.addresses = std::move(addresses);
  std::vector<net::IpAddress> stuck;  // still on a device
  for (const auto& v : removed) {
    // Whether or not it was up: a claim may have failed halfway.
    if (auto s = ports_.vips->remove(v); !s) {
      fail(s);
      stuck.push_back(v.prefix.address);
    }
  }
  // Each released only once off its device: behind the fence's drop until then (and for good if
  // its removal failed: an address we no longer manage must not answer for us). One that failed
  // does not keep the others in the fence.
  std::erase_if(gone, [&](const net::IpAddress& a) {
    return std::find(stuck.begin(), stuck.end(), a) != stuck.end();
  });
  if (ports_.fence && !gone.empty()) {
    if (auto s = ports_.fence->release(gone); !s) fail(s);
  }
  if (l.claimed) {
    bool all = true;
    for (const auto& v : added) {
      if (auto s = ports_.vips->add(v, std::nullopt); !s) {
        fail(s);
        all = false;
      }
    }
    // A failed one is added again at the next renewal (hold()).
    if (!all) l.addressesUp = false;
    if (!added.empty()) {
      l.burstLeft = announceOf(l).repeat;
      l.announceTimer->cancel();
      if (!announce(l)) lapse(l);
    }
  }
  spdlog::info("lease {}: {} VIPs added, {} removed by a reload ({})", l.name, added.size(),
               removed.size(), l.claimed ? "held: added ones are up and announced" : "not held");
  return Status::ok();
}

std::vector<net::Vip> DataPlane::vipsOf(std::size_t index) const { return leases_.at(index).vips; }

void DataPlane::fail(const Status& s) {
  ++counters_.kernelErrors;
  spdlog::error("data plane: {}", s.message());
}

Status DataPlane::start() {
  // One fence group per lease, in lease order: arm(index) opens exactly that lease's VIPs.
  std::vector<std::vector<net::IpAddress>> groups;
  std::size_t managed = 0;
  for (const auto& l : leases_) {
    groups.push_back(l.addresses);
    managed += l.addresses.size();
  }
  if (ports_.fence) {
    // Closed over every VIP before any address goes up: from here on, no VIP of ours answers
    // unless a lease opens it.
    if (auto s = ports_.fence->install(groups); !s) return s;
  }
  for (const auto& m : vmacs_) {
    // The virtual MAC's interface, and a parent that does not answer ARP for addresses it
    // does not carry itself (else both MACs would answer for the VIP), as keepalived does.
    if (auto s = ports_.links->ensureMacvlan(m.name, m.parent, m.mac); !s) return s;
    if (m.ipv4) {
      if (auto s = ports_.links->setIpv4Conf(m.parent, "arp_ignore", "1"); !s) return s;
    }
  }
  if (!config_.ipvs.virtualServers.empty()) {
    if (!balancer_) return Status::fail(ENOTSUP, "virtual servers need IPVS");
    if (auto s = balancer_->start(); !s) return s;
  }
  for (auto& l : leases_) {
    for (const auto& v : l.vips) {
      if (auto s = ports_.vips->remove(v); !s) return s;
    }
    l.claimed = false;
    l.addressesUp = false;
    l.fencedUntil.reset();
    l.openUntil.reset();  // install() left every VIP closed
    l.withdrawPending = false;
    l.leaseEnd.reset();
  }
  if (managed > 0) {
    spdlog::info("data plane: {} VIPs in {} leases, all withdrawn; fence {}", managed,
                 leases_.size(), ports_.fence ? "closed" : "DISABLED (fence: none)");
  }
  return Status::ok();
}

void DataPlane::hold(std::size_t index, lease::Time leaseEnd) {
  Lease& l = leases_.at(index);
  if (l.retired) return;
  if (l.vips.empty()) {
    // A lease of virtual servers only (fwmark services, say): nothing to fence or announce.
    if (balancer_) {
      if (leaseEnd > clock_()) {
        balancer_->activate(index);
      } else {
        balancer_->deactivate(index);
      }
    }
    return;
  }
  // Real time first, then the lease clock: if the process freezes between the two reads, the
  // fence's absolute deadline (realNow + time left) only comes out earlier.
  const std::chrono::nanoseconds realNow = realtime_();
  const lease::Time now = clock_();
  if (leaseEnd <= now) {
    withdraw(index);
    return;
  }
  // Frames follow the end we were told last, even if it is earlier than one before.
  l.leaseEnd = leaseEnd;
  const bool claiming = !l.claimed;
  if (ports_.fence && l.fencedUntil != leaseEnd) {
    const auto remaining = duration_cast<milliseconds>(leaseEnd - now);
    if (remaining.count() <= 0) {
      withdraw(index);
      return;
    }
    const std::chrono::nanoseconds deadline = realNow + (leaseEnd - now);
    const auto armStart = std::chrono::steady_clock::now();
    const Status s = ports_.fence->arm(index, remaining, deadline);
    l.counters.fenceArm.observe(std::chrono::steady_clock::now() - armStart);
    if (!s) {
      ++l.counters.fenceErrors;
      fail(s);
      // A failed transaction may still have been committed (a lost ack): count it as open.
      l.openUntil = std::max(l.openUntil.value_or(leaseEnd), leaseEnd);
      // Without an open fence the addresses would answer nothing: try again on the next call.
      if (claiming) return;
    } else {
      // The fence keeps the previous arm's slot only if it ends no later than this one.
      l.openUntil = leaseEnd;
      l.fencedUntil = leaseEnd;
      if (!claiming) ++counters_.fenceRenewals;
    }
  }
  if (claiming) {
    l.claimed = true;
    l.withdrawPending = false;  // the arm just set the fence's state
    ++counters_.claims;
    spdlog::info("lease {}: claiming {} VIPs", l.name, l.vips.size());
    // The load balancer is in place before the first packet can reach the VIP.
    if (balancer_) balancer_->activate(index);
  }
  if (!l.addressesUp) {
    bool all = true;
    for (const auto& v : l.vips) {
      if (auto s = ports_.vips->add(v, std::nullopt); !s) {
        fail(s);
        all = false;
      }
    }
    l.addressesUp = all;
    if (claiming || all) {
      l.burstLeft = announceOf(l).repeat;
      l.announceTimer->cancel();
      // A stall since the clock read above can have carried us past the lease end.
      if (!announce(l)) return lapse(l);
    }
  }
  if (claiming && !l.vrrpInstances.empty()) {
    if (!sendVrrp(l, false)) return lapse(l);
    scheduleVrrp(l);
  }
}

bool DataPlane::withdraw(std::size_t index) {
  Lease& l = leases_.at(index);
  if (balancer_ && l.vips.empty()) balancer_->deactivate(index);
  if (!l.claimed && !l.addressesUp && !l.openUntil && !l.withdrawPending) return true;
  bool dark = true;
  // Shut the fence first: from this instant the kernel answers nothing for these VIPs.
  if (ports_.fence) {
    if (auto s = ports_.fence->close(index); !s) {
      ++l.counters.fenceErrors;
      fail(s);
      // The kernel still shuts the fence by itself at the deadline of the last arm (within the
      // clock-rate bound the fence assumes anyway); until then the VIPs may answer.
      if (l.openUntil && clock_() < *l.openUntil) dark = false;
    }
  }
  if (dark) l.openUntil.reset();
  l.fencedUntil.reset();
  l.announceTimer->cancel();
  l.vrrpTimer->cancel();
  l.burstLeft = 0;
  for (const auto& v : l.vips) {
    if (auto s = ports_.vips->remove(v); !s) {
      fail(s);
      // Behind a shut fence a leftover address is untidy; with no fence it answers.
      if (!ports_.fence) dark = false;
    }
  }
  // The resign advert (priority 0) hands VRRP listeners over at once, but it is a frame like
  // any other and leaves only before the lease end: after it the peer may hold, and a resign
  // from the virtual MAC (use_vmac) would pull the switch's entry for that MAC back to us,
  // while a backup that had already taken over gains nothing from it. It is VRRP's handover:
  // like Release and Handover it is not sent while the VIPs may still answer.
  if (dark && l.claimed && !l.vrrpInstances.empty()) sendVrrp(l, true);
  l.leaseEnd.reset();
  l.addressesUp = false;
  if (l.claimed) {
    ++counters_.withdrawals;
    spdlog::info("lease {}: withdrew {} VIPs", l.name, l.vips.size());
  }
  l.claimed = false;
  if (!dark && !l.withdrawPending) {
    spdlog::critical(
        "lease {}: the fence did not close: its VIPs may answer until the lease end; "
        "retrying the close at every event until then",
        l.name);
  } else if (dark && l.withdrawPending) {
    spdlog::info("lease {}: VIPs dark now", l.name);
  }
  l.withdrawPending = !dark;
  // With the VIPs gone, the services follow (or stay warm).
  if (balancer_) balancer_->deactivate(index);
  return dark;
}

void DataPlane::lapse(Lease& l) {
  ++counters_.lapses;
  spdlog::warn("lease {}: over before its next frame could leave (a stall?); withdrawing", l.name);
  withdraw(l.index);
}

void DataPlane::withdrawAll() {
  for (std::size_t i = 0; i < leases_.size(); ++i) withdraw(i);
  if (balancer_) balancer_->stop();
}

void DataPlane::resyncIpvs() {
  if (!balancer_) return;
  if (auto s = balancer_->resync(); !s) fail(s);
}

void DataPlane::reannounce(std::size_t index) {
  Lease& l = leases_.at(index);
  if (!l.claimed || !l.addressesUp) return;
  l.announceTimer->cancel();
  l.burstLeft = announceOf(l).repeat;
  if (!announce(l)) lapse(l);
}

void DataPlane::peerReachableAgain() {
  for (auto& l : leases_) {
    if (!l.claimed) continue;
    ++counters_.reannouncements;
    reannounce(l.index);
  }
}

bool DataPlane::sendFrame(Lease& l, int ifindex, const std::vector<std::uint8_t>& frame,
                          std::uint64_t& sent) {
  // The clock is read after everything else the frame needed, so a stall anywhere before
  // this line cannot carry a frame past the lease end; one after it is the send itself.
  if (!config_.testFaults.ungatedFrames && (!l.leaseEnd || clock_() >= *l.leaseEnd)) {
    ++counters_.framesSuppressed;
    return false;
  }
  if (auto s = ports_.announcer->send(ifindex, frame); !s) {
    fail(s);
  } else {
    ++sent;
  }
  return true;
}

const AnnounceConfig& DataPlane::announceOf(const Lease& l) const {
  // A data plane built in code may have fewer leases in its configuration than slots.
  return l.index < config_.leases.size() ? config_.leases[l.index].announce : config_.announce;
}

bool DataPlane::announce(Lease& l) {
  if (!l.claimed) return true;
  // One frame per VIP per round, on the VIP's device with that device's MAC.
  std::set<std::string> missing;
  for (const auto& v : l.vips) {
    const auto link = ports_.links->get(v.device);
    if (!link) {
      if (missing.insert(v.device).second) fail(link.status());
      continue;
    }
    const kernel::Frame f = v.prefix.address.isV4()
                                ? kernel::gratuitousArp(link->mac, v.prefix.address)
                                : kernel::unsolicitedNa(link->mac, v.prefix.address);
    const std::uint64_t sent = counters_.announcements;
    if (!sendFrame(l, link->index, f, counters_.announcements)) return false;
    l.counters.announcements += counters_.announcements - sent;
  }
  if (l.burstLeft > 0) --l.burstLeft;
  scheduleAnnouncements(l);
  return true;
}

void DataPlane::scheduleAnnouncements(Lease& l) {
  std::optional<milliseconds> next;
  if (l.burstLeft > 0) {
    next = announceOf(l).interval;
  } else if (announceOf(l).refresh) {
    next = *announceOf(l).refresh;
  }
  if (!next) return;
  l.announceTimer->expires_after(*next);
  l.announceTimer->async_wait([this, &l](const boost::system::error_code& ec) {
    if (!ec && !announce(l)) lapse(l);
  });
}

bool DataPlane::sendVrrp(Lease& l, bool resign) {
  for (const std::string& name : l.vrrpInstances) {
    const InstanceConfig* inst = &config_.instance(name);
    // One advert per family, from the device's own (non-VIP) address, as keepalived does.
    for (int family : {AF_INET, AF_INET6}) {
      std::vector<net::IpAddress> addrs;
      std::string device;
      for (const auto& v : inst->vips) {
        if (v.prefix.address.family == family) {
          addrs.push_back(v.prefix.address);
          // With use_vmac the adverts leave through the macvlan, from the virtual MAC.
          device = inst->vrrp->useVmac ? inst->vrrp->vmacName() : v.device;
        }
      }
      if (addrs.empty()) continue;
      const auto link = ports_.links->get(device);
      const auto own = ports_.vips->list(ownDevice(device));
      if (!link || !own) {
        fail(link ? own.status() : link.status());
        continue;
      }
      std::optional<net::IpAddress> source;
      for (const auto& a : *own) {
        const auto& ip = a.prefix.address;
        if (ip.family != family || std::find(addrs.begin(), addrs.end(), ip) != addrs.end())
          continue;
        // IPv6 adverts come from the link-local address (RFC 5798 5.1.2.1).
        if (family == AF_INET6 && !(ip.bytes[0] == 0xfe && (ip.bytes[1] & 0xc0) == 0x80)) continue;
        source = ip;
        break;
      }
      if (!source) {
        fail(Status::fail(EADDRNOTAVAIL, "VRRP advert for instance " + inst->name +
                                             ": no own address on " + device));
        continue;
      }
      kernel::VrrpAdvert ad;
      ad.vrid = inst->vrrp->vrid;
      ad.priority = resign ? 0 : inst->vrrp->priority;
      ad.interval = inst->vrrp->advertInterval;
      ad.source = *source;
      ad.addresses = addrs;
      if (!sendFrame(l, link->index, kernel::vrrpAdvert(link->mac, ad), counters_.vrrpAdverts)) {
        return false;
      }
    }
  }
  return true;
}

std::string DataPlane::ownDevice(const std::string& device) const {
  for (const auto& m : vmacs_) {
    if (m.name == device) return m.parent;
  }
  return device;
}

void DataPlane::scheduleVrrp(Lease& l) {
  milliseconds interval = milliseconds::max();
  for (const auto& name : l.vrrpInstances) {
    interval = std::min(interval, config_.instance(name).vrrp->advertInterval);
  }
  l.vrrpTimer->expires_after(interval);
  l.vrrpTimer->async_wait([this, &l](const boost::system::error_code& ec) {
    if (ec || !l.claimed) return;
    if (!sendVrrp(l, false)) return lapse(l);
    scheduleVrrp(l);
  });
}

}  // namespace quorate::server
