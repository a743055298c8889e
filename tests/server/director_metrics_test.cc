// The director's metric families from a DirectorView built by hand: what a live cluster on
// loopback cannot show (VIPs, IPVS, hooks and health checks need the kernel or scripts).
#include "server/metrics/director_metrics.h"

#include <gtest/gtest.h>

#include <sstream>

namespace quorate::server {
namespace {

// Every line of `text` that starts with `prefix`.
std::vector<std::string> lines(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind(prefix, 0) == 0) out.push_back(l);
  }
  return out;
}

bool has(const std::string& text, const std::string& line) {
  return !lines(text, line + "\n").empty() || text.find("\n" + line + "\n") != std::string::npos;
}

DirectorView view() {
  DirectorView v;
  v.host.cluster = "c1";
  v.host.node = "alpha";
  LeaseSnapshot web;
  web.name = "web";
  web.role = "holder";
  web.epoch = 7;
  web.remainingMs = 1250;
  LeaseSnapshot db;
  db.name = "db";
  db.role = "candidate";
  db.epoch = 3;
  db.eligible = false;  // its own track failing
  v.host.leases = {web, db};
  v.host.nodes = {{"alpha", "127.0.0.1:1", true, true, 0},
                  {"beta", "127.0.0.1:2", false, false, -1},
                  {"arbiter", "127.0.0.1:3", false, true, 20}};
  LeaseStats::Lease s;
  s.electionsWon = 2;
  s.electionsLost = 5;
  s.acquired = 2;
  s.lost["expired"] = 1;
  s.renewal.observe(0.002);
  v.leases = {s, LeaseStats::Lease{}};
  DataPlane::LeaseCounters d;
  d.announcements = 9;
  d.fenceErrors = 1;
  d.fenceArm.observe(0.000014);
  v.dataPlane = {d, DataPlane::LeaseCounters{}};
  v.hooks.runsByKind[{"became-holder", "ok"}] = 2;
  v.hooks.runsByKind[{"pre-claim", "timeout"}] = 1;
  v.hooks.fencesOk = 1;
  v.hooks.fenceFailures = 4;
  ipvs::VirtualServerView vs;
  vs.name = "http";
  vs.quorumUp = true;
  vs.stats.connections = 100;
  ipvs::RealServerView up;
  up.endpoint = "198.18.0.21:80";
  up.alive = true;
  up.weightInEffect = 3;
  up.activeConnections = 4;
  up.stats.inBytes = 5000;
  ipvs::RealServerView down = up;
  down.endpoint = "198.18.0.22:80";
  down.alive = false;
  vs.realServers = {up, down};
  v.host.virtualServers = {vs};
  check::HealthChecks::ServerStats c;
  c.server.virtualServer = "http";
  c.server.address = *net::IpAddress::parse("198.18.0.22");
  c.server.port = 80;
  c.alive = false;
  c.lastLatency = std::chrono::milliseconds(250);
  c.wentUp = 1;
  c.wentDown = 2;
  v.checks = {c};
  return v;
}

TEST(DirectorMetrics, EveryAgreedFamilyFromOneView) {
  metrics::Exposition e;
  addDirectorMetrics(e, view());
  const std::string t = e.render();
  SCOPED_TRACE(t);
  EXPECT_TRUE(has(t, R"(quorate_lease_holder{cluster="c1",lease="web",node="alpha"} 1)"));
  EXPECT_TRUE(has(t, R"(quorate_lease_holder{cluster="c1",lease="db",node="alpha"} 0)"));
  EXPECT_TRUE(has(t, R"(quorate_lease_role{cluster="c1",lease="web",node="alpha"} 2)"));
  EXPECT_TRUE(has(t, R"(quorate_lease_role{cluster="c1",lease="db",node="alpha"} 1)"));
  EXPECT_TRUE(has(t, R"(quorate_lease_epoch{cluster="c1",lease="web"} 7)"));
  EXPECT_TRUE(has(t, R"(quorate_lease_eligible{cluster="c1",lease="web",node="alpha"} 1)"));
  EXPECT_TRUE(has(t, R"(quorate_lease_eligible{cluster="c1",lease="db",node="alpha"} 0)"));
  EXPECT_TRUE(has(t, R"(quorate_lease_remaining_seconds{cluster="c1",lease="web"} 1.25)"));
  EXPECT_TRUE(has(t, R"(quorate_elections_total{cluster="c1",lease="web",outcome="lost"} 5)"));
  EXPECT_TRUE(has(t, R"(quorate_lease_acquired_total{cluster="c1",lease="web"} 2)"));
  EXPECT_TRUE(has(t, R"(quorate_lease_lost_total{cluster="c1",lease="web",reason="expired"} 1)"));
  EXPECT_TRUE(has(t, R"(quorate_lease_lost_total{cluster="c1",lease="web",reason="refused"} 0)"));
  EXPECT_TRUE(
      has(t, R"(quorate_lease_renewal_duration_seconds_count{cluster="c1",lease="web"} 1)"));
  EXPECT_TRUE(has(t, R"(quorate_quorum{cluster="c1",node="alpha"} 1)"));  // the arbiter counts
  EXPECT_TRUE(has(t, R"(quorate_peer_up{cluster="c1",node="alpha",peer="beta"} 0)"));
  EXPECT_TRUE(has(t, R"(quorate_peer_up{cluster="c1",node="alpha",peer="arbiter"} 1)"));
  EXPECT_TRUE(has(t, R"(quorate_announcements_total{cluster="c1",lease="web"} 9)"));
  EXPECT_TRUE(has(t, R"(quorate_fence_errors_total{cluster="c1",lease="web"} 1)"));
  EXPECT_TRUE(has(
      t, R"(quorate_fence_arm_duration_seconds_bucket{cluster="c1",lease="web",le="0.000025"} 1)"));
  EXPECT_TRUE(has(
      t, R"(quorate_fence_arm_duration_seconds_bucket{cluster="c1",lease="web",le="0.00001"} 0)"));
  EXPECT_TRUE(
      has(t, R"(quorate_hook_runs_total{cluster="c1",hook="became-holder",outcome="ok"} 2)"));
  EXPECT_TRUE(
      has(t, R"(quorate_hook_runs_total{cluster="c1",hook="pre-claim",outcome="timeout"} 1)"));
  EXPECT_TRUE(has(t, R"(quorate_fence_agent_runs_total{cluster="c1",outcome="failed"} 4)"));
  EXPECT_TRUE(has(
      t, R"(quorate_realserver_up{cluster="c1",service="http",realserver="198.18.0.21:80"} 1)"));
  EXPECT_TRUE(has(
      t, R"(quorate_realserver_up{cluster="c1",service="http",realserver="198.18.0.22:80"} 0)"));
  EXPECT_TRUE(has(
      t,
      R"(quorate_realserver_check_latency_seconds{cluster="c1",service="http",realserver="198.18.0.22:80"} 0.25)"));
  EXPECT_TRUE(has(
      t,
      R"(quorate_realserver_transitions_total{cluster="c1",service="http",realserver="198.18.0.22:80",to="down"} 2)"));
  // Unchecked real servers have no latency or transitions to show.
  EXPECT_TRUE(
      lines(
          t,
          R"(quorate_realserver_transitions_total{cluster="c1",service="http",realserver="198.18.0.21:80")")
          .empty());
  EXPECT_TRUE(has(t, R"(quorate_ipvs_connections_total{cluster="c1",service="http"} 100)"));
  EXPECT_TRUE(has(
      t,
      R"(quorate_ipvs_bytes_in_total{cluster="c1",service="http",realserver="198.18.0.21:80"} 5000)"));
  EXPECT_TRUE(has(
      t,
      R"(quorate_ipvs_active_connections{cluster="c1",service="http",realserver="198.18.0.21:80"} 4)"));
  EXPECT_TRUE(
      has(t, R"(quorate_ipvs_weight{cluster="c1",service="http",realserver="198.18.0.21:80"} 3)"));
  EXPECT_TRUE(
      has(t, R"(quorate_ipvs_weight{cluster="c1",service="http",realserver="198.18.0.22:80"} 0)"));
  EXPECT_EQ(lines(t, "# TYPE quorate_build_info gauge").size(), 1u);
}

TEST(DirectorMetrics, AGroupsMembersShareTheNameAndDifferByMember) {
  DirectorView v = view();
  ipvs::VirtualServerView first = v.host.virtualServers[0];
  first.group = "front";
  first.service = "tcp 198.18.0.10:80 wlc";
  ipvs::VirtualServerView second = first;
  second.service = "tcp 198.18.0.11:80 wlc";
  second.stats.connections = 7;
  v.host.virtualServers = {first, second};
  metrics::Exposition e;
  addDirectorMetrics(e, v);
  const std::string t = e.render();
  SCOPED_TRACE(t);
  // One series per member (the same labels twice would be an invalid exposition), and the
  // shared check's numbers under each.
  EXPECT_TRUE(has(
      t,
      R"(quorate_ipvs_connections_total{cluster="c1",service="http",member="tcp 198.18.0.10:80 wlc"} 100)"));
  EXPECT_TRUE(has(
      t,
      R"(quorate_ipvs_connections_total{cluster="c1",service="http",member="tcp 198.18.0.11:80 wlc"} 7)"));
  for (const char* member : {"tcp 198.18.0.10:80 wlc", "tcp 198.18.0.11:80 wlc"}) {
    EXPECT_TRUE(has(
        t, std::string(
               R"(quorate_realserver_check_latency_seconds{cluster="c1",service="http",member=")") +
               member + R"(",realserver="198.18.0.22:80"} 0.25)"));
  }
}

TEST(DirectorMetrics, WithoutDataPlaneOrServersThoseFamiliesAreAbsent) {
  DirectorView v = view();
  v.dataPlane.clear();
  v.host.virtualServers.clear();
  metrics::Exposition e;
  addDirectorMetrics(e, v);
  const std::string t = e.render();
  EXPECT_EQ(t.find("quorate_fence_arm_duration_seconds"), std::string::npos);
  EXPECT_EQ(t.find("quorate_realserver_up"), std::string::npos);
  EXPECT_NE(t.find("quorate_lease_holder"), std::string::npos);
}

}  // namespace
}  // namespace quorate::server
