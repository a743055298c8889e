// Client side of the lease protocol: sends one lease message to a peer as a unary
// gRPC call and hands back the peer's replies. Non-blocking; thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/tls/identity.h"
#include "lease/messages.h"
#include "quorate/v1/quorate.grpc.pb.h"

namespace quorate {

// The lease a request without a lease name is about.
inline const std::string kDefaultLease = "default";
// The lease `req` is about.
inline const std::string& leaseOf(const v1::ExchangeRequest& req) {
  return req.lease().empty() ? kDefaultLease : req.lease();
}

// A channel that reconnects quickly (a peer that comes back must be heard within
// a lease period, not after gRPC's default back-off of up to two minutes).
// With `ownConnection`, the channel does not share its TCP connection with other
// channels of identical arguments (as gRPC otherwise does): one connection per channel.
// Without `credentials` the channel has no TLS.
std::shared_ptr<grpc::Channel> makePeerChannel(
    const std::string& address, bool ownConnection = false,
    std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);

class PeerClient {
 public:
  // Called on a gRPC thread. On failure `status` is not OK and replies are empty. The call has
  // let go of the channel by then: once every callback has run, the client may be destroyed.
  using Callback = std::function<void(const grpc::Status& status, std::vector<lease::Message>)>;

  // `membership` is the sender's view of the cluster (common/membership.h), sent with every
  // request so that a receiver with another view refuses it. Requests are signed with `key`
  // (the cluster's signing key, common/peer_auth.h); a reply without its MAC under that key is
  // dropped: the callback sees UNAUTHENTICATED and no messages.
  PeerClient(std::shared_ptr<grpc::Channel> channel, std::string cluster, std::string key,
             std::string fromName, std::string membership, lease::Duration timeout);

  // With TLS: a reply counts only when the server's certificate names `peer`; one from another
  // identity is dropped (UNAUTHENTICATED, logged as an error).
  void expectPeer(tls::Identity peer) { expectedPeer_ = std::move(peer); }

  // About the cluster's default lease.
  void send(const lease::Message& m, Callback done);
  // About lease `leaseName` of the cluster.
  void send(const std::string& leaseName, const lease::Message& m, Callback done);

 private:
  std::unique_ptr<v1::Peer::Stub> stub_;
  std::string cluster_;
  std::string key_;
  std::string fromName_;
  std::string membership_;
  lease::Duration timeout_;
  std::optional<tls::Identity> expectedPeer_;
};

}  // namespace quorate
