// Safety oracle for simulated histories: one holder per real instant, tenure epochs that grow.
#include "sim/checker.h"

#include <utility>

namespace quorate::sim {
namespace {

std::string describe(const HolderView& h) {
  return procName(h.proc) + " (epoch " + std::to_string(h.epoch) + ", " +
         formatDuration(h.remaining) + " left)";
}

}  // namespace

std::string procName(ProcId p) {
  if (p == kCloneProc) return "n0'";
  return "n" + std::to_string(p);
}

void Checker::fail(RealTime at, std::string what) {
  if (!violation_) violation_ = Violation{at, std::move(what)};
}

void Checker::onTenure(RealTime at, ProcId proc, std::uint64_t epoch) {
  ++tenureCount_;
  if (checkEpochOrder_ && highest_ && epoch <= highest_->epoch) {
    fail(at, "tenure of " + procName(proc) + " with epoch " + std::to_string(epoch) +
                 " is not above the earlier tenure of " + procName(highest_->proc) +
                 " with epoch " + std::to_string(highest_->epoch) + " (at " +
                 formatReal(highest_->at) + ")");
  }
  if (!highest_ || epoch > highest_->epoch) highest_ = Tenure{at, proc, epoch};
  if (proc < kMaxProcs) current_[proc] = epoch;
}

void Checker::onCrash(ProcId proc) {
  if (proc < kMaxProcs) current_[proc].reset();
}

void Checker::onAnnounce(RealTime at, ProcId proc, std::span<const HolderView> holders) {
  bool senderHolds = false;
  for (const auto& h : holders) senderHolds = senderHolds || h.proc == proc;
  if (senderHolds || holders.empty()) return;
  fail(at, procName(proc) + " announced the VIPs although it does not hold, while " +
               describe(holders.front()) + " holds");
}

void Checker::onHolders(RealTime at, std::span<const HolderView> holders) {
  if (at < lastSample_) {
    fail(at, "checker fed out of order: " + formatReal(lastSample_) + " then " + formatReal(at));
  }
  lastSample_ = at;
  if (holders.size() >= 2) {
    std::string what = "two holders at once:";
    for (const auto& h : holders) what += " " + describe(h);
    fail(at, what);
  }
  for (const auto& h : holders) {
    if (h.remaining > holderLease_) {
      fail(at, "holder " + describe(h) + " believes in more than holderLease " +
                   formatDuration(holderLease_));
    }
    const std::optional<std::uint64_t> tenure =
        h.proc < kMaxProcs ? current_[h.proc] : std::nullopt;
    if (!tenure || *tenure != h.epoch) {
      fail(at, "holder " + describe(h) + " without a tenure for that epoch (current tenure: " +
                   (tenure ? std::to_string(*tenure) : std::string("none")) + ")");
    }
  }
}

}  // namespace quorate::sim
