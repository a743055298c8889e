// IPVS table and drains to protos; errno to gRPC codes.
#include "server/grpc/operator_ipvs.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <tuple>

#include "server/ipvs/plan.h"

namespace quorate::server {
namespace {

namespace kipvs = kernel::ipvs;

void statsToProto(const kipvs::Stats& s, v1::IpvsStats* out) {
  out->set_connections(s.connections);
  out->set_in_packets(s.inPackets);
  out->set_out_packets(s.outPackets);
  out->set_in_bytes(s.inBytes);
  out->set_out_bytes(s.outBytes);
  out->set_cps(s.cps);
  out->set_in_pps(s.inPps);
  out->set_out_pps(s.outPps);
  out->set_in_bps(s.inBps);
  out->set_out_bps(s.outBps);
}

}  // namespace

void ipvsTableToProto(const IpvsTableView& view, v1::IpvsTableReply* reply) {
  for (const auto& state : view.services) {
    const kipvs::Service& svc = state.service;
    auto* out = reply->add_services();
    if (svc.key.isFwmark()) {
      out->set_fwmark(svc.key.fwmark);
    } else {
      out->set_protocol(kipvs::toString(svc.key.protocol));
      out->set_address(svc.key.address.toString());
      out->set_port(svc.key.port);
    }
    out->set_ipv6(svc.key.family == AF_INET6);
    out->set_scheduler(svc.scheduler);
    if (svc.flags & kipvs::flag::kPersistent) out->set_persistence_s(svc.timeout);
    statsToProto(state.stats, out->mutable_stats());
    const auto name = view.names.find(ipvs::normalized(svc.key));
    if (name != view.names.end()) out->set_virtual_server(name->second);
    std::vector<const kipvs::DestinationState*> dests;
    for (const auto& d : state.destinations) dests.push_back(&d);
    std::sort(dests.begin(), dests.end(), [](const auto* a, const auto* b) {
      return std::tie(a->dest.address, a->dest.port) < std::tie(b->dest.address, b->dest.port);
    });
    for (const auto* d : dests) {
      auto* o = out->add_destinations();
      o->set_address(d->dest.address.toString());
      o->set_port(d->dest.port);
      o->set_forward(kipvs::toString(d->dest.forward));
      o->set_weight(d->dest.weight);
      o->set_active_connections(d->activeConnections);
      o->set_inactive_connections(d->inactiveConnections);
      statsToProto(d->stats, o->mutable_stats());
    }
  }
}

void drainToProto(const ipvs::DrainOutcome& outcome, v1::DrainReply* reply) {
  reply->set_virtual_server(outcome.key.virtualServer);
  reply->set_real_server(outcome.key.realServer);
  reply->set_changed(outcome.changed);
  for (const auto& d : outcome.drains) reply->add_drained(d.toString());
}

grpc::StatusCode codeOfErrno(int err) {
  switch (err) {
    case ENOENT:
      return grpc::StatusCode::NOT_FOUND;
    case EINVAL:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case ENOTSUP:
      return grpc::StatusCode::FAILED_PRECONDITION;
    default:
      return grpc::StatusCode::UNAVAILABLE;
  }
}

}  // namespace quorate::server
