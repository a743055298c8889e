// Real directors in namespaces, reloaded by SIGHUP: a VIP added to the held lease answers, the
// lease's other VIP never stops answering while it happens, the holder and epoch stay; a VIP
// removed goes dark and leaves the fence; a VIP moved to another lease on one director is
// refused, never answered by both. An instance (its lease) removed goes dark on both directors
// and leaves their fences while the other lease answers on; added back, it is elected above the
// epochs it had.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>

#include "netns/checker.h"
#include "netns/director_cluster.h"

namespace quorate::netns {
namespace {

using nlohmann::json;

const std::string kAdded = "198.18.0.30";  // no host of the topology has it
constexpr Ms kElect{15'000};
constexpr Ms kMove{10'000};

bool hasAddress(const Topology& topo, const std::string& host, const std::string& cidr) {
  std::istringstream lines(topo.check(host, "ip -o addr show dev eth0"));
  for (std::string line; std::getline(lines, line);) {
    if (line.find(" " + cidr + " ") != std::string::npos) return true;
  }
  return false;
}

// `host`'s fence entry for `ip` in the inet table's IPv4 map ("" if none).
std::string fenceEntry(const Topology& topo, const std::string& host, const std::string& ip) {
  const std::string map = topo.check(host, "nft list map inet quorate vips4");
  const auto at = map.find(ip + " : ");
  if (at == std::string::npos) return "";
  const auto end = map.find_first_of(",\n}", at);
  std::string entry = map.substr(at, end - at);
  while (!entry.empty() && entry.back() == ' ') entry.pop_back();
  return entry;
}

std::optional<std::uint64_t> epochOf(const DirectorCluster& cluster, const std::string& d) {
  const auto s = cluster.status(d);
  if (!s || !(*s)["epoch"].is_number()) return std::nullopt;
  return (*s)["epoch"].get<std::uint64_t>();
}

// Lease `lease`'s epoch and holder as `d` reports them (nullopt: unreachable or no such lease).
std::optional<std::pair<std::uint64_t, std::string>> leaseOf(const DirectorCluster& cluster,
                                                             const std::string& d,
                                                             const std::string& lease) {
  const auto s = cluster.status(d);
  if (!s || !(*s)["leases"].is_array()) return std::nullopt;
  for (const auto& l : (*s)["leases"]) {
    if (l.value("name", "") != lease) continue;
    return std::make_pair(l["epoch"].get<std::uint64_t>(),
                          l["holder"].is_string() ? l["holder"].get<std::string>() : "");
  }
  return std::nullopt;
}

bool listsLease(const DirectorCluster& cluster, const std::string& d, const std::string& lease) {
  return leaseOf(cluster, d, lease).has_value();
}

// Rounds sent in [fromNs, toNs] that `mac` did not answer.
std::vector<std::uint64_t> unanswered(const ProbeHistory& h, const Mac& mac, std::int64_t fromNs,
                                      std::int64_t toNs) {
  std::set<std::uint64_t> answered;
  for (const auto& r : h.replies) {
    if (r.sender == mac) answered.insert(r.round);
  }
  std::vector<std::uint64_t> out;
  for (const auto& r : h.rounds) {
    if (r.sentNs >= fromNs && r.sentNs <= toNs && !answered.contains(r.round)) {
      out.push_back(r.round);
    }
  }
  return out;
}

// The end of a window probed from t0 through two reloads (`first` from t0 to t1, `second` from
// t1): 100 more rounds, then 20 for their late replies, and the prober stopped. Prints the rounds
// sent in the window and expects every one answered by `from`.
void expectEveryRoundAnswered(ArpProber& prober, const Mac& from, std::int64_t t0, std::int64_t t1,
                              const char* first, const char* second, const char* which = "") {
  ASSERT_TRUE(prober.waitRounds(100, kMove));
  const std::int64_t t2 = monoNs();
  ASSERT_TRUE(prober.waitRounds(20, kMove));  // late replies of the last rounds
  prober.stop();
  const auto lost = unanswered(prober.history(), from, t0, t2);
  std::uint64_t rounds = 0;
  for (const auto& r : prober.history().rounds) rounds += r.sentNs >= t0 && r.sentNs <= t2;
  std::printf("%llu rounds %sover both reloads (%s %.0f ms, %s %.0f ms), %zu unanswered\n",
              static_cast<unsigned long long>(rounds), which, first, (t1 - t0) / 1e6, second,
              (t2 - t1) / 1e6, lost.size());
  EXPECT_TRUE(lost.empty()) << lost.size() << " rounds for " << kVip
                            << " unanswered during the reloads, the first " << lost.front();
}

TEST(DirectorReload, AVipAddedAndRemovedBySighupLeavesTheLeaseAndItsOtherVipAlone) {
  Topology topo;
  ClusterOptions o;
  o.instances = {{"web", {kVip + "/24"}, "", 0}};
  DirectorCluster cluster(topo, o);
  cluster.startArbiter();
  cluster.startDirector(kAlpha);
  ASSERT_TRUE(cluster.waitUntilHolds(kAlpha, kElect)) << "alpha alone with the arbiter";
  cluster.startDirector(kBeta);
  ASSERT_EQ(cluster.waitForHolder(kElect), kAlpha);
  ASSERT_TRUE(waitUntil([&] { return hasAddress(topo, kAlpha, kVip + "/24"); }, kMove, Ms(20)));
  const auto epoch = epochOf(cluster, kAlpha);
  ASSERT_TRUE(epoch.has_value());
  const Mac alpha = *Mac::parse(topo.host(kAlpha).mac);

  // The lease's first VIP, asked every 5 ms from before the reload to after it took effect.
  ArpProber prober(topo);
  ASSERT_TRUE(
      prober.waitForReply([&](const ArpReply& r) { return r.sender == alpha; }, monoNs(), kMove));
  ASSERT_FALSE(ping(topo, kClient, kAdded, Ms(300))) << kAdded << " answers before the reload";
  ClusterOptions added = o;
  added.instances[0].vips.push_back(kAdded + "/24");
  cluster.writeDirectorConfig(kAlpha, added);
  cluster.writeDirectorConfig(kBeta, added);
  const std::int64_t t0 = monoNs();
  cluster.signal(kAlpha, SIGHUP);
  cluster.signal(kBeta, SIGHUP);
  ASSERT_TRUE(waitUntil([&] { return hasAddress(topo, kAlpha, kAdded + "/24"); }, kMove, Ms(5)))
      << cluster.logTail(kAlpha);
  EXPECT_TRUE(ping(topo, kClient, kAdded, Ms(5000))) << "the added VIP does not answer";
  EXPECT_EQ(fenceEntry(topo, kAlpha, kAdded), kAdded + " : jump lease0") << "not fenced";
  EXPECT_EQ(fenceEntry(topo, kBeta, kAdded), kAdded + " : jump lease0") << "not fenced on beta";
  EXPECT_FALSE(hasAddress(topo, kBeta, kAdded + "/24")) << "the follower put the VIP up";
  ASSERT_TRUE(prober.waitRounds(100, kMove));
  const std::int64_t t1 = monoNs();

  // Removed again: dark, off the device and out of the fence (it is not ours any more).
  cluster.writeDirectorConfig(kAlpha, o);
  cluster.writeDirectorConfig(kBeta, o);
  cluster.signal(kAlpha, SIGHUP);
  cluster.signal(kBeta, SIGHUP);
  ASSERT_TRUE(waitUntil([&] { return !hasAddress(topo, kAlpha, kAdded + "/24"); }, kMove, Ms(5)))
      << cluster.logTail(kAlpha);
  EXPECT_FALSE(ping(topo, kClient, kAdded, Ms(1000))) << "the removed VIP still answers";
  EXPECT_TRUE(waitUntil([&] { return fenceEntry(topo, kAlpha, kAdded).empty(); }, kMove, Ms(20)))
      << fenceEntry(topo, kAlpha, kAdded);
  ASSERT_NO_FATAL_FAILURE(expectEveryRoundAnswered(prober, alpha, t0, t1, "add", "remove"));
  EXPECT_EQ(cluster.holderSeenBy(kAlpha), kAlpha);
  EXPECT_EQ(cluster.holderSeenBy(kBeta), kAlpha);
  EXPECT_EQ(epochOf(cluster, kAlpha), epoch) << "the reload moved the lease";
  EXPECT_TRUE(hasAddress(topo, kAlpha, kVip + "/24"));
  if (HasFailure()) cluster.keepFiles();
}

// Active-active, and one director reloaded with a VIP moved from the other's lease to its own
// (the first of a rolling reload): it must not answer for that VIP while the other, not reloaded
// yet, still answers for it as its lease's holder. The plan refuses the move in one reload.
TEST(DirectorReload, AVipMovedToAnotherLeaseOnOneDirectorIsNeverAnsweredTwice) {
  const std::string moved = "198.18.0.31";
  Topology topo;
  ClusterOptions o;
  o.instances = {{"web", {kVip + "/24"}, kAlpha, 0},
                 {"api", {"198.18.0.20/24", moved + "/24"}, kBeta, 0}};
  o.preemptDelayMs = 300;  // each preferred director gets its own lease back
  DirectorCluster cluster(topo, o);
  cluster.startAll();
  ASSERT_TRUE(cluster.waitUntilHolds(kAlpha, kElect, "web"));
  ASSERT_TRUE(cluster.waitUntilHolds(kBeta, kElect, "api"));
  ASSERT_EQ(cluster.waitForHolder(kMove, "web"), kAlpha);
  ASSERT_EQ(cluster.waitForHolder(kMove, "api"), kBeta);
  const Mac alpha = *Mac::parse(topo.host(kAlpha).mac);
  const Mac beta = *Mac::parse(topo.host(kBeta).mac);
  ArpProber prober(topo, kClient, {.vip = moved});
  ASSERT_TRUE(
      prober.waitForReply([&](const ArpReply& r) { return r.sender == beta; }, monoNs(), kMove));

  ClusterOptions next = o;
  next.instances[1].vips = {"198.18.0.20/24"};
  next.instances[0].vips.push_back(moved + "/24");
  cluster.writeDirectorConfig(kAlpha, next);
  const std::int64_t t0 = monoNs();
  cluster.signal(kAlpha, SIGHUP);
  ASSERT_TRUE(waitUntil(
      [&] { return cluster.logTail(kAlpha, 400).find("SIGHUP: reload") != std::string::npos; },
      kMove, Ms(20)));
  ASSERT_TRUE(prober.waitRounds(100, kMove));
  prober.stop();
  std::size_t fromAlpha = 0, fromBeta = 0;
  for (const auto& r : prober.history().replies) {
    if (r.ns < t0) continue;
    fromAlpha += r.sender == alpha;
    fromBeta += r.sender == beta;
  }
  EXPECT_EQ(fromAlpha, 0u) << moved << " answered by both directors (alpha " << fromAlpha
                           << " replies, beta " << fromBeta << ")\n"
                           << cluster.logTail(kAlpha, 5);
  EXPECT_GT(fromBeta, 0u) << "api's holder stopped answering";
  EXPECT_FALSE(hasAddress(topo, kAlpha, moved + "/24"));
  EXPECT_EQ(cluster.holderSeenBy(kAlpha, "web"), kAlpha);
  if (HasFailure()) cluster.keepFiles();
}

TEST(DirectorReload, AnInstanceRemovedBySighupGoesDarkAndComesBackAboveItsEpoch) {
  const std::string kMail = "198.18.0.30";
  Topology topo;
  ClusterOptions o;
  o.instances = {{"web", {kVip + "/24"}, "", 0}, {"mail", {kMail + "/24"}, "", 0}};
  DirectorCluster cluster(topo, o);
  cluster.startArbiter();
  cluster.startDirector(kAlpha);
  ASSERT_TRUE(cluster.waitUntilHolds(kAlpha, kElect, "web")) << cluster.logTail(kAlpha);
  ASSERT_TRUE(cluster.waitUntilHolds(kAlpha, kElect, "mail")) << cluster.logTail(kAlpha);
  cluster.startDirector(kBeta);
  ASSERT_EQ(cluster.waitForHolder(kElect, "web"), kAlpha);
  ASSERT_EQ(cluster.waitForHolder(kElect, "mail"), kAlpha);
  ASSERT_TRUE(waitUntil([&] { return hasAddress(topo, kAlpha, kMail + "/24"); }, kMove, Ms(20)));
  ASSERT_TRUE(ping(topo, kClient, kMail, Ms(5000)));
  const auto web = leaseOf(cluster, kAlpha, "web");
  const auto mail = leaseOf(cluster, kAlpha, "mail");
  ASSERT_TRUE(web && mail);
  const Mac alpha = *Mac::parse(topo.host(kAlpha).mac);

  // web's VIP, asked every 5 ms from before the first reload to after the second took effect.
  ArpProber prober(topo);
  ASSERT_TRUE(
      prober.waitForReply([&](const ArpReply& r) { return r.sender == alpha; }, monoNs(), kMove));
  ClusterOptions without = o;
  without.instances.pop_back();
  cluster.writeDirectorConfig(kAlpha, without);
  cluster.writeDirectorConfig(kBeta, without);
  const std::int64_t t0 = monoNs();
  cluster.signal(kAlpha, SIGHUP);
  cluster.signal(kBeta, SIGHUP);
  for (const auto& d : {kAlpha, kBeta}) {
    ASSERT_TRUE(waitUntil([&] { return !listsLease(cluster, d, "mail"); }, kMove, Ms(20)))
        << d << " still runs mail\n"
        << cluster.logTail(d);
  }
  for (const auto& d : {kAlpha, kBeta}) {
    EXPECT_FALSE(hasAddress(topo, d, kMail + "/24")) << d << ": the removed lease's VIP is up";
  }
  EXPECT_FALSE(ping(topo, kClient, kMail, Ms(1000))) << "the removed lease's VIP answers";
  for (const auto& d : {kAlpha, kBeta}) {
    EXPECT_EQ(fenceEntry(topo, d, kMail), "") << d << ": still in the fence";
  }
  ASSERT_TRUE(prober.waitRounds(100, kMove));
  const std::int64_t t1 = monoNs();
  EXPECT_EQ(leaseOf(cluster, kAlpha, "web"), web) << "web's holder or epoch moved";
  EXPECT_EQ(leaseOf(cluster, kBeta, "web"), web);

  // Added back: elected again, above every epoch it had, and fenced in a group of its own.
  cluster.writeDirectorConfig(kAlpha, o);
  cluster.writeDirectorConfig(kBeta, o);
  cluster.signal(kAlpha, SIGHUP);
  cluster.signal(kBeta, SIGHUP);
  const auto holder = cluster.waitForHolder(kElect, "mail");
  ASSERT_TRUE(holder.has_value()) << cluster.logTail(kAlpha) << cluster.logTail(kBeta);
  const auto again = leaseOf(cluster, *holder, "mail");
  ASSERT_TRUE(again.has_value());
  std::printf("mail: epoch %llu before its removal, %llu once added back (held by %s)\n",
              static_cast<unsigned long long>(mail->first),
              static_cast<unsigned long long>(again->first), holder->c_str());
  EXPECT_GT(again->first, mail->first) << "the lease added back reused an epoch";
  EXPECT_TRUE(waitUntil([&] { return hasAddress(topo, *holder, kMail + "/24"); }, kMove, Ms(20)));
  EXPECT_TRUE(ping(topo, kClient, kMail, Ms(5000))) << "the lease added back does not answer";
  for (const auto& d : {kAlpha, kBeta}) {
    EXPECT_EQ(fenceEntry(topo, d, kMail), kMail + " : jump lease2") << d << ": not fenced anew";
  }
  ASSERT_NO_FATAL_FAILURE(
      expectEveryRoundAnswered(prober, alpha, t0, t1, "remove", "add", "for web "));
  EXPECT_EQ(leaseOf(cluster, kAlpha, "web"), web) << "web's holder or epoch moved";
  EXPECT_EQ(leaseOf(cluster, kBeta, "web"), web);
  if (HasFailure()) cluster.keepFiles();
}

}  // namespace
}  // namespace quorate::netns
