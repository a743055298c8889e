// Drains as data: the file's text both ways and its errors, what the operator's words resolve
// to, and the balancer's table with drains (weight 0, entry kept, through a reload, enabled).
#include "server/ipvs/drains.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "server/ipvs/balancer.h"
#include "tests/server/ipvs/fake_ipvs.h"
#include "tests/server/ipvs/values.h"
#include "tests/support/temp_dir.h"

namespace quorate::server::ipvs {
namespace {

namespace kipvs = kernel::ipvs;
using testing::dest;
using testing::ip;

VirtualServerConfig vs(const std::string& name, kipvs::Protocol p, const std::string& vip,
                       std::vector<kipvs::Destination> servers) {
  VirtualServerConfig c;
  c.name = name;
  c.service.key = kipvs::ServiceKey::inet(p, ip(vip), 80);
  for (const auto& s : servers) c.realServers.push_back(testing::realServer(s));
  return c;
}

// web and dns share 198.18.0.10:80 (tcp and udp); web has two real servers on one address.
IpvsConfig sample() {
  IpvsConfig c;
  auto other = dest("198.18.0.21", 2);
  other.port = 8080;
  c.virtualServers = {vs("web", kipvs::Protocol::Tcp, "198.18.0.10",
                         {dest("198.18.0.21", 2), other, dest("198.18.0.22", 2)}),
                      vs("dns", kipvs::Protocol::Udp, "198.18.0.10", {dest("198.18.0.23")})};
  VirtualServerConfig mark;
  mark.name = "marked";
  mark.service.key = kipvs::ServiceKey::mark(AF_INET, 5);
  mark.realServers.push_back(testing::realServer(dest("198.18.0.24")));
  c.virtualServers.push_back(mark);
  return c;
}

TEST(Drains, TextRoundTripsAndBrokenFilesAreNamedErrors) {
  const DrainSet set = {{"web", "198.18.0.21:80"}, {"v6", "[2001:db8::1]:53"}};
  const auto back = drainsFromText(drainsToText(set), "/x/drains.json");
  ASSERT_TRUE(back) << back.status().message();
  EXPECT_EQ(*back, set);
  for (const std::string bad :
       {"", "[]", "{\"version\": 2, \"drains\": []}", "{\"version\": 1}",
        "{\"version\": 1, \"drains\": [{\"virtual_server\": \"web\"}]}",
        "{\"version\": 1, \"drains\": [{\"virtual_server\": \"web\", \"real_server\": \"x\"}]}",
        "{\"version\": 1, \"drains\": [{\"virtual_server\": \"web\", \"real_server\": "
        "\"198.18.0.21\"}]}"}) {
    const auto r = drainsFromText(bad, "/x/drains.json");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.status().err(), EINVAL) << bad;
    EXPECT_EQ(r.status().what().rfind("/x/drains.json: ", 0), 0u) << r.status().what();
  }
}

TEST(Drains, AMissingFileIsNoDrainAndSaveLoadRoundTrips) {
  quorate::testutil::TempDir tmp("quorate-drains");
  const std::string path = tmp.path() + "/drains.json";
  auto none = loadDrains(path);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  const DrainSet set = {{"web", "198.18.0.21:80"}};
  ASSERT_TRUE(saveDrains(path, set).isOk());
  auto back = loadDrains(path);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, set);
}

// The file is read at start-up and by --check: a damaged state directory must give an error
// naming the file, never a start that hangs (a FIFO), reads forever (a link to /dev/zero) or
// takes all memory (a huge file, valid JSON padded with spaces).
TEST(Drains, AFileThatIsNotARegularOneOrIsHugeIsANamedError) {
  quorate::testutil::TempDir tmp("quorate-drains");
  const std::string huge = tmp.path() + "/huge.json";
  {
    std::ofstream out(huge);
    out << "{\"version\": 1, \"drains\": []" << std::string(kMaxDrainsFileBytes, ' ') << "}";
  }
  auto r = loadDrains(huge);
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().what().find(huge + ": larger than"), std::string::npos) << r.status().what();

  const std::string zero = tmp.path() + "/zero.json";
  ASSERT_EQ(::symlink("/dev/zero", zero.c_str()), 0);
  const std::string fifo = tmp.path() + "/fifo.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const auto& path : {zero, fifo, tmp.path()}) {
    r = loadDrains(path);
    ASSERT_FALSE(r) << path;
    EXPECT_NE(r.status().what().find(path + ": not a regular file"), std::string::npos)
        << r.status().what();
  }
}

TEST(Drains, WordsResolveToOneRealServerOrSayWhyNot) {
  const IpvsConfig c = sample();
  auto key = [&](std::string_view v, std::string_view r) { return resolveDrain(c, v, r); };
  ASSERT_TRUE(key("web", "198.18.0.22"));
  EXPECT_EQ(key("web", "198.18.0.22")->toString(), "web 198.18.0.22:80");
  EXPECT_EQ(key("tcp 198.18.0.10:80", "198.18.0.21:8080")->realServer, "198.18.0.21:8080");
  EXPECT_EQ(key("udp 198.18.0.10:80", "198.18.0.23")->virtualServer, "dns");
  EXPECT_EQ(key("fwmark 5", "198.18.0.24:80")->virtualServer, "marked");
  // Two services on 198.18.0.10:80, two real servers on 198.18.0.21: ambiguous.
  EXPECT_EQ(key("198.18.0.10:80", "198.18.0.22").status().err(), EINVAL);
  EXPECT_NE(key("198.18.0.10:80", "198.18.0.22").status().what().find("web (tcp"),
            std::string::npos);
  EXPECT_EQ(key("web", "198.18.0.21").status().err(), EINVAL);
  EXPECT_EQ(key("nope", "198.18.0.21:80").status().err(), ENOENT);
  EXPECT_EQ(key("web", "198.18.0.23:80").status().err(), ENOENT);
  EXPECT_EQ(key("web", "198.18.0.21:99999").status().err(), EINVAL);
  EXPECT_EQ(key("web", "").status().err(), EINVAL);
}

TEST(Drains, ChangeIsIdempotentAndEnableEndsADrainOfARemovedServer) {
  const IpvsConfig c = sample();
  auto d = changeDrain(c, {}, "web", "198.18.0.22:80", true);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->changed);
  auto again = changeDrain(c, d->drains, "web", "198.18.0.22", true);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->drains, d->drains);
  // A reload removed the server: drain refuses it, enable by the exact words still ends it.
  const DrainSet stale = {{"old", "198.18.0.99:80"}};
  EXPECT_FALSE(changeDrain(c, stale, "old", "198.18.0.99:80", true));
  auto e = changeDrain(c, stale, "old", "198.18.0.99:80", false);
  ASSERT_TRUE(e) << e.status().what();
  EXPECT_TRUE(e->changed);
  EXPECT_TRUE(e->drains.empty());
}

// A reload that renames the virtual server of a drained real server: the server, now under a new
// name, takes connections again. The drain is kept by its old words; the reload's summary (what
// `quoratectl reload` prints) says so, so the operator can drain it anew.
TEST(Drains, AReloadSaysWhichDrainsNoLongerNameARealServer) {
  testing::FakeIpvs kernel;
  Balancer b(sample(), {0, 0, 0}, 0, kernel);
  ASSERT_TRUE(b.start().isOk());
  b.setDrains({{"web", "198.18.0.22:80"}});
  EXPECT_EQ(b.reload(sample(), {0, 0, 0}, 0).find("drains name no real server"), std::string::npos);
  IpvsConfig renamed = sample();
  renamed.virtualServers[0].name = "www";
  const std::string summary = b.reload(renamed, {0, 0, 0}, 0);
  EXPECT_NE(summary.find("1 drains name no real server now (kept until enabled: web "
                         "198.18.0.22:80)"),
            std::string::npos)
      << summary;
  EXPECT_EQ(b.drains().size(), 1u);
}

const kipvs::Destination* inKernel(const testing::FakeIpvs& k, const std::string& vip,
                                   const std::string& address) {
  return k.find(kipvs::ServiceKey::inet(kipvs::Protocol::Tcp, ip(vip), 80), ip(address), 80);
}

TEST(Drains, TheBalancerKeepsADrainedServerAtWeightZeroThroughAReload) {
  testing::FakeIpvs kernel;
  IpvsConfig c;
  c.virtualServers = {vs("web", kipvs::Protocol::Tcp, "198.18.0.10",
                         {dest("198.18.0.21", 2), dest("198.18.0.22", 2)})};
  Balancer b(c, {0}, 0, kernel);
  b.loadDrains({{"web", "198.18.0.21:80"}});  // as read at start-up
  ASSERT_TRUE(b.start().isOk());
  b.activate(0);
  ASSERT_NE(inKernel(kernel, "198.18.0.10", "198.18.0.21"), nullptr);
  EXPECT_EQ(inKernel(kernel, "198.18.0.10", "198.18.0.21")->weight, 0);
  EXPECT_EQ(inKernel(kernel, "198.18.0.10", "198.18.0.22")->weight, 2);
  auto view = b.view();
  EXPECT_TRUE(view[0].realServers[0].drained);
  EXPECT_EQ(view[0].realServers[0].weightInEffect, 0);
  EXPECT_FALSE(view[0].realServers[1].drained);

  // A reload with other weights: the drain stays, the other takes its new weight.
  IpvsConfig next = c;
  next.virtualServers[0].realServers[1].dest.weight = 7;
  next.virtualServers[0].realServers[0].dest.weight = 9;
  b.reload(next, {0}, 0);
  EXPECT_EQ(inKernel(kernel, "198.18.0.10", "198.18.0.21")->weight, 0);
  EXPECT_EQ(inKernel(kernel, "198.18.0.10", "198.18.0.22")->weight, 7);

  // A dead drained server follows the usual rule (out of the table), and comes back drained.
  (void)b.setAlive(0, 0, false, "test");
  EXPECT_EQ(inKernel(kernel, "198.18.0.10", "198.18.0.21"), nullptr);
  (void)b.setAlive(0, 0, true, "test");
  EXPECT_EQ(inKernel(kernel, "198.18.0.10", "198.18.0.21")->weight, 0);

  b.setDrains({});  // enabled
  EXPECT_EQ(inKernel(kernel, "198.18.0.10", "198.18.0.21")->weight, 9);
  EXPECT_FALSE(b.view()[0].realServers[0].drained);
}

}  // namespace
}  // namespace quorate::server::ipvs
