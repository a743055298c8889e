// The lease protocol's receiving side on a director: authenticates each request, converts it
// and hands it to the lease host on its thread; the host's replies go back in the answer.
#pragma once

#include <functional>

#include "common/peer_auth.h"
#include "quorate/v1/quorate.grpc.pb.h"
#include "server/lease_host.h"

namespace quorate::server {

class PeerService final : public v1::Peer::CallbackService {
 public:
  // Runs a task on the host's thread (never inline: gRPC threads must not step the host).
  using Post = std::function<void(std::function<void()>)>;
  // `keys`: the cluster's keys (the first signs; every one is accepted).
  PeerService(LeaseHost& host, std::string cluster, std::vector<std::string> keys, Post post);

  grpc::ServerUnaryReactor* Exchange(grpc::CallbackServerContext* ctx,
                                     const v1::ExchangeRequest* req,
                                     v1::ExchangeReply* reply) override;

 private:
  // Finishes at once with a refusal, or hands the message to the host and finishes later.
  // `wire` is the request as received (sealed); `done` gets the key and request MAC to seal the
  // reply with (both empty on a refusal that comes before the MAC is checked).
  using Done = std::function<void(grpc::Status, std::vector<lease::Message>, const std::string* key,
                                  const std::string& mac)>;
  void exchange(const v1::ExchangeRequest& wire, Done done);

  LeaseHost& host_;
  std::string cluster_;
  KeyRing keys_;
  ReplayGuard replay_;
  Post post_;
};

}  // namespace quorate::server
