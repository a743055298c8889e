// Lock-free request accounting for the arbiter's metrics.
#include "arbiter/metrics_stats.h"

namespace quorate::arbiter {

std::size_t RequestStats::outcomeOf(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 0;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 1;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return 2;
    case grpc::StatusCode::FAILED_PRECONDITION:
      return 3;
    case grpc::StatusCode::UNAVAILABLE:
      return 4;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 5;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 6;
    default:
      return 7;
  }
}

RequestStats::RequestStats(const std::vector<std::string>& clusters) {
  for (const auto& c : clusters) clusters_.emplace(c, std::make_unique<PerCluster>());
}

void RequestStats::add(const std::string& cluster) {
  std::unique_lock lock(mu_);
  if (!clusters_.count(cluster)) clusters_.emplace(cluster, std::make_unique<PerCluster>());
}

void RequestStats::record(const std::string& cluster, grpc::StatusCode code,
                          std::chrono::nanoseconds took) {
  std::shared_lock lock(mu_);
  const auto it = clusters_.find(cluster);
  if (it == clusters_.end()) return;
  it->second->byOutcome[outcomeOf(code)].fetch_add(1, std::memory_order_relaxed);
  it->second->latency.observe(took);
}

std::map<std::string, RequestStats::Snapshot> RequestStats::snapshot() const {
  std::map<std::string, Snapshot> out;
  std::shared_lock lock(mu_);
  for (const auto& [name, c] : clusters_) {
    Snapshot s{{}, c->latency.snapshot()};
    for (std::size_t i = 0; i < kOutcomes.size(); ++i) {
      s.byOutcome[i] = c->byOutcome[i].load(std::memory_order_relaxed);
    }
    out.emplace(name, std::move(s));
  }
  return out;
}

}  // namespace quorate::arbiter
