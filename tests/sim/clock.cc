// Drifting node clocks: integer arithmetic so that conversions are exact and reproducible.
#include "sim/clock.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>

namespace quorate::sim {
namespace {

constexpr std::int64_t kBillion = 1'000'000'000;

std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

std::string formatReal(RealTime t) {
  if (t == kNever) return "never";
  char buf[48];
  const char* sign = t < 0 ? "-" : "";
  const std::uint64_t a = t < 0 ? -static_cast<std::uint64_t>(t) : static_cast<std::uint64_t>(t);
  std::snprintf(buf, sizeof buf, "%s%" PRIu64 ".%09" PRIu64 "s", sign, a / kBillion, a % kBillion);
  return buf;
}

std::string formatDuration(lease::Duration d) { return formatReal(d.count()); }

std::int64_t DriftClock::drift(RealTime sinceBase) const {
  // sinceBase * ppb can overflow 64 bits for long runs; split off whole seconds first.
  const std::int64_t seconds = floorDiv(sinceBase, kBillion);
  const std::int64_t rest = sinceBase - seconds * kBillion;  // in [0, 1e9)
  return seconds * ppb_ + floorDiv(rest * ppb_, kBillion);
}

lease::Time DriftClock::local(RealTime real) const {
  if (stopped_) return lease::Time(lease::Duration(offset_));
  const RealTime since = real - base_;
  return lease::Time(lease::Duration(offset_ + since + drift(since)));
}

RealTime DriftClock::realAt(lease::Time t) const {
  const std::int64_t target = t.time_since_epoch().count();
  // Far beyond any run (e.g. Time::max() for "no deadline").
  constexpr std::int64_t kHorizon = std::int64_t{1} << 60;
  if (target >= kHorizon || target - offset_ >= kHorizon) return kNever;
  // Stopped: every reading up to the stopped one was reached by the stop at the latest.
  if (stopped_) return target <= offset_ ? base_ : kNever;
  // Readings from before the segment extrapolate it backwards: still monotone in t, and
  // callers only ever use the answer as "not later than now".
  const auto reached = [&](RealTime r) { return local(r).time_since_epoch().count() >= target; };
  // The double estimate is off by a few ns at most; the exact search below fixes it.
  RealTime hi =
      base_ + static_cast<RealTime>(std::floor(static_cast<double>(target - offset_) / rate()));
  for (std::int64_t step = 1; !reached(hi); step *= 2) hi += step;
  RealTime lo = hi - 1;
  for (std::int64_t step = 1; reached(lo); step *= 2) lo -= step;
  // Invariant: !reached(lo) && reached(hi); local() is non-decreasing in real time.
  while (hi - lo > 1) {
    const RealTime mid = lo + (hi - lo) / 2;
    (reached(mid) ? hi : lo) = mid;
  }
  return hi;
}

void DriftClock::reset(RealTime real, lease::Time reading, std::int64_t ppb) {
  // Anchored at real instant 0, as before segments existed, so that schedules without
  // clock faults run exactly as they always did.
  ppb_ = ppb;
  stopped_ = false;
  base_ = 0;
  offset_ = 0;
  offset_ = reading.time_since_epoch().count() - local(real).time_since_epoch().count();
}

void DriftClock::rebase(RealTime real, std::int64_t reading) {
  base_ = real;
  offset_ = reading;
}

void DriftClock::setRate(RealTime real, std::int64_t ppb) {
  if (!stopped_) rebase(real, local(real).time_since_epoch().count());
  ppb_ = ppb;
}

void DriftClock::stop(RealTime real) {
  if (stopped_) return;
  rebase(real, local(real).time_since_epoch().count());
  stopped_ = true;
}

void DriftClock::start(RealTime real) {
  if (!stopped_) return;
  stopped_ = false;
  base_ = real;  // offset_ holds the reading it stopped at
}

void DriftClock::jump(RealTime real, lease::Duration by) {
  const std::int64_t reading = local(real).time_since_epoch().count();
  const bool wasStopped = stopped_;
  stopped_ = false;
  rebase(real, reading + std::max<std::int64_t>(0, by.count()));
  stopped_ = wasStopped;
}

}  // namespace quorate::sim
