// Channel credentials for a director's operator API: none on a Unix socket, TLS with a client
// certificate on TCP.
#pragma once

#include <grpcpp/security/credentials.h>

#include <memory>
#include <string>

#include "client/endpoint.h"

namespace quorate::client {

// PEM files for the TLS TCP endpoint. All three or none.
struct TlsFiles {
  std::string ca;    // verifies the director's certificate
  std::string cert;  // this client's certificate (its common name picks the role)
  std::string key;
  bool empty() const { return ca.empty() && cert.empty() && key.empty(); }
};

// Insecure for a Unix socket or when `tls` is empty (a TCP director then refuses: it speaks
// only TLS); else SSL credentials from the files. Null, with `error` set, when a file cannot
// be read or only some are given.
std::shared_ptr<grpc::ChannelCredentials> credentialsFor(const Endpoint& e, const TlsFiles& tls,
                                                         std::string* error);

}  // namespace quorate::client
