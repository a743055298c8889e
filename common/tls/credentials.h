// gRPC credentials of the peer protocol's mutual TLS, from certificate files that are re-read
// while the daemons run, and the identity a call's peer presented.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "common/status.h"
#include "common/tls/identity.h"

namespace quorate::tls {

// How often certificate, key and CA files are re-read (a rotation is picked up this late).
inline constexpr unsigned kRefreshSeconds = 5;

// A node's own certificate and key, and the CA bundle it trusts for one purpose.
struct TlsFiles {
  std::string ca;
  std::string cert;
  std::string key;
};

// A server that requires a client certificate chaining to `files.ca` in the handshake (the
// director: only its cluster's nodes may connect). The identity is the service's to check.
std::shared_ptr<grpc::ServerCredentials> verifyingServerCredentials(const TlsFiles& files);

// A server that requires a client certificate but leaves all checking to the service (the
// arbiter: which CA applies depends on the cluster the request names). `files.ca` is unused.
std::shared_ptr<grpc::ServerCredentials> requestingServerCredentials(const TlsFiles& files);

// A client that presents `files.cert` and accepts a server whose certificate chains to
// `files.ca`. No host name check (peers are addressed by IP): the caller checks the identity
// after the call (peerIdentity).
std::shared_ptr<grpc::ChannelCredentials> channelCredentials(const TlsFiles& files);

// The peer's certificate as gRPC saw it (PEM), or "" on a connection without TLS.
std::string peerCertificatePem(const grpc::AuthContext& ctx);

// The identity in the peer's certificate; an error without TLS or without a valid quorate URI.
// Trusts the chain check of the handshake: use it only where gRPC verified the peer.
Result<Identity> peerIdentity(const grpc::AuthContext& ctx);

// OK when the call's peer is `expected`; else why not ("presented quorate://b/alpha, expected
// quorate://a/alpha").
Status checkPeerIs(const grpc::AuthContext& ctx, const Identity& expected);

// OK when `certified` (a verified client certificate of `cluster`'s CA) is the director the request
// names as its sender (`fromName`); else PERMISSION_DENIED naming both. Shared by the director's
// and the arbiter's peer services.
grpc::Status checkSender(const Identity& certified, const std::string& cluster,
                         const std::string& fromName);

}  // namespace quorate::tls
