// quoratectl ipvs against ipvsadm on the same kernel table, and drain / enable under real IPVS
// (label vm; root inside the qemu VM, tests/vm/run-in-vm.sh). The test bed of ipvs_e2e.h: alpha
// holds web (TCP 198.18.0.10:80, rr, DR to rs1 and rs2). After 20 requests the traffic stops and
// the estimator (every 2 s) has folded the per-CPU counters: `ipvsadm -Ln --stats --exact` and
// `quoratectl ipvs --json` must then agree on every counter, weight and forwarding method. A
// drain of rs1 makes its weight 0 in the kernel (entry kept) and sends every new request to rs2;
// enable brings its weight back. Addresses: 198.18.0.0/24, in the Topology's namespaces.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "vm/ipvs_e2e.h"

namespace quorate::netns::vmtest {
namespace {

class IpvsTableVm : public IpvsE2eTest {};

// The counters of `ipvsadm -Ln --stats --exact` by "ADDRESS:PORT" (the service's and each real
// server's): conns, inpkts, outpkts, inbytes, outbytes.
std::map<std::string, std::vector<std::uint64_t>> statsOf(const std::string& text) {
  std::map<std::string, std::vector<std::uint64_t>> out;
  const std::regex line(R"(^\s*(?:TCP|->)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$)");
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (!std::regex_match(l, m, line)) continue;
    for (int i = 2; i <= 6; ++i) out[m[1].str()].push_back(std::stoull(m[i].str()));
  }
  return out;
}

// Weights of `ipvsadm -Ln` by real server "ADDRESS:PORT".
std::map<std::string, int> weightsOf(const std::string& text) {
  std::map<std::string, int> out;
  const std::regex line(R"(^\s*->\s+(\S+)\s+Route\s+(\d+)\s+\d+\s+\d+\s*$)");
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, line)) out[m[1].str()] = std::stoi(m[2].str());
  }
  return out;
}

std::vector<std::uint64_t> counters(const nlohmann::json& stats) {
  return {stats.at("connections"), stats.at("in_packets"), stats.at("out_packets"),
          stats.at("in_bytes"), stats.at("out_bytes")};
}

TEST_F(IpvsTableVm, QuoratectlIpvsMatchesIpvsadmAndDrainIsWeightZero) {
  ASSERT_NO_FATAL_FAILURE(bringUp(false));
  for (int k = 0; k < 20; ++k) (void)getOnce(topo(), kVip, Ms(3000));
  std::this_thread::sleep_for(Ms(4500));  // two estimator periods: the counters are final

  const auto stats = ipvsadm(kAlpha, "-Ln --stats --exact");
  const auto r = cluster().ctl(kAlpha, "ipvs --json");
  ASSERT_TRUE(r.ok()) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto expected = statsOf(stats);
  ASSERT_EQ(j.at("services").size(), 1u) << r.out;
  const auto& web = j["services"][0];
  EXPECT_EQ(web.at("virtual_server"), "web");
  const std::string vip =
      web.at("address").get<std::string>() + ":" + std::to_string(web.at("port").get<int>());
  ASSERT_TRUE(expected.count(vip)) << stats;
  EXPECT_EQ(counters(web.at("stats")), expected.at(vip)) << stats << "\n" << r.out;
  EXPECT_GE(web["stats"]["connections"].get<int>(), 20);
  const auto weights = weightsOf(ipvsadm(kAlpha, "-Ln"));
  ASSERT_EQ(web.at("real_servers").size(), 2u);
  for (const auto& d : web["real_servers"]) {
    const std::string ep =
        d.at("address").get<std::string>() + ":" + std::to_string(d.at("port").get<int>());
    ASSERT_TRUE(expected.count(ep)) << ep << "\n" << stats;
    EXPECT_EQ(counters(d.at("stats")), expected.at(ep)) << ep;
    EXPECT_EQ(d.at("forward"), "dr");
    EXPECT_EQ(d.at("weight").get<int>(), weights.at(ep)) << ep;
  }
  std::printf("[ipvs-table] ipvsadm -Ln --stats --exact:\n%s[ipvs-table] quoratectl ipvs:\n%s",
              stats.c_str(), cluster().ctl(kAlpha, "ipvs").out.c_str());

  const std::string rs1 = topo().host(kRs1).ipv4 + ":80";
  ASSERT_TRUE(cluster().ctl(kAlpha, "drain web " + rs1).ok());
  EXPECT_EQ(weightsOf(ipvsadm(kAlpha, "-Ln")).at(rs1), 0) << "the entry stays, weight 0";
  std::map<std::string, int> servers;
  for (int k = 0; k < 10; ++k) {
    if (const auto body = getOnce(topo(), kVip, Ms(3000))) ++servers[*body];
  }
  EXPECT_EQ(servers[kRs1], 0);
  EXPECT_EQ(servers[kRs2], 10);
  ASSERT_TRUE(cluster().ctl(kAlpha, "enable web " + rs1).ok());
  EXPECT_EQ(weightsOf(ipvsadm(kAlpha, "-Ln")).at(rs1), 1);
}

}  // namespace
}  // namespace quorate::netns::vmtest
