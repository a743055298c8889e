// TLS credentials options of gRPC 1.51, set up once for the directors' and the arbiter's needs.
#include "common/tls/credentials.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

namespace quorate::tls {

using grpc::experimental::FileWatcherCertificateProvider;
using grpc::experimental::NoOpCertificateVerifier;
using grpc::experimental::TlsChannelCredentialsOptions;
using grpc::experimental::TlsServerCredentialsOptions;

std::shared_ptr<grpc::ServerCredentials> verifyingServerCredentials(const TlsFiles& files) {
  auto provider = std::make_shared<FileWatcherCertificateProvider>(files.key, files.cert, files.ca,
                                                                   kRefreshSeconds);
  TlsServerCredentialsOptions options(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  // The chain is verified in the handshake; who the client is, the peer service checks per call.
  options.set_certificate_verifier(std::make_shared<NoOpCertificateVerifier>());
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ServerCredentials> requestingServerCredentials(const TlsFiles& files) {
  auto provider =
      std::make_shared<FileWatcherCertificateProvider>(files.key, files.cert, kRefreshSeconds);
  TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  options.set_certificate_verifier(std::make_shared<NoOpCertificateVerifier>());
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> channelCredentials(const TlsFiles& files) {
  auto provider = std::make_shared<FileWatcherCertificateProvider>(files.key, files.cert, files.ca,
                                                                   kRefreshSeconds);
  TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  // Without a verifier gRPC checks the host name, and peers are addressed by IP.
  options.set_certificate_verifier(std::make_shared<NoOpCertificateVerifier>());
  options.set_check_call_host(false);
  return grpc::experimental::TlsCredentials(options);
}

std::string peerCertificatePem(const grpc::AuthContext& ctx) {
  const auto values = ctx.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (values.empty()) return "";
  return std::string(values.front().data(), values.front().size());
}

Result<Identity> peerIdentity(const grpc::AuthContext& ctx) {
  const std::string pem = peerCertificatePem(ctx);
  if (pem.empty()) return Status::fail(0, "the peer presented no certificate");
  auto cert = Certificate::fromPem(pem);
  if (!cert) return cert.status();
  return cert->identity();
}

Status checkPeerIs(const grpc::AuthContext& ctx, const Identity& expected) {
  auto id = peerIdentity(ctx);
  if (!id) return id.status().withWhat(id.status().what() + ", expected " + expected.uri());
  if (*id == expected) return Status::ok();
  return Status::fail(0, "presented " + id->uri() + ", expected " + expected.uri());
}

grpc::Status checkSender(const Identity& certified, const std::string& cluster,
                         const std::string& fromName) {
  const auto claimed = Identity::director(cluster, fromName.substr(0, 64));
  if (certified == claimed) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      "the client certificate is " + certified.uri() +
                          ", but the request is from " + claimed.uri());
}

}  // namespace quorate::tls
