// Server builders with message, stream, memory and thread limits; TLS for the operator's TCP.
#include "server/grpc/servers.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <unistd.h>

#include <cerrno>

namespace quorate::server {
namespace {

// How often the certificate files are re-read: a renewed certificate is served this soon.
constexpr unsigned kCertRefreshSeconds = 60;

void limit(grpc::ServerBuilder& b, const char* quotaName, std::size_t quotaBytes, int maxMessage,
           int maxStreams) {
  grpc::ResourceQuota quota(quotaName);
  quota.Resize(quotaBytes);
  quota.SetMaxThreads(kMaxThreads);
  b.SetResourceQuota(quota);
  b.SetMaxReceiveMessageSize(maxMessage);
  b.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, maxStreams);
  // As on the arbiter: a stranger's half-open or idle connection gives its slot back soon, and
  // metadata is as small as the messages.
  b.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, 16 << 10);
  b.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, 5'000);
  b.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, 300'000);
}

}  // namespace

std::unique_ptr<grpc::Server> buildPeerServer(
    const std::string& listen, grpc::Service& peer,
    const std::shared_ptr<grpc::ServerCredentials>& credentials, int* port) {
  grpc::ServerBuilder b;
  limit(b, "quorate-peer", kPeerQuotaBytes, kPeerMaxMessageBytes, kPeerMaxStreams);
  b.AddListeningPort(listen, credentials, port);
  b.RegisterService(&peer);
  return b.BuildAndStart();
}

Result<std::unique_ptr<grpc::Server>> buildOperatorServer(const OperatorConfig& op,
                                                          grpc::Service& service, int* tcpPort) {
  grpc::ServerBuilder b;
  limit(b, "quorate-operator", kOperatorQuotaBytes, kOperatorMaxMessageBytes, kOperatorMaxStreams);
  b.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, kOperatorIdleMs);
  b.RegisterService(&service);
  *tcpPort = 0;
  if (op.tcp) {
    // The provider only logs unreadable files (and keeps serving the last good ones): a start
    // without them fails here instead, naming the file.
    for (const auto* f : {&op.tcp->ca, &op.tcp->cert, &op.tcp->key}) {
      if (::access(f->c_str(), R_OK) != 0) {
        return Status::fail(errno, "operator.tcp: cannot read " + *f);
      }
    }
    auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
        op.tcp->key, op.tcp->cert, op.tcp->ca, kCertRefreshSeconds);
    grpc::experimental::TlsServerCredentialsOptions opts(provider);
    opts.watch_root_certs();
    opts.watch_identity_key_cert_pairs();
    opts.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    b.AddListeningPort(op.tcp->listen, grpc::experimental::TlsServerCredentials(opts), tcpPort);
  }
  auto server = b.BuildAndStart();
  if (!server) return Status::fail(0, "cannot start the operator API's gRPC server");
  if (op.tcp && *tcpPort == 0) {
    server->Shutdown();
    return Status::fail(0, "operator.tcp: cannot listen on " + op.tcp->listen);
  }
  return server;
}

}  // namespace quorate::server
