// Fault scenarios with real daemons: crash with link cut, freeze, partitions, link loss, arbiter
// restart, step-down; the ARP prober and the address watcher run through each, and no moment may
// have two owners of the VIP. One test runs the unfenced build to show the checker catches it.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "netns/checker.h"
#include "netns/director_cluster.h"

namespace quorate::netns {
namespace {

// A freeze of the holder much longer than its lease (600 ms) and than a failover.
constexpr Ms kFreeze{3000};
// How long a partition that should change nothing is held: several leases and renewals.
constexpr Ms kQuietFault{2000};

double toMs(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

// What the observers saw, checked once they are stopped.
struct Verdict {
  ProbeHistory history;
  std::vector<SplitBrainWindow> arp;
  std::vector<SplitBrainWindow> owned;
  std::vector<FailoverGap> gaps;
  std::vector<SplitBrainChecker::Run> runs;
  std::string lastAnswerer;  // host of the last ARP reply ("" if none)
};

bool names(const SplitBrainWindow& w, const std::string& a, const std::string& b) {
  const auto has = [&](const std::string& h) {
    return std::find(w.hosts.begin(), w.hosts.end(), h) != w.hosts.end();
  };
  return has(a) && has(b);
}

// A topology, the three daemons, and the two observers, which start before the daemons and run
// until verdict(). Members are destroyed in reverse: observers, daemons (logs kept on failure),
// then the namespaces.
class DirectorFaults : public ::testing::Test {
 protected:
  // Starts everything and waits until a director holds and answers ARP for the VIP: normally
  // alpha (preferred), but a machine stall longer than a lease during start-up may already have
  // moved the lease to beta (no preemption brings it back), so the scenario faults whichever
  // director holds: holder_, the other being standby_.
  void start(ClusterOptions options = {}) {
    cluster_.emplace(topo_, std::move(options));
    prober_.emplace(topo_);
    watcher_.emplace(topo_);
    checker_ = SplitBrainChecker::forTopology(topo_);
    cluster_->startAll();
    const auto holder = cluster_->waitForHolder(Ms(10'000));
    ASSERT_TRUE(holder) << "nobody holds after a cold start";
    holder_ = *holder;
    standby_ = holder_ == kAlpha ? kBeta : kAlpha;
    if (holder_ != kAlpha) {
      std::printf("note: %s, not the preferred alpha, holds after the start\n", holder_.c_str());
    }
    ASSERT_TRUE(watcher_->waitFor(holder_, true, Ms(5000)));
    ASSERT_TRUE(answers(holder_, Ms(5000))) << holder_ << " answers ARP for the VIP";
    faultRound_ = prober_->roundsSent();
  }

  DirectorCluster& cluster() { return *cluster_; }
  Mac mac(const std::string& host) const { return *Mac::parse(topo_.host(host).mac); }

  // An ARP reply from `host` arrives, counting from now.
  bool answers(const std::string& host, Ms timeout) const {
    const Mac m = mac(host);
    return prober_->waitForReply([&](const ArpReply& r) { return r.sender == m; }, monoNs(),
                                 timeout);
  }

  // `director`'s status as JSON (nullopt: unreachable).
  std::optional<nlohmann::json> status(const std::string& director) const {
    return cluster_->status(director);
  }
  std::optional<std::uint64_t> epochSeenBy(const std::string& director) const {
    const auto s = status(director);
    if (!s || !(*s)["epoch"].is_number()) return std::nullopt;
    return (*s)["epoch"].get<std::uint64_t>();
  }

  // The last poll of `host` found the VIP's address / an open fence for it.
  bool hasAddress(const std::string& host) const {
    const auto s = watcher_->latest(host);
    return s && s->address;
  }
  bool fenceOpen(const std::string& host) const {
    const auto s = watcher_->latest(host);
    return s && s->fenceOpen;
  }

  // The MAC in `host`'s neighbour entry for the VIP ("" if none).
  std::string neighbourMac(const std::string& host) const {
    const auto r = topo_.run(host, "ip -4 neigh show " + kVip + " dev eth0");
    const auto at = r.out.find("lladdr ");
    return at == std::string::npos ? "" : r.out.substr(at + 7, 17);
  }
  bool neighbourBecomes(const std::string& host, const std::string& director, Ms timeout) const {
    const std::string want = topo_.host(director).mac;
    return waitUntil([&] { return neighbourMac(host) == want; }, timeout, Ms(20));
  }

  // An unsolicited announcement of the VIP by `host` arrived after `sinceNs`.
  bool announcedSince(const std::string& host, std::int64_t sinceNs, Ms timeout) const {
    const Mac m = mac(host);
    return waitUntil(
        [&] {
          const auto h = prober_->history();
          return std::any_of(
              h.announcements.begin(), h.announcements.end(),
              [&](const Announcement& a) { return a.sender == m && a.ns > sinceNs; });
        },
        timeout, Ms(10));
  }

  // Lets the prober run a little longer, stops both observers and checks their records.
  Verdict verdict(const char* scenario) {
    EXPECT_TRUE(prober_->waitRounds(40, Ms(5000)));
    prober_->stop();
    watcher_->stop();
    Verdict v;
    v.history = prober_->history();
    v.arp = checker_->arpWindows(v.history);
    v.owned = checker_->ownershipWindows(watcher_->histories());
    // Failovers and answering runs since the fault (the start-up may have had one of its own;
    // windows are checked over the whole history).
    for (const auto& g : checker_->failoverGaps(v.history)) {
      if (g.firstToRound >= faultRound_) v.gaps.push_back(g);
    }
    for (const auto& r : checker_->runs(v.history)) {
      if (r.lastRound >= faultRound_) v.runs.push_back(r);
    }
    if (!v.history.replies.empty())
      v.lastAnswerer = checker_->hostOf(v.history.replies.back().sender);
    std::printf("[%s] %zu probe rounds, %zu replies, %zu announcements; failover gaps: %s\n",
                scenario, v.history.rounds.size(), v.history.replies.size(),
                v.history.announcements.size(), v.gaps.empty() ? "none\n" : "");
    for (const auto& g : v.gaps) std::printf("[%s]   %s\n", scenario, g.describe().c_str());
    std::fflush(stdout);
    return v;
  }

  // The three assertions every fenced scenario shares: no window from either observer, and the
  // VIP answered by `owner` at the end.
  static void expectSafeAndServedBy(const Verdict& v, const std::string& owner) {
    EXPECT_TRUE(v.arp.empty()) << describe(v.arp);
    EXPECT_TRUE(v.owned.empty()) << describe(v.owned);
    EXPECT_EQ(v.lastAnswerer, owner) << describe(v.gaps);
  }

  Topology topo_;
  std::optional<DirectorCluster> cluster_;
  std::optional<ArpProber> prober_;
  std::optional<AddressWatcher> watcher_;
  std::optional<SplitBrainChecker> checker_;
  std::string holder_, standby_;  // at the end of start()
  std::uint64_t faultRound_ = 0;  // the first probe round after start()
};

// The holder dies and its link is cut at once: its kernel stops answering at that moment, and
// the standby claims once the arbiter's acceptor lease of the old holder has run out. Restarted
// (link back up), the old holder stays standby.
TEST_F(DirectorFaults, HolderKilledAndCutOffIsReplaced) {
  ASSERT_NO_FATAL_FAILURE(start());
  cluster().signal(holder_, SIGKILL);
  topo_.linkDown(holder_);
  ASSERT_TRUE(answers(standby_, Ms(5000))) << "the standby takes over";
  topo_.linkUp(holder_);
  cluster().startDirector(holder_);
  EXPECT_EQ(cluster().waitForHolder(Ms(10'000)), standby_)
      << "the restarted old holder stays standby";
  const auto v = verdict("kill -9 + link cut");
  expectSafeAndServedBy(v, standby_);
  ASSERT_EQ(v.gaps.size(), 1u) << describe(v.gaps);
  EXPECT_EQ(v.gaps[0].toHost, standby_);
}

// SIGSTOP for 3 s: the frozen holder's fence closes by itself (its address stays), the standby
// takes over; after SIGCONT the old holder finds its lease gone and withdraws without answering
// again.
TEST_F(DirectorFaults, FrozenHolderGoesDarkByItselfAndWithdrawsOnThaw) {
  ASSERT_NO_FATAL_FAILURE(start());
  const auto stoppedNs = monoNs();
  ASSERT_TRUE(topo_.stop(*cluster().pid(holder_)));
  ASSERT_TRUE(answers(standby_, Ms(5000))) << "the standby takes over from the frozen holder";
  EXPECT_TRUE(hasAddress(holder_)) << "the frozen holder cannot remove its address";
  EXPECT_FALSE(fenceOpen(holder_)) << "but its fence has closed on its own";
  std::this_thread::sleep_for(kFreeze - Ms((monoNs() - stoppedNs) / 1'000'000));
  ASSERT_TRUE(topo_.cont(*cluster().pid(holder_)));
  EXPECT_TRUE(waitUntil([&] { return !hasAddress(holder_); }, Ms(5000)))
      << "the thawed old holder withdraws the VIP";
  EXPECT_EQ(cluster().waitForHolder(Ms(5000)), standby_);
  const auto v = verdict("SIGSTOP 3 s");
  expectSafeAndServedBy(v, standby_);
  ASSERT_EQ(v.gaps.size(), 1u) << describe(v.gaps);
  EXPECT_EQ(v.gaps[0].fromHost, holder_);
  std::printf("[SIGSTOP 3 s] the holder's last reply came %.1f ms into its freeze\n",
              toMs(v.gaps[0].lastFromNs - stoppedNs));
}

// The same freeze without the fence (fence: none): the frozen holder's kernel goes on answering
// ARP for the VIP while the standby holds it. The checker must see the split brain from both
// observers.
TEST_F(DirectorFaults, CheckerCatchesTheFrozenHolderOfTheUnfencedBuild) {
  ClusterOptions unfenced;
  unfenced.fence = "none";
  ASSERT_NO_FATAL_FAILURE(start(unfenced));
  const auto stoppedNs = monoNs();
  ASSERT_TRUE(topo_.stop(*cluster().pid(holder_)));
  ASSERT_TRUE(answers(standby_, Ms(5000))) << "the standby takes over from the frozen holder";
  EXPECT_TRUE(answers(holder_, Ms(1000))) << "the frozen, unfenced holder still answers";
  std::this_thread::sleep_for(kFreeze - Ms((monoNs() - stoppedNs) / 1'000'000));
  ASSERT_TRUE(topo_.cont(*cluster().pid(holder_)));
  EXPECT_TRUE(waitUntil([&] { return !hasAddress(holder_); }, Ms(5000)))
      << "the thawed old holder withdraws the VIP";
  const auto v = verdict("SIGSTOP 3 s, fence: none");
  ASSERT_FALSE(v.arp.empty()) << "the checker missed the unfenced split brain";
  EXPECT_TRUE(std::any_of(v.arp.begin(), v.arp.end(), [this](const SplitBrainWindow& w) {
    return names(w, holder_, standby_);
  })) << describe(v.arp);
  ASSERT_FALSE(v.owned.empty()) << "the watcher missed the unfenced split brain";
  EXPECT_TRUE(std::any_of(v.owned.begin(), v.owned.end(), [this](const SplitBrainWindow& w) {
    return names(w, holder_, standby_);
  })) << describe(v.owned);
  std::printf("[SIGSTOP 3 s, fence: none] found, as it must:\n%s%s", describe(v.arp).c_str(),
              describe(v.owned).c_str());
}

// The holder is cut off from the other director and the arbiter but not from the client; rs1 is
// cut off with it. Its fence closes, the standby takes over. On healing, the old holder stays
// standby and the new holder announces the VIP again, which moves rs1's stale neighbour entry.
TEST_F(DirectorFaults, HolderCutOffFromItsPeersIsReplacedAndStaysStandbyAfterHealing) {
  ASSERT_NO_FATAL_FAILURE(start());
  // Neighbour entries for the VIP, on the holder, in the client and in rs1.
  for (const auto& h : {kClient, kRs1}) {
    ASSERT_TRUE(ping(topo_, h, kVip, Ms(3000))) << h;
    ASSERT_EQ(neighbourMac(h), topo_.host(holder_).mac) << h;
  }
  topo_.partition({holder_, kRs1}, {standby_, kArbiter});
  ASSERT_TRUE(answers(standby_, Ms(5000))) << "the standby takes over";
  EXPECT_TRUE(waitUntil([&] { return !hasAddress(holder_); }, Ms(5000)))
      << "the cut-off holder withdraws the VIP";
  std::this_thread::sleep_for(Ms(1000));  // the partition lasts (beyond neighbour locktime)
  EXPECT_EQ(neighbourMac(kRs1), topo_.host(holder_).mac) << "rs1 heard nothing from the new holder";
  const auto healedNs = monoNs();
  topo_.heal();
  EXPECT_TRUE(announcedSince(standby_, healedNs, Ms(5000)))
      << "the new holder re-announces after the heal";
  EXPECT_TRUE(neighbourBecomes(kRs1, standby_, Ms(5000))) << neighbourMac(kRs1);
  EXPECT_TRUE(neighbourBecomes(kClient, standby_, Ms(5000))) << neighbourMac(kClient);
  EXPECT_EQ(cluster().waitForHolder(Ms(5000)), standby_) << "the old holder stays standby";
  ASSERT_TRUE(prober_->waitRounds(100, Ms(5000)));  // and keeps out of it for a while
  EXPECT_TRUE(ping(topo_, kRs1, kVip, Ms(3000))) << "rs1 reaches the VIP on the new holder";
  const auto v = verdict("holder cut off from standby and arbiter");
  expectSafeAndServedBy(v, standby_);
  EXPECT_EQ(v.gaps.size(), 1u) << describe(v.gaps);
}

// The holder cut off from every host, the client too: the prober no longer sees it, so the address
// watcher is the judge: the holder's fence must have closed before the standby owns the VIP.
TEST_F(DirectorFaults, HolderIsolatedFromEveryoneIsReplaced) {
  ASSERT_NO_FATAL_FAILURE(start());
  topo_.isolate(holder_);
  ASSERT_TRUE(answers(standby_, Ms(5000))) << "the standby takes over";
  EXPECT_TRUE(waitUntil([&] { return !hasAddress(holder_); }, Ms(5000)))
      << "the isolated holder withdraws the VIP";
  topo_.heal();
  EXPECT_EQ(cluster().waitForHolder(Ms(5000)), standby_) << "the old holder stays standby";
  const auto v = verdict("holder isolated from everyone");
  expectSafeAndServedBy(v, standby_);
  EXPECT_EQ(v.gaps.size(), 1u) << describe(v.gaps);
}

// holder -> arbiter blocked, one way only: the holder still has the standby for a majority, so
// nothing changes: same holder, same epoch, no failover.
TEST_F(DirectorFaults, HolderToArbiterBlockedChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(start());
  const auto epoch = epochSeenBy(holder_);
  ASSERT_TRUE(epoch);
  topo_.block(holder_, kArbiter);
  std::this_thread::sleep_for(kQuietFault);
  EXPECT_EQ(cluster().holderSeenBy(standby_), holder_);
  topo_.heal();
  EXPECT_EQ(cluster().waitForHolder(Ms(5000)), holder_);
  EXPECT_EQ(epochSeenBy(holder_), epoch);
  const auto v = verdict("holder -> arbiter blocked");
  expectSafeAndServedBy(v, holder_);
  EXPECT_TRUE(v.gaps.empty()) << describe(v.gaps);
}

// holder and standby cut from each other, both reach the arbiter: the arbiter keeps renewing the
// holder's lease, so the standby's campaigns are refused. At most one clean change of holder is
// acceptable.
TEST_F(DirectorFaults, DirectorsCutFromEachOtherKeepOneHolder) {
  ASSERT_NO_FATAL_FAILURE(start());
  const auto epoch = epochSeenBy(holder_);
  topo_.partition({holder_}, {standby_});
  std::this_thread::sleep_for(kQuietFault);
  const auto holderSays = cluster().holderSeenBy(holder_);
  const auto standbySays = cluster().holderSeenBy(standby_);
  topo_.heal();
  const auto holder = cluster().waitForHolder(Ms(5000));
  ASSERT_TRUE(holder);
  std::printf(
      "[holder <-> standby cut] during the cut the holder saw holder \"%s\", the standby \"%s\"; "
      "after: "
      "%s, epoch %llu -> %llu\n",
      holderSays.value_or("?").c_str(), standbySays.value_or("?").c_str(), holder->c_str(),
      static_cast<unsigned long long>(epoch.value_or(0)),
      static_cast<unsigned long long>(epochSeenBy(*holder).value_or(0)));
  const auto v = verdict("holder <-> standby cut");
  expectSafeAndServedBy(v, *holder);
  EXPECT_LE(v.gaps.size(), 1u) << describe(v.gaps);
}

// arbiter and the standby cut from each other: the holder still has both, nothing changes.
TEST_F(DirectorFaults, ArbiterCutFromStandbyChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(start());
  const auto epoch = epochSeenBy(holder_);
  ASSERT_TRUE(epoch);
  topo_.partition({kArbiter}, {standby_});
  std::this_thread::sleep_for(kQuietFault);
  EXPECT_EQ(cluster().holderSeenBy(standby_), holder_);
  topo_.heal();
  EXPECT_EQ(cluster().waitForHolder(Ms(5000)), holder_);
  EXPECT_EQ(epochSeenBy(holder_), epoch);
  const auto v = verdict("arbiter <-> standby cut");
  expectSafeAndServedBy(v, holder_);
  EXPECT_TRUE(v.gaps.empty()) << describe(v.gaps);
}

// The holder's tracked eth0 goes down: it closes its fence and releases at once, but its handover
// cannot leave through the dead link, so the standby claims after the acceptor lease runs out.
// When the link comes back the old holder is eligible again and stays standby.
TEST_F(DirectorFaults, HolderLinkDownHandsOverAndLinkUpMakesItEligibleAgain) {
  ASSERT_NO_FATAL_FAILURE(start());
  topo_.linkDown(holder_);
  EXPECT_TRUE(waitUntil([&] { return !hasAddress(holder_) && !fenceOpen(holder_); }, Ms(3000)))
      << "the holder withdraws when its tracked link goes down";
  ASSERT_TRUE(answers(standby_, Ms(5000))) << "the standby takes over";
  topo_.linkUp(holder_);
  const bool eligible = waitUntil(
      [&] {
        const auto s = status(holder_);
        return s && (*s)["healthy"] == true && (*s)["leases"][0]["eligible"] == true;
      },
      Ms(5000), Ms(50));
  EXPECT_TRUE(eligible) << cluster().statusJson(holder_).value_or("unreachable");
  EXPECT_EQ(cluster().waitForHolder(Ms(5000)), standby_) << "the old holder stays standby";
  const auto v = verdict("holder eth0 down");
  expectSafeAndServedBy(v, standby_);
  ASSERT_EQ(v.gaps.size(), 1u) << describe(v.gaps);
}

// The arbiter is killed and started again (it sits out its quarantine): alpha and beta are a
// majority throughout, so the holder keeps its lease and epoch and the VIP never stops answering.
TEST_F(DirectorFaults, ArbiterRestartLeavesTheHolderAlone) {
  ASSERT_NO_FATAL_FAILURE(start());
  const auto epoch = epochSeenBy(holder_);
  ASSERT_TRUE(epoch);
  const auto firstRound = prober_->roundsSent();
  cluster().signal(kArbiter, SIGKILL);
  std::this_thread::sleep_for(Ms(1000));  // the arbiter stays away for a few renewals
  cluster().startArbiter();
  const bool back = waitUntil(
      [&] {
        const auto s = status(holder_);
        if (!s) return false;
        for (const auto& n : (*s)["nodes"]) {
          if (n["id"] == kArbiter) return n["reachable"] == true;
        }
        return false;
      },
      Ms(5000), Ms(50));
  EXPECT_TRUE(back) << "the holder hears the restarted arbiter";
  EXPECT_EQ(cluster().waitForHolder(Ms(5000)), holder_);
  EXPECT_EQ(epochSeenBy(holder_), epoch);
  const auto v = verdict("arbiter restart");
  expectSafeAndServedBy(v, holder_);
  EXPECT_TRUE(v.gaps.empty()) << describe(v.gaps);
  // One unbroken run of the holder's answers (up to the checker's loss tolerance) from before the
  // kill to the end.
  ASSERT_EQ(v.runs.size(), 1u) << "the holder's answers broke off " << v.runs.size() - 1
                               << " times";
  EXPECT_LT(v.runs.front().firstRound, firstRound);
}

// An operator's step-down: the holder shuts its fence, releases and hands over; the standby
// claims after one round. The gap is printed; the bound is only a sanity check.
TEST_F(DirectorFaults, StepDownHandsOverWithoutAWindow) {
  ASSERT_NO_FATAL_FAILURE(start());
  const auto r = cluster().ctl(holder_, "step-down");
  ASSERT_TRUE(r.ok()) << r.out << r.err;
  ASSERT_TRUE(answers(standby_, Ms(5000))) << "the standby takes over";
  EXPECT_EQ(cluster().waitForHolder(Ms(5000)), standby_) << "the old holder stays standby";
  const auto v = verdict("step-down");
  expectSafeAndServedBy(v, standby_);
  ASSERT_EQ(v.gaps.size(), 1u) << describe(v.gaps);
  EXPECT_LT(v.gaps[0].gapNs(), 2'000'000'000) << v.gaps[0].describe();
}

}  // namespace
}  // namespace quorate::netns
