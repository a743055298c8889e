// Who may speak the lease protocol to a node: the request names a cluster this node serves
// and carries that cluster's secret. Shared by the director's and the arbiter's peer services.
#pragma once

#include <grpcpp/grpcpp.h>

#include <string>

namespace quorate {

// The refusal of a request for a cluster this node does not serve: UNAUTHENTICATED, with the
// same message as a wrong secret and no cluster name, so that strangers cannot list clusters.
grpc::Status unknownCluster(const std::string& asked);
// OK when `given` is `cluster`'s secret `expected`, else the same refusal as unknownCluster().
// Compared in time that does not depend on where they differ.
grpc::Status checkSecret(const std::string& cluster, const std::string& expected,
                         const std::string& given);
// Both checks, for a node that serves one cluster.
grpc::Status authenticatePeer(const std::string& askedCluster, const std::string& givenSecret,
                              const std::string& cluster, const std::string& secret);

}  // namespace quorate
