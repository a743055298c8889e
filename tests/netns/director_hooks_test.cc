// Real directors in namespaces running their hooks: the on-quorum-loss program of a holder cut
// off from both peers (once, with its epoch, before the other director claims), notify programs
// in transition order under a burst of faults, a keepalived notify script unmodified, a hook
// that hangs, and a pre-claim hook that fails.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "netns/director_cluster.h"
#include "support/temp_dir.h"

namespace quorate::netns {
namespace {

constexpr Ms kElect{15'000};
constexpr Ms kMove{10'000};

// The hooks write into the test's own 0700 directory, so they run as root, asked for by name
// (the default script user could not reach it).
const std::string kAsRoot = "script_user: root\n";

// Writes an executable /bin/sh script.
std::string script(const std::string& path, const std::string& body) {
  std::ofstream(path) << "#!/bin/sh\n" << body;
  ::chmod(path.c_str(), 0755);
  return path;
}

std::vector<std::string> linesOf(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

bool hasVip(const Topology& topo, const std::string& host) {
  return topo.run(host, "ip -o addr show dev eth0").out.find(" " + kVip + "/24 ") !=
         std::string::npos;
}

std::uint64_t epochOf(const DirectorCluster& cluster, const std::string& director) {
  const auto s = cluster.status(director);
  if (!s || !s->contains("leases") || (*s)["leases"].empty()) return 0;
  return (*s)["leases"][0].value("epoch", std::uint64_t{0});
}

// "STATE EPOCH" of every transition `host` logged ("lease web: BACKUP -> MASTER epoch 3: ...").
std::vector<std::string> loggedTransitions(const DirectorCluster& cluster,
                                           const std::string& host) {
  static const std::regex re(R"(lease web: [A-Z]+ -> ([A-Z]+)(?: \(quorum lost\))? epoch (\d+):)");
  std::vector<std::string> out;
  for (const auto& line : linesOf(cluster.logPath(host))) {
    std::smatch m;
    if (std::regex_search(line, m, re)) out.push_back(m[1].str() + " " + m[2].str());
  }
  return out;
}

// A holder cut off from both peers cannot renew: its VIPs go dark at its lease end, then its
// on-quorum-loss program runs once, with the epoch it lost, before the other director wins the
// lease (beta's pre-claim hook stamps the moment it won: it cannot claim before that). Timers
// leave 600 ms between the holder's lease end and the acceptors' (acceptor_lease_ms -
// holder_lease_ms): the hook starts well inside it.
TEST(DirectorHooks, AnIsolatedHolderRunsItsQuorumLossProgramOnceWithItsEpochBeforeThePeerWins) {
  testutil::TempDir dir("quorate-hooks");
  const std::string stamp = script(dir.path() + "/stamp.sh",
                                   "echo \"$(date +%s%N) $1 $QUORATE_EVENT $QUORATE_EPOCH "
                                   "$QUORATE_LEASE $QUORATE_STATE\" >> \"$2\"\n");
  Topology topo;
  ClusterOptions o;
  o.holderLeaseMs = 1000;
  o.acceptorLeaseMs = 1600;
  o.quarantineMs = 1700;
  o.renewIntervalMs = 250;
  for (const auto& host : {kAlpha, kBeta}) {
    const std::string file = dir.path() + "/" + host + ".events";
    // A gating hook's timeout must fit in holder_lease_ms - renew_interval_ms (750 ms here).
    o.extraYamlFor[host] = kAsRoot + "hooks:\n  on_quorum_loss: \"" + stamp + " loss " + file +
                           "\"\n  pre_claim: {command: [" + stamp + ", claim, " + file +
                           "], timeout_ms: 700}\n";
  }
  DirectorCluster cluster(topo, o);
  cluster.startAll();
  ASSERT_EQ(cluster.waitForHolder(kElect), kAlpha);
  ASSERT_TRUE(waitUntil([&] { return hasVip(topo, kAlpha); }, kMove));
  const auto epoch = epochOf(cluster, kAlpha);
  ASSERT_GT(epoch, 0u);

  topo.isolate(kAlpha);
  ASSERT_TRUE(cluster.waitUntilHolds(kBeta, kMove)) << cluster.logTail(kBeta);
  EXPECT_TRUE(waitUntil([&] { return !hasVip(topo, kAlpha); }, kMove));
  // Long enough that a second run (as a standby that also lost the majority) would show.
  std::this_thread::sleep_for(Ms(3000));
  const auto alpha = linesOf(dir.path() + "/alpha.events");
  std::vector<std::vector<std::string>> losses;
  for (const auto& l : alpha) {
    if (words(l).size() >= 6 && words(l)[1] == "loss") losses.push_back(words(l));
  }
  ASSERT_EQ(losses.size(), 1u) << "alpha's on_quorum_loss runs:\n"
                               << ::testing::PrintToString(alpha) << cluster.logTail(kAlpha);
  EXPECT_EQ(losses[0][2], "quorum-lost");
  EXPECT_EQ(losses[0][3], std::to_string(epoch)) << "the epoch it lost";
  EXPECT_EQ(losses[0][4], "web");
  EXPECT_EQ(losses[0][5], "FAULT");
  std::uint64_t betaWon = 0;
  for (const auto& l : linesOf(dir.path() + "/beta.events")) {
    const auto w = words(l);
    ASSERT_NE(w[1], "loss") << "beta never lost the majority: " << l;
    if (w[1] == "claim" && std::stoull(w[3]) > epoch && !betaWon) betaWon = std::stoull(w[0]);
  }
  ASSERT_GT(betaWon, 0u) << "beta's pre-claim hook did not run for its new epoch";
  const auto lossAt = std::stoull(losses[0][0]);
  EXPECT_LT(lossAt, betaWon) << "alpha's quorum-loss program ran " << (lossAt - betaWon) / 1e6
                             << " ms after beta won the lease";
  std::printf("quorum-loss program ran %.1f ms before beta won the lease\n",
              (betaWon - lossAt) / 1e6);

  topo.heal();
  EXPECT_EQ(cluster.waitForHolder(kMove), kBeta);
  std::this_thread::sleep_for(Ms(1000));
  std::size_t after = 0;
  for (const auto& l : linesOf(dir.path() + "/alpha.events")) after += words(l)[1] == "loss";
  EXPECT_EQ(after, 1u) << "healing ran the quorum-loss program again";
}

// A burst of flaps: step-downs, a freeze, a partition, a kill -9. A keepalived-style notify
// script that takes longer for some states than for others (so programs started at once would
// finish out of order, as keepalived's do) writes what it was given; the order of its lines is
// the order of the transitions the director logged. The script reads keepalived's positional
// arguments exactly as keepalived's notify scripts do.
TEST(DirectorHooks, NotifyProgramsSeeEveryTransitionInOrderUnderABurstOfFlaps) {
  testutil::TempDir dir("quorate-hooks");
  Topology topo;
  ClusterOptions o;
  o.preferred = "";
  for (const auto& host : {kAlpha, kBeta}) {
    const std::string notify =
        script(dir.path() + "/notify-" + host + ".sh",
               "TYPE=$1\nNAME=$2\nSTATE=$3\nPRIORITY=$4\n"
               "case $STATE in\n"
               "  MASTER) sleep 0.3 ;;\n"
               "  BACKUP) sleep 0.02 ;;\n"
               "  *) sleep 0.1 ;;\n"
               "esac\n"
               "echo \"$TYPE $NAME $STATE $PRIORITY $QUORATE_EPOCH $#\" >> " +
                   dir.path() + "/" + host + ".notify\n");
    const std::string master = script(dir.path() + "/master-" + host + ".sh",
                                      "echo \"$# $*\" >> " + dir.path() + "/" + host + ".master\n");
    o.extraYamlFor[host] = kAsRoot + "hooks:\n  notify: " + notify + "\n  notify_master: \"" +
                           master + " --own 'arg two'\"\n";
  }
  DirectorCluster cluster(topo, o);
  cluster.startAll();
  ASSERT_EQ(cluster.waitForHolder(kElect), kAlpha);
  auto holder = [&] { return cluster.waitForHolder(kMove).value_or(""); };
  for (int i = 0; i < 4; ++i) {  // step-downs back and forth
    const std::string h = holder();
    ASSERT_FALSE(h.empty());
    EXPECT_EQ(cluster.ctl(h, "step-down --force").exitCode, 0);
    ASSERT_TRUE(waitUntil([&] { return holder() != h && !holder().empty(); }, kMove));
  }
  std::string h = holder();
  cluster.signal(h, SIGSTOP);  // a freeze past the lease
  std::this_thread::sleep_for(Ms(1500));
  cluster.signal(h, SIGCONT);
  h = holder();
  topo.partition({h}, {kArbiter, kBeta == h ? kAlpha : kBeta});
  std::this_thread::sleep_for(Ms(1500));
  topo.heal();
  ASSERT_FALSE(holder().empty());
  cluster.signal(kBeta, SIGKILL);  // beta dies, and comes back
  std::this_thread::sleep_for(Ms(500));
  cluster.startDirector(kBeta);
  ASSERT_FALSE(holder().empty());
  // Everything queued has run (the slowest program takes 0.3 s).
  std::this_thread::sleep_for(Ms(3000));

  for (const auto& host : {kAlpha, kBeta}) {
    SCOPED_TRACE(host);
    std::vector<std::string> seen;
    for (const auto& l : linesOf(dir.path() + "/" + host + ".notify")) {
      const auto w = words(l);
      ASSERT_EQ(w.size(), 6u) << l;
      EXPECT_EQ(w[0], "INSTANCE");
      EXPECT_EQ(w[1], "web");
      EXPECT_EQ(w[3], "100") << "priority";
      EXPECT_EQ(w[5], "4") << "keepalived passes exactly four arguments";
      seen.push_back(w[2] + " " + w[4]);
    }
    const auto logged = loggedTransitions(cluster, host);
    ASSERT_GE(logged.size(), 6u) << "the burst made too few transitions to say anything";
    if (std::string(host) == kAlpha) {
      // Never killed: every logged transition ran, in order.
      EXPECT_EQ(seen, logged);
    } else {
      // Killed once: what was queued at the kill never ran; what ran is in logged order.
      std::size_t next = 0;
      for (const auto& s : seen) {
        while (next < logged.size() && logged[next] != s) ++next;
        ASSERT_LT(next, logged.size())
            << "ran out of order or never logged: " << s << "\nseen "
            << ::testing::PrintToString(seen) << "\nlogged " << ::testing::PrintToString(logged);
        ++next;
      }
      EXPECT_GE(seen.size() + 3, logged.size());
    }
    for (const auto& l : linesOf(dir.path() + "/" + host + ".master")) {
      EXPECT_EQ(l, "2 --own arg two") << "notify_master runs as configured, nothing appended";
    }
  }
}

// A notify_master that never ends is killed at its timeout (its child too: the process group);
// the lease is unaffected (same holder, same epoch) and the next program in the queue runs.
TEST(DirectorHooks, AHookThatHangsIsKilledAtItsTimeoutAndTheLeaseIsUnaffected) {
  testutil::TempDir dir("quorate-hooks");
  const std::string hang = script(dir.path() + "/hang.sh", "echo $$ > " + dir.path() +
                                                               "/hang.pid\n"
                                                               "sleep 1000 &\necho $! > " +
                                                               dir.path() + "/child.pid\nwait\n");
  const std::string after =
      script(dir.path() + "/after.sh", "echo \"$3\" >> " + dir.path() + "/after.log\n");
  Topology topo;
  ClusterOptions o;
  o.extraYamlFor[kAlpha] = kAsRoot + "hooks:\n  notify_master: {command: [" + hang +
                           "], timeout_ms: 1500}\n  notify: " + after + "\n";
  DirectorCluster cluster(topo, o);
  cluster.startAll();
  ASSERT_EQ(cluster.waitForHolder(kElect), kAlpha);
  const auto epoch = epochOf(cluster, kAlpha);
  auto pidIn = [&](const std::string& f) -> pid_t {
    const auto l = linesOf(dir.path() + "/" + f);
    return l.empty() ? 0 : std::stoi(l[0]);
  };
  ASSERT_TRUE(waitUntil([&] { return pidIn("hang.pid") > 0 && pidIn("child.pid") > 0; }, kMove));
  const pid_t script = pidIn("hang.pid");
  const pid_t child = pidIn("child.pid");
  auto alive = [](pid_t p) { return ::kill(p, 0) == 0; };
  EXPECT_TRUE(alive(script));
  ASSERT_TRUE(waitUntil([&] { return !alive(script) && !alive(child); }, Ms(5000)))
      << "the hung hook (or its child) outlived its timeout";
  ASSERT_TRUE(waitUntil([&] { return !linesOf(dir.path() + "/after.log").empty(); }, Ms(5000)))
      << "the queue stopped behind the killed hook";
  EXPECT_EQ(linesOf(dir.path() + "/after.log").back(), "MASTER");
  EXPECT_EQ(cluster.holderSeenBy(kBeta), kAlpha);
  EXPECT_EQ(epochOf(cluster, kAlpha), epoch) << "the lease moved while a hook hung";
  const std::string log = cluster.logTail(kAlpha, 400);
  EXPECT_NE(log.find("timed out after 1500 ms"), std::string::npos) << log;
  // Status counts it: one run timed out (and failed); the event log has written records.
  const auto st = cluster.status(kAlpha);
  ASSERT_TRUE(st && st->contains("hooks")) << (st ? st->dump() : "unreachable");
  EXPECT_EQ((*st)["hooks"].value("timeouts", 0), 1) << st->dump();
  EXPECT_GE((*st)["hooks"].value("failures", 0), 1) << st->dump();
  EXPECT_GE((*st)["hooks"].value("runs", 0), 2) << st->dump();
  EXPECT_GT((*st)["event_log"].value("written", 0), 0) << st->dump();
  EXPECT_TRUE((*st)["watchdog"].is_null()) << "no watchdog configured";
}

// alpha's pre-claim hook fails: alpha wins the lease but never claims its VIP, says FAULT, and
// hands the lease on; beta (whose hook passes) then serves.
TEST(DirectorHooks, AFailingPreClaimHookStopsTheClaim) {
  testutil::TempDir dir("quorate-hooks");
  const std::string check =
      script(dir.path() + "/check.sh", "echo \"$QUORATE_EVENT $QUORATE_EPOCH\" >> " + dir.path() +
                                           "/$1.claims\n"
                                           "[ \"$1\" = beta ]\n");
  Topology topo;
  ClusterOptions o;
  for (const auto& host : {kAlpha, kBeta}) {
    o.extraYamlFor[host] = kAsRoot + std::string("hooks:\n  pre_claim: {command: [") + check +
                           ", " + host + "], timeout_ms: 400}\n";
  }
  DirectorCluster cluster(topo, o);
  cluster.startArbiter();
  cluster.startDirector(kAlpha);
  // Alone with the arbiter, alpha wins again and again and never claims.
  bool lit = false;
  for (const auto end = std::chrono::steady_clock::now() + Ms(5000);
       std::chrono::steady_clock::now() < end;) {
    lit = lit || hasVip(topo, kAlpha);
    std::this_thread::sleep_for(Ms(20));
  }
  EXPECT_FALSE(lit) << "alpha claimed its VIP although its pre-claim hook failed";
  const auto claims = linesOf(dir.path() + "/alpha.claims");
  ASSERT_GE(claims.size(), 1u) << cluster.logTail(kAlpha);
  EXPECT_EQ(words(claims[0])[0], "pre-claim");
  const auto s = cluster.status(kAlpha);
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)["leases"][0].value("vips_claimed", true), false);
  EXPECT_NE(cluster.logTail(kAlpha, 200).find("not claiming epoch"), std::string::npos);

  cluster.startDirector(kBeta);
  ASSERT_TRUE(cluster.waitUntilHolds(kBeta, kElect)) << cluster.logTail(kBeta);
  EXPECT_TRUE(waitUntil([&] { return hasVip(topo, kBeta); }, kMove));
  EXPECT_FALSE(hasVip(topo, kAlpha));
}

// Fence-before-claim with Debian's fence_ipmilan, its ipmitool replaced by a fake BMC (a script
// keeping the chassis power in a file). alpha holds and vanishes without releasing (kill -9, link
// cut); beta wins the lease, but while the BMC refuses beta claims nothing and says why; once the
// BMC answers, beta powers alpha off and only then claims: the VIP appears on beta with alpha's
// power already off, and the fence's outcome, with the epoch, is in beta's log.
TEST(DirectorHooks, FenceBeforeClaimWithARealFenceAgentClaimsOnlyAfterTheFenceSucceeded) {
  if (::access("/usr/sbin/fence_ipmilan", X_OK) != 0) {
    GTEST_SKIP() << "fence-agents is not installed (scripts/install-deps.sh installs it)";
  }
  testutil::TempDir dir("quorate-hooks");
  const std::string bmc = dir.path() + "/bmc";
  std::filesystem::create_directory(bmc);
  std::filesystem::copy_file(QUORATE_FAKE_IPMITOOL, bmc + "/ipmitool");
  ::chmod((bmc + "/ipmitool").c_str(), 0755);
  std::ofstream(bmc + "/credentials") << "admin s3cret-for-the-test\n";
  std::ofstream(dir.path() + "/ipmi.pass") << "s3cret-for-the-test\n";
  std::ofstream(bmc + "/mode") << "fail\n";
  Topology topo;
  ClusterOptions o;
  o.extraDirectorYaml = kAsRoot +
                        "fence_before_claim:\n"
                        "  agent: /usr/sbin/fence_ipmilan\n"
                        "  options: {ip: 198.18.0.250, username: admin, power_wait: 0,\n"
                        "            ipmitool_path: " +
                        bmc +
                        "/ipmitool,\n"
                        "            password_file: " +
                        dir.path() +
                        "/ipmi.pass}\n"
                        "  timeout_ms: 10000\n"
                        "  retries: 1\n"
                        "  retry_delay_ms: 100\n";
  DirectorCluster cluster(topo, o);
  cluster.startAll();
  ASSERT_EQ(cluster.waitForHolder(kElect), kAlpha);
  ASSERT_TRUE(waitUntil([&] { return hasVip(topo, kAlpha); }, kMove));
  const auto epoch = epochOf(cluster, kAlpha);
  cluster.signal(kAlpha, SIGKILL);
  topo.linkDown(kAlpha);

  // The BMC refuses: beta wins, fails to fence, claims nothing.
  ASSERT_TRUE(waitUntil(
      [&] {
        return cluster.logTail(kBeta, 400).find("fence of alpha FAILED") != std::string::npos;
      },
      kMove))
      << cluster.logTail(kBeta);
  bool lit = false;
  for (const auto end = std::chrono::steady_clock::now() + Ms(3000);
       std::chrono::steady_clock::now() < end;) {
    lit = lit || hasVip(topo, kBeta);
    std::this_thread::sleep_for(Ms(20));
  }
  EXPECT_FALSE(lit) << "beta claimed although the fence failed";
  EXPECT_EQ(linesOf(bmc + "/power").size(), 0u) << "nothing powered off yet";
  EXPECT_NE(cluster.logTail(kBeta, 400).find("not claiming epoch"), std::string::npos);

  // The BMC answers: the next win fences alpha, then claims.
  std::ofstream(bmc + "/mode") << "ok\n";
  std::string powerWhenLit;
  ASSERT_TRUE(waitUntil(
      [&] {
        if (!hasVip(topo, kBeta)) return false;
        const auto p = linesOf(bmc + "/power");
        powerWhenLit = p.empty() ? "on" : p[0];
        return true;
      },
      Ms(20'000), Ms(5)))
      << cluster.logTail(kBeta);
  EXPECT_EQ(powerWhenLit, "off") << "the VIP came up on beta before alpha was powered off";
  const std::string log = cluster.logTail(kBeta, 400);
  EXPECT_NE(log.find("fence of alpha succeeded"), std::string::npos) << log;
  EXPECT_NE(log.find("never released epoch " + std::to_string(epoch)), std::string::npos) << log;
  EXPECT_EQ(log.find("s3cret-for-the-test"), std::string::npos) << "the password reached the log";
  for (const auto& call : linesOf(bmc + "/calls")) {
    EXPECT_EQ(words(call)[1], "admin") << call;
  }
  // The event log: failed fences, then the one that succeeded, then beta became holder (its VIPs
  // up), in that order of seq, all for the epoch beta won.
  std::int64_t failedSeq = -1, fencedSeq = -1, holderSeq = -1;
  std::ifstream events(cluster.stateDir(kBeta) + "/events.jsonl");
  for (std::string line; std::getline(events, line);) {
    const auto r = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(r.is_object()) << line;
    const std::string kind = r.value("event", "");
    const std::int64_t seq = r.value("seq", std::int64_t{-1});
    if (kind == "fence" && r.value("target", "") == kAlpha) {
      (r.value("ok", false) ? fencedSeq : failedSeq) = seq;
      EXPECT_GT(r.value("epoch", std::uint64_t{0}), epoch) << line;
      EXPECT_EQ(line.find("s3cret-for-the-test"), std::string::npos) << line;
    }
    if (kind == "role" && r.value("to", "") == "holder" && holderSeq < 0 && fencedSeq >= 0) {
      holderSeq = seq;
    }
  }
  EXPECT_GE(failedSeq, 0) << "no failed fence in beta's event log";
  ASSERT_GE(fencedSeq, 0) << "no successful fence in beta's event log";
  EXPECT_LT(failedSeq, fencedSeq);
  EXPECT_GT(holderSeq, fencedSeq) << "beta's event log has no holder record after the fence";
  topo.linkUp(kAlpha);
}

}  // namespace
}  // namespace quorate::netns
