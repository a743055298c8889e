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
#include "common/secret.h"

namespace quorate::server {
namespace {

using lease::NodeId;
using lease::Time;
namespace asio = boost::asio;

std::int64_t toMs(lease::Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

std::unique_ptr<lease::DirectorNode> makeNode(const DirectorConfig& cfg, const StateFile& state) {
  auto nc = cfg.nodeConfig();
  nc.seed = std::random_device{}();
  return std::make_unique<lease::DirectorNode>(nc, state.loadOrThrow(), bootNow());
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
    director_.stepDown(req->force(), [reactor, reply](grpc::Status s, v1::StepDownReply r) {
      *reply = std::move(r);
      reactor->Finish(s);
    });
    return reactor;
  }

 private:
  Director& director_;
};

}  // namespace

Director::Director(DirectorConfig config)
    : config_(std::move(config)), state_(config_.stateDir + "/acceptor.state") {
  node_ = makeNode(config_, state_);
  // Record this start at once: the next start must use a new incarnation even if
  // this one dies before saying anything.
  if (auto err = state_.store(node_->durable())) throw std::runtime_error(err->message());
  // Messages older than a renewal interval are of no use to anyone.
  const auto timeout = config_.timing.renewInterval;
  for (NodeId n = 0; n < lease::kNodeCount; ++n) {
    if (n == config_.self) continue;
    peers_[n] = std::make_unique<PeerClient>(makePeerChannel(config_.peer(n).address),
                                             config_.cluster, config_.secret, config_.node,
                                             timeout);
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
  spdlog::info(
      "director {} of cluster {} listening on {}; quarantine {} ms, epoch floor {}, "
      "incarnation {}",
      config_.node, config_.cluster, config_.listen, toMs(config_.timing.quarantine),
      node_->durable().maxEpoch, node_->durable().incarnation);
  asio::post(io_, [this] { rearm(); });
  loop_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
  return std::nullopt;
}

void Director::stop() {
  if (!loop_.joinable()) return;
  // A planned stop hands the lease over instead of letting it lapse.
  std::promise<void> handedOver;
  asio::post(io_, [this, &handedOver] {
    const Time now = bootNow();
    if (auto out = node_->stepDown(now, "shutting down")) apply(std::move(*out), {}, nullptr);
    handedOver.set_value();
  });
  handedOver.get_future().wait();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  // Every call has a deadline of one renewal interval, so this wait is bounded; no
  // gRPC callback may outlive the object it calls into.
  while (inFlight_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  io_.stop();
  loop_.join();
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
  lease::Message m;
  if (auto err = fromProto(req.message(), m)) {
    return refuse(grpc::StatusCode::INVALID_ARGUMENT, "message." + *err);
  }
  if (m.to != config_.self || m.from != lease::otherDirector(config_.self)) {
    return refuse(grpc::StatusCode::INVALID_ARGUMENT,
                  "message must come from the other director to this one");
  }
  if (req.from_name() != name(m.from)) {
    return refuse(grpc::StatusCode::FAILED_PRECONDITION,
                  "directors lists differ: node " + std::to_string(m.from) + " is \"" +
                      name(m.from) + "\" here but the sender calls itself \"" +
                      req.from_name().substr(0, 64) + "\"");
  }
  asio::post(io_, [this, m, done = std::move(done)] {
    spdlog::trace("<- {} {} (request)", name(m.from), lease::bodyName(m.body));
    v1::ExchangeReply reply;
    apply(node_->receive(bootNow(), m), m.from, &reply);
    done(grpc::Status::OK, std::move(reply));
  });
}

void Director::apply(lease::Output out, std::optional<NodeId> replyTo, v1::ExchangeReply* reply) {
  const Time now = bootNow();
  if (out.persist) {
    // Nothing that depends on the new epoch may leave before it is on disk.
    if (auto err = state_.store(node_->durable())) {
      counters_.persistFailures.fetch_add(1, std::memory_order_relaxed);
      spdlog::critical("cannot persist epoch {}: {}; dropping {} outgoing messages",
                       node_->durable().maxEpoch, err->message(), out.send.size());
      out.send.clear();
    }
  }
  for (const auto& c : out.changes) {
    spdlog::info("role {} -> {} epoch {}: {}", lease::toString(c.from), lease::toString(c.to),
                 c.epoch, c.reason);
  }
  for (auto& m : out.send) {
    spdlog::trace("-> {} {}", name(m.to), lease::bodyName(m.body));
    if (replyTo && m.to == *replyTo && reply) {
      toProto(m, *reply->add_messages());
    } else {
      sendToPeer(m);
    }
  }
  publishIfChanged(now);
  rearm();
}

void Director::sendToPeer(const lease::Message& m) {
  auto& peer = peers_[m.to];
  if (!peer) return;
  inFlight_.fetch_add(1);
  peer->send(m, [this, m](const grpc::Status& s, std::vector<lease::Message> replies) {
    const NodeId to = m.to;
    if (!s.ok() || replies.empty()) {
      // No vote from that acceptor (down, refusing us, or silent in quarantine).
      asio::post(io_, [this, m] { apply(node_->peerUnreachable(bootNow(), m.to, m), {}, nullptr); });
    }
    if (!s.ok()) {
      counters_.sendFailures.fetch_add(1, std::memory_order_relaxed);
      spdlog::debug("-> {} failed: {}: {}", name(to), static_cast<int>(s.error_code()),
                    s.error_message());
      if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
          s.error_code() == grpc::StatusCode::NOT_FOUND ||
          s.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
          s.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
        spdlog::error("{} refused us: {}", name(to), s.error_message());
      }
    }
    asio::post(io_, [this, replies = std::move(replies)] {
      for (const auto& r : replies) {
        spdlog::trace("<- {} {}", name(r.from), lease::bodyName(r.body));
        warnIfMisconfigured(r);
        apply(node_->receive(bootNow(), r), {}, nullptr);
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
  spdlog::error("{} refuses leases of acceptor_lease_ms {}: its quarantine_ms is shorter; "
                "raise it to at least {}",
                name(reply.from), toMs(config_.timing.acceptorLease),
                toMs(config_.timing.acceptorLease));
}

void Director::rearm() {
  const Time now = bootNow();
  const Time next = node_->nextDeadline();
  const auto delay = next > now ? next - now : lease::Duration::zero();
  timer_.expires_after(delay);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) onTimer();
  });
}

void Director::onTimer() { apply(node_->tick(bootNow()), {}, nullptr); }

bool Director::reachable(NodeId n, Time now) const {
  if (n == config_.self) return true;
  const auto seen = node_->lastSeen(n);
  // Peers are pinged every two renewal intervals; allow one lost ping.
  return seen && now - *seen <= 5 * config_.timing.renewInterval;
}

v1::StatusReply Director::buildStatus(Time now) const {
  v1::StatusReply r;
  r.set_cluster(config_.cluster);
  r.set_node(config_.node);
  const bool holds = node_->holds(now);
  r.set_role(holds ? "holder" : lease::toString(node_->role() == lease::Role::kHolder
                                                    ? lease::Role::kStandby
                                                    : node_->role()));
  r.set_role_reason(node_->reason());
  const auto l = node_->knownLease(now);
  if (l) {
    r.set_holder(name(l->owner));
    r.set_epoch(l->epoch);
    r.set_lease_remaining_ms(toMs(l->remaining));
  } else {
    r.set_epoch(node_->epoch());
  }
  if (config_.preferred) r.set_preferred(*config_.preferred);
  for (NodeId n = 0; n < lease::kNodeCount; ++n) {
    auto* ns = r.add_nodes();
    ns->set_id(name(n));
    ns->set_address(config_.peer(n).address);
    ns->set_self(n == config_.self);
    ns->set_reachable(reachable(n, now));
    const auto seen = node_->lastSeen(n);
    ns->set_last_seen_ms(n == config_.self ? 0 : seen ? toMs(now - *seen) : -1);
    if (n == lease::kArbiter) {
      ns->set_role("arbiter");
    } else if (n == config_.self) {
      ns->set_role(r.role());
    } else if (l && l->owner == n) {
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
  sig << s.role() << '|' << s.holder() << '|' << s.epoch();
  for (const auto& n : s.nodes()) sig << '|' << n.reachable() << n.role();
  if (sig.str() == lastSignature_) return;
  for (NodeId n = 0; n < lease::kNodeCount && !lastSignature_.empty(); ++n) {
    if (n != config_.self && lastPublished_.nodes(n).reachable() != s.nodes(n).reachable()) {
      spdlog::info("{} {}", name(n), s.nodes(n).reachable() ? "reachable" : "unreachable");
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

void Director::stepDown(bool force, std::function<void(grpc::Status, v1::StepDownReply)> done) {
  asio::post(io_, [this, force, done = std::move(done)] {
    const Time now = bootNow();
    if (!node_->holds(now)) {
      const auto l = node_->knownLease(now);
      done(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "not the holder (role " + std::string(lease::toString(node_->role())) +
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
    const std::uint64_t epoch = node_->epoch();
    auto out = node_->stepDown(now, "step-down requested by operator");
    apply(std::move(*out), {}, nullptr);
    v1::StepDownReply reply;
    reply.set_released_epoch(epoch);
    reply.set_handed_to(name(peer));
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
