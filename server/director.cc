// Wires the lease core to the world: gRPC in and out, CLOCK_BOOTTIME, an Asio timer,
// fsync'd state, and one log line per role change.
#include "server/director.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <future>
#include <random>
#include <sstream>
#include <stdexcept>

#include "common/clock.h"
#include "common/convert.h"
#include "common/membership.h"
#include "common/secret.h"
#include "server/ipvs/check_targets.h"

namespace quorate::server {
namespace {

using lease::NodeId;
using lease::Time;
namespace asio = boost::asio;

std::int64_t toMs(lease::Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

std::unique_ptr<lease::DirectorNode> makeNode(const DirectorConfig& cfg, const LeaseConfig& l,
                                              const StateFile& state) {
  auto nc = cfg.nodeConfig(l);
  std::random_device rd;
  nc.seed = rd();
  // This process, told apart from any other that believes it is this node (a clone).
  do {
    nc.instance = (static_cast<std::uint64_t>(rd()) << 32) | rd();
  } while (nc.instance == 0);
  return std::make_unique<lease::DirectorNode>(nc, state.loadOrThrow(), bootNow());
}

// "acceptor.state" for the default lease (as before leases had names), else
// "acceptor@<lease>.state".
std::string statePath(const DirectorConfig& cfg, const LeaseConfig& l) {
  if (l.name == kDefaultLease) return cfg.stateDir + "/acceptor.state";
  return cfg.stateDir + "/acceptor@" + l.name + ".state";
}

[[noreturn]] void kernelFailure(const std::string& what, const Status& s) {
  throw std::runtime_error(what + ": " + s.message());
}

class PeerService final : public v1::Peer::CallbackService {
 public:
  explicit PeerService(Director& d) : director_(d) {}
  grpc::ServerUnaryReactor* Exchange(grpc::CallbackServerContext* ctx,
                                     const v1::ExchangeRequest* req,
                                     v1::ExchangeReply* reply) override {
    auto* reactor = ctx->DefaultReactor();
    director_.exchange(*req, [reactor, reply](grpc::Status s, v1::ExchangeReply r) {
      *reply = std::move(r);
      reactor->Finish(s);
    });
    return reactor;
  }

 private:
  Director& director_;
};

}  // namespace

// Streams a StatusReply at every change of state; coalesces when the client is slow.
class StatusWatcher final : public grpc::ServerWriteReactor<v1::StatusReply> {
 public:
  explicit StatusWatcher(Director& d) : director_(d) { director_.addWatcher(this); }

  // Called with the director's watcher lock held.
  void push(const v1::StatusReply& r) {
    std::lock_guard lock(mu_);
    if (finished_) return;
    pending_ = r;
    if (!writing_) writeNext();
  }
  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) {
      finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    if (pending_) writeNext();
  }
  void OnCancel() override {
    std::lock_guard lock(mu_);
    finish(grpc::Status::CANCELLED);
  }
  void OnDone() override {
    director_.removeWatcher(this);
    delete this;
  }

 private:
  void writeNext() {
    current_ = std::move(*pending_);
    pending_.reset();
    writing_ = true;
    StartWrite(&current_);
  }
  void finish(const grpc::Status& s) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }

  Director& director_;
  std::mutex mu_;
  bool writing_ = false;
  bool finished_ = false;
  std::optional<v1::StatusReply> pending_;
  v1::StatusReply current_;
};

namespace {

class OperatorService final : public v1::Director::CallbackService {
 public:
  explicit OperatorService(Director& d) : director_(d) {}

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx, const v1::StatusRequest*,
                                   v1::StatusReply* reply) override {
    auto* reactor = ctx->DefaultReactor();
    director_.status([reactor, reply](v1::StatusReply r) {
      *reply = std::move(r);
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

  grpc::ServerWriteReactor<v1::StatusReply>* WatchStatus(grpc::CallbackServerContext*,
                                                         const v1::StatusRequest*) override {
    return new StatusWatcher(director_);
  }

  grpc::ServerUnaryReactor* StepDown(grpc::CallbackServerContext* ctx,
                                     const v1::StepDownRequest* req,
                                     v1::StepDownReply* reply) override {
    auto* reactor = ctx->DefaultReactor();
    director_.stepDown(req->force(), req->lease(),
                       [reactor, reply](grpc::Status s, v1::StepDownReply r) {
                         *reply = std::move(r);
                         reactor->Finish(s);
                       });
    return reactor;
  }

 private:
  Director& director_;
};

}  // namespace

Director::Director(DirectorConfig config, std::optional<KernelPorts> ports)
    : config_(std::move(config)), membership_(config_.membership()) {
  if (config_.leases.empty()) {
    // Built by hand rather than parsed: the single default lease.
    config_.leases.push_back(
        LeaseConfig{kDefaultLease, {}, config_.preferred, config_.preemptDelay});
  }
  for (const auto& lc : config_.leases) {
    Lease l{&lc, StateFile(statePath(config_, lc)), nullptr};
    l.node = makeNode(config_, lc, l.state);
    // Record this start at once: the next start must use a new incarnation even if
    // this one dies before saying anything.
    if (const Status st = l.state.save(l.node->durable()); !st) {
      throw std::runtime_error(st.message());
    }
    leases_.push_back(std::move(l));
  }
  const bool needsKernel = config_.hasDataPlane() || !config_.trackInterfaces.empty();
  if (ports) {
    ports_ = *ports;
  } else if (needsKernel) {
    kernelVips_ = kernel::makeNetlinkVips();
    kernelLinks_ = kernel::makeNetlinkLinks();
    if (config_.fence == FenceMode::kNftables) kernelFence_ = kernel::makeNftFence();
    if (config_.hasDataPlane()) {
      auto a = kernel::makePacketAnnouncer();
      if (!a) kernelFailure("cannot open a packet socket for announcements", a.status());
      kernelAnnouncer_ = std::move(a).value();
    }
    if (!config_.ipvs.virtualServers.empty()) kernelIpvs_ = kernel::ipvs::makeNetlinkIpvs();
    ports_ = KernelPorts{kernelVips_.get(), kernelFence_.get(), kernelLinks_.get(),
                         kernelAnnouncer_.get(), kernelIpvs_.get()};
  }
  if (config_.hasDataPlane()) {
    dataPlane_ = std::make_unique<DataPlane>(config_, ports_, io_, [] { return bootNow(); });
    // Never claim without the lease: whatever an earlier run left goes before we listen.
    if (auto s = dataPlane_->start(); !s) {
      kernelFailure("cannot withdraw the VIPs and virtual servers", s);
    }
  }
  health_ = std::make_unique<OwnHealth>(config_, ports_.links, io_, [this] { onHealthChange(); });
  if (dataPlane_ && dataPlane_->balancer()) {
    checkScripts_ = std::make_unique<ScriptRunner>(checkIo_);
    checks_ = std::make_unique<check::HealthChecks>(
        checkIo_, *checkScripts_,
        [this](const check::Verdict& v) { asio::post(io_, [this, v] { onVerdict(v); }); },
        std::random_device{}());
  }
  // Messages older than a renewal interval are of no use to anyone.
  const auto timeout = config_.timing.renewInterval;
  for (NodeId n = 0; n < lease::kNodeCount; ++n) {
    if (n == config_.self) continue;
    peers_[n] =
        std::make_unique<PeerClient>(makePeerChannel(config_.peer(n).address), config_.cluster,
                                     config_.secret, config_.node, membership_, timeout);
  }
}

Director::~Director() { stop(); }

std::optional<std::string> Director::start() {
  peerService_ = std::make_unique<PeerService>(*this);
  operatorService_ = std::make_unique<OperatorService>(*this);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.listen, grpc::InsecureServerCredentials(), &boundPort_);
  builder.RegisterService(peerService_.get());
  builder.RegisterService(operatorService_.get());
  server_ = builder.BuildAndStart();
  if (!server_ || boundPort_ == 0) return "cannot listen on " + config_.listen;
  for (const auto& l : leases_) {
    spdlog::info(
        "director {} of cluster {} listening on {}: lease {}, quarantine {} ms, epoch floor {}, "
        "incarnation {}",
        config_.node, config_.cluster, config_.listen, l.cfg->name, toMs(config_.timing.quarantine),
        l.node->durable().maxEpoch, l.node->durable().incarnation);
  }
  if (config_.fence == FenceMode::kNone && config_.hasDataPlane()) {
    spdlog::warn("fence: none: a frozen holder keeps answering for its VIPs until it thaws");
  }
  std::unique_ptr<kernel::LinkWatcher> watcher;
  const bool watchLinks = !config_.watchedInterfaces().empty();
  if (watchLinks && !ports_.links) return "interface tracking needs the kernel";
  if (watchLinks) {
    auto w = kernel::makeLinkWatcher();
    if (!w) return "cannot watch links: " + w.status().message();
    watcher = std::move(w).value();
  }
  // The loop thread is not running yet: this thread may touch the loop's state.
  health_->start(std::move(watcher));
  if (checks_) {
    // Neither thread runs yet: the first verdicts (up, or down if alpha) go in directly.
    for (const auto& v : checks_->apply(ipvs::checkedServers(config_.ipvs))) onVerdict(v);
    checkLoop_ = std::thread([this] {
      auto guard = asio::make_work_guard(checkIo_);
      checkIo_.run();
    });
  }
  asio::post(io_, [this] {
    rearm();
    probeIdentity();
  });
  if (dataPlane_ && dataPlane_->balancer()) asio::post(io_, [this] { scheduleIpvsResync(); });
  loop_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
  return std::nullopt;
}

std::string Director::reloadVirtualServers(const DirectorConfig& next, bool sameOtherwise) {
  if (!sameOtherwise) {
    return "reload refused: only virtual_servers and ipvs can change without a restart";
  }
  if (!dataPlane_ || !dataPlane_->balancer()) {
    if (next.ipvs.virtualServers.empty()) return "reload: no virtual servers, nothing to do";
    return "reload refused: this director started without virtual servers; restart it to add "
           "them";
  }
  if (next.ipvs.virtualServers.empty()) {
    return "reload refused: removing every virtual server needs a restart";
  }
  std::promise<std::string> done;
  asio::post(io_, [&] {
    config_.ipvs = next.ipvs;
    config_.virtualServerLease = next.virtualServerLease;
    config_.syncLease = next.syncLease;
    done.set_value("reload: " + dataPlane_->balancer()->reload(next.ipvs, next.virtualServerLease,
                                                               next.syncLease));
  });
  std::string summary = done.get_future().get();
  // The checks follow: unchanged ones keep their state, and every checked real server's
  // verdict is given again (the pools only log what changes).
  onChecksThread([&] {
    for (const auto& v : checks_->apply(ipvs::checkedServers(next.ipvs))) {
      asio::post(io_, [this, v] { onVerdict(v); });
    }
  });
  return summary;
}

void Director::onChecksThread(const std::function<void()>& fn) {
  if (!checks_ || !checkLoop_.joinable()) return;
  std::promise<void> done;
  asio::post(checkIo_, [&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

void Director::onVerdict(const check::Verdict& v) {
  if (!dataPlane_ || !dataPlane_->balancer()) return;
  (void)dataPlane_->balancer()->setAlive(v.virtualServer, v.address, v.port, v.alive, v.reason,
                                         v.weight);
}

void Director::scheduleIpvsResync() {
  dataPlane_->resyncIpvs();
  ipvsTimer_.expires_after(config_.ipvs.resyncInterval);
  ipvsTimer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) scheduleIpvsResync();
  });
}

void Director::stop() {
  if (!loop_.joinable()) return;
  // A planned stop hands the lease over instead of letting it lapse.
  std::promise<void> handedOver;
  asio::post(io_, [this, &handedOver] {
    const Time now = bootNow();
    for (std::size_t i = 0; i < leases_.size(); ++i) {
      if (leases_[i].node->holds(now)) {
        step(i, [now](auto& n) { return *n.stepDown(now, "shutting down"); });
      }
    }
    handedOver.set_value();
  });
  handedOver.get_future().wait();
  onChecksThread([this] { checks_->stop(); });
  if (checkLoop_.joinable()) {
    checkIo_.stop();
    checkLoop_.join();
  }
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  std::promise<void> withdrawn;
  asio::post(io_, [this, &withdrawn] {
    // Nothing may answer for a VIP once we are gone, whatever happened meanwhile.
    ipvsTimer_.cancel();
    probeTimer_.cancel();
    if (dataPlane_) dataPlane_->withdrawAll();
    health_->stop();
    withdrawn.set_value();
  });
  withdrawn.get_future().wait();
  io_.stop();
  loop_.join();
  // No new call can start now. Every call has a deadline of one renewal interval, so this
  // wait is bounded; no gRPC callback may outlive the object it calls into (their posts to
  // the stopped io_context are never run).
  while (inFlight_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

void Director::exchange(const v1::ExchangeRequest& req,
                        std::function<void(grpc::Status, v1::ExchangeReply)> done) {
  auto refuse = [&](grpc::StatusCode code, const std::string& why) {
    counters_.rejectedRequests.fetch_add(1, std::memory_order_relaxed);
    done(grpc::Status(code, why), {});
  };
  if (req.cluster() != config_.cluster) {
    return refuse(grpc::StatusCode::NOT_FOUND,
                  "unknown cluster \"" + req.cluster().substr(0, 64) + "\"");
  }
  if (!secretsEqual(req.secret(), config_.secret)) {
    return refuse(grpc::StatusCode::UNAUTHENTICATED,
                  "wrong secret for cluster \"" + config_.cluster + "\"");
  }
  auto parsed = fromProto(req.message());
  if (!parsed) {
    return refuse(grpc::StatusCode::INVALID_ARGUMENT, "message." + parsed.status().what());
  }
  const lease::Message& m = *parsed;
  if (!lease::isDirector(m.from)) {
    return refuse(grpc::StatusCode::INVALID_ARGUMENT, "message must come from a director");
  }
  const auto i = leaseIndex(leaseOf(req));
  if (!i) {
    return refuse(grpc::StatusCode::NOT_FOUND,
                  "cluster \"" + config_.cluster + "\" has no lease \"" +
                      req.lease().substr(0, 64) + "\" here: the directors' instances differ");
  }
  // Identity: whoever sent this must agree with us on who is who, or both of us could believe
  // we are the same node (a copied file, directors listed in another order, another arbiter).
  std::string conflict;
  if (req.membership() != membership_) {
    conflict = "membership differs: " + config_.node + " has [" + oneLine(membership_) + "], " +
               req.from_name().substr(0, 64) + " has [" + oneLine(req.membership()) + "]";
  } else if (m.to != config_.self || m.from == config_.self) {
    conflict = "identity: a message from node " + std::to_string(m.from) + " to node " +
               std::to_string(m.to) + " reached this director, node " +
               std::to_string(config_.self) + " (" + config_.node +
               "): two processes believe they are the same director";
  } else if (req.from_name() != name(m.from)) {
    conflict = "directors lists differ: node " + std::to_string(m.from) + " is \"" + name(m.from) +
               "\" here but the sender calls itself \"" + req.from_name().substr(0, 64) + "\"";
  }
  if (!conflict.empty()) {
    counters_.identityConflicts.fetch_add(1, std::memory_order_relaxed);
    // Refusing is all that safety needs while both views share the arbiter: its pin admits one
    // of them, so the other gets no majority. With another arbiter in the sender's view there
    // may be two majorities that never meet, and only stopping is safe.
    const bool stop = !sameArbiter(req.membership(), membership_);
    asio::post(io_, [this, conflict, stop] { noteConflict(conflict, stop); });
    return refuse(grpc::StatusCode::FAILED_PRECONDITION, conflict);
  }
  asio::post(io_, [this, i = *i, m, done = std::move(done)] {
    spdlog::trace("<- {} {} (request)", name(m.from), lease::bodyName(m.body));
    v1::ExchangeReply reply;
    step(
        i, [&](auto& n) { return n.receive(bootNow(), m); }, m.from, &reply);
    done(grpc::Status::OK, std::move(reply));
  });
}

std::optional<std::size_t> Director::leaseIndex(const std::string& leaseName) const {
  for (std::size_t i = 0; i < leases_.size(); ++i) {
    if (leases_[i].cfg->name == leaseName) return i;
  }
  return std::nullopt;
}

void Director::step(std::size_t i, const Step& fn, std::optional<NodeId> replyTo,
                    v1::ExchangeReply* reply) {
  Lease& l = leases_[i];
  const lease::DirectorNode before = *l.node;
  lease::Output out = fn(*l.node);
  const Time now = bootNow();
  // Losing the lease withdraws the VIPs before anything else happens. If they may still
  // answer (the fence did not close), a Release or Handover would tell the acceptors the lease
  // is free while our VIPs are lit: those are dropped and the lease lapses instead.
  const bool dark = l.node->holds(now) || followLease(i, now);
  if (out.persist) {
    // Nothing that depends on the new epoch may leave before it is on disk.
    const auto writeStart = std::chrono::steady_clock::now();
    const Status saved = l.state.save(l.node->durable());
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
  // Our own acceptor lets go of a released tenure only once its VIPs are dark, like the others.
  if (out.releaseLocal && dark) l.node->releaseOwn(now, *out.releaseLocal);
  // Gaining (or renewing) it claims the VIPs once the epoch is on disk, before anyone hears
  // from us.
  if (l.node->holds(now)) followLease(i, now);
  for (const auto& c : out.changes) {
    spdlog::info("lease {}: role {} -> {} epoch {}: {}", l.cfg->name, lease::toString(c.from),
                 lease::toString(c.to), c.epoch, c.reason);
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
      toProto(m, *reply->add_messages());
    } else {
      sendToPeer(i, m);
    }
  }
  publishIfChanged(now);
  rearm();
}

bool Director::followLease(std::size_t i, Time now) {
  if (!dataPlane_) return true;
  const auto& node = *leases_[i].node;
  if (node.holds(now)) {
    dataPlane_->hold(i, node.leaseEnd());
    return true;
  }
  return dataPlane_->withdraw(i);
}

void Director::onHealthChange() { updateEligibility(); }

void Director::updateEligibility() {
  const Time now = bootNow();
  const bool conflict = conflicted(now);
  const bool healthy = health_->healthy() && !conflict;
  std::string why;
  for (const auto& p : health_->problems()) why += (why.empty() ? "" : "; ") + p;
  if (conflict) why += (why.empty() ? "" : "; ") + ("identity conflict: " + conflictWhy_);
  if (healthy) why = "all tracked interfaces and scripts fine";
  for (std::size_t i = 0; i < leases_.size(); ++i) {
    step(i, [&](auto& n) { return n.setEligible(now, healthy, why); });
  }
}

void Director::probeIdentity() {
  if (leases_.front().node->role() != lease::Role::kQuarantine) return;
  const auto& node = *leases_.front().node;
  for (NodeId n = 0; n < lease::kNodeCount; ++n) {
    if (n == config_.self) continue;
    inFlight_.fetch_add(1);
    peers_[n]->send(leases_.front().cfg->name,
                    lease::Message{config_.self, n, lease::Ping{}, node.config().instance},
                    [this, n](const grpc::Status& s, std::vector<lease::Message>) {
                      if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
                        refusedIdentity(n, s.error_message());
                      }
                      inFlight_.fetch_sub(1);
                    });
  }
  probeTimer_.expires_after(config_.timing.renewInterval);
  probeTimer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) probeIdentity();
  });
}

void Director::refusedIdentity(NodeId peer, const std::string& why) {
  // The peer's view of who is who is not ours (see the proto). Its refusal only takes its vote
  // away; the side that sees both views decides whether to stop (exchange()).
  counters_.identityConflicts.fetch_add(1, std::memory_order_relaxed);
  asio::post(io_, [this, peer, why] { noteConflict(name(peer) + " refused us: " + why, false); });
}

void Director::noteConflict(const std::string& why, bool stop) {
  const Time now = bootNow();
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

void Director::sendToPeer(std::size_t i, const lease::Message& m) {
  auto& peer = peers_[m.to];
  if (!peer) return;
  inFlight_.fetch_add(1);
  peer->send(leases_[i].cfg->name, m,
             [this, i, m](const grpc::Status& s, std::vector<lease::Message> replies) {
               const NodeId to = m.to;
               if (!s.ok() || replies.empty()) {
                 // No vote from that acceptor (down, refusing us, or silent in quarantine).
                 asio::post(io_, [this, i, m] {
                   step(i, [&](auto& n) { return n.peerUnreachable(bootNow(), m.to, m); });
                 });
               }
               if (!s.ok()) {
                 counters_.sendFailures.fetch_add(1, std::memory_order_relaxed);
                 spdlog::debug("-> {} failed: {}: {}", name(to), static_cast<int>(s.error_code()),
                               s.error_message());
                 if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
                     s.error_code() == grpc::StatusCode::NOT_FOUND ||
                     s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
                   spdlog::error("{} refused us: {}", name(to), s.error_message());
                 }
                 if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
                   refusedIdentity(to, s.error_message());
                 }
               }
               asio::post(io_, [this, i, replies = std::move(replies)] {
                 for (const auto& r : replies) {
                   spdlog::trace("lease {}: <- {} {}", leases_[i].cfg->name, name(r.from),
                                 lease::bodyName(r.body));
                   warnIfMisconfigured(r);
                   step(i, [&](auto& n) { return n.receive(bootNow(), r); });
                 }
               });
               inFlight_.fetch_sub(1);
             });
}

void Director::warnIfMisconfigured(const lease::Message& reply) {
  const auto* r = std::get_if<lease::Reject>(&reply.body);
  if (!r || r->reason != lease::RejectReason::kLeaseTooLong) return;
  const Time now = bootNow();
  if (lastMisconfigWarning_ && now - *lastMisconfigWarning_ < std::chrono::seconds(60)) return;
  lastMisconfigWarning_ = now;
  spdlog::error(
      "{} refuses leases of acceptor_lease_ms {}: its quarantine_ms is shorter; "
      "raise it to at least {}",
      name(reply.from), toMs(config_.timing.acceptorLease), toMs(config_.timing.acceptorLease));
}

void Director::rearm() {
  const Time now = bootNow();
  Time next = Time::max();
  for (const auto& l : leases_) next = std::min(next, l.node->nextDeadline());
  if (conflicted(now)) next = std::min(next, *conflictUntil_);
  auto delay = next > now ? next - now : lease::Duration::zero();
  // The timer runs on CLOCK_MONOTONIC, which NTP slews (chrony by up to 8.3 %), while deadlines
  // are on the lease clock: wake 10 % early and look again, so that a slew never makes the end
  // of a lease (the withdrawal of the VIPs) late. A few extra wake-ups per deadline.
  if (delay > std::chrono::milliseconds(2)) delay -= delay / 10;
  timer_.expires_after(delay);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) onTimer();
  });
}

void Director::onTimer() {
  if (conflictUntil_ && !conflicted(bootNow())) {
    conflictUntil_.reset();
    spdlog::info("identity conflict over: no conflicting message for a while");
    updateEligibility();
  }
  for (std::size_t i = 0; i < leases_.size(); ++i) {
    if (leases_[i].node->nextDeadline() <= bootNow()) {
      step(i, [](auto& n) { return n.tick(bootNow()); });
    }
  }
  rearm();
}

std::optional<Time> Director::lastSeen(NodeId n) const {
  std::optional<Time> seen;
  for (const auto& l : leases_) {
    const auto s = l.node->lastSeen(n);
    if (s && (!seen || *s > *seen)) seen = s;
  }
  return seen;
}

bool Director::reachable(NodeId n, Time now) const {
  if (n == config_.self) return true;
  const auto seen = lastSeen(n);
  // Peers are pinged every two renewal intervals; allow one lost ping.
  return seen && now - *seen <= 5 * config_.timing.renewInterval;
}

v1::StatusReply Director::buildStatus(Time now) const {
  v1::StatusReply r;
  r.set_cluster(config_.cluster);
  r.set_node(config_.node);
  for (std::size_t i = 0; i < leases_.size(); ++i) {
    const auto& node = *leases_[i].node;
    const auto& lc = *leases_[i].cfg;
    auto* ls = r.add_leases();
    ls->set_name(lc.name);
    const bool holds = node.holds(now);
    ls->set_role(holds ? "holder"
                       : lease::toString(node.role() == lease::Role::kHolder ? lease::Role::kStandby
                                                                             : node.role()));
    ls->set_role_reason(node.reason());
    if (const auto l = node.knownLease(now)) {
      ls->set_holder(name(l->owner));
      ls->set_epoch(l->epoch);
      ls->set_lease_remaining_ms(toMs(l->remaining));
    } else {
      ls->set_epoch(node.epoch());
    }
    if (lc.preferred) ls->set_preferred(*lc.preferred);
    for (const auto& inst : lc.instances) ls->add_instances(inst);
    if (dataPlane_) {
      for (const auto& v : dataPlane_->vipsOf(i)) ls->add_vips(v.toString());
      ls->set_vips_claimed(dataPlane_->claimed(i));
    }
    ls->set_eligible(node.eligible());
  }
  // The summary fields repeat the first lease.
  const auto& first = r.leases(0);
  r.set_role(first.role());
  r.set_role_reason(first.role_reason());
  r.set_holder(first.holder());
  r.set_epoch(first.epoch());
  r.set_lease_remaining_ms(first.lease_remaining_ms());
  r.set_preferred(first.preferred());
  if (dataPlane_) {
    r.set_frames_suppressed(dataPlane_->counters().framesSuppressed);
    r.set_lease_lapses(dataPlane_->counters().lapses);
  }
  if (dataPlane_ && dataPlane_->balancer()) {
    for (const auto& v : dataPlane_->balancer()->view()) {
      auto* vs = r.add_virtual_servers();
      vs->set_name(v.name);
      vs->set_lease(leases_.at(v.lease).cfg->name);
      vs->set_service(v.service);
      vs->set_programmed(v.programmed);
      vs->set_quorum_up(v.quorumUp);
      vs->set_alive_weight(v.aliveWeight);
      if (v.lastError) vs->set_last_error(*v.lastError);
      vs->set_connections(v.stats.connections);
      vs->set_in_bytes(v.stats.inBytes);
      vs->set_out_bytes(v.stats.outBytes);
      vs->set_cps(v.stats.cps);
      for (const auto& rs : v.realServers) {
        auto* out = vs->add_real_servers();
        out->set_endpoint(rs.endpoint);
        out->set_weight(rs.weight);
        out->set_alive(rs.alive);
        out->set_installed(rs.installed);
        out->set_sorry(rs.sorry);
        out->set_active_connections(rs.activeConnections);
        out->set_inactive_connections(rs.inactiveConnections);
        out->set_connections(rs.stats.connections);
        out->set_in_bytes(rs.stats.inBytes);
        out->set_out_bytes(rs.stats.outBytes);
        out->set_cps(rs.stats.cps);
        out->set_checked(rs.checked);
        out->set_health(rs.health);
        out->set_weight_in_effect(rs.weightInEffect);
      }
    }
  }
  r.set_healthy(health_->healthy() && !conflicted(now));
  for (const auto& p : health_->problems()) r.add_health_problems(p);
  if (conflicted(now)) r.add_health_problems("identity conflict: " + conflictWhy_);
  for (NodeId n = 0; n < lease::kNodeCount; ++n) {
    auto* ns = r.add_nodes();
    ns->set_id(name(n));
    ns->set_address(config_.peer(n).address);
    ns->set_self(n == config_.self);
    ns->set_reachable(reachable(n, now));
    const auto seen = lastSeen(n);
    ns->set_last_seen_ms(n == config_.self ? 0 : seen ? toMs(now - *seen) : -1);
    if (n == lease::kArbiter) {
      ns->set_role("arbiter");
    } else if (n == config_.self) {
      ns->set_role(r.role());
    } else if (first.holder() == name(n)) {
      ns->set_role("holder");
    } else {
      ns->set_role(ns->reachable() ? "standby" : "unknown");
    }
  }
  r.set_version(version_);
  return r;
}

void Director::publishIfChanged(Time now) {
  auto s = buildStatus(now);
  std::ostringstream sig;
  for (const auto& l : s.leases()) {
    sig << l.role() << '|' << l.holder() << '|' << l.epoch() << '|' << l.vips_claimed() << '|'
        << l.eligible() << '|';
  }
  for (const auto& n : s.nodes()) sig << '|' << n.reachable() << n.role();
  sig << '|' << s.healthy();
  for (const auto& p : s.health_problems()) sig << '|' << p;
  if (sig.str() == lastSignature_) return;
  for (NodeId n = 0; n < lease::kNodeCount && !lastSignature_.empty(); ++n) {
    if (n == config_.self || lastPublished_.nodes(n).reachable() == s.nodes(n).reachable()) {
      continue;
    }
    spdlog::info("{} {}", name(n), s.nodes(n).reachable() ? "reachable" : "unreachable");
    // A peer heard again may mean a partition healed: whoever was cut off with it may have
    // stale neighbour entries, so the holder announces its VIPs again.
    if (s.nodes(n).reachable() && dataPlane_) {
      for (std::size_t i = 0; i < leases_.size(); ++i) {
        if (dataPlane_->claimed(i)) {
          dataPlane_->reannounce(i);
          counters_.reannouncements.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
  }
  lastSignature_ = sig.str();
  ++version_;
  s.set_version(version_);
  std::lock_guard lock(watchersMu_);
  lastPublished_ = s;
  for (auto* w : watchers_) w->push(s);
}

void Director::status(std::function<void(v1::StatusReply)> done) {
  asio::post(io_, [this, done = std::move(done)] { done(buildStatus(bootNow())); });
}

void Director::stepDown(bool force, const std::string& leaseName,
                        std::function<void(grpc::Status, v1::StepDownReply)> done) {
  asio::post(io_, [this, force, leaseName, done = std::move(done)] {
    const Time now = bootNow();
    std::vector<std::size_t> held;
    for (std::size_t i = 0; i < leases_.size(); ++i) {
      if (!leaseName.empty() && leases_[i].cfg->name != leaseName) continue;
      if (leases_[i].node->holds(now)) held.push_back(i);
    }
    if (!leaseName.empty() && !leaseIndex(leaseName)) {
      done(grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "no lease named \"" + leaseName.substr(0, 64) + "\""),
           {});
      return;
    }
    if (held.empty()) {
      const auto& node = *leases_[leaseName.empty() ? 0 : *leaseIndex(leaseName)].node;
      const auto l = node.knownLease(now);
      done(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "not the holder (role " + std::string(lease::toString(node.role())) +
                            ", holder " + (l ? name(l->owner) : std::string("none")) + ")"),
           {});
      return;
    }
    const NodeId peer = lease::otherDirector(config_.self);
    if (!force && !reachable(peer, now)) {
      done(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "peer director " + name(peer) +
                            " is unreachable; stepping down would leave nobody holding "
                            "(use force to do it anyway)"),
           {});
      return;
    }
    v1::StepDownReply reply;
    reply.set_released_epoch(leases_[held.front()].node->epoch());
    reply.set_handed_to(name(peer));
    for (std::size_t i : held) {
      reply.add_leases(leases_[i].cfg->name);
      step(i, [now](auto& n) { return *n.stepDown(now, "step-down requested by operator"); });
    }
    done(grpc::Status::OK, std::move(reply));
  });
}

void Director::addWatcher(StatusWatcher* w) {
  std::lock_guard lock(watchersMu_);
  watchers_.insert(w);
  if (lastPublished_.version() > 0) w->push(lastPublished_);
}

void Director::removeWatcher(StatusWatcher* w) {
  std::lock_guard lock(watchersMu_);
  watchers_.erase(w);
}

}  // namespace quorate::server
