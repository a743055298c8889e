// quoratectl ipvs's rendering against a fixed table: the text (counters and rates) and the JSON.
#include "client/ipvs_format.h"

#include <gtest/gtest.h>

namespace quorate::client {
namespace {

using quorate::v1::IpvsStats;
using quorate::v1::IpvsTableReply;

void setStats(IpvsStats* s, std::uint64_t conns, std::uint64_t inPkts, std::uint64_t outPkts,
              std::uint64_t inBytes, std::uint64_t outBytes, std::uint64_t cps, std::uint64_t inPps,
              std::uint64_t outPps, std::uint64_t inBps, std::uint64_t outBps) {
  s->set_connections(conns);
  s->set_in_packets(inPkts);
  s->set_out_packets(outPkts);
  s->set_in_bytes(inBytes);
  s->set_out_bytes(outBytes);
  s->set_cps(cps);
  s->set_in_pps(inPps);
  s->set_out_pps(outPps);
  s->set_in_bps(inBps);
  s->set_out_bps(outBps);
}

// web (DR, two real servers, one of them drained to weight 0) and an unnamed fwmark service.
IpvsTableReply fixedTable() {
  IpvsTableReply r;
  auto* web = r.add_services();
  web->set_protocol("tcp");
  web->set_address("198.18.0.10");
  web->set_port(80);
  web->set_scheduler("wlc");
  web->set_virtual_server("web");
  setStats(web->mutable_stats(), 10, 60, 0, 4000, 0, 1, 6, 0, 400, 0);
  auto* a = web->add_destinations();
  a->set_address("198.18.0.21");
  a->set_port(80);
  a->set_forward("dr");
  a->set_weight(3);
  a->set_active_connections(2);
  a->set_inactive_connections(5);
  setStats(a->mutable_stats(), 7, 42, 0, 2800, 0, 1, 4, 0, 280, 0);
  auto* b = web->add_destinations();
  b->set_address("198.18.0.22");
  b->set_port(80);
  b->set_forward("dr");
  b->set_weight(0);
  b->set_inactive_connections(3);
  setStats(b->mutable_stats(), 3, 18, 0, 1200, 0, 0, 2, 0, 120, 0);
  auto* mark = r.add_services();
  mark->set_fwmark(5);
  mark->set_scheduler("rr");
  mark->set_persistence_s(300);
  return r;
}

// Words left-aligned, numbers right-aligned and exact, as `ipvsadm -Ln --stats --exact` prints
// them; a service row has no weight or connection state of its own.
TEST(IpvsFormat, CountersTable) {
  EXPECT_EQ(
      formatIpvsTable(fixedTable(), false),
      R"(SERVICE / -> REAL SERVER       FWD  WEIGHT  ACTIVE  INACT  CONNS  INPKTS  OUTPKTS  INBYTES  OUTBYTES  CPS
TCP  198.18.0.10:80 wlc (web)                                 10      60        0     4000         0    1
  -> 198.18.0.21:80            dr        3       2      5      7      42        0     2800         0    1
  -> 198.18.0.22:80            dr        0       0      3      3      18        0     1200         0    0
FWM  5 rr persistent 300                                       0       0        0        0         0    0
)");
}

TEST(IpvsFormat, RatesTable) {
  EXPECT_EQ(
      formatIpvsTable(fixedTable(), true),
      R"(SERVICE / -> REAL SERVER       FWD  WEIGHT  ACTIVE  INACT  CONNS  CPS  INPPS  OUTPPS  INBPS  OUTBPS
TCP  198.18.0.10:80 wlc (web)                                 10    1      6       0    400       0
  -> 198.18.0.21:80            dr        3       2      5      7    1      4       0    280       0
  -> 198.18.0.22:80            dr        0       0      3      3    0      2       0    120       0
FWM  5 rr persistent 300                                       0    0      0       0      0       0
)");
}

TEST(IpvsFormat, EmptyTableSaysSo) {
  EXPECT_EQ(formatIpvsTable(IpvsTableReply(), false), "no IPVS services\n");
}

TEST(IpvsFormat, JsonCarriesEveryCounterAndNullsWhatAServiceLacks) {
  const auto j = ipvsTableToJson(fixedTable());
  ASSERT_EQ(j.at("services").size(), 2u);
  const auto& web = j["services"][0];
  EXPECT_EQ(web["protocol"], "tcp");
  EXPECT_EQ(web["address"], "198.18.0.10");
  EXPECT_EQ(web["port"], 80);
  EXPECT_TRUE(web["fwmark"].is_null());
  EXPECT_EQ(web["family"], "ipv4");
  EXPECT_EQ(web["virtual_server"], "web");
  EXPECT_EQ(web["stats"]["in_bytes"], 4000);
  EXPECT_EQ(web["stats"]["in_bps"], 400);
  ASSERT_EQ(web["real_servers"].size(), 2u);
  const auto& a = web["real_servers"][0];
  EXPECT_EQ(a["address"], "198.18.0.21");
  EXPECT_EQ(a["forward"], "dr");
  EXPECT_EQ(a["weight"], 3);
  EXPECT_EQ(a["active_connections"], 2);
  EXPECT_EQ(a["inactive_connections"], 5);
  EXPECT_EQ(a["stats"]["connections"], 7);
  EXPECT_EQ(a["stats"]["in_packets"], 42);
  EXPECT_EQ(a["stats"]["in_pps"], 4);
  const auto& mark = j["services"][1];
  EXPECT_TRUE(mark["protocol"].is_null());
  EXPECT_TRUE(mark["address"].is_null());
  EXPECT_EQ(mark["fwmark"], 5);
  EXPECT_EQ(mark["persistence_s"], 300);
  EXPECT_TRUE(mark["virtual_server"].is_null());
  EXPECT_TRUE(mark["real_servers"].empty());
}

}  // namespace
}  // namespace quorate::client
