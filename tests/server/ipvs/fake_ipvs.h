// An in-memory kernel::ipvs::Ipvs with the kernel's semantics, for the logic above IPVS: ESRCH
// for a missing service, ENOENT for a missing destination, EEXIST for adding what exists (unless
// tolerant, which edits instead; tolerant deletes of what is missing succeed), destinations need
// their service. Failures can be injected on the n-th op; ops are counted.
#pragma once

#include <cerrno>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/kernel/ipvs.h"

namespace quorate::server::ipvs::testing {

class FakeIpvs : public kernel::ipvs::Ipvs {
 public:
  using Key = kernel::ipvs::ServiceKey;
  using Endpoint = std::pair<net::IpAddress, std::uint16_t>;
  struct Entry {
    kernel::ipvs::Service service;
    std::map<Endpoint, kernel::ipvs::Destination> destinations;
  };

  // The table, by key; tests may change it behind the reconciler's back.
  std::map<Key, Entry> table;

  // Counters.
  int dumps = 0;
  int applies = 0;  // apply() calls
  int ops = 0;      // ops received by apply(), over all calls
  std::map<kernel::ipvs::Op::Kind, int> opsByKind;
  std::vector<std::string> journal;  // each op's toString(), with " -> errno" when it failed

  // Fails the op that is the n-th from now (1 = the next one) with `err`.
  void failOp(int n, int err = EIO) { failAt_.emplace(ops + n, err); }
  // Fails every op whose toString() contains `what`, until cleared.
  std::optional<std::pair<std::string, int>> failMatching;
  // The next dump() or apply() fails as a whole with this errno (a transport failure).
  std::optional<int> failNextDump;
  std::optional<int> failNextApply;

  // Adds a service with destinations directly (setting up foreign or pre-existing state).
  void put(const kernel::ipvs::Service& s, const std::vector<kernel::ipvs::Destination>& ds = {}) {
    Entry& e = table[s.key];
    e.service = s;
    for (const auto& d : ds) e.destinations[Endpoint{d.address, d.port}] = d;
  }
  std::size_t destinationCount() const {
    std::size_t n = 0;
    for (const auto& [k, e] : table) n += e.destinations.size();
    return n;
  }
  const kernel::ipvs::Destination* find(const Key& k, const net::IpAddress& a,
                                        std::uint16_t port) const {
    const auto it = table.find(k);
    if (it == table.end()) return nullptr;
    const auto d = it->second.destinations.find(Endpoint{a, port});
    return d == it->second.destinations.end() ? nullptr : &d->second;
  }
  // Zeroes the counters and the journal (pending failOp()s still hit the same op).
  void resetCounters() {
    std::map<int, int> rebased;
    for (const auto& [n, err] : failAt_) rebased.emplace(n - ops, err);
    failAt_ = std::move(rebased);
    dumps = applies = ops = 0;
    opsByKind.clear();
    journal.clear();
  }

  Result<kernel::ipvs::Info> info() override { return kernel::ipvs::Info{0x010201, 4096}; }

  Result<std::vector<kernel::ipvs::ServiceState>> dump() override {
    ++dumps;
    if (failNextDump) {
      const int e = *failNextDump;
      failNextDump.reset();
      return Status::fail(e, "dump ipvs");
    }
    std::vector<kernel::ipvs::ServiceState> out;
    for (const auto& [k, e] : table) {
      kernel::ipvs::ServiceState s;
      s.service = e.service;
      s.service.flags |= kernel::ipvs::flag::kHashed;  // as the kernel reports it
      for (const auto& [ep, d] : e.destinations) s.destinations.push_back({d, 0, 0, 0, {}});
      out.push_back(std::move(s));
    }
    return out;
  }

  Result<std::vector<Status>> apply(const std::vector<kernel::ipvs::Op>& list,
                                    bool tolerant) override {
    ++applies;
    if (failNextApply) {
      const int e = *failNextApply;
      failNextApply.reset();
      return Status::fail(e, "ipvs netlink");
    }
    std::vector<Status> out;
    for (const auto& op : list) {
      ++ops;
      ++opsByKind[op.kind];
      Status st = injected(op);
      if (st) st = one(op, tolerant);
      journal.push_back(op.toString() + (st ? "" : " -> " + std::to_string(st.err())));
      out.push_back(std::move(st));
    }
    return out;
  }

  Result<std::vector<kernel::ipvs::SyncDaemon>> syncDaemons() override {
    std::vector<kernel::ipvs::SyncDaemon> out;
    for (const auto& [role, d] : daemons) out.push_back(d);
    return out;
  }
  Status startSyncDaemon(const kernel::ipvs::SyncDaemon& d) override {
    if (daemons.count(d.role)) return Status::fail(EEXIST, "start sync daemon");
    daemons[d.role] = d;
    return Status::ok();
  }
  Status stopSyncDaemon(kernel::ipvs::SyncRole role) override {
    if (!daemons.erase(role)) return Status::fail(ESRCH, "stop sync daemon");
    return Status::ok();
  }
  std::map<kernel::ipvs::SyncRole, kernel::ipvs::SyncDaemon> daemons;

 private:
  Status injected(const kernel::ipvs::Op& op) {
    const auto it = failAt_.find(ops);
    if (it != failAt_.end()) {
      const int e = it->second;
      failAt_.erase(it);
      return Status::fail(e, op.toString());
    }
    if (failMatching && op.toString().find(failMatching->first) != std::string::npos) {
      return Status::fail(failMatching->second, op.toString());
    }
    return Status::ok();
  }

  // What the kernel does with one op.
  Status one(const kernel::ipvs::Op& op, bool tolerant) {
    using Kind = kernel::ipvs::Op::Kind;
    const std::string what = op.toString();
    const auto svc = table.find(op.service.key);
    const Endpoint ep{op.destination.address, op.destination.port};
    switch (op.kind) {
      case Kind::AddService:
        if (svc != table.end() && !tolerant) return Status::fail(EEXIST, what);
        table[op.service.key].service = op.service;
        return Status::ok();
      case Kind::EditService:
        if (svc == table.end()) return Status::fail(ESRCH, what);
        svc->second.service = op.service;
        return Status::ok();
      case Kind::DeleteService:
        if (svc == table.end()) {
          return tolerant ? Status::ok() : Status::fail(ESRCH, what);
        }
        table.erase(svc);
        return Status::ok();
      case Kind::AddDestination:
      case Kind::EditDestination:
      case Kind::DeleteDestination:
        break;
    }
    if (svc == table.end()) {
      return tolerant && op.kind == Kind::DeleteDestination ? Status::ok()
                                                            : Status::fail(ESRCH, what);
    }
    auto& dests = svc->second.destinations;
    const auto d = dests.find(ep);
    switch (op.kind) {
      case Kind::AddDestination:
        if (d != dests.end() && !tolerant) return Status::fail(EEXIST, what);
        dests[ep] = op.destination;
        return Status::ok();
      case Kind::EditDestination:
        if (d == dests.end()) return Status::fail(ENOENT, what);
        d->second = op.destination;
        return Status::ok();
      case Kind::DeleteDestination:
        if (d == dests.end()) {
          return tolerant ? Status::ok() : Status::fail(ENOENT, what);
        }
        dests.erase(d);
        return Status::ok();
      default:
        return Status::fail(EINVAL, what);
    }
  }

  std::map<int, int> failAt_;  // op number (1-based, over all calls) -> errno
};

}  // namespace quorate::server::ipvs::testing
