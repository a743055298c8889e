// The lease host: steps each lease's node and carries out what it says, in the order safety
// needs (persist, then the data plane, then messages).
#include "server/lease_host.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "common/logging.h"
#include "common/membership.h"
#include "common/peer_client.h"
#include "server/dataplane.h"
#include "server/health.h"

namespace quorate::server {
namespace {

using lease::NodeId;
using lease::Time;

// How long a director whose pre-claim gate failed leaves another holder alone.
constexpr lease::Duration kPreemptBackOffAfterFailedGate = std::chrono::seconds(60);

std::int64_t toMs(lease::Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// "acceptor.state" for the default lease (as before leases had names), else
// "acceptor@<lease>.state".
std::string statePath(const DirectorConfig& cfg, const LeaseConfig& l) {
  if (l.name == kDefaultLease) return cfg.stateDir + "/acceptor.state";
  return cfg.stateDir + "/acceptor@" + l.name + ".state";
}

const char* keepalivedState(LeaseState s) {
  switch (s) {
    case LeaseState::kHolder:
      return "MASTER";
    case LeaseState::kStandby:
      return "BACKUP";
    case LeaseState::kFault:
      return "FAULT";
    case LeaseState::kStopping:
      return "STOP";
    case LeaseState::kNone:
      break;
  }
  return "INIT";
}

}  // namespace

FileLeaseStore::FileLeaseStore(const DirectorConfig& config) : stateDir_(config.stateDir) {
  for (const auto& l : config.leases) files_.emplace_back(statePath(config, l));
}

void FileLeaseStore::add(const LeaseConfig& lease) {
  DirectorConfig where;
  where.stateDir = stateDir_;
  files_.emplace_back(statePath(where, lease));
}

lease::DurableState FileLeaseStore::load(std::size_t lease) {
  return files_.at(lease).loadOrThrow();
}

Status FileLeaseStore::save(std::size_t lease, const lease::DurableState& s) {
  return files_.at(lease).save(s);
}

LeaseHost::LeaseHost(const DirectorConfig& config, Clock clock, LeaseTransport& transport,
                     LeaseStore& store, DataPlane* dataPlane, const OwnHealth* health,
                     Random random)
    : config_(config),
      clock_(std::move(clock)),
      transport_(transport),
      store_(store),
      dataPlane_(dataPlane),
      health_(health),
      membership_(config.membership()),
      random_(std::move(random)),
      stats_(0) {
  if (config_.leases.empty()) throw std::invalid_argument("a lease host needs a lease");
  for (const auto& lc : config_.leases) {
    if (const Status st = appendLease(lc, random_); !st) throw std::runtime_error(st.message());
  }
  publishNames();
}

Status LeaseHost::appendLease(const LeaseConfig& lc, Random& random) {
  const std::size_t i = leases_.size();
  auto nc = config_.nodeConfig(lc);
  nc.seed = random();
  // This process, told apart from any other that believes it is this node (a clone).
  do {
    nc.instance = random();
  } while (nc.instance == 0);
  // A file that exists but cannot be read is never written over: the index is kept, retired,
  // so that the host, the data plane and the hooks keep counting leases alike.
  lease::DurableState state;
  std::string unreadable;
  try {
    state = store_.load(i);
  } catch (const std::exception& e) {
    unreadable = e.what();
  }
  // A new node starts quarantined: it neither campaigns nor answers before the quarantine ends.
  auto node = std::make_unique<lease::DirectorNode>(nc, state, clock_());
  const Status st =
      unreadable.empty() ? store_.save(i, node->durable()) : Status::fail(EIO, unreadable);
  leases_.push_back(Lease{std::make_shared<const LeaseConfig>(lc), std::move(node), Track{}});
  stats_.add();
  if (!st) leases_.back().retired = true;
  return st;
}

Status LeaseHost::addLease(const LeaseConfig& lease) {
  const Status st = appendLease(lease, random_);
  publishNames();
  if (!st) return st.withWhat("lease " + lease.name + " not added: " + st.what());
  const Time now = clock_();
  spdlog::info(
      "lease {}: added by a reload at index {}: epoch floor {}, campaigning after the "
      "quarantine of {} ms",
      lease.name, leases_.size() - 1, leases_.back().node->durable().maxEpoch,
      toMs(config_.timing.quarantine));
  // Eligibility as the other leases have it, and the first timer.
  const std::size_t i = leases_.size() - 1;
  // Not a structured binding: clang 14 cannot capture one in a lambda.
  const std::pair<bool, std::string> e = eligibility(i, now);
  step(i, [&](auto& n) { return n.setEligible(now, e.first, e.second); });
  return Status::ok();
}

bool LeaseHost::retireLease(std::size_t i) {
  Lease& l = leases_.at(i);
  if (l.retired) return true;
  const Time now = clock_();
  if (l.node->holds(now)) {
    spdlog::info("lease {}: removed by a reload: stepping down at epoch {}", l.cfg->name,
                 l.node->epoch());
    releaseNow(i, l.node->epoch(), "lease removed by a reload", std::chrono::milliseconds(0));
  }
  // Whether it held or not: withdrawn (idempotent), a gate that waited cancelled. A step-down
  // that could not be written leaves the node holding: its VIPs go dark all the same and the
  // tenure lapses, never renewed.
  const Time after = clock_();
  bool dark = true;
  if (!l.node->holds(after)) {
    dark = followLease(i, after);
  } else if (dataPlane_) {
    dark = dataPlane_->withdraw(i);
  }
  report(i, LeaseState::kStopping, false, "lease removed by a reload", clock_());
  l.retired = true;
  publishNames();
  noteVisibleChange(clock_());
  if (deadlineChanged_) deadlineChanged_();
  return dark;
}

std::vector<std::size_t> LeaseHost::liveLeases() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < leases_.size(); ++i) {
    if (!leases_[i].retired) out.push_back(i);
  }
  return out;
}

std::optional<std::size_t> LeaseHost::firstLive() const {
  for (std::size_t i = 0; i < leases_.size(); ++i) {
    if (!leases_[i].retired) return i;
  }
  return std::nullopt;
}

void LeaseHost::publishNames() {
  std::map<std::string, std::size_t> names;
  for (std::size_t i = 0; i < leases_.size(); ++i) {
    if (!leases_[i].retired) names[leases_[i].cfg->name] = i;
  }
  std::lock_guard<std::mutex> lock(namesMu_);
  names_ = std::move(names);
}

std::optional<std::size_t> LeaseHost::leaseIndex(const std::string& leaseName) const {
  std::lock_guard<std::mutex> lock(namesMu_);
  const auto it = names_.find(leaseName);
  if (it == names_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> LeaseHost::identityConflict(const std::string& membership,
                                                       const std::string& fromName,
                                                       const lease::Message& m) const {
  // Whoever sent this must agree with us on who is who, or both of us could believe we are the
  // same node (a copied file, directors listed in another order, another arbiter).
  if (membership != membership_) {
    return "membership differs: " + config_.node + " has [" + oneLine(membership_) + "], " +
           fromName.substr(0, 64) + " has [" + oneLine(membership) + "]";
  }
  if (m.to != config_.self || m.from == config_.self) {
    return "identity: a message from node " + std::to_string(m.from) + " to node " +
           std::to_string(m.to) + " reached this director, node " + std::to_string(config_.self) +
           " (" + config_.node + "): two processes believe they are the same director";
  }
  if (fromName != name(m.from)) {
    return "directors lists differ: node " + std::to_string(m.from) + " is \"" + name(m.from) +
           "\" here but the sender calls itself \"" + fromName.substr(0, 64) + "\"";
  }
  return std::nullopt;
}

void LeaseHost::receive(std::size_t i, const lease::Message& m,
                        std::vector<lease::Message>* reply) {
  // Looked up before a reload retired it: a lease we no longer run answers nothing.
  if (leases_.at(i).retired) return;
  spdlog::trace("<- {} {} (request)", name(m.from), lease::bodyName(m.body));
  if (m.from == lease::otherDirector(config_.self)) {
    // What the other director released needs no fence before we claim after it.
    auto& released = leases_[i].track.releasedEpoch;
    if (const auto* r = std::get_if<lease::Release>(&m.body))
      released = std::max(released, r->epoch);
    if (const auto* h = std::get_if<lease::Handover>(&m.body))
      released = std::max(released, h->epoch);
  }
  step(
      i, [&](auto& n) { return n.receive(clock_(), m); }, m.from, reply);
}

void LeaseHost::delivered(std::size_t i, const std::vector<lease::Message>& replies) {
  if (leases_.at(i).retired) return;
  for (const auto& r : replies) {
    spdlog::trace("lease {}: <- {} {}", leases_[i].cfg->name, name(r.from),
                  lease::bodyName(r.body));
    warnIfMisconfigured(r);
    step(i, [&](auto& n) { return n.receive(clock_(), r); });
  }
}

void LeaseHost::undelivered(std::size_t i, const lease::Message& sent) {
  if (leases_.at(i).retired) return;
  step(i, [&](auto& n) { return n.peerUnreachable(clock_(), sent.to, sent); });
}

void LeaseHost::step(std::size_t i, const Step& fn, std::optional<NodeId> replyTo,
                     std::vector<lease::Message>* reply) {
  Lease& l = leases_[i];
  if (l.retired) return;  // a hook's or a gate's callback after a reload removed the lease
  const lease::DirectorNode before = *l.node;
  lease::Output out = fn(*l.node);
  const Time now = clock_();
  // Losing the lease withdraws the VIPs before anything else happens. If they may still
  // answer (the fence did not close), a Release or Handover would tell the acceptors the lease
  // is free while our VIPs are lit: those are dropped and the lease lapses instead.
  const bool dark = l.node->holds(now) || followLease(i, now);
  if (out.persist) {
    // Nothing that depends on the new epoch may leave before it is on disk.
    const auto writeStart = std::chrono::steady_clock::now();
    const Status saved = store_.save(i, l.node->durable());
    const auto took = std::chrono::steady_clock::now() - writeStart;
    if (took > std::chrono::milliseconds(50)) {
      // A slow disk delays acquisitions (and so failovers) by this much.
      spdlog::warn("lease {}: writing epoch {} to {} took {} ms", l.cfg->name,
                   l.node->durable().maxEpoch, config_.stateDir, toMs(took));
    }
    if (!saved) {
      counters_.persistFailures.fetch_add(1, std::memory_order_relaxed);
      spdlog::critical(
          "lease {}: cannot persist epoch {}: {}; undoing the step ({} messages "
          "not sent)",
          l.cfg->name, l.node->durable().maxEpoch, saved.message(), out.send.size());
      // What did not reach the disk never happened: a later step must not build on it.
      *l.node = before;
      out = lease::Output{};
      if (!l.node->holds(now)) followLease(i, now);
    }
  }
  stats_.stepped(i, before, *l.node, out, now);
  // Our own acceptor lets go of a released tenure only once its VIPs are dark, like the others.
  if (out.releaseLocal && dark) l.node->releaseOwn(now, *out.releaseLocal);
  // Gaining (or renewing) it claims the VIPs once the epoch is on disk, before anyone hears
  // from us.
  if (l.node->holds(now)) followLease(i, now);
  for (const auto& c : out.changes) {
    const std::string text =
        fmt::format("lease {}: role {} -> {} epoch {}: {}", l.cfg->name, lease::toString(c.from),
                    lease::toString(c.to), c.epoch, c.reason);
    if (c.from == c.to) {  // the same role for another reason (healthy again)
      spdlog::info("{}", text);
      continue;
    }
    // One line per role change whatever log_level says; losing the lease is a warning.
    logEvent(c.from == lease::Role::kHolder ? spdlog::level::warn : spdlog::level::info,
             {config_.cluster, l.cfg->name, c.epoch, lease::toString(c.to), c.reason}, text,
             LogAlways::kYes);
  }
  if (out.halt) {
    // The node is inert from now on (it still answers as an acceptor); a restart does not help
    // until whatever pushed the counter to the limit is found.
    spdlog::critical("lease {}: STOPPED for good: {}", l.cfg->name, *out.halt);
  }
  for (auto& m : out.send) {
    if (!dark && (std::holds_alternative<lease::Release>(m.body) ||
                  std::holds_alternative<lease::Handover>(m.body))) {
      spdlog::critical(
          "lease {}: not sending {} to {}: the VIPs may still answer; the lease "
          "lapses instead",
          l.cfg->name, lease::bodyName(m.body), name(m.to));
      continue;
    }
    spdlog::trace("lease {}: -> {} {}", l.cfg->name, name(m.to), lease::bodyName(m.body));
    if (replyTo && m.to == *replyTo && reply) {
      reply->push_back(m);
    } else {
      transport_.send(i, m);
    }
  }
  track(i, out, now, dark);
  noteVisibleChange(now);
  if (deadlineChanged_) deadlineChanged_();
}

std::optional<Time> LeaseHost::earliestHeldLeaseEnd() const {
  std::optional<Time> out;
  for (std::size_t i = 0; i < leases_.size(); ++i) {
    const auto& node = *leases_[i].node;
    const bool answering = dataPlane_ && dataPlane_->claimed(i);
    if ((leases_[i].retired || node.role() != lease::Role::kHolder) && !answering) continue;
    if (!out || node.leaseEnd() < *out) out = node.leaseEnd();
  }
  return out;
}

bool LeaseHost::claimAllowed(std::size_t i) {
  Lease& l = leases_[i];
  Track& t = l.track;
  const std::uint64_t epoch = l.node->epoch();
  if (t.gatePassed == epoch) return true;
  if (t.gateRunning == epoch) return false;
  const auto unreleased = unreleasedPrevious(l);
  if (!gate_ || !gate_->gates(i, unreleased)) {
    t.gatePassed = epoch;
    return true;
  }
  t.gateRunning = epoch;
  t.gateWhat = unreleased ? "fencing " + *unreleased + " (it never released epoch " +
                                std::to_string(t.foreign->epoch) + "), then pre-claim hooks"
                          : "pre-claim hooks";
  spdlog::info("lease {}: won at epoch {}; the VIPs stay dark until {} succeed", l.cfg->name, epoch,
               t.gateWhat);
  gate_->beforeClaim(i, epoch, unreleased, [this, i, epoch](bool ok, const std::string& why) {
    gateDone(i, epoch, ok, why);
  });
  return false;
}

void LeaseHost::gateDone(std::size_t i, std::uint64_t epoch, bool ok, const std::string& why) {
  Lease& l = leases_[i];
  Track& t = l.track;
  if (t.gateRunning != epoch) return;
  t.gateRunning = 0;
  t.gateWhat.clear();
  const Time now = clock_();
  if (!l.node->holds(now) || l.node->epoch() != epoch) {
    spdlog::info("lease {}: epoch {} ended before its claim could start ({})", l.cfg->name, epoch,
                 why);
    return;
  }
  if (ok) {
    spdlog::info("lease {}: epoch {}: {}; claiming", l.cfg->name, epoch, why);
    t.gatePassed = epoch;
    t.gateFailed = false;
    step(i, [](auto&) { return lease::Output{}; });
    return;
  }
  spdlog::error("lease {}: not claiming epoch {}: {}; handing the lease on", l.cfg->name, epoch,
                why);
  t.gateFailed = true;
  t.gateFailure = why;
  releaseNow(i, epoch, "pre-claim failed: " + why, std::chrono::milliseconds(0));
  // A preferred director would preempt the lease back after preempt_delay_ms and fail again:
  // the other director's VIPs down for a gate and two handovers every round. A failover still
  // comes here; an operator's longer hold is kept; step-down --clear-hold ends this one.
  const auto held = l.node->preemptionHeldUntil(now);
  if (!held || *held < now + kPreemptBackOffAfterFailedGate) {
    l.node->holdPreemption(now + kPreemptBackOffAfterFailedGate);
    spdlog::warn("lease {}: no preemption back for {} s after the failed pre-claim", l.cfg->name,
                 toMs(kPreemptBackOffAfterFailedGate) / 1000);
    noteVisibleChange(now);  // status watchers see the hold
  }
}

std::optional<std::string> LeaseHost::unreleasedPrevious(const Lease& l) const {
  const auto& f = l.track.foreign;
  if (!f || f->owner != lease::otherDirector(config_.self)) return std::nullopt;
  if (f->epoch <= l.track.releasedEpoch) return std::nullopt;
  return name(f->owner);
}

void LeaseHost::track(std::size_t i, const lease::Output& out, Time now, bool dark) {
  Lease& l = leases_[i];
  Track& t = l.track;
  if (t.reported == LeaseState::kStopping) return;  // the last word of this run
  const auto& node = *l.node;
  const NodeId peer = lease::otherDirector(config_.self);
  if (const auto k = node.knownLease(now)) {
    if (k->owner != config_.self) {
      t.foreign = *k;
      // Someone else serves: our failed claim is no longer what keeps the VIPs dark.
      t.gateFailed = false;
    }
  }
  // A holder that stops holding without a Release or Handover lost it: it could not renew.
  std::optional<lease::RoleChange> lapse;
  for (const auto& c : out.changes) {
    if (c.from != lease::Role::kHolder || c.to == lease::Role::kHolder) continue;
    const bool released = std::any_of(out.send.begin(), out.send.end(), [](const auto& m) {
      return std::holds_alternative<lease::Release>(m.body) ||
             std::holds_alternative<lease::Handover>(m.body);
    });
    if (!released) lapse = c;
  }
  // Reported only once the VIPs are dark: an early lapse (a renewal refused) whose fence did not
  // close leaves them answering until the fence's own deadline; later steps retry the close.
  if (lapse && !dark) {
    t.lapseNotDark = lapse;
    lapse.reset();
  } else if (!lapse && t.lapseNotDark && dark) {
    lapse = t.lapseNotDark;
  }
  if (dark) t.lapseNotDark.reset();
  const bool majority = reachable(peer, now) || reachable(lease::kArbiter, now);
  if (majority) t.hadMajority = true;
  if (t.quorumLostAt) {
    auto heardSince = [&](NodeId n) {
      const auto s = lastSeen(n);
      return s && *s > *t.quorumLostAt;
    };
    if (heardSince(peer) || heardSince(lease::kArbiter)) t.quorumLostAt.reset();
  }
  if (lapse && !t.quorumLostAt) {
    t.quorumLostAt = now;
    report(i, LeaseState::kFault, true,
           "lost the lease at epoch " + std::to_string(lapse->epoch) + ": " + lapse->reason, now,
           lapse->epoch);
    return;
  }
  if (t.lapseNotDark) return;  // still MASTER as far as anyone can tell
  if (!t.quorumLostAt && t.hadMajority && !majority && !node.holds(now)) {
    t.quorumLostAt = now;
    report(i, LeaseState::kFault, true,
           "lost contact with the majority: " + name(peer) + " and " + name(lease::kArbiter) +
               " unreachable",
           now);
    return;
  }
  LeaseState want = LeaseState::kStandby;
  std::string why = node.reason();
  const bool claimed =
      node.holds(now) && t.gatePassed == node.epoch() && (!dataPlane_ || dataPlane_->claimed(i));
  if (claimed) {
    want = LeaseState::kHolder;
  } else if (t.quorumLostAt) {
    want = LeaseState::kFault;
    why = "no quorum";
  } else if (!node.eligible()) {
    want = LeaseState::kFault;
  } else if (t.gateFailed) {
    want = LeaseState::kFault;
    why = "pre-claim failed: " + t.gateFailure;
  }
  if (want != t.reported) report(i, want, false, why, now);
  if (claimed) t.foreign.reset();  // the holder before our next tenure is us
  if (const auto k = node.knownLease(now)) t.lastHolder = name(k->owner);
}

void LeaseHost::report(std::size_t i, LeaseState to, bool quorumLost, const std::string& reason,
                       Time now, std::optional<std::uint64_t> epoch) {
  Lease& l = leases_[i];
  Track& t = l.track;
  Transition tr;
  tr.lease = i;
  tr.from = t.reported;
  tr.to = to;
  tr.quorumLost = quorumLost;
  const auto known = l.node->knownLease(now);
  tr.epoch = epoch ? *epoch : known ? known->epoch : l.node->epoch();
  if (to == LeaseState::kHolder) {
    tr.previousHolder = t.foreign ? name(t.foreign->owner) : "";
  } else if (t.reported == LeaseState::kHolder) {
    tr.previousHolder = config_.node;
  } else {
    tr.previousHolder = t.lastHolder;
  }
  tr.reason = reason;
  t.reported = to;
  const auto level =
      to == LeaseState::kFault || quorumLost ? spdlog::level::warn : spdlog::level::info;
  logEvent(level, {config_.cluster, l.cfg->name, tr.epoch, keepalivedState(to), reason},
           fmt::format("lease {}: {} -> {}{} epoch {}: {}", l.cfg->name, keepalivedState(tr.from),
                       keepalivedState(to), quorumLost ? " (quorum lost)" : "", tr.epoch, reason));
  if (sink_) sink_->transition(tr);
}

void LeaseHost::stopping() {
  const Time now = clock_();
  for (std::size_t i = 0; i < leases_.size(); ++i) {
    if (leases_[i].retired || leases_[i].track.reported == LeaseState::kStopping) continue;
    report(i, LeaseState::kStopping, false, "the director stops", now);
  }
  updateEligibility();
}

bool LeaseHost::followLease(std::size_t i, Time now) {
  Lease& l = leases_[i];
  const auto& node = *l.node;
  if (node.holds(now)) {
    // Until the gate (fence-before-claim, pre-claim hooks) passes, the VIPs stay dark.
    if (claimAllowed(i) && dataPlane_) dataPlane_->hold(i, node.leaseEnd());
    return true;
  }
  if (l.track.gateRunning) {
    if (gate_) gate_->cancel(i);
    spdlog::info("lease {}: epoch {} lost while its claim waited for {}", l.cfg->name,
                 l.track.gateRunning, l.track.gateWhat);
    l.track.gateRunning = 0;
    l.track.gateWhat.clear();
  }
  if (!dataPlane_) return true;
  return dataPlane_->withdraw(i);
}

bool LeaseHost::healthy(Time now) const {
  return (!health_ || health_->healthy()) && !conflicted(now);
}

std::vector<std::string> LeaseHost::problems(Time now) const {
  std::vector<std::string> out;
  if (health_) out = health_->problems();
  if (conflicted(now)) out.push_back("identity conflict: " + conflictWhy_);
  // Each lease's own tracking, named (status has one list for the director).
  for (std::size_t i = 0; health_ && i < leases_.size(); ++i) {
    if (leases_[i].retired) continue;
    const auto v = health_->leaseVerdict(leases_[i].cfg->name);
    for (const auto& f : v.faults) out.push_back("lease " + leases_[i].cfg->name + ": " + f);
    for (const auto& n : v.notes) out.push_back("lease " + leases_[i].cfg->name + ": " + n);
  }
  return out;
}

std::pair<bool, std::string> LeaseHost::eligibility(std::size_t i, Time now) const {
  std::string why;
  auto add = [&](const std::string& p) { why += (why.empty() ? "" : "; ") + p; };
  bool ok = healthy(now);
  if (!ok) {
    if (health_) {
      for (const auto& p : health_->problems()) add(p);
    }
    if (conflicted(now)) add("identity conflict: " + conflictWhy_);
  }
  // This lease's own tracking: a fault here leaves the director's other leases alone.
  if (health_) {
    for (const auto& f : health_->leaseVerdict(leases_.at(i).cfg->name).faults) {
      ok = false;
      add(f);
    }
  }
  if (ok) why = "all tracked interfaces and scripts fine";
  return {ok, why};
}

void LeaseHost::updateEligibility() {
  const Time now = clock_();
  for (std::size_t i = 0; i < leases_.size(); ++i) {
    if (leases_[i].retired) continue;
    const std::pair<bool, std::string> e = eligibility(i, now);  // captured: no binding
    const bool ok = e.first;
    const std::string& why = e.second;
    // A director that stops campaigns no more: while its STOP hooks run (up to 30 s) it would
    // otherwise win back what it just handed over, with nobody told.
    const bool stops = leases_[i].track.reported == LeaseState::kStopping;
    step(i, [&](auto& n) {
      return n.setEligible(now, ok && !stops, stops ? "the director stops" : why);
    });
  }
}

bool LeaseHost::probeIdentity() {
  const auto first = firstLive();
  if (!first) return false;
  const auto& node = *leases_[*first].node;
  if (node.role() != lease::Role::kQuarantine) return false;
  for (NodeId n = 0; n < lease::kNodeCount; ++n) {
    if (n == config_.self) continue;
    transport_.probe(*first,
                     lease::Message{config_.self, n, lease::Ping{}, node.config().instance});
  }
  return true;
}

void LeaseHost::refusedIdentity(NodeId peer, const std::string& why) {
  // The peer's view of who is who is not ours (see the proto). Its refusal only takes its vote
  // away; the side that sees both views decides whether to stop (the peer service).
  counters_.identityConflicts.fetch_add(1, std::memory_order_relaxed);
  noteConflict(name(peer) + " refused us: " + why, false);
}

void LeaseHost::noteConflict(const std::string& why, bool stop) {
  const Time now = clock_();
  // Without `stop` the refusal (ours or theirs) takes that vote away, which is all safety needs.
  const bool was = conflicted(now);
  if (stop) {
    // Long enough that the other side's pings (every two renewal intervals) keep it going, and
    // that a restarted peer's quarantine is over before we campaign again.
    conflictUntil_ = now + 2 * config_.timing.quarantine + 4 * config_.timing.renewInterval;
    conflictWhy_ = why;
  }
  const bool starts = stop && !was;
  if (starts || !lastConflictLog_ || now - *lastConflictLog_ >= std::chrono::seconds(10)) {
    lastConflictLog_ = now;
    spdlog::error("identity conflict{}: {}", stop ? ", neither campaigning nor holding" : "", why);
  }
  if (starts) updateEligibility();
}

void LeaseHost::warnIfMisconfigured(const lease::Message& reply) {
  const auto* r = std::get_if<lease::Reject>(&reply.body);
  if (!r || r->reason != lease::RejectReason::kLeaseTooLong) return;
  const Time now = clock_();
  if (lastMisconfigWarning_ && now - *lastMisconfigWarning_ < std::chrono::seconds(60)) return;
  lastMisconfigWarning_ = now;
  spdlog::error(
      "{} refuses leases of acceptor_lease_ms {}: its quarantine_ms is shorter; "
      "raise it to at least {}",
      name(reply.from), toMs(config_.timing.acceptorLease), toMs(config_.timing.acceptorLease));
}

Time LeaseHost::nextWake() const {
  Time next = Time::max();
  for (const auto& l : leases_) {
    if (!l.retired) next = std::min(next, l.node->nextDeadline());
  }
  if (conflicted(clock_())) next = std::min(next, *conflictUntil_);
  return next;
}

void LeaseHost::onTimer() {
  if (conflictUntil_ && !conflicted(clock_())) {
    conflictUntil_.reset();
    spdlog::info("identity conflict over: no conflicting message for a while");
    updateEligibility();
  }
  for (std::size_t i = 0; i < leases_.size(); ++i) {
    if (!leases_[i].retired && leases_[i].node->nextDeadline() <= clock_()) {
      step(i, [this](auto& n) { return n.tick(clock_()); });
    }
  }
}

StepDownResult LeaseHost::stepDown(bool force, const std::string& leaseName,
                                   std::chrono::milliseconds hold, bool clearHold) {
  const Time now = clock_();
  StepDownResult r;
  const auto named = leaseName.empty() ? firstLive() : leaseIndex(leaseName);
  if (!named) {
    r.code = StepDownResult::Code::kNoSuchLease;
    r.why = "no lease named \"" + leaseName.substr(0, 64) + "\"";
    return r;
  }
  if (clearHold) {
    for (std::size_t i = 0; i < leases_.size(); ++i) {
      if (leases_[i].retired || (!leaseName.empty() && i != *named)) continue;
      if (leases_[i].node->preemptionHeldUntil(now)) {
        spdlog::info("lease {}: preemption hold cleared by operator", leases_[i].cfg->name);
      }
      leases_[i].node->holdPreemption(now);
      r.leases.push_back(leases_[i].cfg->name);
    }
    noteVisibleChange(now);
    return r;
  }
  std::vector<std::size_t> held;
  for (std::size_t i = 0; i < leases_.size(); ++i) {
    if (leases_[i].retired || (!leaseName.empty() && i != *named)) continue;
    if (leases_[i].node->holds(now)) held.push_back(i);
  }
  if (held.empty()) {
    const auto& node = *leases_[*named].node;
    const auto l = node.knownLease(now);
    r.code = StepDownResult::Code::kNotHolder;
    r.why = "not the holder (role " + std::string(lease::toString(node.role())) + ", holder " +
            (l ? name(l->owner) : std::string("none")) + ")";
    return r;
  }
  const NodeId peer = lease::otherDirector(config_.self);
  if (!force && !reachable(peer, now)) {
    r.code = StepDownResult::Code::kPeerUnreachable;
    r.why = "peer director " + name(peer) +
            " is unreachable; stepping down would leave nobody holding (use force to do it "
            "anyway)";
    return r;
  }
  r.releasedEpoch = leases_[held.front()].node->epoch();
  r.handedTo = name(peer);
  for (std::size_t i : held) {
    r.leases.push_back(leases_[i].cfg->name);
    if (release(i, "step-down requested by operator", hold)) r.afterPreRelease = true;
  }
  r.holdRemainingMs = hold.count();
  return r;
}

void LeaseHost::stepDownAll(const std::string& reason) {
  const Time now = clock_();
  for (std::size_t i = 0; i < leases_.size(); ++i) {
    if (!leases_[i].retired && leases_[i].node->holds(now)) {
      release(i, reason, std::chrono::milliseconds(0));
    }
  }
}

bool LeaseHost::holdsAny() const {
  const Time now = clock_();
  return std::any_of(leases_.begin(), leases_.end(),
                     [now](const Lease& l) { return !l.retired && l.node->holds(now); });
}

bool LeaseHost::release(std::size_t i, const std::string& reason, std::chrono::milliseconds hold) {
  Lease& l = leases_[i];
  const std::uint64_t epoch = l.node->epoch();
  // The hold is the operator's whatever becomes of the release: set now (the reply says so),
  // not only if the lease is still held once the pre-release hooks end.
  if (hold.count() > 0) l.node->holdPreemption(clock_() + hold);
  // Pre-release hooks matter only while the VIPs are ours; a claim still gated has none up.
  const bool claimed = l.track.gatePassed == epoch;
  if (gate_ && claimed && gate_->hasPreRelease(i)) {
    if (l.track.releasing == epoch) return true;  // already under way
    l.track.releasing = epoch;
    spdlog::info("lease {}: {}: releasing epoch {} after the pre-release hooks", l.cfg->name,
                 reason, epoch);
    gate_->beforeRelease(i, epoch, [this, i, epoch, reason, hold] {
      leases_[i].track.releasing = 0;
      releaseNow(i, epoch, reason, hold);
    });
    return true;
  }
  releaseNow(i, epoch, reason, hold);
  return false;
}

void LeaseHost::releaseNow(std::size_t i, std::uint64_t epoch, const std::string& reason,
                           std::chrono::milliseconds hold) {
  Lease& l = leases_[i];
  const Time now = clock_();
  if (!l.node->holds(now) || l.node->epoch() != epoch) return;  // lost meanwhile
  step(i, [&](auto& n) {
    auto o = n.stepDown(now, reason);
    return o ? std::move(*o) : lease::Output{};
  });
  if (hold.count() > 0) {
    l.node->holdPreemption(now + hold);
    spdlog::info("lease {}: no preemption back for {} ms (step-down --hold)", l.cfg->name,
                 hold.count());
  }
}

std::optional<Time> LeaseHost::lastSeen(NodeId n) const {
  std::optional<Time> seen;
  for (const auto& l : leases_) {
    const auto s = l.node->lastSeen(n);
    if (s && (!seen || *s > *seen)) seen = s;
  }
  return seen;
}

bool LeaseHost::reachable(NodeId n, Time now) const {
  if (n == config_.self) return true;
  const auto seen = lastSeen(n);
  // Peers are pinged every two renewal intervals; allow one lost ping.
  return seen && now - *seen <= 5 * config_.timing.renewInterval;
}

std::vector<LeaseSnapshot> LeaseHost::leaseSnapshots(Time now) const {
  std::vector<LeaseSnapshot> out;
  for (std::size_t i = 0; i < leases_.size(); ++i) {
    if (leases_[i].retired) continue;  // an operator sees the leases the file has
    const auto& node = *leases_[i].node;
    const auto& lc = *leases_[i].cfg;
    LeaseSnapshot s;
    s.name = lc.name;
    const bool holds = node.holds(now);
    s.role = holds ? "holder"
                   : lease::toString(node.role() == lease::Role::kHolder ? lease::Role::kStandby
                                                                         : node.role());
    s.reason = node.reason();
    if (const auto l = node.knownLease(now)) {
      s.holder = name(l->owner);
      s.epoch = l->epoch;
      s.remainingMs = toMs(l->remaining);
    } else {
      s.epoch = node.epoch();
    }
    if (lc.preferred) s.preferred = *lc.preferred;
    s.instances = lc.instances;
    if (dataPlane_) {
      for (const auto& v : dataPlane_->vipsOf(i)) s.vips.push_back(v.toString());
      s.claimed = dataPlane_->claimed(i);
    }
    s.eligible = node.eligible();
    s.state = keepalivedState(leases_[i].track.reported);
    s.quorumLost = leases_[i].track.quorumLostAt.has_value();
    s.gate = leases_[i].track.gateWhat;
    if (const auto h = node.preemptionHeldUntil(now)) s.holdRemainingMs = toMs(*h - now);
    out.push_back(std::move(s));
  }
  return out;
}

void LeaseHost::noteVisibleChange(Time now) {
  Visible v;
  v.leases = leaseSnapshots(now);
  // The time left and the reason change with every renewal and are not what version() follows.
  for (auto& l : v.leases) {
    l.remainingMs = 0;
    l.reason.clear();
    l.holdRemainingMs = l.holdRemainingMs > 0 ? 1 : 0;
  }
  for (NodeId n = 0; n < lease::kNodeCount; ++n) v.reachable.push_back(reachable(n, now));
  v.healthy = healthy(now);
  v.problems = problems(now);
  if (visible_ == v) return;
  for (NodeId n = 0; n < lease::kNodeCount && visible_; ++n) {
    if (n == config_.self || visible_->reachable[n] == v.reachable[n]) continue;
    spdlog::log(v.reachable[n] ? spdlog::level::info : spdlog::level::warn, "{} {}", name(n),
                v.reachable[n] ? "reachable" : "unreachable");
    // A peer heard again may mean a partition healed: the data plane decides what that needs.
    if (v.reachable[n] && dataPlane_) dataPlane_->peerReachableAgain();
  }
  visible_ = std::move(v);
  ++version_;
  if (versionChanged_) versionChanged_();
}

HostSnapshot LeaseHost::snapshot() const {
  const Time now = clock_();
  HostSnapshot s;
  s.cluster = config_.cluster;
  s.node = config_.node;
  s.leases = leaseSnapshots(now);
  s.healthy = healthy(now);
  s.problems = problems(now);
  for (NodeId n = 0; n < lease::kNodeCount; ++n) {
    NodeSnapshot ns;
    ns.id = name(n);
    ns.address = config_.peer(n).address;
    ns.self = n == config_.self;
    ns.reachable = reachable(n, now);
    const auto seen = lastSeen(n);
    ns.lastSeenMs = ns.self ? 0 : seen ? toMs(now - *seen) : -1;
    s.nodes.push_back(std::move(ns));
  }
  if (dataPlane_) {
    s.hasDataPlane = true;
    s.framesSuppressed = dataPlane_->counters().framesSuppressed;
    s.lapses = dataPlane_->counters().lapses;
    if (dataPlane_->balancer()) {
      s.virtualServers = dataPlane_->balancer()->view();
      // Their lease by index into s.leases, which leaves retired leases out.
      const auto live = liveLeases();
      for (auto& vs : s.virtualServers) {
        const auto at = std::find(live.begin(), live.end(), vs.lease);
        vs.lease = static_cast<std::size_t>(at - live.begin());
      }
    }
  }
  s.version = version_;
  return s;
}

}  // namespace quorate::server
