// Drifting node clocks: integer arithmetic so that conversions are exact and reproducible.
#include "sim/clock.h"

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

std::int64_t DriftClock::drift(RealTime real) const {
  // real * ppb can overflow 64 bits for long runs; split off whole seconds first.
  const std::int64_t seconds = floorDiv(real, kBillion);
  const std::int64_t rest = real - seconds * kBillion;  // in [0, 1e9)
  return seconds * ppb_ + floorDiv(rest * ppb_, kBillion);
}

lease::Time DriftClock::local(RealTime real) const {
  return lease::Time(lease::Duration(offset_ + real + drift(real)));
}

RealTime DriftClock::realAt(lease::Time t) const {
  const std::int64_t target = t.time_since_epoch().count();
  // Far beyond any run (e.g. Time::max() for "no deadline").
  constexpr std::int64_t kHorizon = std::int64_t{1} << 60;
  if (target >= kHorizon || target - offset_ >= kHorizon) return kNever;
  const auto reached = [&](RealTime r) { return local(r).time_since_epoch().count() >= target; };
  // The double estimate is off by a few ns at most; the exact search below fixes it.
  RealTime hi = static_cast<RealTime>(std::floor(static_cast<double>(target - offset_) / rate()));
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
  ppb_ = ppb;
  offset_ = 0;
  offset_ = reading.time_since_epoch().count() - local(real).time_since_epoch().count();
}

}  // namespace quorate::sim
