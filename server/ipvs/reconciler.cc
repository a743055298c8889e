// The reconciler: desired table -> plan -> tolerant apply, with ownership and installed state.
#include "server/ipvs/reconciler.h"

#include <algorithm>
#include <cerrno>
#include <utility>

namespace quorate::server::ipvs {
namespace {

namespace kipvs = kernel::ipvs;

bool isDestinationOp(kipvs::Op::Kind k) {
  return k == kipvs::Op::Kind::AddDestination || k == kipvs::Op::Kind::EditDestination ||
         k == kipvs::Op::Kind::DeleteDestination;
}

// A failed op's message, naming the op when the implementation did not.
std::string errorOf(const kipvs::Op& op, const kernel::Status& s) {
  return s.what().empty() ? kernel::Status::fail(s.err(), op.toString()).message() : s.message();
}

}  // namespace

Reconciler::Reconciler(kernel::ipvs::Ipvs& ipvs) : ipvs_(ipvs) {}

kernel::Result<std::vector<kernel::Status>> Reconciler::apply(const std::vector<kipvs::Op>& ops,
                                                              Summary& summary) {
  summary.planned = ops.size();
  if (ops.empty()) return std::vector<kernel::Status>{};
  auto results = ipvs_.apply(ops, /*tolerant=*/true);
  if (!results) {
    ++counters_.kernelFailures;
    return results.status();
  }
  if (results->size() != ops.size()) {
    ++counters_.kernelFailures;
    return kernel::Status::fail(EPROTO, "ipvs apply: " + std::to_string(results->size()) +
                                            " results for " + std::to_string(ops.size()) + " ops");
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

kernel::Result<Reconciler::Summary> Reconciler::sync(const std::vector<DesiredService>& desired) {
  ++counters_.syncs;
  auto actual = ipvs_.dump();
  if (!actual) {
    ++counters_.kernelFailures;
    known_.reset();
    return actual.status();
  }
  known_ = std::move(actual).value();
  ++counters_.reads;
  return reconcile(desired);
}

kernel::Result<Reconciler::Summary> Reconciler::update(const std::vector<DesiredService>& desired) {
  if (!known_) return sync(desired);
  ++counters_.syncs;
  return reconcile(desired);
}

void Reconciler::adopt(const std::vector<kipvs::ServiceKey>& keys) {
  for (const auto& k : keys) owned_.insert(normalized(k));
}

void Reconciler::learn(const std::vector<kipvs::Op>& ops,
                       const std::vector<kernel::Status>& results) {
  if (!known_) return;
  for (const auto& r : results) {
    if (!r.isOk()) {
      // The kernel's state of what failed is uncertain: read it again next time.
      known_.reset();
      return;
    }
  }
  auto& table = *known_;
  std::map<kipvs::ServiceKey, std::size_t> index;
  for (std::size_t i = 0; i < table.size(); ++i) index[normalized(table[i].service.key)] = i;
  std::set<std::size_t> deleted;
  for (const auto& op : ops) {
    const kipvs::ServiceKey key = normalized(op.service.key);
    auto it = index.find(key);
    using K = kipvs::Op::Kind;
    if (op.kind == K::AddService || op.kind == K::EditService) {
      if (it == index.end() || deleted.count(it->second)) {
        kipvs::ServiceState fresh;
        fresh.service = op.service;
        fresh.service.key = key;
        table.push_back(std::move(fresh));
        index[key] = table.size() - 1;
      } else {
        table[it->second].service = op.service;
        table[it->second].service.key = key;
      }
      continue;
    }
    if (it == index.end()) continue;
    auto& state = table[it->second];
    if (op.kind == K::DeleteService) {
      deleted.insert(it->second);
      index.erase(it);
      continue;
    }
    auto& dests = state.destinations;
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
  if (!deleted.empty()) {
    std::vector<kipvs::ServiceState> kept;
    kept.reserve(table.size() - deleted.size());
    for (std::size_t i = 0; i < table.size(); ++i) {
      if (!deleted.count(i)) kept.push_back(std::move(table[i]));
    }
    table = std::move(kept);
  }
}

kernel::Result<Reconciler::Summary> Reconciler::reconcile(
    const std::vector<DesiredService>& desired) {
  const std::vector<kipvs::Op> ops = plan(desired, *known_, owned_);

  std::set<kipvs::ServiceKey> wanted;
  for (const auto& d : desired) wanted.insert(normalized(d.service.key));
  Summary summary;
  auto results = apply(ops, summary);
  if (results) learn(ops, *results);
  if (!results) {
    known_.reset();
    // Some ops may have gone through: keep owning everything, trust no destination touched.
    owned_.insert(wanted.begin(), wanted.end());
    for (const auto& op : ops) {
      const auto it = installed_.find(normalized(op.service.key));
      if (isDestinationOp(op.kind) && it != installed_.end()) {
        it->second.erase(Endpoint{op.destination.address, op.destination.port});
      }
    }
    return results.status();
  }

  // Owned: what is desired, plus what should have gone but whose deletion failed.
  std::set<kipvs::ServiceKey> owned = wanted;
  std::set<kipvs::ServiceKey> addFailed;
  std::map<std::pair<kipvs::ServiceKey, Endpoint>, bool> destinationOk;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const kipvs::Op& op = ops[i];
    const bool ok = (*results)[i].isOk();
    const kipvs::ServiceKey key = normalized(op.service.key);
    if (op.kind == kipvs::Op::Kind::DeleteService && !ok) owned.insert(key);
    if (op.kind == kipvs::Op::Kind::AddService && !ok) addFailed.insert(key);
    if (isDestinationOp(op.kind)) {
      destinationOk[{key, Endpoint{op.destination.address, op.destination.port}}] = ok;
    }
  }
  // A service with nothing to do is clean now, whatever failed before; one disowned is forgotten.
  std::set<kipvs::ServiceKey> touched;
  for (const auto& op : ops) touched.insert(normalized(op.service.key));
  for (const auto& key : wanted) {
    if (!touched.count(key)) lastError_.erase(key);
  }
  for (const auto& key : owned_) {
    if (!owned.count(key)) lastError_.erase(key);
  }
  owned_ = std::move(owned);

  // Installed: its op succeeded, or it needed none (it already matched).
  installed_.clear();
  std::set<kipvs::ServiceKey> seen;
  for (const auto& d : desired) {
    const kipvs::ServiceKey key = normalized(d.service.key);
    if (!seen.insert(key).second || addFailed.count(key)) continue;
    auto& endpoints = installed_[key];
    for (const auto& dest : d.destinations) {
      const Endpoint endpoint{dest.address, dest.port};
      const auto it = destinationOk.find({key, endpoint});
      if (it == destinationOk.end() || it->second) endpoints.insert(endpoint);
    }
  }
  return summary;
}

kernel::Result<Reconciler::Summary> Reconciler::withdraw() {
  ++counters_.syncs;
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

bool Reconciler::installed(const kipvs::ServiceKey& key, const kernel::IpAddress& address,
                           std::uint16_t port) const {
  const auto it = installed_.find(normalized(key));
  return it != installed_.end() && it->second.count(Endpoint{address, port}) > 0;
}

std::optional<std::string> Reconciler::lastError(const kipvs::ServiceKey& key) const {
  const auto it = lastError_.find(normalized(key));
  if (it == lastError_.end()) return std::nullopt;
  return it->second;
}

}  // namespace quorate::server::ipvs
