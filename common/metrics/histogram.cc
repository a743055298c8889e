// Bucket search and the two histograms' bookkeeping.
#include "common/metrics/histogram.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace quorate::metrics {
namespace {

void checkBounds(const std::vector<double>& bounds) {
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
      throw std::invalid_argument("histogram bounds must be finite and ascending");
    }
  }
}

// The bucket of `value`: the first bound at or above it, else +Inf's (NaN lands there too).
std::size_t bucketOf(const std::vector<double>& bounds, double value) {
  if (std::isnan(value)) return bounds.size();
  return static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), value) -
                                  bounds.begin());
}

}  // namespace

std::vector<double> latencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

std::vector<double> kernelCallBuckets() {
  return {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
          0.0025,  0.005,    0.01,    0.025,  0.05,    0.1,    0.25};
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  checkBounds(bounds_);
  counts_.assign(bounds_.size() + 1, 0);
}

void Histogram::observe(double value) {
  ++counts_[bucketOf(bounds_, value)];
  sum_ += value;
}

std::uint64_t Histogram::count() const {
  return std::accumulate(counts_.begin(), counts_.end(), std::uint64_t{0});
}

AtomicHistogram::AtomicHistogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  checkBounds(bounds_);
}

void AtomicHistogram::observe(double value) {
  counts_[bucketOf(bounds_, value)].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram AtomicHistogram::snapshot() const {
  Histogram h(bounds_);
  for (std::size_t i = 0; i < h.counts_.size(); ++i) {
    h.counts_[i] = counts_[i].load(std::memory_order_relaxed);
  }
  h.sum_ = sum_.load(std::memory_order_relaxed);
  return h;
}

}  // namespace quorate::metrics
