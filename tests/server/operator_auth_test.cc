// The operator API's roles: parsing of `operator:`, who holds which role, what each call needs.
#include "server/grpc/operator_auth.h"

#include <gtest/gtest.h>

#include "common/config_error.h"
#include "server/config.h"
#include "server/grpc/operator_service.h"

namespace quorate::server {
namespace {

OperatorConfig parse(const std::string& yaml) {
  const config::Document doc("/etc/quorate/alpha.yaml", "operator:\n" + yaml);
  return parseOperatorConfig(doc.root({"operator"}).optional("operator"));
}

Caller socketCaller(uid_t uid, gid_t gid, std::vector<gid_t> groups = {}) {
  Caller c;
  c.via = Caller::Via::kSocket;
  c.uid = uid;
  c.gid = gid;
  c.pid = 4242;
  c.groups = std::move(groups);
  return c;
}

Caller tlsCaller(const std::string& cn) {
  Caller c;
  c.via = Caller::Via::kTls;
  c.commonName = cn;
  return c;
}

TEST(OperatorAuthTest, DefaultsAreARootOnlySocket) {
  const config::Document doc("/x.yaml", "cluster: c\n");
  const OperatorConfig c = parseOperatorConfig(doc.root({"cluster"}).optional("operator"));
  EXPECT_EQ(c.socket, "/run/quorate/director.sock");
  EXPECT_FALSE(c.group);
  EXPECT_FALSE(c.tcp);
  EXPECT_TRUE(c.adminUids.empty());
}

TEST(OperatorAuthTest, ParsesEveryKeyAndResolvesNames) {
  const OperatorConfig c = parse(
      "  socket: run/d.sock\n  group: root\n  admin_users: [root]\n  admin_groups: [root]\n"
      "  max_connections: 8\n  max_watchers: 3\n"
      "  tcp: {listen: \"127.0.0.1:7201\", ca: ca.pem, cert: d.pem, key: d.key, "
      "admins: [ops-admin]}\n");
  EXPECT_EQ(c.socket, "/etc/quorate/run/d.sock");  // relative to the file
  ASSERT_TRUE(c.group);
  EXPECT_EQ(*c.group, 0u);
  EXPECT_EQ(c.adminUids, std::vector<uid_t>{0});
  EXPECT_EQ(c.adminGids, std::vector<gid_t>{0});
  EXPECT_EQ(c.maxConnections, 8);
  EXPECT_EQ(c.maxWatchers, 3);
  ASSERT_TRUE(c.tcp);
  EXPECT_EQ(c.tcp->listen, "127.0.0.1:7201");
  EXPECT_EQ(c.tcp->ca, "/etc/quorate/ca.pem");
  EXPECT_EQ(c.tcp->admins, std::vector<std::string>{"ops-admin"});
}

TEST(OperatorAuthTest, BadConfigIsAClearError) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"  group: no-such-group-q15\n", "no such group \"no-such-group-q15\""},
      {"  admin_users: [no-such-user-q15]\n", "no such user \"no-such-user-q15\""},
      {"  socket: /" + std::string(120, 'a') + "\n", "at most 107 bytes"},
      {"  tcp: {listen: \"127.0.0.1:7201\", ca: a, cert: b}\n", "key: missing required key"},
      {"  tcp: {listen: \"127.0.0.1:7201\", ca: a, cert: b, key: c, insecure: true}\n", "insecure"},
      {"  max_watchers: 0\n", "max_watchers"},
      {"  sockett: /run/x.sock\n", "sockett"},
  };
  for (const auto& [yaml, needle] : cases) {
    try {
      parse(yaml);
      ADD_FAILURE() << "accepted: " << yaml;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << yaml << " gave: " << e.what();
    }
  }
}

TEST(OperatorAuthTest, RootIsAlwaysAdminOthersReadOnly) {
  const OperatorConfig policy;  // no admin users or groups
  EXPECT_EQ(roleOf(socketCaller(0, 0), policy), Role::kAdmin);
  EXPECT_EQ(roleOf(socketCaller(65534, 65534), policy), Role::kReader);
  EXPECT_EQ(roleOf(socketCaller(1000, 1000, {1000, 27}), policy), Role::kReader);
  OperatorConfig ownUser;
  ownUser.daemonUid = 998;  // a director run as its own user: that user is admin
  EXPECT_EQ(roleOf(socketCaller(998, 998), ownUser), Role::kAdmin);
  EXPECT_EQ(roleOf(socketCaller(999, 998), ownUser), Role::kReader);
}

TEST(OperatorAuthTest, AdminUsersAndGroupsIncludingSupplementary) {
  OperatorConfig policy;
  policy.adminUids = {1001};
  policy.adminGids = {27};
  EXPECT_EQ(roleOf(socketCaller(1001, 1001), policy), Role::kAdmin);
  EXPECT_EQ(roleOf(socketCaller(1002, 27), policy), Role::kAdmin);  // primary group
  EXPECT_EQ(roleOf(socketCaller(1003, 1003, {1003, 27}), policy), Role::kAdmin);
  EXPECT_EQ(roleOf(socketCaller(1004, 1004, {1004, 28}), policy), Role::kReader);
}

TEST(OperatorAuthTest, TlsRoleComesFromTheCommonName) {
  OperatorConfig policy;
  EXPECT_EQ(roleOf(tlsCaller("ops-admin"), policy), Role::kReader);  // no tcp: no admins
  policy.tcp = OperatorTcpConfig{};
  policy.tcp->admins = {"ops-admin"};
  EXPECT_EQ(roleOf(tlsCaller("ops-admin"), policy), Role::kAdmin);
  EXPECT_EQ(roleOf(tlsCaller("ops-reader"), policy), Role::kReader);
  EXPECT_EQ(roleOf(tlsCaller("OPS-ADMIN"), policy), Role::kReader);  // exact match only
  EXPECT_EQ(roleOf(tlsCaller(""), policy), Role::kReader);
  // A TLS caller is never taken for uid 0 however its fields are left.
  Caller odd = tlsCaller("x");
  odd.uid = 0;
  EXPECT_EQ(roleOf(odd, policy), Role::kReader);
}

TEST(OperatorAuthTest, AnUnidentifiedCallerHasNoRole) {
  Caller unknown;
  unknown.uid = 0;  // whatever it claims
  EXPECT_EQ(roleOf(unknown, OperatorConfig{}), Role::kNone);
  std::string why;
  EXPECT_FALSE(allowed(Role::kNone, neededFor("Status"), "Status", unknown, &why));
  EXPECT_NE(why.find("needs the read-only role"), std::string::npos) << why;
}

TEST(OperatorAuthTest, WhatEachCallNeeds) {
  EXPECT_EQ(neededFor("Status"), Role::kReader);
  EXPECT_EQ(neededFor("WatchStatus"), Role::kReader);
  EXPECT_EQ(neededFor("StepDown"), Role::kAdmin);
  EXPECT_EQ(neededFor("Reload"), Role::kAdmin);  // re-reads the file: as much as a restart
  EXPECT_EQ(neededFor("Drain"), Role::kAdmin);
  EXPECT_EQ(neededFor("Enable"), Role::kAdmin);
  EXPECT_EQ(neededFor("IpvsTable"), Role::kReader);    // counters, as Status shows them
  EXPECT_EQ(neededFor("Unclassified"), Role::kAdmin);  // admin until someone decides
}

TEST(OperatorAuthTest, RefusalNamesTheRoleNeededAndTheCaller) {
  Caller c = socketCaller(65534, 65534);
  c.userName = "nobody";
  std::string why;
  EXPECT_TRUE(allowed(Role::kReader, Role::kReader, "Status", c, &why));
  EXPECT_TRUE(allowed(Role::kAdmin, Role::kReader, "Status", c, &why));
  EXPECT_TRUE(allowed(Role::kAdmin, Role::kAdmin, "StepDown", c, &why));
  EXPECT_FALSE(allowed(Role::kReader, Role::kAdmin, "StepDown", c, &why));
  EXPECT_EQ(why, "StepDown needs the admin role; uid 65534 (nobody) pid 4242 has only read-only");
}

// A cached Status is served as of the call: a lease never looks longer, nor a peer fresher, than
// it is (the process tests' health check and the client library's tenure read these).
TEST(OperatorStatusCache, AServedCopyIsAgedToTheCall) {
  v1::StatusReply r;
  r.set_lease_remaining_ms(500);
  auto* l = r.add_leases();
  l->set_lease_remaining_ms(20);
  l->set_hold_remaining_ms(1000);
  auto* heard = r.add_nodes();
  heard->set_last_seen_ms(5);
  auto* never = r.add_nodes();
  never->set_last_seen_ms(-1);
  ageStatus(r, std::chrono::milliseconds(30));
  EXPECT_EQ(r.lease_remaining_ms(), 470);
  EXPECT_EQ(r.leases(0).lease_remaining_ms(), 0);  // never below 0
  EXPECT_EQ(r.leases(0).hold_remaining_ms(), 970);
  EXPECT_EQ(r.nodes(0).last_seen_ms(), 35);
  EXPECT_EQ(r.nodes(1).last_seen_ms(), -1);  // "never" stays never
}

}  // namespace
}  // namespace quorate::server
