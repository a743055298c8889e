// The planner: desired table minus the kernel's table, as IPVS operations.
#include "server/ipvs/plan.h"

#include <algorithm>
#include <map>
#include <utility>

namespace quorate::server::ipvs {
namespace {

namespace kipvs = kernel::ipvs;
using Endpoint = std::pair<net::IpAddress, std::uint16_t>;

kipvs::Op op(kipvs::Op::Kind kind, const kipvs::ServiceKey& key, const kipvs::Destination& d = {}) {
  kipvs::Op o{kind, {}, d};
  o.service.key = key;
  return o;
}

bool sameEndpoint(const kipvs::Destination& a, const kipvs::Destination& b) {
  return a.port == b.port && a.address == b.address;
}

// Services have a handful of destinations: below this, linear scans beat building trees.
constexpr std::size_t kSmall = 32;

// The destinations of `want`, each endpoint once (the first), in order.
std::vector<const kipvs::Destination*> unique(const std::vector<kipvs::Destination>& want) {
  std::vector<const kipvs::Destination*> out;
  out.reserve(want.size());
  if (want.size() <= kSmall) {
    for (const auto& d : want) {
      const bool dup = std::any_of(
          out.begin(), out.end(), [&](const kipvs::Destination* o) { return sameEndpoint(*o, d); });
      if (!dup) out.push_back(&d);
    }
    return out;
  }
  std::set<Endpoint> seen;
  for (const auto& d : want) {
    if (seen.insert(Endpoint{d.address, d.port}).second) out.push_back(&d);
  }
  return out;
}

// The destination ops of service `key`, which exists in the kernel as `actual`.
void planDestinations(const kipvs::ServiceKey& key, const std::vector<kipvs::Destination>& want,
                      const kipvs::ServiceState& actual, std::vector<kipvs::Op>& out) {
  const std::vector<const kipvs::Destination*> wanted = unique(want);
  const auto& have = actual.destinations;
  if (wanted.size() <= kSmall && have.size() <= kSmall) {
    // Same order and outcome as below, without allocating: deletes, edits, adds.
    for (const auto& h : have) {
      const bool kept = std::any_of(wanted.begin(), wanted.end(), [&](const kipvs::Destination* w) {
        return sameEndpoint(*w, h.dest);
      });
      if (!kept) out.push_back(op(kipvs::Op::Kind::DeleteDestination, key, h.dest));
    }
    std::size_t adds = 0;
    for (const auto* d : wanted) {
      const auto it = std::find_if(have.begin(), have.end(), [&](const kipvs::DestinationState& h) {
        return sameEndpoint(h.dest, *d);
      });
      if (it == have.end()) {
        ++adds;
      } else if (!it->dest.sameSettings(*d)) {
        out.push_back(op(kipvs::Op::Kind::EditDestination, key, *d));
      }
    }
    if (adds == 0) return;
    for (const auto* d : wanted) {
      const bool present =
          std::any_of(have.begin(), have.end(),
                      [&](const kipvs::DestinationState& h) { return sameEndpoint(h.dest, *d); });
      if (!present) out.push_back(op(kipvs::Op::Kind::AddDestination, key, *d));
    }
    return;
  }
  std::map<Endpoint, const kipvs::Destination*> haveByEndpoint;
  for (const auto& d : have) {
    haveByEndpoint.emplace(Endpoint{d.dest.address, d.dest.port}, &d.dest);
  }
  std::set<Endpoint> wantedEndpoints;
  for (const auto* d : wanted) wantedEndpoints.insert(Endpoint{d->address, d->port});

  for (const auto& [endpoint, d] : haveByEndpoint) {
    if (!wantedEndpoints.count(endpoint)) {
      out.push_back(op(kipvs::Op::Kind::DeleteDestination, key, *d));
    }
  }
  std::vector<kipvs::Op> adds;
  for (const auto* d : wanted) {
    const auto it = haveByEndpoint.find(Endpoint{d->address, d->port});
    if (it == haveByEndpoint.end()) {
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

namespace {

const DesiredService& deref(const DesiredService& d) { return d; }
const DesiredService& deref(const DesiredService* d) { return *d; }

template <class Desired, class Find, class Has>
std::vector<kipvs::Op> planWith(const std::vector<Desired>& desired, const Find& find,
                                const Has& has, const std::set<kipvs::ServiceKey>& owned) {
  std::vector<kipvs::Op> out;
  std::set<kipvs::ServiceKey> seen;
  for (const auto& entry : desired) {
    const DesiredService& want = deref(entry);
    const kipvs::ServiceKey key = normalized(want.service.key);
    if (!seen.insert(key).second) continue;
    const kipvs::ServiceState* current = find(key);
    kipvs::Service service = want.service;
    service.key = key;
    if (current == nullptr) {
      out.push_back(kipvs::Op{kipvs::Op::Kind::AddService, std::move(service), {}});
      for (const auto* d : unique(want.destinations)) {
        out.push_back(op(kipvs::Op::Kind::AddDestination, key, *d));
      }
      continue;
    }
    if (!current->service.sameSettings(service)) {
      out.push_back(kipvs::Op{kipvs::Op::Kind::EditService, std::move(service), {}});
    }
    planDestinations(key, want.destinations, *current, out);
  }

  for (const auto& k : owned) {
    const kipvs::ServiceKey key = normalized(k);
    if (!seen.count(key) && has(key)) {
      out.push_back(op(kipvs::Op::Kind::DeleteService, key));
      seen.insert(key);  // a key owned twice (before normalising) is deleted once
    }
  }
  return out;
}

}  // namespace

std::vector<kipvs::Op> plan(const std::vector<DesiredService>& desired,
                            const std::vector<kipvs::ServiceState>& actual,
                            const std::set<kipvs::ServiceKey>& owned) {
  std::map<kipvs::ServiceKey, const kipvs::ServiceState*> have;
  for (const auto& s : actual) have.emplace(normalized(s.service.key), &s);
  auto find = [&](const kipvs::ServiceKey& k) -> const kipvs::ServiceState* {
    const auto it = have.find(k);
    return it == have.end() ? nullptr : it->second;
  };
  return planWith(
      desired, find, [&](const kipvs::ServiceKey& k) { return have.count(k) > 0; }, owned);
}

std::vector<kipvs::Op> planAgainst(const std::vector<const DesiredService*>& desired,
                                   const Table& actual, const std::set<kipvs::ServiceKey>& owned) {
  auto find = [&](const kipvs::ServiceKey& k) -> const kipvs::ServiceState* {
    const auto it = actual.find(k);
    return it == actual.end() ? nullptr : &it->second;
  };
  return planWith(
      desired, find, [&](const kipvs::ServiceKey& k) { return actual.count(k) > 0; }, owned);
}

}  // namespace quorate::server::ipvs
