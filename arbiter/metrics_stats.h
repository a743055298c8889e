// The arbiter's request counters by cluster and outcome, and their latency: recorded by every
// gRPC thread without a lock, read by a scrape.
#pragma once

#include <grpcpp/grpcpp.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/metrics/histogram.h"

namespace quorate::arbiter {

class RequestStats {
 public:
  // What a request came to, from the status it was answered with.
  static constexpr std::array<const char*, 8> kOutcomes = {
      "ok",          "unauthenticated", "invalid", "conflict",
      "unavailable", "exhausted",       "denied",  "error"};
  static std::size_t outcomeOf(grpc::StatusCode code);

  explicit RequestStats(const std::vector<std::string>& clusters);
  // A cluster added by a reload. A removed cluster keeps its counters (they only grow), and
  // its requests are unknown-cluster ones from then on, which the service counts itself.
  void add(const std::string& cluster);
  // A request naming `cluster` was answered with `code` after `took`; an unknown cluster is not
  // recorded here (the service counts those: a stranger's names must not become labels).
  void record(const std::string& cluster, grpc::StatusCode code, std::chrono::nanoseconds took);

  struct Snapshot {
    std::array<std::uint64_t, kOutcomes.size()> byOutcome{};
    metrics::Histogram latency;
  };
  std::map<std::string, Snapshot> snapshot() const;

 private:
  struct PerCluster {
    std::array<std::atomic<std::uint64_t>, kOutcomes.size()> byOutcome{};
    metrics::AtomicHistogram latency;
  };
  // Shared by every request (record), exclusive only when a reload adds a cluster.
  mutable std::shared_mutex mu_;
  std::map<std::string, std::unique_ptr<PerCluster>> clusters_;
};

}  // namespace quorate::arbiter
