// A virtual_server_group under real IPVS (label vm; root inside the qemu VM,
// tests/vm/run-in-vm.sh). The test bed of ipvs_e2e.h, with the group front: two address members
// (TCP 198.18.0.10:80 and 198.18.0.20:80) and a firewall-mark member (fwmark 7, which alpha's
// nftables sets on TCP to 198.18.0.30:80), one virtual server web (rr, DR) with one HTTP check
// per real server. ipvsadm must list the three services, each with rs1 and rs2; requests through
// each member must reach both real servers; rs1's web server dying must take rs1 out of all
// three, and its return put it back in all three; a SIGHUP that swaps the mark member for another
// address changes only those services. Addresses: 198.18.0.0/24, in the Topology's
// namespaces; every process is started by the Topology and killed by PID.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "vm/ipvs_e2e.h"

namespace quorate::netns::vmtest {
namespace {

const std::string kVip2 = "198.18.0.20";
const std::string kMarkedVip = "198.18.0.30";

// `ipvsadm -Ln` as service ("TCP 198.18.0.10:80 rr", "FWM 7 rr") -> its real servers.
std::map<std::string, std::set<std::string>> tableOf(const std::string& text) {
  std::map<std::string, std::set<std::string>> out;
  const std::regex service(R"(^(TCP|UDP|FWM)\s+(\S+)\s+(\S+).*$)");
  const std::regex dest(R"(^\s+->\s+(\S+)\s+Route\s.*$)");
  std::istringstream in(text);
  std::string current;
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, service)) {
      current = m[1].str() + " " + m[2].str() + " " + m[3].str();
      out[current];
    } else if (!current.empty() && std::regex_match(l, m, dest)) {
      out[current].insert(m[1].str());
    }
  }
  return out;
}

class GroupVm : public IpvsE2eTest {
 protected:
  static ClusterOptions groupOptions(const std::string& members = "\"" + kVip + ":80\", \"" +
                                                                  kVip2 + ":80\", \"fwmark:7\"") {
    ClusterOptions o = clusterOptions(false, false);
    o.instances = {{"web", {kVip + "/24", kVip2 + "/24", kMarkedVip + "/24"}, "", 0}};
    o.extraDirectorYaml =
        "virtual_server_groups:\n"
        "  front: [" +
        members +
        "]\n"
        "virtual_servers:\n"
        "  - name: web\n"
        "    instance: web\n"
        "    group: front\n"
        "    scheduler: rr\n"
        "    forwarding: dr\n"
        // Generous for TCG: a stalled VM must not fail a check by itself.
        "    checks: [{type: http, path: /, interval_ms: 500, timeout_ms: 3000, retries: 1,\n"
        "              retry_delay_ms: 200}]\n"
        "    real_servers:\n"
        "      - address: 198.18.0.11\n"
        "      - address: 198.18.0.12\n"
        "ipvs:\n"
        "  standby: remove\n";
    return o;
  }
  // The three services as this test wants them, with real servers `rs`.
  std::map<std::string, std::set<std::string>> want(const std::set<std::string>& rs) {
    return {{"TCP " + kVip + ":80 rr", rs}, {"TCP " + kVip2 + ":80 rr", rs}, {"FWM 7 rr", rs}};
  }
  std::set<std::string> both() {
    return {topo().host(kRs1).ipv4 + ":80", topo().host(kRs2).ipv4 + ":80"};
  }
  // Which real servers answered `n` requests through `vip`.
  std::map<std::string, int> spread(const std::string& vip, int n) {
    std::map<std::string, int> servers;
    for (int k = 0; k < n; ++k) ++servers[getOnce(topo(), vip, Ms(3000)).value_or("failed")];
    return servers;
  }
};

TEST_F(GroupVm, MembersShareRealServersAndOneVerdictLeavesThemAll) {
  ASSERT_NO_FATAL_FAILURE(bringUpWith(groupOptions()));
  // The real servers take the other two VIPs too (DR); alpha marks the third's traffic.
  for (const auto& rs : {kRs1, kRs2}) {
    topo().check(rs,
                 "ip addr add " + kVip2 + "/32 dev lo && ip addr add " + kMarkedVip + "/32 dev lo");
  }
  topo().check(kAlpha,
               "nft add table ip vsgmark && nft 'add chain ip vsgmark pre { type filter hook "
               "prerouting priority -150; }' && nft add rule ip vsgmark pre ip daddr " +
                   kMarkedVip + " tcp dport 80 meta mark set 7");

  std::map<std::string, std::set<std::string>> table;
  ASSERT_TRUE(waitUntil(
      [&] {
        table = tableOf(ipvsadm(kAlpha, "-Ln"));
        return table == want(both());
      },
      Ms(15'000), Ms(100)))
      << ipvsadm(kAlpha, "-Ln");
  std::printf("[group-vm] alpha's table:\n%s", ipvsadm(kAlpha, "-Ln").c_str());

  // rr over new connections from one client alternates strictly, whichever member is asked.
  for (const auto& vip : {kVip, kVip2, kMarkedVip}) {
    const auto servers = spread(vip, 6);
    std::printf("[group-vm] 6 requests to %s: rs1 %d, rs2 %d\n", vip.c_str(),
                servers.count(kRs1) ? servers.at(kRs1) : 0,
                servers.count(kRs2) ? servers.at(kRs2) : 0);
    EXPECT_EQ(servers, (std::map<std::string, int>{{kRs1, 3}, {kRs2, 3}})) << vip;
  }

  // rs1's web server dies: its one check takes it out of every member.
  const auto killNs = monoNs();
  ASSERT_TRUE(topo().kill(httpPid_[kRs1], SIGKILL));
  const std::set<std::string> rs2Only = {topo().host(kRs2).ipv4 + ":80"};
  ASSERT_TRUE(waitUntil(
      [&] {
        table = tableOf(ipvsadm(kAlpha, "-Ln"));
        return table == want(rs2Only);
      },
      Ms(20'000), Ms(50)))
      << "rs1's web server is dead, yet alpha keeps it in some member:\n"
      << ipvsadm(kAlpha, "-Ln");
  std::printf("[group-vm] rs1 out of all three services %.0f ms after its kill\n",
              ms(monoNs() - killNs));
  for (const auto& vip : {kVip, kVip2}) {
    EXPECT_EQ(spread(vip, 4), (std::map<std::string, int>{{kRs2, 4}})) << vip;
  }
  // One check for rs1, not one per member: status shows it dead in all three.
  const auto json = cluster().statusJson(kAlpha).value_or("");
  EXPECT_TRUE(hasMatch(json, "http check: connection refused")) << json;

  // Back: one verdict puts it back in every member.
  httpPid_[kRs1] = topo().spawn(kRs1, {httpServerBin(), kRs1, std::to_string(kPort)},
                                cluster().dir() + "/" + kRs1 + "-http-2.log");
  ASSERT_TRUE(waitUntil(
      [&] {
        table = tableOf(ipvsadm(kAlpha, "-Ln"));
        return table == want(both());
      },
      Ms(20'000), Ms(50)))
      << ipvsadm(kAlpha, "-Ln");
  // Beta, the standby, has none of it.
  EXPECT_TRUE(tableEmpty(kBeta)) << ipvsadm(kBeta, "-Ln");

  // SIGHUP with the mark member gone and 198.18.0.21:80 added: only that difference reaches the
  // kernel; the members that stay keep their entries and counters (new ones would count from 0).
  std::this_thread::sleep_for(Ms(2500));  // the estimator folds the counters every 2 s
  const auto connsOf = [&](const std::string& vip) -> long {
    std::smatch m;
    const auto stats = ipvsadm(kAlpha, "-Ln --stats --exact");
    const std::regex line("TCP\\s+" + std::regex_replace(vip, std::regex("\\."), "\\.") +
                          ":80\\s+(\\d+)");
    return std::regex_search(stats, m, line) ? std::stol(m[1].str()) : -1;
  };
  const long before = connsOf(kVip);
  ASSERT_GE(before, 10) << ipvsadm(kAlpha, "-Ln --stats --exact");
  const ClusterOptions next =
      groupOptions("\"" + kVip + ":80\", \"" + kVip2 + ":80\", \"198.18.0.21:80\"");
  cluster().writeDirectorConfig(kAlpha, next);
  cluster().writeDirectorConfig(kBeta, next);
  cluster().signal(kAlpha, SIGHUP);
  cluster().signal(kBeta, SIGHUP);
  const std::map<std::string, std::set<std::string>> reloaded = {
      {"TCP " + kVip + ":80 rr", both()},
      {"TCP " + kVip2 + ":80 rr", both()},
      {"TCP 198.18.0.21:80 rr", both()}};
  ASSERT_TRUE(waitUntil(
      [&] {
        table = tableOf(ipvsadm(kAlpha, "-Ln"));
        return table == reloaded;
      },
      Ms(20'000), Ms(100)))
      << ipvsadm(kAlpha, "-Ln");
  const long after = connsOf(kVip);
  std::printf("[group-vm] reload: %s's service counted %ld connections before, %ld after\n",
              kVip.c_str(), before, after);
  EXPECT_GE(after, before) << "the member that stayed was made anew";
  EXPECT_EQ(spread(kVip2, 4), (std::map<std::string, int>{{kRs1, 2}, {kRs2, 2}}));
}

}  // namespace
}  // namespace quorate::netns::vmtest
