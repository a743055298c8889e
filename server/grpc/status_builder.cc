// Domain snapshot -> v1::StatusReply.
#include "server/grpc/status_builder.h"

#include "lease/types.h"

namespace quorate::server {
namespace {

void addVirtualServer(const HostSnapshot& s, const ipvs::VirtualServerView& v,
                      v1::VirtualServerStatus& vs) {
  vs.set_name(v.name);
  vs.set_lease(v.lease < s.leases.size() ? s.leases[v.lease].name : std::string());
  vs.set_service(v.service);
  vs.set_programmed(v.programmed);
  vs.set_quorum_up(v.quorumUp);
  vs.set_alive_weight(v.aliveWeight);
  if (v.lastError) vs.set_last_error(*v.lastError);
  vs.set_connections(v.stats.connections);
  vs.set_in_bytes(v.stats.inBytes);
  vs.set_out_bytes(v.stats.outBytes);
  vs.set_cps(v.stats.cps);
  for (const auto& rs : v.realServers) {
    auto* out = vs.add_real_servers();
    out->set_endpoint(rs.endpoint);
    out->set_weight(rs.weight);
    out->set_alive(rs.alive);
    out->set_installed(rs.installed);
    out->set_sorry(rs.sorry);
    out->set_active_connections(rs.activeConnections);
    out->set_inactive_connections(rs.inactiveConnections);
    out->set_connections(rs.stats.connections);
    out->set_in_bytes(rs.stats.inBytes);
    out->set_out_bytes(rs.stats.outBytes);
    out->set_cps(rs.stats.cps);
    out->set_checked(rs.checked);
    out->set_health(rs.health);
    out->set_weight_in_effect(rs.weightInEffect);
    out->set_drained(rs.drained);
  }
}

}  // namespace

v1::StatusReply buildStatusReply(const HostSnapshot& s) {
  v1::StatusReply r;
  r.set_cluster(s.cluster);
  r.set_node(s.node);
  for (const auto& l : s.leases) {
    auto* ls = r.add_leases();
    ls->set_name(l.name);
    ls->set_role(l.role);
    ls->set_role_reason(l.reason);
    ls->set_holder(l.holder);
    ls->set_epoch(l.epoch);
    ls->set_lease_remaining_ms(l.remainingMs);
    if (!l.preferred.empty()) ls->set_preferred(l.preferred);
    for (const auto& inst : l.instances) ls->add_instances(inst);
    for (const auto& v : l.vips) ls->add_vips(v);
    if (s.hasDataPlane) ls->set_vips_claimed(l.claimed);
    ls->set_eligible(l.eligible);
    ls->set_state(l.state);
    ls->set_quorum_lost(l.quorumLost);
    ls->set_claim_gate(l.gate);
    ls->set_hold_remaining_ms(l.holdRemainingMs);
  }
  if (r.leases_size() > 0) {
    const auto& first = r.leases(0);
    r.set_role(first.role());
    r.set_role_reason(first.role_reason());
    r.set_holder(first.holder());
    r.set_epoch(first.epoch());
    r.set_lease_remaining_ms(first.lease_remaining_ms());
    r.set_preferred(first.preferred());
  }
  if (s.hasDataPlane) {
    r.set_frames_suppressed(s.framesSuppressed);
    r.set_lease_lapses(s.lapses);
  }
  for (const auto& v : s.virtualServers) addVirtualServer(s, v, *r.add_virtual_servers());
  r.set_healthy(s.healthy);
  for (const auto& p : s.problems) r.add_health_problems(p);
  for (std::size_t n = 0; n < s.nodes.size(); ++n) {
    const auto& node = s.nodes[n];
    auto* ns = r.add_nodes();
    ns->set_id(node.id);
    ns->set_address(node.address);
    ns->set_self(node.self);
    ns->set_reachable(node.reachable);
    ns->set_last_seen_ms(node.lastSeenMs);
    if (n == lease::kArbiter) {
      ns->set_role("arbiter");
    } else if (node.self) {
      ns->set_role(r.role());
    } else if (!r.holder().empty() && r.holder() == node.id) {
      ns->set_role("holder");
    } else {
      ns->set_role(node.reachable ? "standby" : "unknown");
    }
  }
  r.set_version(s.version);
  return r;
}

}  // namespace quorate::server

namespace quorate::server {

v1::StatusReply buildStatusReply(const HostSnapshot& s, const PartCounters& parts) {
  v1::StatusReply r = buildStatusReply(s);
  if (parts.hooks) *r.mutable_hooks() = *parts.hooks;
  if (parts.eventLog) *r.mutable_event_log() = *parts.eventLog;
  if (parts.watchdog) *r.mutable_watchdog() = *parts.watchdog;
  return r;
}

}  // namespace quorate::server
