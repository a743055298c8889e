// The lease protocol's receiving side on a director: authenticates each request, converts it
// and hands it to the lease host on its thread; the host's replies go back in the answer.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>

#include "common/peer_auth.h"
#include "common/tls/identity.h"
#include "quorate/v1/quorate.grpc.pb.h"
#include "server/lease_host.h"

namespace quorate::server {

class PeerService final : public v1::Peer::CallbackService {
 public:
  // Runs a task on the host's thread (never inline: gRPC threads must not step the host).
  using Post = std::function<void(std::function<void()>)>;
  // `keys`: the cluster's keys (the first signs; every one is accepted).
  PeerService(LeaseHost& host, std::string cluster, std::vector<std::string> keys, Post post);

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
  // `wire` is the request as received (sealed); `done` gets the key and request MAC to seal the
  // reply with (both empty on a refusal that comes before the MAC is checked).
  using Done = std::function<void(grpc::Status, std::vector<lease::Message>, const std::string* key,
                                  const std::string& mac)>;
  // `certified`: with TLS, the sender as its certificate names it.
  void exchange(const v1::ExchangeRequest& wire, const std::optional<tls::Identity>& certified,
                Done done);
  // Logs a refusal, at most one line per 10 s.
  void logRefusal(const std::string& why);

  LeaseHost& host_;
  std::string cluster_;
  KeyRing keys_;
  ReplayGuard replay_;
  Post post_;
  bool tls_ = false;
  bool skipIdentityCheck_ = false;
  std::atomic<std::int64_t> lastRefusalLog_{std::numeric_limits<std::int64_t>::min() / 2};
};

}  // namespace quorate::server
