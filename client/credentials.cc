// Reads the PEM files of --ca/--cert/--key into gRPC SSL credentials.
#include "client/credentials.h"

#include <fstream>
#include <sstream>

namespace quorate::client {
namespace {

// A certificate or key is a few KiB; anything much larger is not one.
constexpr std::streamsize kMaxPemBytes = 1 << 20;

bool readPem(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read " + path;
    return false;
  }
  std::ostringstream s;
  s << in.rdbuf();
  *out = s.str();
  if (out->empty() || static_cast<std::streamsize>(out->size()) > kMaxPemBytes) {
    *error = path + ": empty or larger than 1 MiB";
    return false;
  }
  return true;
}

}  // namespace

std::shared_ptr<grpc::ChannelCredentials> credentialsFor(const Endpoint& e, const TlsFiles& tls,
                                                         std::string* error) {
  if (tls.empty()) return grpc::InsecureChannelCredentials();
  if (!e.unixPath.empty()) {
    *error = "--ca/--cert/--key are for a TCP endpoint; a Unix socket needs none";
    return nullptr;
  }
  if (tls.ca.empty() || tls.cert.empty() || tls.key.empty()) {
    *error = "give all of --ca, --cert and --key";
    return nullptr;
  }
  grpc::SslCredentialsOptions o;
  if (!readPem(tls.ca, &o.pem_root_certs, error) || !readPem(tls.cert, &o.pem_cert_chain, error) ||
      !readPem(tls.key, &o.pem_private_key, error)) {
    return nullptr;
  }
  return grpc::SslCredentials(o);
}

}  // namespace quorate::client
