// The arbiter's read-only operator API (ArbiterOperator.Status), served on its Unix socket.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>

#include "arbiter/arbiter_service.h"
#include "quorate/v1/quorate.grpc.pb.h"

namespace quorate::arbiter {

// Builds the reply from ArbiterService::snapshot: clusters by id, leases by name, contacts by
// node name; durations in whole milliseconds.
v1::ArbiterStatusReply toStatusReply(const std::vector<ArbiterService::ClusterSnapshot>& clusters,
                                     std::uint64_t reloads, std::uint64_t reloadFailures);

class ArbiterOperatorService final : public v1::ArbiterOperator::CallbackService {
 public:
  // `service` outlives this; `clock` is the lease clock (bootNow in the daemon).
  ArbiterOperatorService(const ArbiterService& service, ArbiterService::Clock clock)
      : service_(service), clock_(std::move(clock)) {}

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx,
                                   const v1::ArbiterStatusRequest* req,
                                   v1::ArbiterStatusReply* reply) override;

 private:
  const ArbiterService& service_;
  ArbiterService::Clock clock_;
};

}  // namespace quorate::arbiter
