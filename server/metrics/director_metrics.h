// The director's /metrics: on each scrape the endpoint's thread asks the loop thread (and the
// checks' thread) for a copy of what they own, waits a bounded time, and renders it. Nothing in
// the lease path takes a lock for it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "common/metrics/config.h"
#include "common/metrics/exposition.h"
#include "common/metrics/http_endpoint.h"
#include "common/status.h"
#include "server/check/checker.h"
#include "server/dataplane.h"
#include "server/hooks/lease_hooks.h"
#include "server/lease_host.h"

namespace quorate::server {

// Where a scrape's values live, and how to reach the threads that own them. Everything must
// outlive the DirectorMetrics.
struct DirectorMetricsSources {
  const LeaseHost* host = nullptr;
  const DataPlane* dataPlane = nullptr;                 // null without VIPs or virtual servers
  const hooks::LeaseHooks* hooks = nullptr;             // null: no hook metrics
  const check::HealthChecks* checks = nullptr;          // null without health checks
  std::function<void(std::function<void()>)> onLoop;    // runs a task on the loop thread
  std::function<void(std::function<void()>)> onChecks;  // on the checks' thread
};

// One scrape's values, copied on the threads that own them.
struct DirectorView {
  HostSnapshot host;
  std::vector<LeaseStats::Lease> leases;            // by lease index
  std::vector<DataPlane::LeaseCounters> dataPlane;  // by lease index; empty without one
  hooks::LeaseHooks::Counters hooks;
  std::uint64_t persistFailures = 0, identityConflicts = 0;
  std::vector<check::HealthChecks::ServerStats> checks;
};

// The families of `v` (pure: the tests build views by hand).
void addDirectorMetrics(metrics::Exposition& e, const DirectorView& v);

class DirectorMetrics {
 public:
  // How long a scrape waits for each thread before it answers 503.
  static constexpr std::chrono::milliseconds kThreadWait{2000};

  // Listens on config.listen; the error names the address.
  static Result<std::unique_ptr<DirectorMetrics>> start(const metrics::MetricsConfig& config,
                                                        DirectorMetricsSources sources);
  void stop();
  int port() const { return endpoint_->port(); }

 private:
  explicit DirectorMetrics(DirectorMetricsSources sources) : sources_(std::move(sources)) {}
  Result<std::string> scrape() const;

  DirectorMetricsSources sources_;
  std::unique_ptr<metrics::HttpEndpoint> endpoint_;
};

}  // namespace quorate::server
