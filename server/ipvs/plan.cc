// The planner: desired table minus the kernel's table, as IPVS operations.
#include "server/ipvs/plan.h"

#include <map>
#include <utility>

namespace quorate::server::ipvs {
namespace {

namespace kipvs = kernel::ipvs;
using Endpoint = std::pair<kernel::IpAddress, std::uint16_t>;

kipvs::Op op(kipvs::Op::Kind kind, const kipvs::ServiceKey& key, const kipvs::Destination& d = {}) {
  kipvs::Op o{kind, {}, d};
  o.service.key = key;
  return o;
}

// The destinations of `want`, each endpoint once (the first), in order.
std::vector<const kipvs::Destination*> unique(const std::vector<kipvs::Destination>& want) {
  std::vector<const kipvs::Destination*> out;
  out.reserve(want.size());
  std::set<Endpoint> seen;
  for (const auto& d : want) {
    if (seen.insert(Endpoint{d.address, d.port}).second) out.push_back(&d);
  }
  return out;
}

// The destination ops of service `key`, which exists in the kernel as `actual`.
void planDestinations(const kipvs::ServiceKey& key, const std::vector<kipvs::Destination>& want,
                      const kipvs::ServiceState& actual, std::vector<kipvs::Op>& out) {
  std::map<Endpoint, const kipvs::Destination*> have;
  for (const auto& d : actual.destinations) {
    have.emplace(Endpoint{d.dest.address, d.dest.port}, &d.dest);
  }
  const std::vector<const kipvs::Destination*> wanted = unique(want);
  std::set<Endpoint> wantedEndpoints;
  for (const auto* d : wanted) wantedEndpoints.insert(Endpoint{d->address, d->port});

  for (const auto& [endpoint, d] : have) {
    if (!wantedEndpoints.count(endpoint)) {
      out.push_back(op(kipvs::Op::Kind::DeleteDestination, key, *d));
    }
  }
  std::vector<kipvs::Op> adds;
  for (const auto* d : wanted) {
    const auto it = have.find(Endpoint{d->address, d->port});
    if (it == have.end()) {
      adds.push_back(op(kipvs::Op::Kind::AddDestination, key, *d));
    } else if (!it->second->sameSettings(*d)) {
      out.push_back(op(kipvs::Op::Kind::EditDestination, key, *d));
    }
  }
  for (auto& a : adds) out.push_back(std::move(a));
}

}  // namespace

kipvs::ServiceKey normalized(const kipvs::ServiceKey& k) {
  kipvs::ServiceKey n = k;
  if (k.isFwmark()) {
    n.protocol = kipvs::Protocol::Tcp;
    n.address = {};
    n.port = 0;
  }
  return n;
}

std::vector<kipvs::Op> plan(const std::vector<DesiredService>& desired,
                            const std::vector<kipvs::ServiceState>& actual,
                            const std::set<kipvs::ServiceKey>& owned) {
  std::map<kipvs::ServiceKey, const kipvs::ServiceState*> have;
  for (const auto& s : actual) have.emplace(normalized(s.service.key), &s);

  std::vector<kipvs::Op> out;
  std::set<kipvs::ServiceKey> seen;
  for (const auto& want : desired) {
    const kipvs::ServiceKey key = normalized(want.service.key);
    if (!seen.insert(key).second) continue;
    const auto it = have.find(key);
    kipvs::Service service = want.service;
    service.key = key;
    if (it == have.end()) {
      out.push_back(kipvs::Op{kipvs::Op::Kind::AddService, std::move(service), {}});
      for (const auto* d : unique(want.destinations)) {
        out.push_back(op(kipvs::Op::Kind::AddDestination, key, *d));
      }
      continue;
    }
    if (!it->second->service.sameSettings(service)) {
      out.push_back(kipvs::Op{kipvs::Op::Kind::EditService, std::move(service), {}});
    }
    planDestinations(key, want.destinations, *it->second, out);
  }

  for (const auto& k : owned) {
    const kipvs::ServiceKey key = normalized(k);
    if (!seen.count(key) && have.count(key)) {
      out.push_back(op(kipvs::Op::Kind::DeleteService, key));
      seen.insert(key);  // a key owned twice (before normalising) is deleted once
    }
  }
  return out;
}

}  // namespace quorate::server::ipvs
