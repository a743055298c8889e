// The arbiter's read-only operator API: a snapshot of every cluster's acceptors, as a reply.
#include "arbiter/operator_service.h"

#include <chrono>

namespace quorate::arbiter {
namespace {

std::int64_t millis(lease::Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

v1::ArbiterStatusReply toStatusReply(const std::vector<ArbiterService::ClusterSnapshot>& clusters,
                                     std::uint64_t reloads, std::uint64_t reloadFailures) {
  v1::ArbiterStatusReply reply;
  reply.set_reloads(reloads);
  reply.set_reload_failures(reloadFailures);
  for (const auto& c : clusters) {
    auto& out = *reply.add_clusters();
    out.set_id(c.id);
    for (const auto& l : c.leases) {
      auto& lo = *out.add_leases();
      lo.set_name(l.name);
      lo.set_holder(l.holder);
      lo.set_epoch(l.epoch);
      lo.set_remaining_ms(millis(l.remaining));
      lo.set_quarantine(l.quarantine);
    }
    for (const auto& n : c.contacts) {
      auto& no = *out.add_contacts();
      no.set_node(n.node);
      no.set_age_ms(millis(n.age));
    }
  }
  return reply;
}

grpc::ServerUnaryReactor* ArbiterOperatorService::Status(grpc::CallbackServerContext* ctx,
                                                         const v1::ArbiterStatusRequest* /*req*/,
                                                         v1::ArbiterStatusReply* reply) {
  const auto& counters = service_.counters();
  *reply =
      toStatusReply(service_.snapshot(clock_), counters.reloads.load(std::memory_order_relaxed),
                    counters.reloadFailures.load(std::memory_order_relaxed));
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace quorate::arbiter
