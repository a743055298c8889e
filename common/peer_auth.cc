// The cluster and secret check of the lease protocol's receivers.
#include "common/peer_auth.h"

#include "common/secret.h"

namespace quorate {

namespace {

// One answer for both: a stranger who could tell "no such cluster" from "wrong secret" could
// list the clusters an arbiter serves by trying names.
grpc::Status refused() {
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "wrong secret or unknown cluster");
}

}  // namespace

grpc::Status unknownCluster(const std::string& /*asked*/) { return refused(); }

grpc::Status checkSecret(const std::string& /*cluster*/, const std::string& expected,
                         const std::string& given) {
  if (secretsEqual(given, expected)) return grpc::Status::OK;
  return refused();
}

grpc::Status authenticatePeer(const std::string& askedCluster, const std::string& givenSecret,
                              const std::string& cluster, const std::string& secret) {
  if (askedCluster != cluster) return unknownCluster(askedCluster);
  return checkSecret(cluster, secret, givenSecret);
}

}  // namespace quorate
