// The agreed arbiter metric names (docs/metrics.md), read under each cluster's own lock and from
// lock-free counters: a scrape never holds up a request for longer than one cluster's copy.
#include "arbiter/metrics.h"

#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "common/metrics/build_info.h"
#include "common/metrics/exposition.h"

namespace quorate::arbiter {

std::string renderArbiterMetrics(const ArbiterService& service,
                                 const ArbiterService::Clock& clock) {
  metrics::Exposition e;
  metrics::addBuildInfo(e);
  auto& epoch = e.gauge("quorate_arbiter_lease_epoch",
                        "The lease's epoch at the arbiter: the live lease's, else the highest "
                        "accepted.");
  auto& holder = e.gauge("quorate_arbiter_lease_holder",
                         "1 for the director the arbiter's live lease belongs to (absent: none).");
  auto& remaining = e.gauge("quorate_arbiter_lease_remaining_seconds",
                            "Time left of the arbiter's live lease (0: none).");
  auto& contact = e.gauge("quorate_arbiter_last_contact_seconds",
                          "Seconds since the director's last request that was answered OK.");
  for (const auto& c : service.snapshot(clock)) {
    for (const auto& l : c.leases) {
      const metrics::Labels lease{{"cluster", c.id}, {"lease", l.name}};
      epoch.add(lease, static_cast<double>(l.epoch));
      remaining.add(lease, std::chrono::duration<double>(l.remaining).count());
      if (!l.holder.empty()) {
        holder.add({{"cluster", c.id}, {"lease", l.name}, {"node", l.holder}}, 1);
      }
    }
    for (const auto& contactAge : c.contacts) {
      contact.add({{"cluster", c.id}, {"node", contactAge.node}},
                  std::chrono::duration<double>(contactAge.age).count());
    }
  }
  auto& requests = e.counter("quorate_arbiter_requests_total",
                             "Requests naming a configured cluster, by outcome: ok, "
                             "unauthenticated, invalid, conflict, unavailable, exhausted, denied, "
                             "error.");
  auto& latency = e.histogram("quorate_arbiter_request_duration_seconds",
                              "Time to handle one request (checks, acceptor, fsync of a new "
                              "epoch).");
  for (const auto& [cluster, s] : service.requestStats().snapshot()) {
    for (std::size_t i = 0; i < RequestStats::kOutcomes.size(); ++i) {
      requests.add({{"cluster", cluster}, {"outcome", RequestStats::kOutcomes[i]}},
                   static_cast<double>(s.byOutcome[i]));
    }
    latency.add({{"cluster", cluster}}, s.latency);
  }
  e.counter("quorate_arbiter_unknown_cluster_requests_total",
            "Requests naming no configured cluster (their names are not labels).")
      .add({}, static_cast<double>(service.counters().unknownCluster.load()));
  return e.render();
}

Result<std::unique_ptr<metrics::HttpEndpoint>> startArbiterMetrics(
    const metrics::MetricsConfig& config, const ArbiterService& service) {
  auto endpoint = metrics::HttpEndpoint::start(config.listen, [&service] {
    return Result<std::string>(renderArbiterMetrics(service, bootNow));
  });
  if (endpoint) {
    spdlog::info(
        "metrics on http://{}/metrics (unauthenticated: keep it on loopback or a "
        "management network)",
        config.listen);
  }
  return endpoint;
}

}  // namespace quorate::arbiter
