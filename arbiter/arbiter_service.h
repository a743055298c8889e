// The arbiter: one acceptor per lease of each cluster, served over gRPC, keyed by cluster id
// and lease name. A cluster's default lease exists from the start; others are created on their
// first authenticated request (in quarantine, like any acceptor that starts).
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "arbiter/config.h"
#include "common/state_file.h"
#include "lease/acceptor.h"
#include "quorate/v1/quorate.grpc.pb.h"

namespace quorate::arbiter {

class ArbiterService final : public v1::Peer::CallbackService {
 public:
  // Loads every cluster's durable state from config.stateDir; throws
  // std::runtime_error naming the file when one cannot be read.
  ArbiterService(const ArbiterConfig& config, lease::Time now);

  grpc::ServerUnaryReactor* Exchange(grpc::CallbackServerContext* ctx,
                                     const v1::ExchangeRequest* req,
                                     v1::ExchangeReply* reply) override;

  // Handles one request; the gRPC method is a thin wrapper so tests can call it.
  grpc::Status handle(lease::Time now, const v1::ExchangeRequest& req, v1::ExchangeReply& reply);

  struct Counters {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> unknownCluster{0};
    std::atomic<std::uint64_t> badSecret{0};
    std::atomic<std::uint64_t> badMessage{0};
    std::atomic<std::uint64_t> persistFailures{0};
    std::atomic<std::uint64_t> tooManyLeases{0};
  };
  static constexpr std::size_t kMaxLeasesPerCluster = 64;
  const Counters& counters() const { return counters_; }
  std::size_t clusterCount() const { return clusters_.size(); }

 private:
  struct Slot {
    Slot(std::string path, lease::Duration quarantine, lease::Duration quiet, lease::Time now);
    StateFile state;
    lease::Acceptor acceptor;
  };
  struct Cluster {
    Cluster(const ClusterEntry& e, const std::string& stateDir, lease::Duration quarantine,
            lease::Time now);
    // The slot of `leaseName`, created (loading its state file) on first use; nullptr when the
    // cluster has kMaxLeasesPerCluster already. Throws like StateFile::loadOrThrow. Needs mu.
    Slot* slot(const std::string& leaseName, lease::Time now);
    std::string id;
    std::string secret;
    std::string stateDir;
    lease::Duration quarantine;
    std::mutex mu;
    std::map<std::string, std::unique_ptr<Slot>> leases;  // guarded by mu
  };

  std::unordered_map<std::string, std::unique_ptr<Cluster>> clusters_;
  Counters counters_;
};

}  // namespace quorate::arbiter
