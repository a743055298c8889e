// The operator API's IPVS calls at the RPC edge: the kernel's table and the drains as protos,
// and errnos as gRPC codes.
#pragma once

#include <grpcpp/support/status.h>

#include <map>
#include <string>
#include <vector>

#include "quorate/v1/quorate.pb.h"
#include "server/ipvs/drains.h"
#include "server/kernel/ipvs.h"

namespace quorate::server {

// The kernel's table as read at one moment, with the names of the configured virtual servers
// by key (normalized, as ipvs::normalized() makes it).
struct IpvsTableView {
  std::vector<kernel::ipvs::ServiceState> services;
  std::map<kernel::ipvs::ServiceKey, std::string> names;
};

// Services in the kernel's order, each with its destinations ordered by address then port (the
// kernel's order is its hash table's).
void ipvsTableToProto(const IpvsTableView& view, v1::IpvsTableReply* reply);
void drainToProto(const ipvs::DrainOutcome& outcome, v1::DrainReply* reply);

// ENOENT: NOT_FOUND, EINVAL: INVALID_ARGUMENT, ENOTSUP: FAILED_PRECONDITION, anything else (the
// kernel, the disk, a stopping director): UNAVAILABLE.
grpc::StatusCode codeOfErrno(int err);

}  // namespace quorate::server
