// The load balancer following the lease: desired table from the pools of the virtual servers
// whose lease is held (or all, when warm), reconciled into IPVS; the sync daemon's role.
#include "server/ipvs/balancer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <tuple>
#include <utility>

namespace quorate::server::ipvs {

namespace kipvs = kernel::ipvs;

namespace {

bool endpointLess(const kipvs::DestinationState* a, const kipvs::DestinationState* b) {
  return std::tie(a->dest.address, a->dest.port) < std::tie(b->dest.address, b->dest.port);
}

// The last entry of `sorted` (ordered by endpointLess) with the endpoint of `d`, or null.
const kipvs::DestinationState* lastWithEndpoint(
    const std::vector<const kipvs::DestinationState*>& sorted, const kipvs::Destination& d) {
  const auto after = std::upper_bound(
      sorted.begin(), sorted.end(), d, [](const kipvs::Destination& x, const auto* y) {
        return std::tie(x.address, x.port) < std::tie(y->dest.address, y->dest.port);
      });
  if (after == sorted.begin()) return nullptr;
  const kipvs::DestinationState* last = *std::prev(after);
  return last->dest.address == d.address && last->dest.port == d.port ? last : nullptr;
}

// Whether any real server of virtual server `name` is drained: most are not, and the check
// spares building endpoint strings for each of their destinations.
bool anyDrained(const DrainSet& drains, const std::string& name) {
  const auto it = drains.lower_bound(DrainKey{name, ""});
  return it != drains.end() && it->virtualServer == name;
}

// The drains that name no configured real server (a reload renamed its virtual server, changed
// its port or removed it): they wait for it to come back, and the operator should know that the
// server now named may take connections.
std::vector<std::string> unmatchedDrains(const IpvsConfig& config, const DrainSet& drains) {
  std::vector<std::string> out;
  for (const auto& d : drains) {
    const bool matched = std::any_of(
        config.virtualServers.begin(), config.virtualServers.end(), [&](const auto& vs) {
          return vs.name == d.virtualServer &&
                 std::any_of(vs.realServers.begin(), vs.realServers.end(),
                             [&](const auto& rs) { return rs.dest.endpoint() == d.realServer; });
        });
    if (!matched) out.push_back(d.toString());
  }
  return out;
}

}  // namespace

Balancer::Balancer(IpvsConfig config, std::vector<std::size_t> leaseOf, std::size_t syncLease,
                   kipvs::Ipvs& ipvs)
    : config_(std::move(config)),
      leaseOf_(std::move(leaseOf)),
      syncLease_(syncLease),
      ipvs_(ipvs),
      reconciler_(ipvs),
      pools_(makePools(config_)) {
  activeLeases_.assign(leaseCount(), false);
}

std::vector<Pool> Balancer::makePools(const IpvsConfig& config) {
  std::vector<Pool> pools;
  // A real server without checks has nothing to drive it: it is alive.
  for (const auto& vs : config.virtualServers) {
    std::vector<bool> checked;
    for (const auto& rs : vs.realServers) checked.push_back(!rs.checks.empty());
    pools.emplace_back(vs, std::move(checked));
  }
  return pools;
}

std::size_t Balancer::leaseCount() const {
  std::size_t leases = std::max(activeLeases_.size(), syncLease_ + 1);
  for (std::size_t l : leaseOf_) leases = std::max(leases, l + 1);
  return leases;
}

bool Balancer::hasServices(std::size_t lease) const {
  return std::find(leaseOf_.begin(), leaseOf_.end(), lease) != leaseOf_.end();
}

std::string Balancer::reload(IpvsConfig config, std::vector<std::size_t> leaseOf,
                             std::size_t syncLease) {
  std::vector<Pool> pools = makePools(config);
  std::size_t kept = 0;
  for (Pool& fresh : pools) {
    // The same service's pool if it stays, else (a member a reload added to a group) any member
    // of the same name: the group's real servers have one health.
    const Pool* from = nullptr;
    for (const auto& old : pools_) {
      if (old.config().name != fresh.config().name) continue;
      if (!from || old.config().service.key == fresh.config().service.key) from = &old;
    }
    if (from != nullptr) {
      const Pool& old = *from;
      for (const auto& rs : old.realServers()) {
        const auto i = fresh.indexOf(rs.config.dest.address, rs.config.dest.port);
        // Health carries over only between checked entries: an entry that lost its checks is
        // alive, one that gained them starts as its checks start (their verdicts follow).
        if (i && rs.checked && fresh.realServers()[*i].checked) {
          (void)fresh.setAlive(
              *i, rs.alive, rs.reason,
              rs.weight == rs.config.dest.weight ? std::nullopt : std::optional(rs.weight));
          if (fresh.config().member == 0) ++kept;
        }
      }
    }
  }
  const bool syncChanged = config.sync.has_value() != config_.sync.has_value() ||
                           (config.sync && config_.sync &&
                            config.sync->daemon(kipvs::SyncRole::Master) !=
                                config_.sync->daemon(kipvs::SyncRole::Master));
  if (syncChanged) syncRole(std::nullopt);  // stopped under the old settings
  config_ = std::move(config);
  leaseOf_ = std::move(leaseOf);
  syncLease_ = syncLease;
  pools_ = std::move(pools);
  activeLeases_.resize(leaseCount(), false);  // what is held stays held
  // The daemon's settings or the lease it follows may have changed: its role follows now.
  if (config_.sync) {
    syncRole(active(syncLease_) ? kipvs::SyncRole::Master : kipvs::SyncRole::Backup);
  }
  auto r = reconciler_.update(desired());
  std::string summary = std::to_string(pools_.size()) + " virtual servers, " +
                        std::to_string(kept) + " real servers kept their health";
  if (const auto unmatched = unmatchedDrains(config_, drains_); !unmatched.empty()) {
    std::string list;
    for (std::size_t i = 0; i < unmatched.size() && i < 3; ++i) {
      list += (i ? ", " : "") + unmatched[i];
    }
    if (unmatched.size() > 3) list += ", ...";
    summary += "; " + std::to_string(unmatched.size()) +
               " drains name no real server now (kept until enabled: " + list + ")";
    spdlog::warn("ipvs (reload): drains that name no configured real server: {}", list);
  }
  if (!r) return summary + "; IPVS: " + r.status().message();
  for (const auto& e : r->errors) spdlog::error("ipvs (reload): {}", e);
  return summary + "; " + std::to_string(r->applied) + " IPVS changes applied, " +
         std::to_string(r->failed) + " failed";
}

void Balancer::setDrains(DrainSet drains) {
  drains_ = std::move(drains);
  reconcile("drain", false);
}

bool Balancer::active(std::size_t lease) const {
  return lease < activeLeases_.size() && activeLeases_[lease];
}

bool Balancer::wanted(std::size_t vs) const {
  return config_.standby == StandbyMode::kWarm || active(leaseOf_.at(vs));
}

std::vector<DesiredService> Balancer::desired() const {
  std::vector<DesiredService> out;
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    if (!wanted(i)) continue;
    out.push_back(pools_[i].desired());
    const auto& vs = pools_[i].config();
    if (!anyDrained(drains_, vs.name)) continue;
    for (auto& d : out.back().destinations) {
      const bool sorry =
          vs.sorryServer && vs.sorryServer->address == d.address && vs.sorryServer->port == d.port;
      if (!sorry && drains_.count(DrainKey{vs.name, d.endpoint()})) d.weight = 0;
    }
  }
  return out;
}

void Balancer::reconcile(const char* why, bool readKernel) {
  auto r = readKernel ? reconciler_.sync(desired()) : reconciler_.update(desired());
  if (!r) {
    spdlog::error("ipvs ({}): {}", why, r.status().message());
    return;
  }
  for (const auto& e : r->errors) spdlog::error("ipvs ({}): {}", why, e);
  if (r->planned > 0) {
    spdlog::info("ipvs ({}): {} changes applied, {} failed", why, r->applied, r->failed);
  }
}

Status Balancer::start() {
  // Everything configured counts as ours: a killed run's services are removed (or, warm,
  // brought to the desired state) before any lease is held.
  std::vector<kipvs::ServiceKey> keys;
  for (const auto& p : pools_) keys.push_back(p.config().service.key);
  reconciler_.adopt(keys);
  auto first = reconciler_.sync(desired());
  if (!first) return first.status();
  if (!first->errors.empty()) return Status::fail(EIO, first->errors.front());
  if (config_.sync) {
    // Whatever daemons an earlier run left go; this director starts as a backup.
    (void)ipvs_.stopSyncDaemon(kipvs::SyncRole::Master);
    (void)ipvs_.stopSyncDaemon(kipvs::SyncRole::Backup);
    syncRole_.reset();
    syncRole(kipvs::SyncRole::Backup);
  }
  spdlog::info("ipvs: {} virtual servers, standby {}{}", pools_.size(),
               config_.standby == StandbyMode::kWarm ? "warm" : "removes them",
               config_.sync ? ", sync daemon on " + config_.sync->interface : "");
  return Status::ok();
}

void Balancer::syncRole(std::optional<kipvs::SyncRole> role) {
  if (!config_.sync || syncRole_ == role) return;
  if (syncRole_) {
    if (auto s = ipvs_.stopSyncDaemon(*syncRole_); !s && s.err() != ESRCH) {
      spdlog::warn("ipvs: {}", s.message());
    }
  }
  syncRole_.reset();
  if (!role) return;
  if (auto s = ipvs_.startSyncDaemon(config_.sync->daemon(*role)); !s) {
    spdlog::error("ipvs: {}", s.message());
    return;
  }
  syncRole_ = role;
  spdlog::info("ipvs: sync daemon {} on {}, sync id {}",
               *role == kipvs::SyncRole::Master ? "master" : "backup", config_.sync->interface,
               config_.sync->syncId);
}

void Balancer::activate(std::size_t lease) {
  if (lease >= activeLeases_.size() || activeLeases_[lease]) return;
  activeLeases_[lease] = true;
  if (hasServices(lease) && config_.standby == StandbyMode::kRemove) {
    reconcile("lease acquired", false);
  }
  if (lease == syncLease_) syncRole(kipvs::SyncRole::Master);
}

void Balancer::deactivate(std::size_t lease) {
  if (lease >= activeLeases_.size() || !activeLeases_[lease]) return;
  activeLeases_[lease] = false;
  if (hasServices(lease) && config_.standby == StandbyMode::kRemove) {
    reconcile("lease lost", false);
  }
  if (lease == syncLease_) syncRole(kipvs::SyncRole::Backup);
}

std::vector<PoolEvent> Balancer::setAlive(const std::string& vs, const net::IpAddress& address,
                                          std::uint16_t port, bool alive, const std::string& reason,
                                          std::optional<std::int32_t> weight) {
  // Every member of a group has the name and the real server: one verdict serves them all.
  std::vector<PoolEvent> events;
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    if (pools_[i].config().name != vs) continue;
    if (const auto rs = pools_[i].indexOf(address, port)) {
      auto more = setAlive(i, *rs, alive, reason, weight);
      events.insert(events.end(), std::make_move_iterator(more.begin()),
                    std::make_move_iterator(more.end()));
    }
  }
  return events;
}

std::vector<PoolEvent> Balancer::setAlive(std::size_t vs, std::size_t rs, bool alive,
                                          const std::string& reason,
                                          std::optional<std::int32_t> weight) {
  auto events = pools_.at(vs).setAlive(rs, alive, reason, weight);
  // A group's members share the name: the line says which member's service it is.
  const auto& c = pools_[vs].config();
  const std::string member = c.group.empty() ? "" : " [" + c.service.key.toString() + "]";
  for (const auto& e : events) spdlog::info("ipvs: {}{}", e.toString(), member);
  if (!events.empty() && wanted(vs)) reconcile("health", false);
  return events;
}

Status Balancer::resync() {
  auto r = reconciler_.sync(desired());
  if (!r) return r.status();
  for (const auto& e : r->errors) spdlog::error("ipvs (resync): {}", e);
  if (r->applied > 0) spdlog::warn("ipvs (resync): repaired {} differences", r->applied);
  return Status::ok();
}

void Balancer::stop() {
  std::fill(activeLeases_.begin(), activeLeases_.end(), false);
  auto r = reconciler_.withdraw();
  if (!r) spdlog::error("ipvs (stop): {}", r.status().message());
  syncRole(std::nullopt);
}

std::vector<VirtualServerView> Balancer::view() const {
  std::vector<VirtualServerView> out;
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    const Pool& p = pools_[i];
    const auto& key = p.config().service.key;
    VirtualServerView v;
    v.name = p.config().name;
    v.lease = leaseOf_[i];
    v.service = p.config().service.toString();
    v.group = p.config().group;
    v.programmed = wanted(i);
    v.quorumUp = p.quorumUp();
    v.aliveWeight = p.aliveWeight();
    v.lastError = reconciler_.lastError(key);
    const kipvs::ServiceState* read = nullptr;
    if (const Table* table = reconciler_.known()) {
      const auto it = table->find(normalized(key));
      if (it != table->end()) read = &it->second;
    }
    if (read) v.stats = read->stats;
    // The kernel's destinations of this service by (address, port), built once per view so that
    // each real server is a binary search rather than a scan (a status call on a service of
    // 10,000 real servers would otherwise take ~0.4 s of the loop thread). Stable, and the last
    // of equal entries is taken: the kernel reports each destination once, but should it not,
    // the answer stays the one the scan gave.
    std::vector<const kipvs::DestinationState*> byEndpoint;
    if (read) {
      byEndpoint.reserve(read->destinations.size());
      for (const auto& ds : read->destinations) byEndpoint.push_back(&ds);
      std::stable_sort(byEndpoint.begin(), byEndpoint.end(), endpointLess);
    }
    auto add = [&](const kipvs::Destination& d, bool alive, bool sorry) {
      RealServerView r;
      r.endpoint = d.endpoint();
      r.weight = d.weight;
      r.weightInEffect = d.weight;
      r.alive = alive;
      r.sorry = sorry;
      r.installed = v.programmed && reconciler_.installed(key, d.address, d.port);
      if (const kipvs::DestinationState* ds = lastWithEndpoint(byEndpoint, d)) {
        r.activeConnections = ds->activeConnections;
        r.inactiveConnections = ds->inactiveConnections;
        r.stats = ds->stats;
      }
      v.realServers.push_back(std::move(r));
    };
    const bool drains = anyDrained(drains_, v.name);
    for (const auto& rs : p.realServers()) {
      add(rs.config.dest, rs.alive, false);
      v.realServers.back().weightInEffect = rs.weight;
      v.realServers.back().checked = rs.checked;
      v.realServers.back().health = rs.reason;
      if (drains && drains_.count(DrainKey{v.name, v.realServers.back().endpoint}) > 0) {
        v.realServers.back().drained = true;
        v.realServers.back().weightInEffect = 0;
      }
    }
    if (p.config().sorryServer) add(*p.config().sorryServer, !p.quorumUp(), true);
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace quorate::server::ipvs
