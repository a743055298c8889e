// End to end load balancing through quorate's IPVS (label vm; runs as root inside the qemu VM,
// tests/vm/run-in-vm.sh, whose kernel has IPVS). The netns test bed's hosts on one bridge:
// directors alpha (.1) and beta (.2), the arbiter (.3), real servers rs1 (.11) and rs2 (.12)
// each running quorate-test-http, and the client (.100); the virtual server web
// (TCP 198.18.0.10:80, rr, direct routing to rs1 and rs2) follows the lease of the instance web.
// The real servers have the usual DR set-up: the VIP on lo, arp_ignore=1 and arp_announce=2, so
// only the holder answers ARP for the VIP.
//
// The client sends two kinds of traffic through the VIP: a stream of short requests (a new
// TCP connection every 20 ms, each with a 1 s deadline) and K long-lived keep-alive connections
// (a request every 100 ms each). The tests kill or step down the holder under this traffic and
// check what the client saw: only requests caught in the failover window may fail, none before
// the event or after the takeover. Each prints its numbers ("[ipvs-e2e] ...") and records them
// as gtest properties. The client, the summaries and the fixture are in ipvs_e2e.h.
//
// Addresses: 198.18.0.0/24 only, in the namespaces the Topology creates. Every process is
// started by the Topology and killed by PID.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <regex>
#include <string>
#include <thread>

#include "vm/ipvs_e2e.h"

namespace quorate::netns::vmtest {
namespace {

class DirectorIpvsVm : public IpvsE2eTest {};

// ---------------------------------------------------------------------------------------------

TEST_F(DirectorIpvsVm, HolderProgramsIpvsAndServes) {
  ASSERT_NO_FATAL_FAILURE(bringUp(false));
  const auto alpha = ipvsadm(kAlpha, "-Ln");
  EXPECT_TRUE(hasMatch(alpha, kServiceLine)) << alpha;
  EXPECT_TRUE(hasMatch(alpha, routeLine(topo().host(kRs1).ipv4))) << alpha;
  EXPECT_TRUE(hasMatch(alpha, routeLine(topo().host(kRs2).ipv4))) << alpha;
  EXPECT_TRUE(tableEmpty(kBeta)) << "standby: remove, yet beta has:\n" << ipvsadm(kBeta, "-Ln");
  EXPECT_FALSE(hasMatch(daemons(kAlpha) + daemons(kBeta), "sync daemon")) << "no sync configured";

  std::map<std::string, int> servers;
  int failed = 0;
  for (int k = 0; k < 20; ++k) {
    const auto body = getOnce(topo(), kVip, Ms(3000));
    if (body) {
      ++servers[*body];
    } else {
      ++failed;
    }
  }
  // rr over new connections from one client alternates strictly.
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(servers[kRs1], 10);
  EXPECT_EQ(servers[kRs2], 10);
  std::printf("[ipvs-e2e] 20 requests through the VIP: %d failed, rs1 %d, rs2 %d\n", failed,
              servers[kRs1], servers[kRs2]);
  record("requests_failed", failed);
  // Linux 6.1 folds IPVS's per-CPU counters into what userspace reads only in its estimator
  // timer, every 2 s: read the counters after that.
  std::this_thread::sleep_for(Ms(2500));
  const auto stats = ipvsadm(kAlpha, "-Ln --stats");
  std::printf("[ipvs-e2e] alpha's table 2.5 s after them (ipvsadm -Ln --stats):\n%s",
              stats.c_str());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(stats, m, std::regex(R"(TCP\s+198\.18\.0\.10:80\s+(\d+))")))
      << stats;
  EXPECT_GE(std::stoi(m[1].str()), 20) << "connections counted by the service";
  // Beta never saw the traffic: it does not own the VIP.
  EXPECT_TRUE(tableEmpty(kBeta)) << ipvsadm(kBeta, "-Ln");
}

TEST_F(DirectorIpvsVm, FailoverKeepsServingAndSyncKeepsConnections) {
  ASSERT_NO_FATAL_FAILURE(bringUp(true));
  const auto watcher = watchVip(topo());
  ShortStream stream(topo());
  auto conns = openLongLived();
  std::string synced;
  const bool sawSynced = waitForSyncedConnections(conns, Ms(15'000), synced);
  EXPECT_TRUE(sawSynced) << "beta's backup table lacks the long-lived connections:\n" << synced;
  std::printf("[ipvs-e2e] beta (backup, no service) before the kill, ipvsadm -Lnc: %s\n%s",
              sawSynced ? "every long-lived connection synced" : "NOT all synced", synced.c_str());
  EXPECT_TRUE(tableEmpty(kBeta)) << "standby: remove, yet beta has:\n" << ipvsadm(kBeta, "-Ln");
  std::this_thread::sleep_for(Ms(1000));

  ASSERT_TRUE(leaseStayedWithAlpha(*watcher));
  const auto killNs = monoNs();
  cluster().signal(kAlpha, SIGKILL);
  const auto takeoverNs = waitForBetaTakeover(*watcher, killNs);
  ASSERT_NE(takeoverNs, 0) << "beta did not take over";
  std::this_thread::sleep_for(Ms(3000));
  const auto betaTable = ipvsadm(kBeta, "-Ln");
  const auto betaDaemons = daemons(kBeta);
  const auto betaConns = ipvsadm(kBeta, "-Lnc");
  auto longs = stopAll(stream, conns);
  ASSERT_EQ(stream.error(), "");

  auto s = summarize(stream.results(), stream.stalls(), killNs, takeoverNs);
  report("kill -9 of the holder, with sync", s, longs, killNs, takeoverNs);
  std::printf("[ipvs-e2e] beta after the takeover, ipvsadm -L --daemon: %s", betaDaemons.c_str());

  EXPECT_TRUE(hasMatch(betaTable, kServiceLine)) << betaTable;
  EXPECT_TRUE(hasMatch(betaTable, routeLine(topo().host(kRs1).ipv4))) << betaTable;
  EXPECT_TRUE(hasMatch(betaTable, routeLine(topo().host(kRs2).ipv4))) << betaTable;
  EXPECT_TRUE(hasMatch(betaDaemons, "master sync daemon")) << betaDaemons;
  expectServedOutsideTheWindow(s);
  for (const auto& l : longs) {
    EXPECT_FALSE(l.failed()) << "long-lived connection from port " << l.localPort
                             << " failed: " << name(l.failure) << "\nbeta's connections:\n"
                             << betaConns;
    EXPECT_EQ(l.serverChanges, 0);
    EXPECT_GE(l.answeredAfter(takeoverNs), 5) << "port " << l.localPort;
  }
}

TEST_F(DirectorIpvsVm, WithoutSyncLongLivedConnectionsBreak) {
  ASSERT_NO_FATAL_FAILURE(bringUp(false));
  const auto watcher = watchVip(topo());
  ShortStream stream(topo());
  auto conns = openLongLived();
  std::this_thread::sleep_for(Ms(2000));
  const auto before = ipvsadm(kBeta, "-Lnc");
  EXPECT_FALSE(hasMatch(before, R"(198\.18\.0\.10:80)")) << "beta has connections without sync:\n"
                                                         << before;

  ASSERT_TRUE(leaseStayedWithAlpha(*watcher));
  const auto killNs = monoNs();
  cluster().signal(kAlpha, SIGKILL);
  const auto takeoverNs = waitForBetaTakeover(*watcher, killNs);
  ASSERT_NE(takeoverNs, 0) << "beta did not take over";
  std::this_thread::sleep_for(Ms(3000));
  // A request caught in the failover is retransmitted with back-off: give each connection time
  // to hear from beta before judging.
  waitUntil(
      [&] {
        return std::all_of(conns.begin(), conns.end(), [](const auto& c) { return c->failed(); });
      },
      Ms(10'000), Ms(100));
  auto longs = stopAll(stream, conns);
  ASSERT_EQ(stream.error(), "");

  auto s = summarize(stream.results(), stream.stalls(), killNs, takeoverNs);
  report("kill -9 of the holder, without sync", s, longs, killNs, takeoverNs);
  EXPECT_TRUE(listsServiceWithBoth(kBeta)) << ipvsadm(kBeta, "-Ln");
  expectServedOutsideTheWindow(s);
  int broken = 0;
  for (const auto& l : longs) {
    if (l.failed()) ++broken;
    // Beta has no IPVS entry for the connection and does not schedule a segment without SYN,
    // so the segment reaches beta's own stack, where nothing listens on the VIP's port 80: a
    // reset.
    EXPECT_TRUE(l.failed()) << "long-lived connection from port " << l.localPort
                            << " survived without connection sync (" << l.answeredAfter(takeoverNs)
                            << " answers after the takeover)";
    if (l.failed()) {
      EXPECT_EQ(l.failure, Outcome::kReset) << name(l.failure);
      // The watcher sees the VIP on beta by polling (every 10 ms, later when the emulated
      // machine stalls); beta's reset can come a poll before that. Anything earlier would be
      // alpha failing before its lease ended.
      constexpr std::int64_t kWatchSlackNs = 100'000'000;
      EXPECT_GE(l.failureNs, takeoverNs - kWatchSlackNs) << "failed before beta had the VIP";
    }
  }
  record("long_lived_broken", broken);
}

TEST_F(DirectorIpvsVm, StepDownMovesServiceWithFewFailures) {
  ASSERT_NO_FATAL_FAILURE(bringUp(true));
  const auto watcher = watchVip(topo());
  ShortStream stream(topo());
  auto conns = openLongLived();
  std::string synced;
  EXPECT_TRUE(waitForSyncedConnections(conns, Ms(15'000), synced)) << synced;
  std::this_thread::sleep_for(Ms(1000));

  ASSERT_TRUE(leaseStayedWithAlpha(*watcher));
  const auto stepNs = monoNs();
  const auto r = cluster().ctl(kAlpha, "step-down");
  const auto steppedNs = monoNs();
  ASSERT_TRUE(r.ok()) << "exit " << r.exitCode << (r.timedOut ? " (timed out)" : "") << ": "
                      << r.err << r.out;
  const auto takeoverNs = waitForBetaTakeover(*watcher, stepNs);
  ASSERT_NE(takeoverNs, 0) << "beta did not take over";
  const bool alphaEmptied = waitUntil([&] { return tableEmpty(kAlpha); }, Ms(10'000), Ms(100));
  const auto alphaEmptyNs = monoNs();
  // The event: the VIP leaving alpha (quoratectl itself takes seconds to start under TCG).
  std::int64_t eventNs = 0;
  for (const auto& h : watcher->histories()) {
    for (const auto& t : h.transitions) {
      if (h.host == kAlpha && !t.address && t.ns >= stepNs && eventNs == 0) eventNs = t.ns;
    }
  }
  ASSERT_NE(eventNs, 0) << "the VIP did not leave alpha";
  std::this_thread::sleep_for(Ms(3000));
  const auto alphaDaemons = daemons(kAlpha);
  const auto betaDaemons = daemons(kBeta);
  auto longs = stopAll(stream, conns);
  ASSERT_EQ(stream.error(), "");

  auto s = summarize(stream.results(), stream.stalls(), eventNs, takeoverNs);
  report("step-down, with sync (event: the VIP leaves alpha)", s, longs, eventNs, takeoverNs);
  std::printf(
      "[ipvs-e2e]   quoratectl step-down ran %.0f ms (%s); the VIP left alpha %.0f ms "
      "after it started; alpha's table seen empty %.0f ms after the VIP left; daemons: "
      "alpha: %sbeta: %s",
      ms(steppedNs - stepNs), r.out.substr(0, r.out.find('\n')).c_str(), ms(eventNs - stepNs),
      ms(alphaEmptyNs - eventNs), alphaDaemons.c_str(), betaDaemons.c_str());
  std::fflush(stdout);
  EXPECT_TRUE(alphaEmptied) << ipvsadm(kAlpha, "-Ln");
  EXPECT_TRUE(tableEmpty(kAlpha)) << ipvsadm(kAlpha, "-Ln");
  EXPECT_TRUE(listsServiceWithBoth(kBeta)) << ipvsadm(kBeta, "-Ln");
  EXPECT_TRUE(hasMatch(betaDaemons, "master sync daemon")) << betaDaemons;
  EXPECT_TRUE(hasMatch(alphaDaemons, "backup sync daemon")) << alphaDaemons;
  EXPECT_FALSE(hasMatch(alphaDaemons, "master sync daemon")) << alphaDaemons;
  expectServedOutsideTheWindow(s);
  for (const auto& l : longs) {
    EXPECT_FALSE(l.failed()) << "long-lived connection from port " << l.localPort
                             << " failed: " << name(l.failure);
    EXPECT_EQ(l.serverChanges, 0);
    EXPECT_GE(l.answeredAfter(takeoverNs), 5) << "port " << l.localPort;
  }
}

TEST_F(DirectorIpvsVm, HealthChecksTakeADeadRealServerOutAndPutItBack) {
  ASSERT_NO_FATAL_FAILURE(bringUp(false, /*checks=*/true));
  const std::string rs1 = topo().host(kRs1).ipv4;
  const auto killNs = monoNs();
  ASSERT_TRUE(topo().kill(httpPid_[kRs1], SIGKILL));
  ASSERT_TRUE(waitUntil([&] { return !hasMatch(ipvsadm(kAlpha, "-Ln"), routeLine(rs1)); },
                        Ms(20'000), Ms(50)))
      << "rs1's web server is dead, yet alpha keeps it:\n"
      << ipvsadm(kAlpha, "-Ln");
  const auto outNs = monoNs();
  // Every new connection now goes to rs2.
  int toRs2 = 0, other = 0;
  for (int k = 0; k < 10; ++k) {
    const auto body = getOnce(topo(), kVip, Ms(3000));
    (body == kRs2 ? toRs2 : other)++;
  }
  EXPECT_EQ(toRs2, 10);
  EXPECT_EQ(other, 0);
  // Status says which real server is dead and why.
  const auto json = cluster().statusJson(kAlpha);
  ASSERT_TRUE(json.has_value());
  EXPECT_TRUE(hasMatch(*json, R"("alive":\s*false)")) << *json;
  EXPECT_TRUE(hasMatch(*json, "http check: connection refused")) << *json;

  // Back: it listens again and the checks put it back.
  const auto restartNs = monoNs();
  httpPid_[kRs1] = topo().spawn(kRs1, {httpServerBin(), kRs1, std::to_string(kPort)},
                                cluster().dir() + "/" + kRs1 + "-http-2.log");
  ASSERT_TRUE(waitUntil([&] { return listsServiceWithBoth(kAlpha); }, Ms(20'000), Ms(50)))
      << ipvsadm(kAlpha, "-Ln");
  const auto backNs = monoNs();
  std::map<std::string, int> servers;
  for (int k = 0; k < 10; ++k) {
    if (const auto body = getOnce(topo(), kVip, Ms(3000))) ++servers[*body];
  }
  EXPECT_EQ(servers[kRs1], 5);
  EXPECT_EQ(servers[kRs2], 5);
  std::printf(
      "[ipvs-e2e] health: rs1's web server killed: out of alpha's table %.0f ms later "
      "(http check every 500 ms, one retry after 200 ms); restarted: back %.0f ms later\n",
      ms(outNs - killNs), ms(backNs - restartNs));
  std::fflush(stdout);
  record("health_out_ms", static_cast<int>(ms(outNs - killNs)));
  record("health_back_ms", static_cast<int>(ms(backNs - restartNs)));
}

// A check changed by SIGHUP on both directors (the issue's "a check changed" with the real
// daemons and real IPVS): rs2 is given a check of its own that wants a status its server never
// sends, so it goes out of the holder's table; rs1, whose check did not change, never leaves the
// table (sampled every 50 ms from before the signals until rs2 is out), keeps its IPVS entry
// (the entry's connection count never drops, as it would if the entry were made anew), and the
// lease stays with its holder at the same epoch.
TEST_F(DirectorIpvsVm, ACheckChangedBySighupTakesOnlyItsServerOut) {
  ASSERT_NO_FATAL_FAILURE(bringUp(false, /*checks=*/true));
  const std::string rs1 = topo().host(kRs1).ipv4;
  const std::string rs2 = topo().host(kRs2).ipv4;
  for (int k = 0; k < 6; ++k) (void)getOnce(topo(), kVip, Ms(3000));
  // rs1's entry's connection count, and the lease, as alpha reports them.
  auto view = [&]() -> std::optional<std::pair<std::uint64_t, std::uint64_t>> {
    const auto s = cluster().status(kAlpha);
    if (!s || !(*s)["virtual_servers"].is_array()) return std::nullopt;
    for (const auto& v : (*s)["virtual_servers"]) {
      for (const auto& r : v["real_servers"]) {
        if (r.value("endpoint", "") == rs1 + ":80") {
          return std::make_pair(r["connections"].get<std::uint64_t>(),
                                (*s)["epoch"].get<std::uint64_t>());
        }
      }
    }
    return std::nullopt;
  };
  // The kernel's per-destination counters reach the status with its rate estimator (every 2 s):
  // poll until the connections sent above show.
  std::optional<std::pair<std::uint64_t, std::uint64_t>> before;
  waitUntil(
      [&] {
        before = view();
        return before && before->first > 0;
      },
      Ms(10'000), Ms(250));
  ASSERT_TRUE(before) << cluster().statusJson(kAlpha).value_or("unreachable");
  ASSERT_GT(before->first, 0u) << "rs1's entry shows no connection";

  ClusterOptions next = clusterOptions(false, true);
  const std::string plain = "      - address: " + rs2 + "\n";
  const auto at = next.extraDirectorYaml.find(plain);
  ASSERT_NE(at, std::string::npos) << next.extraDirectorYaml;
  next.extraDirectorYaml.insert(
      at + plain.size(),
      "        checks: [{type: http, path: /, status_codes: [204], interval_ms: 500,\n"
      "                  timeout_ms: 3000, retries: 1, retry_delay_ms: 200}]\n");
  cluster().writeDirectorConfig(kAlpha, next);
  cluster().writeDirectorConfig(kBeta, next);
  const auto t0 = monoNs();
  cluster().signal(kAlpha, SIGHUP);
  cluster().signal(kBeta, SIGHUP);
  int samples = 0, rs1Missing = 0;
  bool rs2Out = false;
  while (!rs2Out && monoNs() - t0 < 20'000'000'000L) {
    const auto t = ipvsadm(kAlpha, "-Ln");
    ++samples;
    if (!hasMatch(t, routeLine(rs1))) ++rs1Missing;
    rs2Out = hasMatch(t, kServiceLine) && !hasMatch(t, routeLine(rs2));
    if (!rs2Out) std::this_thread::sleep_for(Ms(50));
  }
  const auto outNs = monoNs();
  ASSERT_TRUE(rs2Out) << "rs2's new check never took it out:\n"
                      << ipvsadm(kAlpha, "-Ln") << cluster().statusJson(kAlpha).value_or("");
  EXPECT_EQ(rs1Missing, 0) << "rs1, whose check did not change, left alpha's table in "
                           << rs1Missing << " of " << samples << " samples";
  const auto json = cluster().statusJson(kAlpha).value_or("");
  EXPECT_TRUE(hasMatch(json, "http check: status 200")) << json;
  int toRs1 = 0, other = 0;
  for (int k = 0; k < 6; ++k) (getOnce(topo(), kVip, Ms(3000)) == kRs1 ? toRs1 : other)++;
  EXPECT_EQ(toRs1, 6);
  EXPECT_EQ(other, 0);
  std::optional<std::pair<std::uint64_t, std::uint64_t>> after;
  waitUntil(
      [&] {
        after = view();
        return after && after->first >= before->first + 6;
      },
      Ms(10'000), Ms(250));
  ASSERT_TRUE(after);
  // Made anew, the entry would count from 0: only the 6 connections sent since.
  EXPECT_GE(after->first, before->first + 6) << "rs1's IPVS entry was made anew";
  EXPECT_EQ(after->second, before->second) << "the epoch moved";
  EXPECT_EQ(cluster().holderSeenBy(kAlpha), kAlpha);
  EXPECT_EQ(cluster().holderSeenBy(kBeta), kAlpha);
  std::printf(
      "[ipvs-e2e] reload: rs2's check changed by SIGHUP: out of alpha's table %.0f ms later; rs1 "
      "missing in %d of %d samples; rs1's entry counted %llu connections before, %llu after; "
      "epoch %llu before and after\n",
      ms(outNs - t0), rs1Missing, samples, static_cast<unsigned long long>(before->first),
      static_cast<unsigned long long>(after->first),
      static_cast<unsigned long long>(after->second));
  std::fflush(stdout);
  record("reload_check_out_ms", static_cast<int>(ms(outNs - t0)));
}

TEST_F(DirectorIpvsVm, StandbyTableFollowsLease) {
  ASSERT_NO_FATAL_FAILURE(bringUp(true));
  cluster().signal(kAlpha, SIGKILL);
  // The killed daemon could not clean up: its namespace keeps the service (behind the closed
  // fence) and the master sync daemon.
  const auto leftover = ipvsadm(kAlpha, "-Ln");
  const auto leftoverDaemons = daemons(kAlpha);
  EXPECT_TRUE(hasMatch(leftover, kServiceLine)) << leftover;
  ASSERT_TRUE(cluster().waitUntilHolds(kBeta, Ms(30'000)));
  ASSERT_TRUE(waitUntil([&] { return listsServiceWithBoth(kBeta); }, Ms(10'000), Ms(100)))
      << ipvsadm(kBeta, "-Ln");

  const auto restartNs = monoNs();
  cluster().startDirector(kAlpha);
  // Alpha is up once it answers and sees beta as the holder.
  ASSERT_TRUE(
      waitUntil([&] { return cluster().holderSeenBy(kAlpha) == kBeta; }, Ms(30'000), Ms(100)));
  const auto upNs = monoNs();
  const bool emptied = waitUntil([&] { return tableEmpty(kAlpha); }, Ms(10'000), Ms(100));
  // And it stays so while beta holds.
  int samples = 0, nonEmpty = 0;
  const auto until = monoNs() + 3'000'000'000L;
  while (monoNs() < until) {
    ++samples;
    if (!tableEmpty(kAlpha)) ++nonEmpty;
    std::this_thread::sleep_for(Ms(200));
  }
  const auto alphaDaemons = daemons(kAlpha);
  std::printf(
      "[ipvs-e2e] restart after kill -9: what the killed run left in alpha:\n%s%s"
      "[ipvs-e2e]   the restarted alpha answered %.0f ms after its start, its table empty: "
      "%s, non-empty in %d of %d samples over 3 s; alpha's daemons now: %s",
      leftover.c_str(), leftoverDaemons.c_str(), ms(upNs - restartNs), emptied ? "yes" : "NO",
      nonEmpty, samples, alphaDaemons.c_str());
  std::fflush(stdout);
  EXPECT_TRUE(emptied) << ipvsadm(kAlpha, "-Ln");
  EXPECT_EQ(nonEmpty, 0);
  EXPECT_EQ(cluster().holderSeenBy(kAlpha), kBeta);
  EXPECT_EQ(cluster().holderSeenBy(kBeta), kBeta);
  EXPECT_TRUE(listsServiceWithBoth(kBeta)) << ipvsadm(kBeta, "-Ln");
  EXPECT_FALSE(hasMatch(alphaDaemons, "master sync daemon")) << alphaDaemons;
  EXPECT_TRUE(hasMatch(alphaDaemons, "backup sync daemon")) << alphaDaemons;
  // Beta still serves.
  EXPECT_TRUE(getOnce(topo(), kVip, Ms(3000)).has_value());
}

}  // namespace
}  // namespace quorate::netns::vmtest
