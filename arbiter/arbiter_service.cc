// Authenticates each request against its cluster, steps that cluster's acceptor,
// persists a new epoch before answering, and returns the acceptor's reply.
#include "arbiter/arbiter_service.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "common/clock.h"
#include "common/convert.h"
#include "common/secret.h"

namespace quorate::arbiter {
namespace {

lease::Acceptor makeAcceptor(const StateFile& state, lease::Duration quarantine, lease::Time now) {
  return lease::Acceptor(lease::kArbiter, quarantine, quarantine, state.loadOrThrow(), now);
}

}  // namespace

ArbiterService::Cluster::Cluster(const ClusterEntry& e, const std::string& stateDir,
                                 lease::Duration quarantine, lease::Time now)
    : id(e.id),
      secret(e.secret),
      state(stateDir + "/" + e.id + ".state"),
      acceptor(makeAcceptor(state, quarantine, now)) {}

ArbiterService::ArbiterService(const ArbiterConfig& config, lease::Time now) {
  clusters_.reserve(config.clusters.size());
  for (const auto& e : config.clusters) {
    clusters_.emplace(e.id, std::make_unique<Cluster>(e, config.stateDir, config.quarantine, now));
  }
}

grpc::ServerUnaryReactor* ArbiterService::Exchange(grpc::CallbackServerContext* ctx,
                                                   const v1::ExchangeRequest* req,
                                                   v1::ExchangeReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(handle(bootNow(), *req, *reply));
  return reactor;
}

grpc::Status ArbiterService::handle(lease::Time now, const v1::ExchangeRequest& req,
                                    v1::ExchangeReply& reply) {
  counters_.requests.fetch_add(1, std::memory_order_relaxed);
  auto it = clusters_.find(req.cluster());
  if (it == clusters_.end()) {
    counters_.unknownCluster.fetch_add(1, std::memory_order_relaxed);
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "unknown cluster \"" + req.cluster().substr(0, 64) + "\"");
  }
  Cluster& c = *it->second;
  if (!secretsEqual(req.secret(), c.secret)) {
    counters_.badSecret.fetch_add(1, std::memory_order_relaxed);
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "wrong secret for cluster \"" + c.id + "\"");
  }
  lease::Message in;
  if (auto err = fromProto(req.message(), in)) {
    counters_.badMessage.fetch_add(1, std::memory_order_relaxed);
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "message." + *err);
  }
  if (in.to != lease::kArbiter || !lease::isDirector(in.from)) {
    counters_.badMessage.fetch_add(1, std::memory_order_relaxed);
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "message must go from a director (0 or 1) to the arbiter (2)");
  }
  std::lock_guard lock(c.mu);
  auto result = c.acceptor.handle(now, in);
  if (result.persist) {
    // The epoch must be on disk before anyone hears that we accepted it.
    if (auto err = c.state.store(c.acceptor.durable())) {
      counters_.persistFailures.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("cluster {}: cannot persist epoch {}: {}", c.id, c.acceptor.durable().maxEpoch,
                    err->message());
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "arbiter cannot persist state");
    }
    spdlog::info("cluster {}: epoch {} granted to director {}", c.id, c.acceptor.durable().maxEpoch,
                 c.acceptor.durable().maxEpochOwner);
  }
  if (result.reply) toProto(*result.reply, *reply.add_messages());
  return grpc::Status::OK;
}

}  // namespace quorate::arbiter
