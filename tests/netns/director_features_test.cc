// Real directors in namespaces, one feature each: active/active leases, sync groups, track
// scripts, clean-up of a killed run's leftovers, IPv6 VIPs, VRRPv3 adverts, a bad VIP device.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "netns/checker.h"
#include "netns/director_cluster.h"

namespace quorate::netns {
namespace {

using nlohmann::json;

const std::string kWebVip = kVip;  // 198.18.0.10
const std::string kApiVip = "198.18.0.20";
const std::string kGwVip = "198.18.0.254";
const std::string kWebVip6 = "2001:db8::10";

// Generous: two shared cores, other builds and benchmarks running.
constexpr Ms kElect{15'000};
constexpr Ms kMove{10'000};

InstanceSpec instance(std::string name, std::vector<std::string> vips, std::string preferred = "",
                      int vrid = 0) {
  InstanceSpec i;
  i.name = std::move(name);
  i.vips = std::move(vips);
  i.preferred = std::move(preferred);
  i.vrid = vrid;
  return i;
}

Mac macOf(const Topology& topo, const std::string& host) {
  return *Mac::parse(topo.host(host).mac);
}

// `quoratectl status --json` from `director`, parsed; a null json when unreachable.
json status(const DirectorCluster& cluster, const std::string& director) {
  const auto text = cluster.statusJson(director);
  if (!text) return nullptr;
  return json::parse(*text, nullptr, false);
}

json leaseIn(const json& status, const std::string& name) {
  if (!status.is_object()) return nullptr;
  for (const auto& l : status.value("leases", json::array())) {
    if (l.value("name", "") == name) return l;
  }
  return nullptr;
}

// The line of `ip -o addr show dev eth0` in `host` that carries `cidr` ("" if none).
std::string addressLine(const Topology& topo, const std::string& host, const std::string& cidr) {
  std::istringstream lines(topo.check(host, "ip -o addr show dev eth0"));
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" " + cidr + " ") != std::string::npos) return line;
  }
  return "";
}
bool hasAddress(const Topology& topo, const std::string& host, const std::string& cidr) {
  return !addressLine(topo, host, cidr).empty();
}

// Ownership (address up and fence open) as seen intervals per host (seenOwning).
std::map<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>> owningIntervals(
    const std::vector<OwnershipHistory>& hs) {
  std::map<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>> out;
  for (const auto& h : hs) {
    auto& v = out[h.host];
    for (const auto& i : seenOwning(h)) v.push_back(i);
  }
  return out;
}

// The times when VIP a was owned by one director and VIP b by the other: [start, end] each.
std::vector<std::pair<std::int64_t, std::int64_t>> splitAcross(
    const std::vector<OwnershipHistory>& a, const std::vector<OwnershipHistory>& b) {
  const auto ia = owningIntervals(a);
  const auto ib = owningIntervals(b);
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (const auto& [ha, va] : ia) {
    for (const auto& [hb, vb] : ib) {
      if (ha == hb) continue;
      for (const auto& x : va) {
        for (const auto& y : vb) {
          const auto lo = std::max(x.first, y.first);
          const auto hi = std::min(x.second, y.second);
          if (lo <= hi) out.push_back({lo, hi});
        }
      }
    }
  }
  return out;
}

// No split brain in what the prober and the watcher saw.
void expectNoSplitBrain(const Topology& topo, const ProbeHistory& probes,
                        const std::vector<OwnershipHistory>& owners, const std::string& what) {
  const auto checker = SplitBrainChecker::forTopology(topo);
  const auto arp = checker.arpWindows(probes);
  EXPECT_TRUE(arp.empty()) << what << " (ARP):\n" << describe(arp);
  const auto own = checker.ownershipWindows(owners);
  EXPECT_TRUE(own.empty()) << what << " (addresses and fence):\n" << describe(own);
}

// Starts the arbiter and alpha, and beta once alpha holds `lease`: alpha holds it whatever the
// load (without preemption the first to leave quarantine would keep it).
void startWithAlphaHolding(DirectorCluster& cluster, const std::string& lease = "") {
  cluster.startArbiter();
  cluster.startDirector(kAlpha);
  ASSERT_TRUE(cluster.waitUntilHolds(kAlpha, kElect, lease)) << "alpha alone with the arbiter";
  cluster.startDirector(kBeta);
  ASSERT_EQ(cluster.waitForHolder(kElect, lease), kAlpha);
}

// 1. Two instances, each its own lease preferring a different director: each holds its own,
// and the survivor of a kill -9 takes both, with no moment where two directors answer.
TEST(DirectorFeatures, ActiveActiveEachDirectorHoldsItsPreferredInstance) {
  Topology topo;
  ClusterOptions o;
  o.instances = {instance("web", {kWebVip + "/24"}, kAlpha),
                 instance("api", {kApiVip + "/24"}, kBeta)};
  // Whoever leaves quarantine first takes every lease it sees nobody hold; preemption gives
  // each preferred director its own back.
  o.preemptDelayMs = 300;
  DirectorCluster cluster(topo, o);
  ArpProber webProbe(topo, kClient, {.vip = kWebVip});
  ArpProber apiProbe(topo, kClient, {.vip = kApiVip, .poolFirst = 200});
  AddressWatcher webOwners(topo, {kAlpha, kBeta}, {.vip = kWebVip});
  AddressWatcher apiOwners(topo, {kAlpha, kBeta}, {.vip = kApiVip});
  cluster.startAll();
  ASSERT_TRUE(cluster.waitUntilHolds(kAlpha, kElect, "web"));
  ASSERT_TRUE(cluster.waitUntilHolds(kBeta, kElect, "api"));
  ASSERT_EQ(cluster.waitForHolder(kMove, "web"), kAlpha);
  ASSERT_EQ(cluster.waitForHolder(kMove, "api"), kBeta);
  ASSERT_TRUE(webOwners.waitFor(kAlpha, true, kMove));
  ASSERT_TRUE(apiOwners.waitFor(kBeta, true, kMove));

  for (const auto& d : {kAlpha, kBeta}) {
    const json s = status(cluster, d);
    const json web = leaseIn(s, "web");
    const json api = leaseIn(s, "api");
    ASSERT_TRUE(web.is_object() && api.is_object()) << d << ": " << s.dump();
    EXPECT_EQ(web["holder"], kAlpha) << d;
    EXPECT_EQ(api["holder"], kBeta) << d;
    EXPECT_EQ(web["vips_claimed"], d == kAlpha) << d;
    EXPECT_EQ(api["vips_claimed"], d == kBeta) << d;
  }
  EXPECT_TRUE(hasAddress(topo, kAlpha, kWebVip + "/24"));
  EXPECT_FALSE(hasAddress(topo, kAlpha, kApiVip + "/24"));
  EXPECT_TRUE(hasAddress(topo, kBeta, kApiVip + "/24"));
  EXPECT_FALSE(hasAddress(topo, kBeta, kWebVip + "/24"));
  const auto alphaMac = macOf(topo, kAlpha);
  const auto betaMac = macOf(topo, kBeta);
  ASSERT_TRUE(
      webProbe.waitForReply([&](const ArpReply& r) { return r.sender == alphaMac; }, 0, kMove));
  ASSERT_TRUE(
      apiProbe.waitForReply([&](const ArpReply& r) { return r.sender == betaMac; }, 0, kMove));

  const auto killedNs = monoNs();
  cluster.signal(kAlpha, SIGKILL);
  ASSERT_TRUE(cluster.waitUntilHolds(kBeta, kMove, "web"));
  ASSERT_TRUE(webProbe.waitForReply([&](const ArpReply& r) { return r.sender == betaMac; },
                                    killedNs, kMove));
  ASSERT_TRUE(webOwners.waitFor(kBeta, true, kMove));
  EXPECT_EQ(cluster.holderSeenBy(kBeta, "api"), kBeta);
  EXPECT_TRUE(hasAddress(topo, kBeta, kWebVip + "/24"));
  EXPECT_TRUE(hasAddress(topo, kBeta, kApiVip + "/24"));
  ASSERT_TRUE(webProbe.waitRounds(40, kMove));
  webProbe.stop();
  apiProbe.stop();
  webOwners.stop();
  apiOwners.stop();

  expectNoSplitBrain(topo, webProbe.history(), webOwners.histories(), "web");
  expectNoSplitBrain(topo, apiProbe.history(), apiOwners.histories(), "api");
  const auto checker = SplitBrainChecker::forTopology(topo);
  // Start-up may move a lease once (to its preferred director); the kill moves web only.
  const auto webGaps = checker.failoverGaps(webProbe.history());
  ASSERT_FALSE(webGaps.empty());
  EXPECT_EQ(webGaps.back().toHost, kBeta) << describe(webGaps);
  EXPECT_GT(webGaps.back().firstToNs, killedNs) << describe(webGaps);
  const auto apiGaps = checker.failoverGaps(apiProbe.history());
  for (const auto& g : apiGaps) EXPECT_LT(g.firstToNs, killedNs) << describe(apiGaps);
  std::printf("web failover after kill -9: %s\n", webGaps.back().describe().c_str());
}

// 2. A sync group's VIPs live on one director: two step-downs move them together, and no
// poll ever finds one VIP on alpha while the other is on beta. The watchers poll each host
// on its own thread, so two hosts' samples are ordered only to within one poll period: a
// "split" shorter than the longer poll period of the two is measurement noise, anything
// longer a real split.
TEST(DirectorFeatures, SyncGroupVipsAlwaysMoveTogether) {
  Topology topo;
  ClusterOptions o;
  o.instances = {instance("web", {kWebVip + "/24"}), instance("gw", {kGwVip + "/24"})};
  o.syncGroups = {{"edge", {"web", "gw"}, kAlpha}};
  DirectorCluster cluster(topo, o);
  AddressWatcher webOwners(topo, {kAlpha, kBeta}, {.vip = kWebVip});
  AddressWatcher gwOwners(topo, {kAlpha, kBeta}, {.vip = kGwVip});
  cluster.startAll();
  // Without preemption the first to leave quarantine keeps the lease: alpha, most likely.
  const auto first = cluster.waitForHolder(kElect, "edge");
  ASSERT_TRUE(first);
  const std::string second = *first == kAlpha ? kBeta : kAlpha;
  ASSERT_TRUE(webOwners.waitFor(*first, true, kMove));
  ASSERT_TRUE(gwOwners.waitFor(*first, true, kMove));
  const json s = status(cluster, *first);
  ASSERT_EQ(s["leases"].size(), 1u) << s.dump();
  EXPECT_EQ(s["leases"][0]["name"], "edge");
  EXPECT_EQ(s["leases"][0]["instances"], json::array({"web", "gw"}));

  for (const auto& [from, to] : {std::pair{*first, second}, std::pair{second, *first}}) {
    const auto r = cluster.ctl(from, "step-down --json");
    ASSERT_TRUE(r.ok()) << r.err;
    const json j = json::parse(r.out, nullptr, false);
    EXPECT_EQ(j["handed_to"], to) << r.out;
    EXPECT_EQ(j["leases"], json::array({"edge"})) << r.out;
    ASSERT_TRUE(cluster.waitUntilHolds(to, kMove, "edge")) << from << " -> " << to;
    ASSERT_TRUE(webOwners.waitFor(to, true, kMove));
    ASSERT_TRUE(gwOwners.waitFor(to, true, kMove));
    EXPECT_FALSE(webOwners.latest(from)->owns());
    EXPECT_FALSE(gwOwners.latest(from)->owns());
    EXPECT_TRUE(hasAddress(topo, to, kWebVip + "/24") && hasAddress(topo, to, kGwVip + "/24"));
    EXPECT_FALSE(hasAddress(topo, from, kWebVip + "/24") || hasAddress(topo, from, kGwVip + "/24"));
  }
  webOwners.stop();
  gwOwners.stop();

  const auto checker = SplitBrainChecker::forTopology(topo);
  for (const auto* w : {&webOwners, &gwOwners}) {
    const auto windows = checker.ownershipWindows(w->histories());
    EXPECT_TRUE(windows.empty()) << describe(windows);
  }
  double pollUs = 0;
  for (const auto* w : {&webOwners, &gwOwners}) {
    for (const auto& h : {kAlpha, kBeta}) pollUs = std::max(pollUs, w->stats(h).maxPeriodUs);
  }
  for (const auto& [lo, hi] : splitAcross(webOwners.histories(), gwOwners.histories())) {
    EXPECT_LE((hi - lo) / 1000.0, pollUs)
        << "web and gw on different directors for " << (hi - lo) / 1000 << " us";
  }
}

// 3. A failing track script makes its director unhealthy: it hands its lease over and reports
// why; when the script passes again it is healthy and, with preempt_delay_ms, takes the lease
// back.
TEST(DirectorFeatures, FailingTrackScriptHandsOverAndRecoveryTakesTheLeaseBack) {
  Topology topo;
  // A directory of the test's own (flag files), removed at the end.
  const testutil::TempDir flags("quorate-features");
  const std::string flag = flags.file("alpha-fail");
  ClusterOptions o;
  o.preemptDelayMs = 300;
  // Only alpha runs the script (run without a shell by the director: /bin/sh is the program).
  // As root, asked for by name: the flag lives in the test's own 0700 directory.
  o.extraYamlFor[kAlpha] =
      "script_user: root\n"
      "track_scripts:\n"
      "  - {name: flagcheck, command: [\"/bin/sh\", \"-c\", \"test ! -e " +
      flag + "\"], interval_ms: 100, timeout_ms: 3000, fall: 2, rise: 2}\n";
  DirectorCluster cluster(topo, o);
  ArpProber prober(topo);
  AddressWatcher watcher(topo);
  startWithAlphaHolding(cluster);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(watcher.waitFor(kAlpha, true, kMove));
  EXPECT_EQ(status(cluster, kAlpha)["healthy"], true);

  const auto failedNs = monoNs();
  std::ofstream(flag) << "fail\n";
  json s;
  ASSERT_TRUE(waitUntil(
      [&] {
        s = status(cluster, kAlpha);
        return s.is_object() && s["healthy"] == false;
      },
      kMove, Ms(50)))
      << s.dump();
  ASSERT_EQ(s["health_problems"].size(), 1u) << s.dump();
  EXPECT_NE(s["health_problems"][0].get<std::string>().find("flagcheck"), std::string::npos)
      << s.dump();
  ASSERT_TRUE(cluster.waitUntilHolds(kBeta, kMove, "web")) << status(cluster, kAlpha).dump();
  ASSERT_TRUE(watcher.waitFor(kBeta, true, kMove));
  EXPECT_FALSE(hasAddress(topo, kAlpha, kWebVip + "/24"));
  EXPECT_EQ(leaseIn(status(cluster, kAlpha), "web")["eligible"], false);
  // Unhealthy, alpha does not take it back however long it waits.
  ASSERT_TRUE(prober.waitRounds(200, kMove));
  EXPECT_EQ(cluster.holderSeenBy(kBeta, "web"), kBeta);

  std::filesystem::remove(flag);
  ASSERT_TRUE(waitUntil(
      [&] {
        s = status(cluster, kAlpha);
        return s.is_object() && s["healthy"] == true;
      },
      kMove, Ms(50)))
      << s.dump();
  EXPECT_TRUE(s["health_problems"].empty()) << s.dump();
  ASSERT_TRUE(cluster.waitUntilHolds(kAlpha, kMove, "web")) << "preferred alpha preempts";
  ASSERT_TRUE(watcher.waitFor(kAlpha, true, kMove));
  ASSERT_TRUE(prober.waitForReply(
      [&](const ArpReply& r) { return r.sender == macOf(topo, kAlpha); }, monoNs(), kMove));
  prober.stop();
  watcher.stop();
  expectNoSplitBrain(topo, prober.history(), watcher.histories(), "web");
  auto gaps = SplitBrainChecker::forTopology(topo).failoverGaps(prober.history());
  std::erase_if(gaps, [&](const FailoverGap& g) { return g.firstToNs < failedNs; });
  ASSERT_EQ(gaps.size(), 2u) << describe(gaps);
  EXPECT_EQ(gaps[0].toHost, kBeta);
  EXPECT_EQ(gaps[1].toHost, kAlpha);
}

// 4. "Never claim without the lease": a killed holder leaves its VIP and nftables tables
// behind; started again, it removes the VIP and closes the fence before it answers anyone,
// and the director that took over keeps the lease.
TEST(DirectorFeatures, RestartedDirectorCleansUpWhatItsKilledRunLeft) {
  Topology topo;
  DirectorCluster cluster(topo);
  ArpProber prober(topo);
  AddressWatcher watcher(topo);
  // The address alone (fence ignored) in alpha: when does the restart remove it?
  AddressWatcher alphaAddress(topo, {kAlpha}, {.checkFence = false});
  startWithAlphaHolding(cluster);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(watcher.waitFor(kAlpha, true, kMove));

  cluster.signal(kAlpha, SIGKILL);
  ASSERT_TRUE(cluster.waitUntilHolds(kBeta, kMove));
  ASSERT_TRUE(watcher.waitFor(kBeta, true, kMove));
  // Left behind by the dead run: the address, and the tables (whose live element expired).
  EXPECT_TRUE(hasAddress(topo, kAlpha, kWebVip + "/24"));
  const auto tables = topo.check(kAlpha, "nft list tables");
  EXPECT_NE(tables.find("table inet quorate"), std::string::npos) << tables;
  EXPECT_NE(tables.find("table arp quorate"), std::string::npos) << tables;
  ASSERT_TRUE(alphaAddress.latest(kAlpha)->address);

  cluster.startDirector(kAlpha);
  std::int64_t answeredNs = 0;
  ASSERT_TRUE(waitUntil(
      [&] {
        if (!cluster.statusJson(kAlpha)) return false;
        answeredNs = monoNs();
        return true;
      },
      kMove, Ms(10)));
  // At its first answer the address is gone already, and was removed before that answer.
  EXPECT_FALSE(hasAddress(topo, kAlpha, kWebVip + "/24"));
  const auto transitions = alphaAddress.histories()[0].transitions;
  ASSERT_FALSE(transitions.empty());
  EXPECT_FALSE(transitions.back().address);
  EXPECT_LT(transitions.back().ns, answeredNs);
  // Both slots of the lease are empty: the gate is shut.
  for (const char* slot : {"lease0_a", "lease0_b"}) {
    const auto set = topo.check(kAlpha, std::string("nft list set inet quorate ") + slot);
    EXPECT_NE(set.find(slot), std::string::npos) << set;
    EXPECT_EQ(set.find("elements"), std::string::npos) << "fence open after restart:\n" << set;
  }

  // Quarantine over and well past it, beta still holds and alpha knows it.
  ASSERT_TRUE(prober.waitRounds(300, kMove));
  EXPECT_EQ(cluster.waitForHolder(kMove), kBeta);
  EXPECT_FALSE(hasAddress(topo, kAlpha, kWebVip + "/24"));
  prober.stop();
  watcher.stop();
  alphaAddress.stop();
  expectNoSplitBrain(topo, prober.history(), watcher.histories(), "web across the restart");
  const auto gaps = SplitBrainChecker::forTopology(topo).failoverGaps(prober.history());
  ASSERT_EQ(gaps.size(), 1u) << describe(gaps);
  EXPECT_EQ(gaps[0].toHost, kBeta);
}

// 5. An IPv6 VIP answers at once (no DAD), and after a kill -9 the unsolicited NA from the
// new holder moves the client's neighbour entry, without the client sending anything.
TEST(DirectorFeatures, Ipv6VipAnswersAtOnceAndItsNeighbourEntryFollowsTheHolder) {
  Topology topo;
  ClusterOptions o;
  o.instances = {instance("web6", {kWebVip6 + "/64"})};
  DirectorCluster cluster(topo, o);
  startWithAlphaHolding(cluster);
  if (HasFatalFailure()) return;
  const std::string cidr = kWebVip6 + "/64";
  ASSERT_TRUE(waitUntil([&] { return hasAddress(topo, kAlpha, cidr); }, kMove, Ms(20)));
  const auto line = addressLine(topo, kAlpha, cidr);
  EXPECT_EQ(line.find("tentative"), std::string::npos) << line;
  ASSERT_TRUE(ping(topo, kClient, kWebVip6, Ms(5000)));
  const auto neighbour = [&] {
    return topo.check(kClient, "ip -6 neigh show " + kWebVip6 + " dev eth0");
  };
  EXPECT_NE(neighbour().find(topo.host(kAlpha).mac), std::string::npos) << neighbour();

  cluster.signal(kAlpha, SIGKILL);
  ASSERT_TRUE(cluster.waitUntilHolds(kBeta, kMove));
  ASSERT_TRUE(waitUntil([&] { return hasAddress(topo, kBeta, cidr); }, kMove, Ms(20)));
  EXPECT_EQ(addressLine(topo, kBeta, cidr).find("tentative"), std::string::npos);
  std::string entry;
  EXPECT_TRUE(waitUntil(
      [&] {
        entry = neighbour();
        return entry.find(topo.host(kBeta).mac) != std::string::npos;
      },
      kMove, Ms(20)))
      << "the client's entry: " << entry;
  EXPECT_TRUE(ping(topo, kClient, kWebVip6, Ms(5000)));
}

// 6. VRRPv3 adverts: the holder's, from its own address with priority 100 and vrid 51; on a
// step-down a priority-0 advert from it, then the new holder's.
TEST(DirectorFeatures, VrrpAdvertsComeFromTheHolderAndResignOnStepDown) {
  Topology topo;
  ClusterOptions o;
  o.instances = {instance("web", {kWebVip + "/24"}, "", 51)};
  DirectorCluster cluster(topo, o);
  startWithAlphaHolding(cluster);
  if (HasFatalFailure()) return;

  const std::string capture = cluster.dir() + "/vrrp.txt";
  const pid_t tshark = topo.spawn(
      kClient,
      {"tshark", "-l", "-n", "-i", "eth0", "-a", "duration:8", "-f", "ip proto 112", "-T", "fields",
       "-e", "ip.src", "-e", "vrrp.prio", "-e", "vrrp.virt_rtr_id", "-e", "vrrp.checksum.status"},
      capture);
  const auto captureText = [&] {
    std::ifstream f(capture);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  ASSERT_TRUE(waitUntil([&] { return captureText().find("Capturing on") != std::string::npos; },
                        Ms(20'000), Ms(50)))
      << captureText();
  ASSERT_TRUE(waitUntil([&] { return captureText().find("198.18.0.1\t100") != std::string::npos; },
                        Ms(5000), Ms(50)))
      << captureText();
  const auto r = cluster.ctl(kAlpha, "step-down");
  ASSERT_TRUE(r.ok()) << r.err;
  ASSERT_TRUE(cluster.waitUntilHolds(kBeta, kMove));
  ASSERT_TRUE(topo.waitExit(tshark, Ms(20'000))) << captureText();

  struct Advert {
    std::string src;
    int prio, vrid;
    std::string checksum;
  };
  std::vector<Advert> adverts;
  std::istringstream lines(captureText());
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    Advert a;
    if (std::getline(f, a.src, '\t') && (f >> a.prio >> a.vrid >> a.checksum)) {
      adverts.push_back(a);
    }
  }
  const std::string all = captureText();
  ASSERT_FALSE(adverts.empty()) << all;
  const auto& alpha = topo.host(kAlpha).ipv4;
  const auto& beta = topo.host(kBeta).ipv4;
  for (const auto& a : adverts) {
    EXPECT_EQ(a.vrid, 51) << all;
    EXPECT_EQ(a.checksum, "1") << "1: good\n" << all;  // wireshark: 0 bad, 1 good, 2 unverified
  }
  // alpha at 100 ..., alpha at 0 once, then beta at 100 only.
  const auto resign =
      std::find_if(adverts.begin(), adverts.end(), [](const Advert& a) { return a.prio == 0; });
  ASSERT_NE(resign, adverts.end()) << all;
  EXPECT_EQ(resign->src, alpha) << all;
  ASSERT_NE(resign, adverts.begin()) << all;
  for (auto it = adverts.begin(); it != resign; ++it) {
    EXPECT_TRUE(it->src == alpha && it->prio == 100) << all;
  }
  ASSERT_NE(resign + 1, adverts.end()) << "no advert from the new holder\n" << all;
  for (auto it = resign + 1; it != adverts.end(); ++it) {
    EXPECT_TRUE(it->src == beta && it->prio == 100) << all;
  }
}

// 7. A VIP on a device that does not exist: the director refuses to start, saying so, and
// leaves nothing behind; --check accepts a valid file, rejects a malformed one, and fails one
// whose device this namespace lacks.
TEST(DirectorFeatures, VipOnAMissingDeviceKeepsTheDirectorOutOfTheLease) {
  Topology topo;
  DirectorCluster cluster(topo);
  std::ifstream in(cluster.configPath(kAlpha));
  std::string good((std::istreambuf_iterator<char>(in)), {});
  const auto swapDevice = [&](const std::string& device) {
    std::string text = good;
    const auto at = text.find("device: eth0}");
    EXPECT_NE(at, std::string::npos) << text;
    text.replace(at, std::string("device: eth0}").size(), "device: " + device + "}");
    return text;
  };
  const std::string missing = cluster.dir() + "/missing.yaml";
  const std::string malformed = cluster.dir() + "/malformed.yaml";
  std::ofstream(missing) << swapDevice("nosuch0");
  std::ofstream(malformed) << swapDevice("nosuchdevice0123");  // 16 characters

  const std::string director = binDir() + "/quorate-director";
  const auto check = [&](const std::string& path) {
    return topo.runArgv(kAlpha, {director, "--check", "--config", path}, Ms(10'000));
  };
  const auto ok = check(cluster.configPath(kAlpha));
  EXPECT_EQ(ok.exitCode, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("OK"), std::string::npos) << ok.out;
  const auto bad = check(malformed);
  EXPECT_EQ(bad.exitCode, 2) << bad.out << bad.err;
  EXPECT_NE(bad.err.find("nosuchdevice0123"), std::string::npos) << bad.err;
  // --check also checks the host: a device this namespace lacks is a FAIL naming it (exit 1).
  const auto unknown = check(missing);
  EXPECT_EQ(unknown.exitCode, 1) << unknown.out << unknown.err;
  EXPECT_NE(unknown.out.find("FAIL    interface nosuch0: no such interface"), std::string::npos)
      << unknown.out;
  EXPECT_NE(ok.out.find("OK      interface eth0: exists"), std::string::npos) << ok.out;

  // A VIP's interface is tracked like keepalived's instance interface: missing (or down) makes
  // the director unhealthy, so it never campaigns, never holds and says why.
  cluster.startArbiter();
  const std::string log = cluster.dir() + "/missing.log";
  const pid_t pid = topo.spawn(kAlpha, {director, "--config", missing}, log);
  bool reported = false;
  waitUntil(
      [&] {
        const auto text = cluster.statusJson(kAlpha);
        if (!text) return false;
        const auto j = nlohmann::json::parse(*text, nullptr, false);
        reported = !j.is_discarded() && j.value("healthy", true) == false &&
                   j["health_problems"].dump().find("nosuch0") != std::string::npos;
        return reported;
      },
      Ms(10'000), Ms(50));
  std::ifstream logIn(log);
  const std::string logText((std::istreambuf_iterator<char>(logIn)), {});
  EXPECT_TRUE(reported) << "status does not report nosuch0 as a health problem:\n" << logText;
  // Long past quarantine, with the arbiter's vote available: still not holding.
  std::this_thread::sleep_for(Ms(1500));
  EXPECT_EQ(cluster.holderSeenBy(kAlpha), std::string()) << logText;
  EXPECT_TRUE(topo.running(pid));
  EXPECT_FALSE(hasAddress(topo, kAlpha, kWebVip + "/24"));
  // A clean stop leaves nothing behind either.
  topo.kill(pid, SIGTERM);
  EXPECT_TRUE(topo.waitExit(pid, Ms(5000)).has_value());
}

}  // namespace
}  // namespace quorate::netns
