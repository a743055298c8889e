// The agreed director metric names (docs/metrics.md) built from one DirectorView.
#include "server/metrics/director_metrics.h"

#include <spdlog/spdlog.h>

#include <future>

#include "common/metrics/build_info.h"

namespace quorate::server {
namespace {

using metrics::Exposition;
using metrics::Labels;

double seconds(std::int64_t ms) { return static_cast<double>(ms) / 1000.0; }

double roleValue(const std::string& role) {
  if (role == "holder") return 2;
  if (role == "candidate") return 1;
  return 0;  // standby, quarantine: following
}

// Runs `fn` on a thread through `post` and waits up to `limit` for its value. The task owns
// its promise, so a late answer after a timeout touches nothing of the caller's.
template <typename T>
Result<T> askThread(const std::function<void(std::function<void()>)>& post, std::function<T()> fn,
                    const char* thread) {
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  post([promise, fn = std::move(fn)] { promise->set_value(fn()); });
  if (future.wait_for(DirectorMetrics::kThreadWait) != std::future_status::ready) {
    return Status::fail(ETIMEDOUT, std::string("metrics: the director's ") + thread +
                                       " thread did not answer within " +
                                       std::to_string(DirectorMetrics::kThreadWait.count()) +
                                       " ms");
  }
  return future.get();
}

void addLeases(Exposition& e, const DirectorView& v) {
  const std::string& cluster = v.host.cluster;
  const std::string& node = v.host.node;
  auto& holder = e.gauge("quorate_lease_holder", "1 while this director holds the lease, else 0.");
  auto& role = e.gauge("quorate_lease_role",
                       "This director's role in the lease: 0 follower, 1 candidate, 2 holder.");
  auto& epoch = e.gauge("quorate_lease_epoch",
                        "The lease's epoch (fencing token) as this director knows it.");
  auto& remaining = e.gauge("quorate_lease_remaining_seconds",
                            "Time left of the lease as this director knows it (0: none known).");
  auto& renewal = e.histogram("quorate_lease_renewal_duration_seconds",
                              "From the start of a renewal round to its majority, while holding.");
  auto& elections =
      e.counter("quorate_elections_total", "Campaign rounds for the lease by outcome (won, lost).");
  auto& acquired = e.counter("quorate_lease_acquired_total", "Tenures this director began.");
  auto& lost = e.counter("quorate_lease_lost_total",
                         "Tenures this director ended, by reason: released, expired, refused, "
                         "halted.");
  auto& quorumLost =
      e.gauge("quorate_lease_quorum_lost", "1 while a loss of quorum is in force for the lease.");
  auto& eligible = e.gauge("quorate_lease_eligible",
                           "1 while this director may hold the lease: healthy, and every item the "
                           "lease itself tracks fine.");
  for (std::size_t i = 0; i < v.host.leases.size(); ++i) {
    const LeaseSnapshot& l = v.host.leases[i];
    const Labels lease{{"cluster", cluster}, {"lease", l.name}};
    const Labels own{{"cluster", cluster}, {"lease", l.name}, {"node", node}};
    holder.add(own, l.role == "holder" ? 1 : 0);
    role.add(own, roleValue(l.role));
    epoch.add(lease, static_cast<double>(l.epoch));
    remaining.add(lease, seconds(l.remainingMs));
    quorumLost.add(lease, l.quorumLost ? 1 : 0);
    eligible.add(own, l.eligible ? 1 : 0);
    if (i >= v.leases.size()) continue;
    const LeaseStats::Lease& s = v.leases[i];
    renewal.add(lease, s.renewal);
    elections.add({{"cluster", cluster}, {"lease", l.name}, {"outcome", "won"}},
                  static_cast<double>(s.electionsWon));
    elections.add({{"cluster", cluster}, {"lease", l.name}, {"outcome", "lost"}},
                  static_cast<double>(s.electionsLost));
    acquired.add(lease, static_cast<double>(s.acquired));
    for (const char* reason : {"released", "expired", "refused", "halted"}) {
      const auto it = s.lost.find(reason);
      lost.add({{"cluster", cluster}, {"lease", l.name}, {"reason", reason}},
               it == s.lost.end() ? 0 : static_cast<double>(it->second));
    }
  }
}

void addNodes(Exposition& e, const DirectorView& v) {
  const std::string& cluster = v.host.cluster;
  const std::string& node = v.host.node;
  auto& peer = e.gauge("quorate_peer_up",
                       "1 while the peer was heard from recently (within 5 renewal intervals).");
  int reachable = 1;  // ourselves
  for (const NodeSnapshot& n : v.host.nodes) {
    if (n.self) continue;
    peer.add({{"cluster", cluster}, {"node", node}, {"peer", n.id}}, n.reachable ? 1 : 0);
    if (n.reachable) ++reachable;
  }
  e.gauge("quorate_quorum", "1 while this director reaches a majority (itself and one more).")
      .add({{"cluster", cluster}, {"node", node}}, reachable >= 2 ? 1 : 0);
  e.gauge("quorate_healthy",
          "1 while the director-wide tracking is fine (per lease: quorate_lease_eligible).")
      .add({{"cluster", cluster}, {"node", node}}, v.host.healthy ? 1 : 0);
  e.counter("quorate_persist_failures_total", "Epoch writes to the state directory that failed.")
      .add({{"cluster", cluster}, {"node", node}}, static_cast<double>(v.persistFailures));
  e.counter("quorate_identity_conflicts_total",
            "Requests refused by, or refusing, a peer with another view of who is who.")
      .add({{"cluster", cluster}, {"node", node}}, static_cast<double>(v.identityConflicts));
}

void addDataPlane(Exposition& e, const DirectorView& v) {
  if (v.dataPlane.empty()) return;
  const std::string& cluster = v.host.cluster;
  auto& arm = e.histogram("quorate_fence_arm_duration_seconds",
                          "Time of each nftables fence arm (a claim or a renewal) of the lease.");
  auto& errors =
      e.counter("quorate_fence_errors_total", "Fence arms and closes of the lease that failed.");
  auto& announced =
      e.counter("quorate_announcements_total",
                "Gratuitous ARP and unsolicited NA frames sent for the lease's VIPs.");
  for (std::size_t i = 0; i < v.dataPlane.size() && i < v.host.leases.size(); ++i) {
    const Labels lease{{"cluster", cluster}, {"lease", v.host.leases[i].name}};
    arm.add(lease, v.dataPlane[i].fenceArm);
    errors.add(lease, static_cast<double>(v.dataPlane[i].fenceErrors));
    announced.add(lease, static_cast<double>(v.dataPlane[i].announcements));
  }
}

void addHooks(Exposition& e, const DirectorView& v) {
  const std::string& cluster = v.host.cluster;
  auto& runs =
      e.counter("quorate_hook_runs_total",
                "Hook programs that ended, by hook kind and outcome (ok, failed, timeout).");
  for (const auto& [key, n] : v.hooks.runsByKind) {
    runs.add({{"cluster", cluster}, {"hook", key.first}, {"outcome", key.second}},
             static_cast<double>(n));
  }
  auto& fences = e.counter("quorate_fence_agent_runs_total",
                           "Fence-before-claim runs that ended, by outcome (ok, failed).");
  fences.add({{"cluster", cluster}, {"outcome", "ok"}}, static_cast<double>(v.hooks.fencesOk));
  fences.add({{"cluster", cluster}, {"outcome", "failed"}},
             static_cast<double>(v.hooks.fenceFailures));
}

void addIpvsStats(Exposition& e, const Labels& labels, const kernel::ipvs::Stats& s) {
  e.counter("quorate_ipvs_connections_total", "Connections IPVS scheduled.")
      .add(labels, static_cast<double>(s.connections));
  e.counter("quorate_ipvs_packets_in_total", "Packets in, as IPVS counts them.")
      .add(labels, static_cast<double>(s.inPackets));
  e.counter("quorate_ipvs_packets_out_total", "Packets out, as IPVS counts them.")
      .add(labels, static_cast<double>(s.outPackets));
  e.counter("quorate_ipvs_bytes_in_total", "Bytes in, as IPVS counts them.")
      .add(labels, static_cast<double>(s.inBytes));
  e.counter("quorate_ipvs_bytes_out_total", "Bytes out, as IPVS counts them.")
      .add(labels, static_cast<double>(s.outBytes));
}

void addVirtualServers(Exposition& e, const DirectorView& v) {
  const std::string& cluster = v.host.cluster;
  if (v.host.virtualServers.empty()) return;
  std::map<std::pair<std::string, std::string>, const check::HealthChecks::ServerStats*> checked;
  for (const auto& c : v.checks) checked[{c.server.virtualServer, c.server.endpoint()}] = &c;
  auto& up = e.gauge("quorate_realserver_up", "1 while the real server's health checks pass.");
  auto& latency = e.gauge("quorate_realserver_check_latency_seconds",
                          "Duration of the real server's last health probe (its slowest check).");
  auto& transitions = e.counter("quorate_realserver_transitions_total",
                                "Changes of the real server's health verdict, by new state.");
  auto& active =
      e.gauge("quorate_ipvs_active_connections", "Active connections IPVS has to the real server.");
  auto& weight = e.gauge("quorate_ipvs_weight",
                         "The real server's weight in effect (0 while down or quiescent).");
  auto& quorum = e.gauge("quorate_virtual_server_quorum_up",
                         "1 while the virtual server has its quorum of alive weight.");
  for (const ipvs::VirtualServerView& vs : v.host.virtualServers) {
    // A group's members share the name: the member's service tells their series apart.
    Labels service{{"cluster", cluster}, {"service", vs.name}};
    if (!vs.group.empty()) service.emplace_back("member", vs.service);
    quorum.add(service, vs.quorumUp ? 1 : 0);
    addIpvsStats(e, service, vs.stats);
    for (const ipvs::RealServerView& rs : vs.realServers) {
      Labels real = service;
      real.emplace_back("realserver", rs.endpoint);
      up.add(real, rs.alive ? 1 : 0);
      active.add(real, rs.activeConnections);
      weight.add(real, rs.alive ? rs.weightInEffect : 0);
      addIpvsStats(e, real, rs.stats);
      const auto it = checked.find({vs.name, rs.endpoint});
      if (it == checked.end()) continue;
      const auto& c = *it->second;
      if (c.lastLatency) {
        latency.add(real, std::chrono::duration<double>(*c.lastLatency).count());
      }
      Labels toUp = real, toDown = real;
      toUp.emplace_back("to", "up");
      toDown.emplace_back("to", "down");
      transitions.add(toUp, static_cast<double>(c.wentUp));
      transitions.add(toDown, static_cast<double>(c.wentDown));
    }
  }
}

}  // namespace

void addDirectorMetrics(Exposition& e, const DirectorView& v) {
  metrics::addBuildInfo(e);
  addLeases(e, v);
  addNodes(e, v);
  addDataPlane(e, v);
  addHooks(e, v);
  addVirtualServers(e, v);
}

Result<std::unique_ptr<DirectorMetrics>> DirectorMetrics::start(
    const metrics::MetricsConfig& config, DirectorMetricsSources sources) {
  std::unique_ptr<DirectorMetrics> m(new DirectorMetrics(std::move(sources)));
  auto endpoint =
      metrics::HttpEndpoint::start(config.listen, [self = m.get()] { return self->scrape(); });
  if (!endpoint) return endpoint.status();
  m->endpoint_ = std::move(endpoint).value();
  spdlog::info(
      "metrics on http://{}/metrics (unauthenticated: keep it on loopback or a "
      "management network)",
      config.listen);
  return m;
}

void DirectorMetrics::stop() {
  if (endpoint_) endpoint_->stop();
}

Result<std::string> DirectorMetrics::scrape() const {
  const DirectorMetricsSources& s = sources_;
  std::function<DirectorView()> onLoop = [host = s.host, dp = s.dataPlane, hooks = s.hooks] {
    DirectorView v;
    v.host = host->snapshot();
    for (const std::size_t i : host->liveLeases()) {  // as the snapshot lists them
      v.leases.push_back(host->stats().lease(i));
      if (dp) v.dataPlane.push_back(dp->leaseCounters(i));
    }
    if (hooks) v.hooks = hooks->counters();
    v.persistFailures = host->counters().persistFailures.load(std::memory_order_relaxed);
    v.identityConflicts = host->counters().identityConflicts.load(std::memory_order_relaxed);
    return v;
  };
  auto view = askThread<DirectorView>(s.onLoop, std::move(onLoop), "loop");
  if (!view) return view.status();
  DirectorView v = std::move(view).value();
  if (s.checks && s.onChecks) {
    std::function<std::vector<check::HealthChecks::ServerStats>()> onChecks = [checks = s.checks] {
      return checks->stats();
    };
    auto stats =
        askThread<std::vector<check::HealthChecks::ServerStats>>(s.onChecks, onChecks, "checks");
    if (!stats) return stats.status();
    v.checks = std::move(stats).value();
  }
  metrics::Exposition e;
  addDirectorMetrics(e, v);
  return e.render();
}

}  // namespace quorate::server
