// The arbiter's /metrics: per cluster and lease the epoch, holder and time left, each
// director's last contact, and requests by outcome with their latency.
#pragma once

#include <memory>
#include <string>

#include "arbiter/arbiter_service.h"
#include "common/metrics/config.h"
#include "common/metrics/http_endpoint.h"
#include "common/status.h"

namespace quorate::arbiter {

// The text of a scrape; `clock` is the lease clock, read under each cluster's lock.
std::string renderArbiterMetrics(const ArbiterService& service, const ArbiterService::Clock& clock);

// Serves renderArbiterMetrics on config.listen; the error names the address. `service` must
// outlive the endpoint.
Result<std::unique_ptr<metrics::HttpEndpoint>> startArbiterMetrics(
    const metrics::MetricsConfig& config, const ArbiterService& service);

}  // namespace quorate::arbiter
