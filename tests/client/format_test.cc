// Unit tests of quoratectl's rendering: JSON fields and nulls, the status table, code names.
#include "client/format.h"

#include <gtest/gtest.h>

namespace quorate::client {
namespace {

using quorate::v1::LeaseStatus;
using quorate::v1::NodeStatus;
using quorate::v1::StatusReply;

void addNode(StatusReply* reply, const std::string& id, const std::string& role, bool reachable,
             std::int64_t lastSeenMs, const std::string& address, bool self) {
  NodeStatus* n = reply->add_nodes();
  n->set_id(id);
  n->set_role(role);
  n->set_reachable(reachable);
  n->set_last_seen_ms(lastSeenMs);
  n->set_address(address);
  n->set_self(self);
}

StatusReply demoReply() {
  StatusReply r;
  r.set_cluster("demo");
  r.set_node("alpha");
  r.set_role("holder");
  r.set_role_reason("won round 7");
  r.set_holder("alpha");
  r.set_epoch(7);
  r.set_lease_remaining_ms(1433);
  r.set_version(42);
  r.set_preferred("alpha");
  r.set_frames_suppressed(3);
  r.set_lease_lapses(1);
  addNode(&r, "alpha", "holder", true, 0, "127.0.0.1:7101", true);
  addNode(&r, "beta", "standby", true, 112, "127.0.0.1:7102", false);
  addNode(&r, "arbiter", "arbiter", true, 98, "127.0.0.1:7100", false);
  return r;
}

LeaseStatus* addLease(StatusReply* reply, const std::string& name, const std::string& role,
                      const std::string& holder, std::uint64_t epoch, std::int64_t remainingMs) {
  LeaseStatus* l = reply->add_leases();
  l->set_name(name);
  l->set_role(role);
  l->set_holder(holder);
  l->set_epoch(epoch);
  l->set_lease_remaining_ms(remainingMs);
  l->set_eligible(true);
  return l;
}

// alpha holds "web" with its VIPs up; beta holds the sync group "edge", for which alpha is
// not eligible because eth1 is down.
StatusReply twoLeaseReply() {
  StatusReply r = demoReply();
  LeaseStatus* web = addLease(&r, "web", "holder", "alpha", 7, 1433);
  web->set_role_reason("won round 7");
  web->set_preferred("alpha");
  web->add_instances("web");
  web->add_vips("198.18.0.10/24 dev eth0 label eth0:web");
  web->add_vips("198.18.0.254/24 dev eth0");
  web->set_vips_claimed(true);
  LeaseStatus* edge = addLease(&r, "edge", "standby", "beta", 4, 1610);
  edge->set_role_reason("beta holds the lease");
  edge->add_instances("dns");
  edge->add_instances("ntp");
  edge->add_vips("198.18.1.53/24 dev eth1 label eth1:dns");
  edge->set_eligible(false);
  r.set_healthy(false);
  r.add_health_problems("interface eth1 has no carrier");
  r.add_health_problems("track script check_dns failing: exit 1");
  return r;
}

TEST(StatusToJson, HasEveryField) {
  const nlohmann::json j = statusToJson(demoReply());
  EXPECT_EQ(j["cluster"], "demo");
  EXPECT_EQ(j["node"], "alpha");
  EXPECT_EQ(j["role"], "holder");
  EXPECT_EQ(j["role_reason"], "won round 7");
  EXPECT_EQ(j["holder"], "alpha");
  EXPECT_EQ(j["epoch"], 7u);
  EXPECT_EQ(j["lease_remaining_ms"], 1433);
  EXPECT_EQ(j["preferred"], "alpha");
  EXPECT_EQ(j["version"], 42u);
  ASSERT_TRUE(j["nodes"].is_array());
  ASSERT_EQ(j["nodes"].size(), 3u);
  const nlohmann::json beta = j["nodes"][1];
  EXPECT_EQ(beta, nlohmann::json::parse(R"({"id":"beta","role":"standby","reachable":true,
      "last_seen_ms":112,"address":"127.0.0.1:7102","self":false})"));
  EXPECT_EQ(j["nodes"][0]["self"], true);
  // An old-style reply: no leases, so health is unknown rather than false.
  EXPECT_EQ(j["leases"], nlohmann::json::array());
  EXPECT_TRUE(j["healthy"].is_null());
  EXPECT_EQ(j["health_problems"], nlohmann::json::array());
  EXPECT_EQ(j["virtual_servers"], nlohmann::json::array());
  EXPECT_EQ(j["frames_suppressed"], 3u);
  EXPECT_EQ(j["lease_lapses"], 1u);
  // Parts the reply does not carry (an older director, or turned off) are null.
  EXPECT_TRUE(j["hooks"].is_null());
  EXPECT_TRUE(j["event_log"].is_null());
  EXPECT_TRUE(j["watchdog"].is_null());
  EXPECT_EQ(j.size(), 19u) << j.dump();
}

// The counters of hooks, the event log and the watchdog, in JSON; in the text only when a hook
// or a fence went wrong.
TEST(StatusToJson, PartCountersAndTheirLine) {
  StatusReply r = demoReply();
  auto* h = r.mutable_hooks();
  h->set_runs(10);
  h->set_failures(2);
  h->set_timeouts(1);
  h->set_dropped(3);
  h->set_fences(4);
  h->set_fence_failures(1);
  h->set_gates_failed(2);
  r.mutable_event_log()->set_written(99);
  r.mutable_watchdog()->set_pets(7);
  const nlohmann::json j = statusToJson(r);
  EXPECT_EQ(j["hooks"], nlohmann::json::parse(R"({"runs":10,"failures":2,"timeouts":1,
      "dropped":3,"fifo_errors":0,"fences":4,"fence_failures":1,"gates_failed":2})"));
  EXPECT_EQ(j["event_log"]["written"], 99u);
  EXPECT_EQ(j["watchdog"]["pets"], 7u);
  EXPECT_NE(formatStatus(r).find("hooks: 2 of 10 runs failed (1 timed out), 3 transitions "
                                 "dropped; 1 of 4 fences failed"),
            std::string::npos)
      << formatStatus(r);
  r.mutable_hooks()->set_failures(0);
  r.mutable_hooks()->set_dropped(0);
  r.mutable_hooks()->set_fence_failures(0);
  EXPECT_EQ(formatStatus(r).find("hooks:"), std::string::npos) << "a quiet line is noise";
}

// A virtual server with a real server alive and installed, one quiescent, and an idle sorry
// server.
StatusReply virtualServerReply() {
  StatusReply r = demoReply();
  addLease(&r, "web", "holder", "alpha", 7, 1433)->add_vips("198.18.0.10/24 dev eth0");
  r.set_healthy(true);
  auto* vs = r.add_virtual_servers();
  vs->set_name("http");
  vs->set_lease("web");
  vs->set_service("tcp 198.18.0.10:80 wlc");
  vs->set_programmed(true);
  vs->set_quorum_up(true);
  vs->set_alive_weight(2);
  vs->set_connections(12);
  auto* a = vs->add_real_servers();
  a->set_endpoint("198.18.0.21:80");
  a->set_weight(2);
  a->set_weight_in_effect(5);
  a->set_alive(true);
  a->set_checked(true);
  a->set_health("script check: exit 7: weight 5");
  a->set_installed(true);
  a->set_active_connections(3);
  a->set_inactive_connections(1);
  a->set_connections(12);
  auto* b = vs->add_real_servers();
  b->set_endpoint("198.18.0.22:80");
  b->set_weight(1);
  b->set_weight_in_effect(1);
  b->set_checked(true);
  b->set_health("http check: status 500");
  b->set_installed(true);
  auto* sorry = vs->add_real_servers();
  sorry->set_endpoint("198.18.0.30:80");
  sorry->set_weight(1);
  sorry->set_sorry(true);
  return r;
}

TEST(StatusToJson, VirtualServers) {
  const nlohmann::json j = statusToJson(virtualServerReply());
  ASSERT_EQ(j["virtual_servers"].size(), 1u);
  const auto& vs = j["virtual_servers"][0];
  EXPECT_EQ(vs["name"], "http");
  EXPECT_EQ(vs["lease"], "web");
  EXPECT_EQ(vs["programmed"], true);
  EXPECT_TRUE(vs["last_error"].is_null());
  ASSERT_EQ(vs["real_servers"].size(), 3u);
  EXPECT_EQ(vs["real_servers"][0], nlohmann::json::parse(R"({"endpoint":"198.18.0.21:80",
      "weight":2,"weight_in_effect":5,"drained":false,"alive":true,"checked":true,
      "health":"script check: exit 7: weight 5","installed":true,"sorry":false,"active_connections":3,
      "inactive_connections":1,"connections":12,"in_bytes":0,"out_bytes":0,"cps":0})"));
  EXPECT_EQ(vs["real_servers"][2]["sorry"], true);
}

TEST(FormatStatus, VirtualServersTable) {
  const std::string text = formatStatus(virtualServerReply());
  EXPECT_NE(text.find("VIRTUAL SERVER"), std::string::npos) << text;
  EXPECT_NE(text.find("http (web)"), std::string::npos) << text;
  EXPECT_NE(text.find("in IPVS"), std::string::npos) << text;
  EXPECT_NE(text.find("-> 198.18.0.21:80 w2->5"), std::string::npos) << text;
  EXPECT_NE(text.find("alive, installed (script check: exit 7: weight 5)"), std::string::npos)
      << text;
  EXPECT_NE(text.find("3/1"), std::string::npos) << text;
  EXPECT_NE(text.find("-> 198.18.0.22:80 w1 "), std::string::npos) << text;
  EXPECT_NE(text.find("dead, installed (http check: status 500)"), std::string::npos) << text;
  EXPECT_NE(text.find("sorry, idle"), std::string::npos) << text;
}

// A drained real server (unchecked, weight 4): its weight in effect 0, and said so.
TEST(FormatStatus, DrainedRealServer) {
  StatusReply r = virtualServerReply();
  auto* c = r.mutable_virtual_servers(0)->add_real_servers();
  c->set_endpoint("198.18.0.23:80");
  c->set_weight(4);
  c->set_weight_in_effect(0);
  c->set_alive(true);
  c->set_installed(true);
  c->set_drained(true);
  const std::string text = formatStatus(r);
  EXPECT_NE(text.find("-> 198.18.0.23:80 w4->0"), std::string::npos) << text;
  EXPECT_NE(text.find("drained, alive, installed"), std::string::npos) << text;
  EXPECT_EQ(statusToJson(r)["virtual_servers"][0]["real_servers"][3]["drained"], true);
}

TEST(StatusToJson, LeasesAndHealth) {
  const nlohmann::json j = statusToJson(twoLeaseReply());
  ASSERT_TRUE(j["leases"].is_array());
  ASSERT_EQ(j["leases"].size(), 2u);
  EXPECT_EQ(j["leases"][0], nlohmann::json::parse(R"({
      "name": "web", "role": "holder", "role_reason": "won round 7", "holder": "alpha",
      "epoch": 7, "lease_remaining_ms": 1433, "preferred": "alpha", "instances": ["web"],
      "vips": ["198.18.0.10/24 dev eth0 label eth0:web", "198.18.0.254/24 dev eth0"],
      "vips_claimed": true, "eligible": true, "state": null, "quorum_lost": false,
      "claim_gate": null, "hold_remaining_ms": 0})"));
  EXPECT_EQ(j["leases"][1], nlohmann::json::parse(R"({
      "name": "edge", "role": "standby", "role_reason": "beta holds the lease",
      "holder": "beta", "epoch": 4, "lease_remaining_ms": 1610, "preferred": null,
      "instances": ["dns", "ntp"], "vips": ["198.18.1.53/24 dev eth1 label eth1:dns"],
      "vips_claimed": false, "eligible": false, "state": null, "quorum_lost": false,
      "claim_gate": null, "hold_remaining_ms": 0})"));
  EXPECT_EQ(j["healthy"], false);
  EXPECT_EQ(j["health_problems"], nlohmann::json::parse(
                                      R"j(["interface eth1 has no carrier",
                                           "track script check_dns failing: exit 1"])j"));
  // The top level still repeats the first lease.
  EXPECT_EQ(j["holder"], "alpha");
  EXPECT_EQ(j["epoch"], 7u);
}

TEST(StatusToJson, EmptyLeaseStringsAreNullAndHealthyIsABoolean) {
  StatusReply r = demoReply();
  addLease(&r, "default", "candidate", "", 0, 0);
  r.set_healthy(true);
  const nlohmann::json j = statusToJson(r);
  const nlohmann::json& l = j["leases"][0];
  EXPECT_TRUE(l["holder"].is_null());
  EXPECT_TRUE(l["preferred"].is_null());
  EXPECT_EQ(l["role_reason"], "");
  EXPECT_EQ(l["instances"], nlohmann::json::array());
  EXPECT_EQ(l["vips"], nlohmann::json::array());
  EXPECT_EQ(l["lease_remaining_ms"], 0);
  EXPECT_TRUE(l["state"].is_null());
  EXPECT_TRUE(l["claim_gate"].is_null());
  EXPECT_EQ(l.size(), 15u) << l.dump();
  EXPECT_EQ(j["healthy"], true);
  EXPECT_EQ(j["health_problems"], nlohmann::json::array());
}

TEST(StatusToJson, EmptyHolderPreferredAndNeverSeenAreNull) {
  StatusReply r = demoReply();
  r.clear_holder();
  r.clear_preferred();
  r.set_role_reason("");
  r.mutable_nodes(1)->set_last_seen_ms(-1);
  r.mutable_nodes(1)->set_reachable(false);
  const nlohmann::json j = statusToJson(r);
  EXPECT_TRUE(j["holder"].is_null());
  EXPECT_TRUE(j["preferred"].is_null());
  EXPECT_EQ(j["role_reason"], "");
  EXPECT_TRUE(j["nodes"][1]["last_seen_ms"].is_null());
  EXPECT_EQ(j["nodes"][1]["reachable"], false);
  EXPECT_EQ(j["nodes"][0]["last_seen_ms"], 0);
}

TEST(StatusToJson, EmptyReplyStillHasTheShape) {
  const nlohmann::json j = statusToJson(StatusReply());
  for (const char* key : {"cluster", "node", "role", "role_reason", "holder", "epoch",
                          "lease_remaining_ms", "preferred", "version", "nodes", "leases",
                          "healthy", "health_problems", "frames_suppressed", "lease_lapses"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_TRUE(j["nodes"].is_array());
  EXPECT_TRUE(j["nodes"].empty());
}

TEST(StatusToJson, LargeCountersStayExact) {
  StatusReply r;
  r.set_epoch(UINT64_MAX);
  r.set_version(UINT64_MAX - 1);
  const nlohmann::json j = nlohmann::json::parse(statusToJson(r).dump());
  EXPECT_EQ(j["epoch"].get<std::uint64_t>(), UINT64_MAX);
  EXPECT_EQ(j["version"].get<std::uint64_t>(), UINT64_MAX - 1);
}

TEST(WatchUpdateToJson, AddsElapsed) {
  const nlohmann::json j = watchUpdateToJson(demoReply(), std::chrono::milliseconds(1500));
  EXPECT_EQ(j["elapsed_ms"], 1500);
  EXPECT_EQ(j["epoch"], 7u);
  EXPECT_EQ(j.dump().find('\n'), std::string::npos);
  const nlohmann::json multi = watchUpdateToJson(twoLeaseReply(), std::chrono::milliseconds(7));
  EXPECT_EQ(multi["leases"].size(), 2u);
  EXPECT_EQ(multi["leases"][1]["holder"], "beta");
  EXPECT_EQ(multi["health_problems"].size(), 2u);
  EXPECT_EQ(multi["healthy"], false);
}

TEST(CompactVip, DeviceAfterTheAddressLabelDropped) {
  EXPECT_EQ(compactVip("198.18.0.10/24 dev eth0 label eth0:web"), "198.18.0.10/24@eth0");
  EXPECT_EQ(compactVip("198.18.0.254/24 dev eth0"), "198.18.0.254/24@eth0");
  EXPECT_EQ(compactVip("2001:db8::10/64 dev bond0.12"), "2001:db8::10/64@bond0.12");
  EXPECT_EQ(compactVip("198.18.0.10/24"), "198.18.0.10/24");  // no device: as given
  EXPECT_EQ(compactVip("198.18.0.10/24 dev"), "198.18.0.10/24 dev");
  EXPECT_EQ(compactVip(""), "");
}

TEST(FormatStatus, MatchesTheDocumentedTable) {
  EXPECT_EQ(formatStatus(demoReply()),
            "cluster demo  node alpha  role holder  epoch 7  lease 1433 ms left\n"
            "holder alpha (preferred alpha)\n"
            "NODE      ROLE      REACHABLE  LAST SEEN  ADDRESS\n"
            "alpha *   holder    yes        -          127.0.0.1:7101\n"
            "beta      standby   yes        112 ms     127.0.0.1:7102\n"
            "arbiter   arbiter   yes        98 ms      127.0.0.1:7100\n");
}

TEST(FormatStatus, ShowsReasonNoHolderAndNeverSeen) {
  StatusReply r;
  r.set_cluster("demo");
  r.set_node("beta");
  r.set_role("quarantine");
  r.set_role_reason("restarted, silent for 1800 ms");
  r.set_epoch(3);
  addNode(&r, "alpha", "unknown", false, -1, "10.0.0.1:7101", false);
  addNode(&r, "beta-with-a-long-name", "quarantine", true, 0, "[::1]:7102", true);
  addNode(&r, "arbiter", "arbiter", true, 25'000, "10.0.0.3:7100", false);
  EXPECT_EQ(formatStatus(r),
            "cluster demo  node beta  role quarantine (restarted, silent for 1800 ms)  epoch 3  "
            "no lease\n"
            "holder none\n"
            "NODE                     ROLE        REACHABLE  LAST SEEN  ADDRESS\n"
            "alpha                    unknown     no         never      10.0.0.1:7101\n"
            "beta-with-a-long-name *  quarantine  yes        -          [::1]:7102\n"
            "arbiter                  arbiter     yes        25.0 s     10.0.0.3:7100\n");
}

TEST(FormatStatus, OldStyleReplyIsUnchanged) {
  // No leases, no health: exactly the table of directors from before leases.
  const std::string text = formatStatus(demoReply());
  EXPECT_EQ(text.find("LEASE"), std::string::npos);
  EXPECT_EQ(text.find("health"), std::string::npos);
}

TEST(FormatStatus, TwoLeasesWithVipsAndHealthProblems) {
  EXPECT_EQ(formatStatus(twoLeaseReply()),
            "cluster demo  node alpha  role holder  epoch 7  lease 1433 ms left\n"
            "holder alpha (preferred alpha)\n"
            "health: interface eth1 has no carrier; track script check_dns failing: exit 1\n"
            "LEASE            ROLE                    HOLDER    EPOCH     LEFT      VIPS\n"
            "web              holder                  alpha     7         1433 ms   "
            "198.18.0.10/24@eth0, 198.18.0.254/24@eth0 (up here)\n"
            "edge [dns, ntp]  standby (not eligible)  beta      4         1610 ms   "
            "198.18.1.53/24@eth1\n"
            "NODE      ROLE      REACHABLE  LAST SEEN  ADDRESS\n"
            "alpha *   holder    yes        -          127.0.0.1:7101\n"
            "beta      standby   yes        112 ms     127.0.0.1:7102\n"
            "arbiter   arbiter   yes        98 ms      127.0.0.1:7100\n");
}

TEST(FormatStatus, LeaseRowsShowReasonNoHolderAndNoVips) {
  StatusReply r = demoReply();
  addLease(&r, "web", "holder", "alpha", 7, 1433)->set_role_reason("won round 7");
  LeaseStatus* gw = addLease(&r, "gw", "candidate", "", 2, 0);
  gw->set_role_reason("waiting for a majority");
  gw->set_eligible(false);
  r.set_healthy(true);
  EXPECT_EQ(formatStatus(r),
            "cluster demo  node alpha  role holder  epoch 7  lease 1433 ms left\n"
            "holder alpha (preferred alpha)\n"
            "health ok\n"
            "LEASE     ROLE                                              HOLDER    EPOCH     "
            "LEFT      VIPS\n"
            "web       holder                                            alpha     7         "
            "1433 ms   -\n"
            "gw        candidate (waiting for a majority; not eligible)  none      2         "
            "-         -\n"
            "NODE      ROLE      REACHABLE  LAST SEEN  ADDRESS\n"
            "alpha *   holder    yes        -          127.0.0.1:7101\n"
            "beta      standby   yes        112 ms     127.0.0.1:7102\n"
            "arbiter   arbiter   yes        98 ms      127.0.0.1:7100\n");
}

TEST(FormatStatus, SingleLeaseWithoutVipsShowsHealthButNoTable) {
  StatusReply r = demoReply();
  addLease(&r, "default", "holder", "alpha", 7, 1433);
  r.set_healthy(true);
  EXPECT_EQ(formatStatus(r),
            "cluster demo  node alpha  role holder  epoch 7  lease 1433 ms left\n"
            "holder alpha (preferred alpha)\n"
            "health ok\n"
            "NODE      ROLE      REACHABLE  LAST SEEN  ADDRESS\n"
            "alpha *   holder    yes        -          127.0.0.1:7101\n"
            "beta      standby   yes        112 ms     127.0.0.1:7102\n"
            "arbiter   arbiter   yes        98 ms      127.0.0.1:7100\n");
  r.set_healthy(false);  // unhealthy without a reason still says so
  EXPECT_NE(formatStatus(r).find("\nhealth: not ok (no details given)\n"), std::string::npos);
}

TEST(FormatStatus, SingleLeaseWithVipsShowsTheTable) {
  StatusReply r = demoReply();
  addLease(&r, "web", "holder", "alpha", 7, 1433)->add_vips("198.18.0.10/24 dev eth0");
  r.set_healthy(true);
  EXPECT_NE(formatStatus(r).find("\nweb       holder    alpha     7         1433 ms   "
                                 "198.18.0.10/24@eth0\n"),
            std::string::npos)
      << formatStatus(r);
}

TEST(FormatStatus, HidesReasonForHolderAndStandby) {
  StatusReply r = demoReply();
  EXPECT_EQ(formatStatus(r).find("won round"), std::string::npos);
  r.set_role("candidate");
  EXPECT_NE(formatStatus(r).find("role candidate (won round 7)"), std::string::npos);
}

TEST(FormatWatchLine, OneLineWithTimestamp) {
  StatusReply r = demoReply();
  r.mutable_nodes(1)->set_reachable(false);
  EXPECT_EQ(formatWatchLine(r, std::chrono::milliseconds(12'345)),
            "[    12.345] v42  node alpha  role holder  holder alpha  epoch 7  "
            "lease 1433 ms left  peers beta DOWN, arbiter up");
}

TEST(FormatWatchLine, SeveralLeasesShowEachHolderAndHealthProblems) {
  StatusReply r = twoLeaseReply();
  addLease(&r, "gw", "candidate", "", 2, 0);
  EXPECT_EQ(formatWatchLine(r, std::chrono::milliseconds(500)),
            "[     0.500] v42  node alpha  role holder  holder alpha  epoch 7  "
            "lease 1433 ms left  leases web=alpha edge=beta gw=none  "
            "health: interface eth1 has no carrier; track script check_dns failing: exit 1  "
            "peers beta up, arbiter up");
}

TEST(FormatWatchLine, OneHealthyLeaseAddsNothing) {
  StatusReply r = demoReply();
  addLease(&r, "default", "holder", "alpha", 7, 1433);
  r.set_healthy(true);
  EXPECT_EQ(formatWatchLine(r, std::chrono::milliseconds(0)),
            formatWatchLine(demoReply(), std::chrono::milliseconds(0)));
}

TEST(StepDown, TextAndJson) {
  quorate::v1::StepDownReply reply;
  reply.set_released_epoch(7);
  reply.set_handed_to("beta");
  EXPECT_EQ(formatStepDown(reply), "released epoch 7, handed to beta");
  EXPECT_EQ(stepDownToJson(reply),
            nlohmann::json::parse(R"({"released_epoch":7,"handed_to":"beta","leases":[],
                                     "hold_remaining_ms":0,"after_pre_release":false})"));
  reply.clear_handed_to();
  EXPECT_EQ(formatStepDown(reply), "released epoch 7, handed to nobody");
  EXPECT_TRUE(stepDownToJson(reply)["handed_to"].is_null());
}

TEST(StepDown, NamesTheReleasedLeases) {
  quorate::v1::StepDownReply reply;
  reply.set_released_epoch(4);
  reply.set_handed_to("beta");
  reply.add_leases("edge");
  EXPECT_EQ(formatStepDown(reply), "released edge (epoch 4), handed to beta");
  reply.add_leases("web");
  EXPECT_EQ(formatStepDown(reply), "released edge (epoch 4) and web, handed to beta");
  reply.add_leases("gw");
  EXPECT_EQ(formatStepDown(reply), "released edge (epoch 4), web and gw, handed to beta");
  EXPECT_EQ(stepDownToJson(reply), nlohmann::json::parse(R"({"released_epoch":4,
      "handed_to":"beta","leases":["edge","web","gw"],"hold_remaining_ms":0,
      "after_pre_release":false})"));
}

TEST(StatusCodeName, NamesEveryCode) {
  const std::pair<grpc::StatusCode, const char*> names[] = {
      {grpc::StatusCode::OK, "OK"},
      {grpc::StatusCode::CANCELLED, "CANCELLED"},
      {grpc::StatusCode::UNKNOWN, "UNKNOWN"},
      {grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT"},
      {grpc::StatusCode::DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED"},
      {grpc::StatusCode::NOT_FOUND, "NOT_FOUND"},
      {grpc::StatusCode::ALREADY_EXISTS, "ALREADY_EXISTS"},
      {grpc::StatusCode::PERMISSION_DENIED, "PERMISSION_DENIED"},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED"},
      {grpc::StatusCode::FAILED_PRECONDITION, "FAILED_PRECONDITION"},
      {grpc::StatusCode::ABORTED, "ABORTED"},
      {grpc::StatusCode::OUT_OF_RANGE, "OUT_OF_RANGE"},
      {grpc::StatusCode::UNIMPLEMENTED, "UNIMPLEMENTED"},
      {grpc::StatusCode::INTERNAL, "INTERNAL"},
      {grpc::StatusCode::UNAVAILABLE, "UNAVAILABLE"},
      {grpc::StatusCode::DATA_LOSS, "DATA_LOSS"},
      {grpc::StatusCode::UNAUTHENTICATED, "UNAUTHENTICATED"},
  };
  for (const auto& [code, name] : names) EXPECT_EQ(statusCodeName(code), name);
  EXPECT_EQ(statusCodeName(99), "CODE_99");  // not cast to the enum first (UBSan)
  EXPECT_EQ(statusCodeName(-1), "CODE_-1");
  EXPECT_EQ(statusCodeName(16), "UNAUTHENTICATED");
}

TEST(FormatRpcError, EndpointCodeAndMessage) {
  EXPECT_EQ(formatRpcError("127.0.0.1:7101",
                           grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused")),
            "quoratectl: 127.0.0.1:7101: UNAVAILABLE: connection refused");
  EXPECT_EQ(formatRpcError("[::1]:7101", grpc::Status(grpc::StatusCode::INTERNAL, "")),
            "quoratectl: [::1]:7101: INTERNAL");
}

}  // namespace
}  // namespace quorate::client
