// The director's two gRPC servers, built with their limits: the peer port and the operator API.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "common/status.h"
#include "server/grpc/operator_auth.h"

namespace quorate::server {

// Limits: requests are small on both servers, so a large message is an attack, not a use.
inline constexpr int kPeerMaxMessageBytes = 64 << 10;
inline constexpr int kOperatorMaxMessageBytes = 16 << 10;
inline constexpr int kPeerMaxStreams = 32;      // per connection
inline constexpr int kOperatorMaxStreams = 16;  // per connection
inline constexpr std::size_t kPeerQuotaBytes = 64u << 20;
inline constexpr std::size_t kOperatorQuotaBytes = 32u << 20;
inline constexpr int kMaxThreads = 16;
// An operator connection with no call for this long is closed, giving its slot back.
inline constexpr int kOperatorIdleMs = 5 * 60 * 1000;

// Peer only, on `listen`, with `credentials` (mutual TLS, or none: the messages carry their own
// HMAC). Null when it cannot listen; *port is the bound port.
std::unique_ptr<grpc::Server> buildPeerServer(
    const std::string& listen, grpc::Service& peer,
    const std::shared_ptr<grpc::ServerCredentials>& credentials, int* port);

// The operator API, with no port of its own unless `op.tcp` is set (then TLS on it, a client
// certificate required and verified against op.tcp->ca, files re-read when they change);
// Unix socket connections are added to it with AddInsecureChannelFromFd. *tcpPort is the
// bound TCP port (0 without tcp). Fails naming the file or address at fault.
Result<std::unique_ptr<grpc::Server>> buildOperatorServer(const OperatorConfig& op,
                                                          grpc::Service& service, int* tcpPort);

}  // namespace quorate::server
