// Real directors in namespaces with per-instance tracking: a track script named by one
// instance's lease makes its director ineligible for that lease only; the other lease of an
// active/active pair keeps its holder and epoch.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "netns/checker.h"
#include "netns/director_cluster.h"

namespace quorate::netns {
namespace {

using nlohmann::json;

const std::string kWebVip = kVip;  // 198.18.0.10
const std::string kApiVip = "198.18.0.20";
constexpr Ms kElect{15'000};
constexpr Ms kMove{10'000};

json leaseOf(const DirectorCluster& cluster, const std::string& director, const std::string& name) {
  const auto s = cluster.status(director);
  if (!s) return nullptr;
  for (const auto& l : s->value("leases", json::array())) {
    if (l.value("name", "") == name) return l;
  }
  return nullptr;
}

// Each check: the lease's holder and epoch as `director` reports them.
std::pair<std::string, std::uint64_t> holderAndEpoch(const DirectorCluster& cluster,
                                                     const std::string& director,
                                                     const std::string& lease) {
  const json l = leaseOf(cluster, director, lease);
  if (!l.is_object()) return {"?", 0};
  return {l.value("holder", ""), l.value("epoch", std::uint64_t{0})};
}

bool anyProblemHas(const DirectorCluster& cluster, const std::string& director,
                   const std::string& text) {
  const auto s = cluster.status(director);
  if (!s) return false;
  for (const auto& p : s->value("health_problems", json::array())) {
    if (p.get<std::string>().find(text) != std::string::npos) return true;
  }
  return false;
}

// Active/active: web on alpha, api on beta. Alpha's track script for api fails: nothing moves
// (alpha does not hold api; web is not api's). Then alpha's script for web fails: web alone
// moves to beta, api keeps its holder and epoch. When it passes again, alpha takes web back.
TEST(DirectorTrack, APerInstanceTrackScriptMovesOnlyItsLease) {
  Topology topo;
  const testutil::TempDir flags("quorate-track");
  const std::string webFlag = flags.file("web-fail");
  const std::string apiFlag = flags.file("api-fail");
  auto check = [](const std::string& name, const std::string& flag) {
    return "  - {name: " + name + ", command: [\"/bin/sh\", \"-c\", \"test ! -e " + flag +
           "\"], interval_ms: 100, timeout_ms: 3000, fall: 2, rise: 2}\n";
  };
  ClusterOptions o;
  o.instances = {{"web", {kWebVip + "/24"}, kAlpha, 0}, {"api", {kApiVip + "/24"}, kBeta, 0}};
  o.instanceKeys["web"] = {"track_scripts: [webcheck]"};
  o.instanceKeys["api"] = {"track_scripts: [apicheck]"};
  o.preemptDelayMs = 300;
  // Alpha's scripts look at the flags (as root, named: the flags are in the test's 0700
  // directory); beta's always pass.
  o.extraYamlFor[kAlpha] = "script_user: root\ntrack_scripts:\n" + check("webcheck", webFlag) +
                           check("apicheck", apiFlag);
  o.extraYamlFor[kBeta] =
      "track_scripts:\n"
      "  - {name: webcheck, command: [/bin/true]}\n"
      "  - {name: apicheck, command: [/bin/true]}\n";
  DirectorCluster cluster(topo, o);
  ArpProber webProbe(topo, kClient, {.vip = kWebVip});
  AddressWatcher webOwners(topo, {kAlpha, kBeta}, {.vip = kWebVip});
  AddressWatcher apiOwners(topo, {kAlpha, kBeta}, {.vip = kApiVip});
  cluster.startAll();
  ASSERT_TRUE(cluster.waitUntilHolds(kAlpha, kElect, "web"));
  ASSERT_TRUE(cluster.waitUntilHolds(kBeta, kElect, "api"));
  ASSERT_EQ(cluster.waitForHolder(kMove, "web"), kAlpha);
  ASSERT_EQ(cluster.waitForHolder(kMove, "api"), kBeta);
  const auto web0 = holderAndEpoch(cluster, kAlpha, "web");
  const auto api0 = holderAndEpoch(cluster, kBeta, "api");
  ASSERT_EQ(web0.first, kAlpha);
  ASSERT_EQ(api0.first, kBeta);

  // 1. api's track fails on alpha, which holds web only: alpha stays healthy and web's holder.
  std::ofstream(apiFlag) << "fail\n";
  ASSERT_TRUE(
      waitUntil([&] { return leaseOf(cluster, kAlpha, "api").value("eligible", true) == false; },
                kMove, Ms(50)))
      << cluster.status(kAlpha)->dump();
  EXPECT_TRUE(anyProblemHas(cluster, kAlpha, "lease api: track script apicheck failing"));
  EXPECT_EQ(cluster.status(kAlpha)->value("healthy", false), true);
  EXPECT_EQ(leaseOf(cluster, kAlpha, "web").value("eligible", false), true);
  ASSERT_TRUE(webProbe.waitRounds(200, kMove));
  EXPECT_EQ(holderAndEpoch(cluster, kAlpha, "web"), web0) << "web moved for api's track";
  EXPECT_EQ(holderAndEpoch(cluster, kBeta, "api"), api0);
  std::filesystem::remove(apiFlag);
  ASSERT_TRUE(
      waitUntil([&] { return leaseOf(cluster, kAlpha, "api").value("eligible", false) == true; },
                kMove, Ms(50)));

  // 2. web's track fails on alpha: web moves to beta; api keeps its holder and epoch.
  const auto failedNs = monoNs();
  std::ofstream(webFlag) << "fail\n";
  ASSERT_TRUE(cluster.waitUntilHolds(kBeta, kMove, "web")) << cluster.status(kAlpha)->dump();
  ASSERT_TRUE(webOwners.waitFor(kBeta, true, kMove));
  EXPECT_EQ(leaseOf(cluster, kAlpha, "web").value("eligible", true), false);
  EXPECT_TRUE(anyProblemHas(cluster, kAlpha, "lease web: track script webcheck failing"));
  EXPECT_EQ(holderAndEpoch(cluster, kBeta, "api"), api0) << "api moved for web's track";
  ASSERT_TRUE(webProbe.waitRounds(100, kMove));
  EXPECT_EQ(cluster.holderSeenBy(kBeta, "web"), kBeta) << "alpha took web back while failing";
  EXPECT_EQ(holderAndEpoch(cluster, kBeta, "api"), api0);

  // 3. It passes again: preferred alpha takes web back; api still untouched.
  std::filesystem::remove(webFlag);
  ASSERT_TRUE(cluster.waitUntilHolds(kAlpha, kMove, "web"));
  ASSERT_TRUE(webOwners.waitFor(kAlpha, true, kMove));
  EXPECT_EQ(holderAndEpoch(cluster, kBeta, "api"), api0);
  webProbe.stop();
  webOwners.stop();
  apiOwners.stop();

  const auto checker = SplitBrainChecker::forTopology(topo);
  for (const auto* w : {&webOwners, &apiOwners}) {
    const auto windows = checker.ownershipWindows(w->histories());
    EXPECT_TRUE(windows.empty()) << describe(windows);
  }
  // api's VIP never left beta once it had it.
  for (const auto& h : apiOwners.histories()) {
    if (h.host != kAlpha) continue;
    for (const auto& [from, to] : seenOwning(h)) EXPECT_LT(to, failedNs) << "api on alpha";
  }
}

}  // namespace
}  // namespace quorate::netns
