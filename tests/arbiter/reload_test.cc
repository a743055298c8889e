// planReload: what a SIGHUP adds, removes, re-keys, and what it refuses to change live.
#include "arbiter/reload.h"

#include <gtest/gtest.h>

namespace quorate::arbiter {
namespace {

using namespace std::chrono_literals;

ArbiterConfig base() {
  ArbiterConfig c;
  c.path = "/etc/quorate/arbiter.yaml";
  c.listen = "198.18.0.3:7100";
  c.stateDir = "/var/lib/quorate-arbiter";
  c.clusters = {{"a", {"key-a"}}, {"b", {"key-b"}}, {"c", {"key-c"}}};
  return c;
}

std::vector<std::string> idsOf(const std::vector<ClusterEntry>& v) {
  std::vector<std::string> out;
  for (const auto& e : v) out.push_back(e.id);
  return out;
}

TEST(PlanReload, TheSameFileChangesNothing) {
  const ReloadPlan plan = planReload(base(), base());
  EXPECT_TRUE(plan.ok());
  EXPECT_TRUE(plan.changesNothing());
  EXPECT_EQ(describe(plan), "no change");
}

TEST(PlanReload, ClustersAddedRemovedAndRotatedByIdTheRestUntouched) {
  ArbiterConfig next = base();
  next.clusters = {{"c", {"key-c2", "key-c"}}, {"d", {"key-d"}}, {"a", {"key-a"}}};
  next.logLevel = "debug";
  const ReloadPlan plan = planReload(base(), next);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(idsOf(plan.added), std::vector<std::string>{"d"});
  EXPECT_EQ(plan.removed, std::vector<std::string>{"b"});
  EXPECT_EQ(idsOf(plan.rotated), std::vector<std::string>{"c"});
  EXPECT_EQ(plan.rotated[0].secrets, (std::vector<std::string>{"key-c2", "key-c"}));
  EXPECT_TRUE(plan.logLevelChanged);
  EXPECT_EQ(plan.logLevel, "debug");
  EXPECT_EQ(describe(plan),
            "1 cluster added (d), 1 removed (b), 1 with new credentials (c), log level debug");
}

TEST(PlanReload, AnotherCaBundleIsARotation) {
  ArbiterConfig running = base();
  running.tls = ArbiterTls{"/etc/q/arbiter.crt", "/etc/q/arbiter.key"};
  for (auto& c : running.clusters) c.ca = "/etc/q/" + c.id + "-ca.pem";
  ArbiterConfig next = running;
  next.clusters[1].ca = "/etc/q/b-ca-2026.pem";
  const ReloadPlan plan = planReload(running, next);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(idsOf(plan.rotated), std::vector<std::string>{"b"});
  EXPECT_TRUE(plan.added.empty());
  EXPECT_TRUE(plan.removed.empty());
}

// Each of these needs a restart; the whole file is refused and every reason is listed.
TEST(PlanReload, WhatCannotChangeLiveRefusesTheWholeFileWithEveryReason) {
  ArbiterConfig next = base();
  next.listen = "198.18.0.3:7200";
  next.stateDir = "/srv/quorate";
  next.quarantine = 5000ms;
  next.clusters.push_back({"d", {"key-d"}});  // fine on its own, refused with the rest
  const ReloadPlan plan = planReload(base(), next);
  ASSERT_FALSE(plan.ok());
  ASSERT_EQ(plan.refused.size(), 3u);
  EXPECT_NE(plan.refused[0].find("listen \"198.18.0.3:7100\" -> \"198.18.0.3:7200\""),
            std::string::npos)
      << plan.refused[0];
  EXPECT_NE(plan.refused[1].find("state_dir"), std::string::npos) << plan.refused[1];
  EXPECT_NE(plan.refused[2].find("quarantine_ms"), std::string::npos) << plan.refused[2];
  EXPECT_TRUE(plan.added.empty());
  EXPECT_NE(describe(plan).find("refused: listen"), std::string::npos) << describe(plan);
}

TEST(PlanReload, TheArbitersOwnTlsAndOperatorSocketAreRefused) {
  ArbiterConfig running = base();
  running.tls = ArbiterTls{"/etc/q/arbiter.crt", "/etc/q/arbiter.key"};
  ArbiterConfig next = running;
  next.tls->cert = "/etc/q/arbiter-2.crt";
  next.operatorApi = ArbiterOperatorConfig{"/run/quorate/arbiter.sock", std::nullopt, ""};
  ReloadPlan plan = planReload(running, next);
  ASSERT_EQ(plan.refused.size(), 2u);
  EXPECT_NE(plan.refused[0].find("tls cert/key"), std::string::npos) << plan.refused[0];
  EXPECT_NE(plan.refused[1].find("operator"), std::string::npos) << plan.refused[1];

  next = running;
  next.tls.reset();
  plan = planReload(running, next);
  ASSERT_EQ(plan.refused.size(), 1u);
  EXPECT_NE(plan.refused[0].find("tls removed"), std::string::npos) << plan.refused[0];
}

// The metrics endpoint and the log target are set up once, at start: a reload that changes them
// must say so, not report "no change" while the old ones stay (as it once did).
TEST(PlanReload, MetricsAndLogTargetAreRefused) {
  ArbiterConfig running = base();
  running.metrics = metrics::MetricsConfig{"127.0.0.1:9363"};
  ArbiterConfig next = running;
  next.metrics->listen = "127.0.0.1:9365";
  next.logTarget = "syslog";
  const ReloadPlan plan = planReload(running, next);
  ASSERT_EQ(plan.refused.size(), 2u);
  EXPECT_NE(plan.refused[0].find("metrics"), std::string::npos) << plan.refused[0];
  EXPECT_NE(plan.refused[1].find("log_target"), std::string::npos) << plan.refused[1];

  next = running;
  next.metrics.reset();
  EXPECT_FALSE(planReload(running, next).ok());
}

}  // namespace
}  // namespace quorate::arbiter
