// The cluster and secret check of the lease protocol's receivers.
#include "common/peer_auth.h"

#include "common/secret.h"

namespace quorate {

grpc::Status unknownCluster(const std::string& asked) {
  // Cut: the name comes from whoever called and ends up in their error and our logs.
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      "unknown cluster \"" + asked.substr(0, 64) + "\"");
}

grpc::Status checkSecret(const std::string& cluster, const std::string& expected,
                         const std::string& given) {
  if (secretsEqual(given, expected)) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "wrong secret for cluster \"" + cluster + "\"");
}

grpc::Status authenticatePeer(const std::string& askedCluster, const std::string& givenSecret,
                              const std::string& cluster, const std::string& secret) {
  if (askedCluster != cluster) return unknownCluster(askedCluster);
  return checkSecret(cluster, secret, givenSecret);
}

}  // namespace quorate
