// Watchdog self-fencing: the petting rule, its timing condition and the timer that pets.
#include "server/watchdog.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <sstream>

namespace quorate::server {
namespace {

double ms(lease::Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

bool petAllowed(lease::Time now, lease::Duration timeout, lease::Duration margin,
                std::optional<lease::Time> earliestHeldLeaseEnd) {
  if (!earliestHeldLeaseEnd) return true;
  return now + timeout + margin <= *earliestHeldLeaseEnd;
}

lease::Duration watchdogMargin(const WatchdogConfig& w, double rho) {
  const double driftNs =
      2 * rho * static_cast<double>(lease::Duration(w.timeout).count()) / (1 - rho);
  const auto driftMs = static_cast<std::int64_t>(std::ceil(driftNs / 1e6));
  return w.margin + std::chrono::milliseconds(driftMs);
}

std::optional<std::string> watchdogTimingProblem(const WatchdogConfig& w,
                                                 const lease::Timing& timing) {
  std::ostringstream why;
  const lease::Duration margin = watchdogMargin(w, timing.rho);
  if (w.timeout + margin + timing.renewInterval > timing.holderLease) {
    why << "timeout_ms + margin + renew_interval_ms must be <= holder_lease_ms, so that a hung "
           "holder reboots before its lease ends: "
        << w.timeout.count() << " + " << ms(margin) << " (margin_ms " << w.margin.count()
        << " + drift 2*rho*timeout/(1-rho)) + " << ms(timing.renewInterval) << " = "
        << ms(w.timeout + margin + timing.renewInterval) << " > " << ms(timing.holderLease)
        << "; lower timeout_ms to at most "
        << std::floor(ms(timing.holderLease - timing.renewInterval - margin))
        << " or lengthen the lease";
    return why.str();
  }
  if (3 * w.interval > w.timeout) {
    why << "interval_ms must be at most a third of timeout_ms, so that a late pet does not let "
           "the countdown end: "
        << w.interval.count() << " > " << w.timeout.count() << " / 3";
    return why.str();
  }
  return std::nullopt;
}

Watchdog::Watchdog(boost::asio::io_context& io, kernel::WatchdogDevice& device,
                   std::chrono::milliseconds interval, lease::Duration margin, Clock clock,
                   HeldLeaseEnd heldLeaseEnd, bool ungated)
    : timer_(io),
      device_(device),
      interval_(interval),
      margin_(margin),
      clock_(std::move(clock)),
      heldLeaseEnd_(std::move(heldLeaseEnd)),
      ungated_(ungated) {}

void Watchdog::start() {
  running_ = true;
  tick();
  schedule();
}

void Watchdog::stop() {
  running_ = false;
  timer_.cancel();
}

void Watchdog::schedule() {
  if (!running_) return;
  timer_.expires_after(interval_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !running_) return;
    tick();
    schedule();
  });
}

bool Watchdog::tick() {
  // The clock is read right before the pet: what the rule promises holds from this read, and
  // the pet reaches the device a little later (the margin's allowance covers that).
  const lease::Time now = clock_();
  const auto leaseEnd = heldLeaseEnd_();
  const lease::Duration timeout = device_.timeout();
  if (!ungated_ && !petAllowed(now, timeout, margin_, leaseEnd)) {
    ++counters_.refusals;
    if (refusedRun_++ == 0) {
      spdlog::warn(
          "watchdog {}: not petting: the held lease ends in {:.0f} ms, less than the timeout {} "
          "ms + margin {:.0f} ms; the host reboots within {} ms unless the lease is renewed",
          device_.path(), ms(*leaseEnd - now), device_.timeout().count(), ms(margin_),
          device_.timeout().count());
    }
    return false;
  }
  if (const Status st = device_.pet(); !st) {
    ++counters_.petFailures;
    if (failedRun_++ == 0) spdlog::error("{}: the host may reboot", st.message());
    return false;
  }
  ++counters_.pets;
  if (refusedRun_ > 0 || failedRun_ > 0) {
    spdlog::info("watchdog {}: petting again after {} refused and {} failed pets", device_.path(),
                 refusedRun_, failedRun_);
  }
  refusedRun_ = 0;
  failedRun_ = 0;
  return true;
}

}  // namespace quorate::server
