// The director's data plane: what holding a lease means on this machine. For each lease it
// owns the VIPs of its instances and the virtual servers that follow them: fence first, then
// IPVS, then addresses, then announcements; and on losing the lease the reverse, fence shut
// before anything else. No frame of ours (GARP, NA, VRRP) leaves after the lease end: frames
// go out through AF_PACKET, which the fence does not see. Only the kernel ports
// (server/kernel) touch the system; this logic is tested with recording fakes.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/metrics/histogram.h"
#include "lease/types.h"
#include "server/config.h"
#include "server/ipvs/balancer.h"
#include "server/kernel/announcer.h"
#include "server/kernel/fence.h"
#include "server/kernel/ipvs.h"
#include "server/kernel/links.h"
#include "server/kernel/ports.h"
#include "server/kernel/vips.h"

namespace quorate::server {

class DataPlane {
 public:
  using Clock = std::function<lease::Time()>;
  // CLOCK_REALTIME since the epoch: only for the fence's absolute deadline.
  using RealtimeClock = std::function<std::chrono::nanoseconds()>;
  DataPlane(const DirectorConfig& config, KernelPorts ports, boost::asio::io_context& io,
            Clock clock, RealtimeClock realtime = realtimeNow);
  ~DataPlane();

  // Start-up, before any lease can be held: closes the fence over every configured VIP
  // (replacing whatever an earlier run left) and removes the VIPs from their devices.
  // A failure here means the director must not run: the status names what failed.
  Status start();

  // Lease `index` (in config.leases) is held until `leaseEnd` (local clock). The first call
  // claims: opens the fence until leaseEnd, adds the addresses, starts announcing. Later calls
  // move the fence's expiry with the lease. Failures are logged and counted; the next call
  // retries what is missing. Every frame is sent only if the clock, read just before it, is
  // before the leaseEnd of the latest call; an announcement or advert timer that finds the
  // lease over withdraws it instead.
  void hold(std::size_t index, lease::Time leaseEnd);
  // Lease `index` is not held (any more): shuts its fence at once, then removes its addresses
  // and stops announcing. Returns whether its VIPs are dark: the fence closed (or, without a
  // fence, every address removed). False means they may still answer: the close failed while
  // the fence's own deadline is still ahead, so the caller must not tell the acceptors the
  // lease is free (Release, Handover) but let it lapse. Each later call retries the close
  // until it succeeds or that deadline passes. Otherwise idempotent.
  bool withdraw(std::size_t index);
  // The VIPs of lease `lease` in `config`, as the data plane places them (on the macvlan with
  // use_vmac), in the order of its instances.
  static std::vector<net::Vip> leaseVips(const DirectorConfig& config, const LeaseConfig& lease);
  // A reload: lease `index`'s VIPs become `vips` (leaseVips() of the new file), its gate, its
  // other VIPs and every other lease untouched. The fence first (Fence::update(): a removed VIP
  // dark, an added one under the lease's gate), then the removed addresses go (and leave the
  // fence once gone), then, if the lease is held, the added ones go up and the lease announces.
  // A fence that refuses changes nothing (the error is returned; the fence is given the old VIPs
  // again in case the failure came after a commit); a failed address is logged and
  // counted (an added one is retried at the next renewal; a removed one stays fenced dark).
  // Call it on the loop thread, with the same VRRP instances (the caller updates their VIPs).
  Status updateVips(std::size_t index, const std::vector<net::Vip>& vips);
  // A reload adds a lease: it takes the next index, its VIPs those of `lease` in the
  // configuration (whose instances the caller added first), gated closed in the fence (a new
  // group, Fence::update()) before any of them can be on a device. Not held: hold() claims it
  // later. A fence that refuses adds nothing (the error is returned). No use_vmac instance.
  Status addLease(const LeaseConfig& lease);
  // A reload removes lease `index` (the lease host stepped it down): withdrawn if it is not yet
  // (fence closed first, then the addresses off), its addresses retired in the fence (dark
  // whatever its gate says), then, once off every device, let go of by the fence. The index
  // stays, with no VIP, and is never claimed again. An error names what is left: an address
  // still fenced dark, or a close that failed (then the VIPs may answer until the fence's own
  // deadline, as in withdraw()).
  Status retireLease(std::size_t index);
  // Whether retireLease(index) left something behind (an address still up or fenced): calling
  // it again retries that, leaving alone an address another lease has taken since.
  bool retiring(std::size_t index) const {
    return leases_.at(index).retired && !leases_.at(index).vips.empty();
  }
  // Withdraws every lease (shutdown).
  void withdrawAll();
  // Announces the lease's VIPs again (a partition healed, or an operator asked).
  void reannounce(std::size_t index);
  // A peer was heard again after a silence: a partition may have healed, and whoever was cut
  // off with it may keep stale neighbour entries, so every claimed lease announces again.
  void peerReachableAgain();
  // Re-reads IPVS and repairs drift; refreshes the counters of balancer()->view(). Periodic.
  void resyncIpvs();
  // The virtual servers (null without any).
  const ipvs::Balancer* balancer() const { return balancer_.get(); }
  ipvs::Balancer* balancer() { return balancer_.get(); }

  bool claimed(std::size_t index) const { return leases_.at(index).claimed; }
  std::vector<net::Vip> vipsOf(std::size_t index) const;

  struct Counters {
    std::uint64_t claims = 0;
    std::uint64_t withdrawals = 0;
    std::uint64_t fenceRenewals = 0;
    std::uint64_t announcements = 0;  // frames sent
    std::uint64_t vrrpAdverts = 0;
    std::uint64_t kernelErrors = 0;
    std::uint64_t framesSuppressed = 0;  // not sent: the lease had ended (resigns included)
    std::uint64_t lapses = 0;            // withdrawals a frame timer made at the lease end
    std::uint64_t reannouncements = 0;   // leases announced again after a peer came back
  };
  const Counters& counters() const { return counters_; }
  // Per lease, for the metrics (the loop thread).
  struct LeaseCounters {
    std::uint64_t announcements = 0;  // GARP / NA frames sent for its VIPs
    std::uint64_t fenceErrors = 0;    // arms and closes of its fence group that failed
    metrics::Histogram fenceArm{metrics::kernelCallBuckets()};  // seconds per arm() call
  };
  const LeaseCounters& leaseCounters(std::size_t index) const { return leases_.at(index).counters; }

 private:
  struct Lease {
    std::string name;
    std::vector<net::Vip> vips;
    std::vector<net::IpAddress> addresses;
    std::vector<std::string> vrrpInstances;  // names: the configuration's vector may move
    bool retired = false;                    // removed by a reload: never claimed again
    std::size_t index = 0;
    bool claimed = false;
    bool addressesUp = false;
    std::optional<lease::Time> fencedUntil;  // what the fence was last armed to
    // The latest end any arm since the last good close asked for: the fence may be open until
    // then (an arm that failed may still have reached the kernel). Set while a close is owed.
    std::optional<lease::Time> openUntil;
    bool withdrawPending = false;         // the last withdraw left the VIPs possibly answering
    std::optional<lease::Time> leaseEnd;  // frames may leave only before this
    int burstLeft = 0;
    std::unique_ptr<boost::asio::steady_timer> announceTimer;
    std::unique_ptr<boost::asio::steady_timer> vrrpTimer;
    LeaseCounters counters;
  };

  void fail(const Status& s);
  // Sends one frame, if the clock read just before it is before the lease end; false (and
  // counted as suppressed) otherwise.
  bool sendFrame(Lease& l, int ifindex, const std::vector<std::uint8_t>& frame,
                 std::uint64_t& sent);
  // Both return false when the lease was over before a frame could leave.
  bool announce(Lease& l);
  // The lease's own announcement settings (its `announce:` over the top-level one), read at
  // each burst and refresh so that a reload takes effect at the next.
  const AnnounceConfig& announceOf(const Lease& l) const;
  bool sendVrrp(Lease& l, bool resign);
  void scheduleAnnouncements(Lease& l);
  void scheduleVrrp(Lease& l);
  // A frame timer found the lease over: the data plane withdraws on its own.
  void lapse(Lease& l);
  // Lease `lc` as the data plane keeps it (index: where it goes).
  Lease makeLease(const LeaseConfig& lc, std::size_t index);

  struct Vmac {
    std::string name;  // "vrrp.<vrid>"
    std::string parent;
    net::MacAddress mac{};
    bool ipv4 = true;
  };
  // The interface whose own addresses VRRP adverts come from: the parent of a vmac.
  std::string ownDevice(const std::string& device) const;

  const DirectorConfig& config_;
  std::vector<Vmac> vmacs_;
  KernelPorts ports_;
  boost::asio::io_context& io_;
  Clock clock_;
  RealtimeClock realtime_;
  // A deque: a lease added by a reload must not move the others (their timers point at them).
  std::deque<Lease> leases_;
  std::unique_ptr<ipvs::Balancer> balancer_;
  Counters counters_;
};

}  // namespace quorate::server
