// The reconciler: desired table -> plan -> tolerant apply, with ownership and installed state.
#include "server/ipvs/reconciler.h"

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <utility>

namespace quorate::server::ipvs {
namespace {

namespace kipvs = kernel::ipvs;

// A failed op's message, naming the op when the implementation did not.
std::string errorOf(const kipvs::Op& op, const Status& s) {
  return s.what().empty() ? s.withWhat(op.toString()).message() : s.message();
}

// The same service and settings, and the same destinations in the same order.
bool sameDesired(const DesiredService& a, const DesiredService& b) {
  if (normalized(a.service.key) != normalized(b.service.key) ||
      !a.service.sameSettings(b.service) || a.destinations.size() != b.destinations.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.destinations.size(); ++i) {
    const auto& x = a.destinations[i];
    const auto& y = b.destinations[i];
    if (x.address != y.address || x.port != y.port || !x.sameSettings(y)) return false;
  }
  return true;
}

}  // namespace

Reconciler::Reconciler(kernel::ipvs::Ipvs& ipvs) : ipvs_(ipvs) {}

Result<std::vector<Status>> Reconciler::apply(const std::vector<kipvs::Op>& ops, Summary& summary) {
  summary.planned = ops.size();
  if (ops.empty()) return std::vector<Status>{};
  auto results = ipvs_.apply(ops, /*tolerant=*/true);
  if (!results) {
    ++counters_.kernelFailures;
    return results.status();
  }
  if (results->size() != ops.size()) {
    ++counters_.kernelFailures;
    return Status::fail(EPROTO, "ipvs apply: " + std::to_string(results->size()) + " results for " +
                                    std::to_string(ops.size()) + " ops");
  }
  std::map<kipvs::ServiceKey, std::optional<std::string>> outcome;  // last error per service
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const auto& st = (*results)[i];
    auto& last = outcome[normalized(ops[i].service.key)];
    if (st.isOk()) {
      ++summary.applied;
    } else {
      ++summary.failed;
      summary.errors.push_back(errorOf(ops[i], st));
      last = summary.errors.back();
    }
  }
  counters_.opsApplied += summary.applied;
  counters_.opsFailed += summary.failed;
  for (auto& [key, error] : outcome) {
    if (error) {
      lastError_[key] = std::move(*error);
    } else {
      lastError_.erase(key);
    }
  }
  return std::move(results).value();
}

Result<Reconciler::Summary> Reconciler::sync(const std::vector<DesiredService>& desired) {
  ++counters_.syncs;
  auto actual = ipvs_.dump();
  if (!actual) {
    ++counters_.kernelFailures;
    known_.reset();
    return actual.status();
  }
  known_.emplace();
  for (auto& st : *actual) {
    const kipvs::ServiceKey key = normalized(st.service.key);
    known_->insert_or_assign(key, std::move(st));
  }
  ++counters_.reads;
  return reconcile(desired, /*incremental=*/false);
}

Result<Reconciler::Summary> Reconciler::update(const std::vector<DesiredService>& desired) {
  if (!known_) return sync(desired);
  ++counters_.syncs;
  return reconcile(desired, /*incremental=*/true);
}

void Reconciler::adopt(const std::vector<kipvs::ServiceKey>& keys) {
  for (const auto& k : keys) owned_.insert(normalized(k));
  lastDesired_.clear();
  ownedIsWanted_ = false;
}

void Reconciler::learn(const std::vector<kipvs::Op>& ops, const std::vector<Status>& results) {
  if (!known_) return;
  for (const auto& r : results) {
    if (!r.isOk()) {
      // The kernel's state of what failed is uncertain: read it again next time.
      known_.reset();
      return;
    }
  }
  auto& table = *known_;
  for (const auto& op : ops) {
    const kipvs::ServiceKey key = normalized(op.service.key);
    using K = kipvs::Op::Kind;
    if (op.kind == K::AddService || op.kind == K::EditService) {
      auto& state = table[key];
      state.service = op.service;
      state.service.key = key;
      continue;
    }
    const auto it = table.find(key);
    if (it == table.end()) continue;
    if (op.kind == K::DeleteService) {
      table.erase(it);
      continue;
    }
    auto& dests = it->second.destinations;
    auto d = std::find_if(dests.begin(), dests.end(), [&](const kipvs::DestinationState& x) {
      return x.dest.address == op.destination.address && x.dest.port == op.destination.port;
    });
    if (op.kind == K::DeleteDestination) {
      if (d != dests.end()) dests.erase(d);
    } else if (d != dests.end()) {
      d->dest = op.destination;
    } else {
      kipvs::DestinationState fresh;
      fresh.dest = op.destination;
      dests.push_back(std::move(fresh));
    }
  }
}

Result<Reconciler::Summary> Reconciler::reconcile(const std::vector<DesiredService>& desired,
                                                  bool incremental) {
  const std::size_t n = desired.size();
  std::vector<kipvs::ServiceKey> keys(n);
  for (std::size_t i = 0; i < n; ++i) keys[i] = normalized(desired[i].service.key);
  // The common case of an update: the same services in the same order as last time, every
  // owned one wanted. Then nothing is deleted, and only the positions whose desired state
  // changed are planned, with no set or map built over the whole table.
  bool sameShape = incremental && ownedIsWanted_ && lastDesired_.size() == n;
  for (std::size_t i = 0; sameShape && i < n; ++i) {
    sameShape = keys[i] == normalized(lastDesired_[i].service.key);
  }
  // Position i is unchanged: as last reconciled, and every op of it went through then.
  std::vector<bool> skip(n, false);
  std::set<kipvs::ServiceKey> wanted;
  std::set<kipvs::ServiceKey> gone;
  if (sameShape) {
    for (std::size_t i = 0; i < n; ++i)
      skip[i] = lastClean_[i] && sameDesired(lastDesired_[i], desired[i]);
  } else {
    wanted.insert(keys.begin(), keys.end());
    if (incremental) {
      std::map<kipvs::ServiceKey, std::size_t> before;
      for (std::size_t j = 0; j < lastDesired_.size(); ++j) {
        before.emplace(normalized(lastDesired_[j].service.key), j);
      }
      for (std::size_t i = 0; i < n; ++i) {
        const auto it = before.find(keys[i]);
        skip[i] = it != before.end() && lastClean_[it->second] &&
                  sameDesired(lastDesired_[it->second], desired[i]);
      }
    }
    // Services to delete: owned and no longer wanted (both sets are sorted: one linear pass).
    std::set_difference(owned_.begin(), owned_.end(), wanted.begin(), wanted.end(),
                        std::inserter(gone, gone.end()));
  }
  std::vector<const DesiredService*> toPlan;
  for (std::size_t i = 0; i < n; ++i) {
    if (!skip[i]) toPlan.push_back(&desired[i]);
  }
  const std::vector<kipvs::Op> ops = planAgainst(toPlan, *known_, gone);

  Summary summary;
  auto results = apply(ops, summary);
  if (results) learn(ops, *results);
  if (!results) {
    known_.reset();
    lastDesired_.clear();
    // Some ops may have gone through: keep owning everything, trust no destination touched.
    owned_.insert(keys.begin(), keys.end());
    ownedIsWanted_ = false;
    for (const auto& op : ops) {
      const auto it = installed_.find(normalized(op.service.key));
      if (op.isDestinationOp() && it != installed_.end()) {
        // Erasing keeps the rest in order (installed() relies on it).
        std::erase(it->second, Endpoint{op.destination.address, op.destination.port});
      }
    }
    return results.status();
  }

  std::set<kipvs::ServiceKey> failedDeletes;
  std::set<kipvs::ServiceKey> failed;  // services with a failed op
  std::set<kipvs::ServiceKey> addFailed;
  std::set<kipvs::ServiceKey> touched;
  std::map<std::pair<kipvs::ServiceKey, Endpoint>, bool> destinationOk;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const kipvs::Op& op = ops[i];
    const bool ok = (*results)[i].isOk();
    const kipvs::ServiceKey key = normalized(op.service.key);
    touched.insert(key);
    if (!ok) failed.insert(key);
    if (op.kind == kipvs::Op::Kind::DeleteService) {
      if (ok) {
        installed_.erase(key);
      } else {
        failedDeletes.insert(key);
      }
    }
    if (op.kind == kipvs::Op::Kind::AddService && !ok) addFailed.insert(key);
    if (op.isDestinationOp()) {
      destinationOk[{key, Endpoint{op.destination.address, op.destination.port}}] = ok;
    }
  }
  // Owned: what is desired, plus what should have gone but whose deletion failed. One
  // disowned is forgotten.
  if (!sameShape) {
    for (const auto& key : gone) {
      if (failedDeletes.count(key)) continue;
      lastError_.erase(key);
      installed_.erase(key);
    }
    owned_ = std::move(wanted);
    owned_.insert(failedDeletes.begin(), failedDeletes.end());
    ownedIsWanted_ = failedDeletes.empty();
  }

  // Per planned service: a service planned with nothing to do is clean now, whatever failed
  // before; installed is what the kernel accepted or already had.
  std::set<kipvs::ServiceKey> seen;
  for (const DesiredService* d : toPlan) {
    const kipvs::ServiceKey key = normalized(d->service.key);
    if (!seen.insert(key).second) continue;
    if (!touched.count(key)) lastError_.erase(key);
    auto& endpoints = installed_[key];
    endpoints.clear();
    if (addFailed.count(key)) continue;
    endpoints.reserve(d->destinations.size());
    for (const auto& dest : d->destinations) {
      const Endpoint endpoint{dest.address, dest.port};
      const auto it = destinationOk.find({key, endpoint});
      if (it == destinationOk.end() || it->second) endpoints.push_back(endpoint);
    }
    // Sorted, so that installed() is a binary search: view() asks it once per real server.
    // A configuration listed in order (common) costs one linear check here, not a sort.
    if (!std::is_sorted(endpoints.begin(), endpoints.end())) {
      std::sort(endpoints.begin(), endpoints.end());
    }
  }

  // The positional record for the next update.
  if (sameShape) {
    for (std::size_t i = 0; i < n; ++i) {
      if (skip[i]) continue;
      lastDesired_[i] = desired[i];
      lastClean_[i] = !failed.count(keys[i]);
    }
  } else {
    lastDesired_ = desired;
    lastClean_.assign(n, true);
    for (std::size_t i = 0; i < n; ++i) {
      if (!skip[i]) lastClean_[i] = !failed.count(keys[i]);
    }
  }
  return summary;
}

Result<Reconciler::Summary> Reconciler::withdraw() {
  ++counters_.syncs;
  lastDesired_.clear();
  ownedIsWanted_ = false;  // what fails to go stays owned, for the next call to delete
  std::vector<kipvs::Op> ops;
  ops.reserve(owned_.size());
  for (const auto& key : owned_) {
    kipvs::Op op{kipvs::Op::Kind::DeleteService, {}, {}};
    op.service.key = key;
    ops.push_back(std::move(op));
  }
  Summary summary;
  auto results = apply(ops, summary);
  if (!results) {
    known_.reset();
    return results.status();
  }
  learn(ops, *results);
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (!(*results)[i].isOk()) continue;
    const kipvs::ServiceKey& key = ops[i].service.key;
    owned_.erase(key);
    lastError_.erase(key);
    installed_.erase(key);  // its destinations went with it
  }
  return summary;
}

bool Reconciler::installed(const kipvs::ServiceKey& key, const net::IpAddress& address,
                           std::uint16_t port) const {
  const auto it = installed_.find(normalized(key));
  return it != installed_.end() &&
         std::binary_search(it->second.begin(), it->second.end(), Endpoint{address, port});
}

std::optional<std::string> Reconciler::lastError(const kipvs::ServiceKey& key) const {
  const auto it = lastError_.find(normalized(key));
  if (it == lastError_.end()) return std::nullopt;
  return it->second;
}

}  // namespace quorate::server::ipvs
