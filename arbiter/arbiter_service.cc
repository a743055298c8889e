// Authenticates each request against its cluster, steps that cluster's acceptor,
// persists a new epoch before answering, and returns the acceptor's reply.
#include "arbiter/arbiter_service.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <stdexcept>

#include "common/clock.h"
#include "common/convert.h"
#include "common/peer_client.h"
#include "common/secret.h"
#include "common/yaml_config.h"

namespace quorate::arbiter {
namespace {

// Leases are capped at the quarantine (so a restart outwaits every lease granted before it).
lease::Acceptor makeAcceptor(const StateFile& state, lease::Duration quarantine,
                             lease::Duration quiet, lease::Time now) {
  return lease::Acceptor(lease::kArbiter, quarantine, quiet, state.loadOrThrow(), now);
}

// "<cluster>.state" for the default lease (as before leases had names), else
// "<cluster>@<lease>.state".
std::string statePath(const std::string& dir, const std::string& cluster,
                      const std::string& leaseName) {
  if (leaseName == kDefaultLease) return dir + "/" + cluster + ".state";
  return dir + "/" + cluster + "@" + leaseName + ".state";
}

}  // namespace

ArbiterService::Slot::Slot(std::string path, lease::Duration quarantine, lease::Duration quiet,
                           lease::Time now)
    : state(std::move(path)), acceptor(makeAcceptor(state, quarantine, quiet, now)) {}

ArbiterService::Cluster::Cluster(const ClusterEntry& e, const std::string& dir, lease::Duration q,
                                 lease::Time now)
    : id(e.id), secret(e.secret), stateDir(dir), quarantine(q) {
  slot(kDefaultLease, now);
}

ArbiterService::Slot* ArbiterService::Cluster::slot(const std::string& leaseName, lease::Time now) {
  auto it = leases.find(leaseName);
  if (it != leases.end()) return it->second.get();
  if (leases.size() >= kMaxLeasesPerCluster) return nullptr;
  const std::string path = statePath(stateDir, id, leaseName);
  // The quarantine covers leases granted before a restart and forgotten. A lease opened after
  // start-up whose state file does not exist has never granted one: every grant of a new epoch
  // is on disk before the reply leaves, and a renewal needs an earlier grant. So it may answer
  // at once. (The default lease, opened at start-up, keeps the quarantine either way.)
  std::error_code ec;
  const bool neverGranted = leaseName != kDefaultLease && !std::filesystem::exists(path, ec) && !ec;
  const lease::Duration quiet = neverGranted ? lease::Duration::zero() : quarantine;
  auto s = std::make_unique<Slot>(path, quarantine, quiet, now);
  if (leaseName != kDefaultLease) {
    spdlog::info("cluster {}: lease {} opened (quiet for {} ms)", id, leaseName,
                 std::chrono::duration_cast<std::chrono::milliseconds>(quiet).count());
  }
  return leases.emplace(leaseName, std::move(s)).first->second.get();
}

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
  const std::string& leaseName = leaseOf(req);
  if (!config::isId(leaseName)) {
    counters_.badMessage.fetch_add(1, std::memory_order_relaxed);
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "lease: expected a name of 1 to 64 characters from A-Z a-z 0-9 . _ -");
  }
  std::lock_guard lock(c.mu);
  Slot* slot = nullptr;
  try {
    slot = c.slot(leaseName, now);
  } catch (const std::exception& e) {
    counters_.persistFailures.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("cluster {}: lease {}: {}", c.id, leaseName, e.what());
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "arbiter cannot read its state");
  }
  if (!slot) {
    counters_.tooManyLeases.fetch_add(1, std::memory_order_relaxed);
    return grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        "cluster \"" + c.id + "\" already has " + std::to_string(kMaxLeasesPerCluster) + " leases");
  }
  auto result = slot->acceptor.handle(now, in);
  if (result.persist) {
    // The epoch must be on disk before anyone hears that we accepted it.
    const auto writeStart = std::chrono::steady_clock::now();
    auto err = slot->state.store(slot->acceptor.durable());
    const auto took = std::chrono::steady_clock::now() - writeStart;
    if (took > std::chrono::milliseconds(50)) {
      spdlog::warn("cluster {} lease {}: writing epoch {} took {} ms", c.id, leaseName,
                   slot->acceptor.durable().maxEpoch,
                   std::chrono::duration_cast<std::chrono::milliseconds>(took).count());
    }
    if (err) {
      counters_.persistFailures.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("cluster {} lease {}: cannot persist epoch {}: {}", c.id, leaseName,
                    slot->acceptor.durable().maxEpoch, err->message());
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "arbiter cannot persist state");
    }
    spdlog::info("cluster {} lease {}: epoch {} granted to director {}", c.id, leaseName,
                 slot->acceptor.durable().maxEpoch, slot->acceptor.durable().maxEpochOwner);
  }
  if (result.reply) toProto(*result.reply, *reply.add_messages());
  return grpc::Status::OK;
}

}  // namespace quorate::arbiter
