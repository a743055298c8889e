// Safety oracle for simulated histories: one holder per real instant, tenure epochs that grow.
#include "sim/checker.h"

#include <utility>

namespace quorate::sim {
namespace {

std::string describe(const HolderView& h) {
  return "n" + std::to_string(h.node) + " (epoch " + std::to_string(h.epoch) + ", " +
         formatDuration(h.remaining) + " left)";
}

}  // namespace

void Checker::fail(RealTime at, std::string what) {
  if (!violation_) violation_ = Violation{at, std::move(what)};
}

void Checker::onTenure(RealTime at, lease::NodeId node, std::uint64_t epoch) {
  ++tenureCount_;
  if (highest_ && epoch <= highest_->epoch) {
    fail(at, "tenure of n" + std::to_string(node) + " with epoch " + std::to_string(epoch) +
                 " is not above the earlier tenure of n" + std::to_string(highest_->node) +
                 " with epoch " + std::to_string(highest_->epoch) + " (at " +
                 formatReal(highest_->at) + ")");
  }
  if (!highest_ || epoch > highest_->epoch) highest_ = Tenure{at, node, epoch};
  if (node < lease::kNodeCount) current_[node] = epoch;
}

void Checker::onCrash(lease::NodeId node) {
  if (node < lease::kNodeCount) current_[node].reset();
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
        h.node < lease::kNodeCount ? current_[h.node] : std::nullopt;
    if (!tenure || *tenure != h.epoch) {
      fail(at, "holder " + describe(h) + " without a tenure for that epoch (current tenure: " +
                   (tenure ? std::to_string(*tenure) : std::string("none")) + ")");
    }
  }
}

}  // namespace quorate::sim
