// The lease protocol's receiving side on a director: authenticates each request, converts it
// and hands it to the lease host on its thread; the host's replies go back in the answer.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>

#include "quorate/v1/quorate.grpc.pb.h"
#include "server/lease_host.h"

namespace quorate::server {

class PeerService final : public v1::Peer::CallbackService {
 public:
  // Runs a task on the host's thread (never inline: gRPC threads must not step the host).
  using Post = std::function<void(std::function<void()>)>;
  PeerService(LeaseHost& host, std::string cluster, std::string secret, Post post);

  // With mutual TLS: every request must come from the director its certificate names (the
  // handshake checked the chain). `skipIdentityCheck` is the test-only broken variant.
  void requirePeerCertificates(bool skipIdentityCheck = false) {
    tls_ = true;
    skipIdentityCheck_ = skipIdentityCheck;
  }

  grpc::ServerUnaryReactor* Exchange(grpc::CallbackServerContext* ctx,
                                     const v1::ExchangeRequest* req,
                                     v1::ExchangeReply* reply) override;

 private:
  // Finishes at once with a refusal, or hands the message to the host and finishes later.
  void exchange(const v1::ExchangeRequest& req,
                std::function<void(grpc::Status, std::vector<lease::Message>)> done);

  LeaseHost& host_;
  std::string cluster_;
  std::string secret_;
  Post post_;
  bool tls_ = false;
  bool skipIdentityCheck_ = false;
  std::atomic<std::int64_t> lastRefusalLog_{std::numeric_limits<std::int64_t>::min() / 2};
};

}  // namespace quorate::server
