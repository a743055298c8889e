// Histograms for the metrics: a plain one for a single thread (the director's loop observes
// and snapshots on its own thread) and a lock-free one for many threads (the arbiter's gRPC
// threads), which yields a plain copy for a scrape.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace quorate::metrics {

// Bucket upper bounds, in seconds, for latencies from 100 us to 10 s.
std::vector<double> latencyBuckets();
// Bucket upper bounds, in seconds, for one kernel call: 10 us to 250 ms.
std::vector<double> kernelCallBuckets();

class Histogram {
 public:
  // `bounds`: the upper bounds of the buckets, ascending, finite; +Inf is implied. Throws
  // std::invalid_argument otherwise.
  explicit Histogram(std::vector<double> bounds = latencyBuckets());

  void observe(double value);
  void observe(std::chrono::nanoseconds d) { observe(std::chrono::duration<double>(d).count()); }

  const std::vector<double>& bounds() const { return bounds_; }
  // Observations per bucket, not cumulative: counts()[i] for bounds()[i], the last for +Inf.
  const std::vector<std::uint64_t>& counts() const { return counts_; }
  double sum() const { return sum_; }
  std::uint64_t count() const;

 private:
  friend class AtomicHistogram;
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;
  double sum_ = 0;
};

// observe() from any thread without a lock; snapshot() is a consistent-enough copy (each
// bucket read once; the sum may trail the counts by observations in flight).
class AtomicHistogram {
 public:
  explicit AtomicHistogram(std::vector<double> bounds = latencyBuckets());
  void observe(double value);
  void observe(std::chrono::nanoseconds d) { observe(std::chrono::duration<double>(d).count()); }
  Histogram snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

}  // namespace quorate::metrics
