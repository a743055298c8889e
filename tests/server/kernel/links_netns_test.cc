// Links and LinkWatcher against the real kernel, in a private network namespace (netns_main.cc);
// results are checked against `ip -j link` and if_nametoindex().
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "server/kernel/links.h"
#include "tests/server/kernel/command_output.h"

namespace quorate::kernel {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
using ::testing::Contains;
using ::testing::HasSubstr;

std::string capture(const std::string& cmd) { return testing::commandOutput(cmd); }

// `ip -j -d link show dev`, the one object; null if there is no such link.
nlohmann::json ipLink(const std::string& dev) {
  auto j = nlohmann::json::parse(capture("ip -j -d link show dev " + dev + " 2>/dev/null"), nullptr,
                                 false);
  if (j.is_discarded() || !j.is_array() || j.empty()) return nullptr;
  return j[0];
}

bool sh(const std::string& cmd) { return std::system(cmd.c_str()) == 0; }

// Polls `done` until it holds or `limit` passes (IFF_RUNNING follows carrier through the
// kernel's linkwatch work, which is asynchronous); returns whether it held.
template <class F>
bool eventually(F done, seconds limit = seconds(15)) {
  auto deadline = steady_clock::now() + limit;
  while (steady_clock::now() < deadline) {
    if (done()) return true;
    poll(nullptr, 0, 20);  // back-off between polls of the kernel, not synchronisation
  }
  return done();
}

// Drains `w` until `name` shows up among the changed links or the deadline passes, waiting on
// the watcher's fd in between.
bool watcherReports(LinkWatcher& w, const std::string& name, seconds limit = seconds(15)) {
  auto deadline = steady_clock::now() + limit;
  for (;;) {
    auto r = w.drain();
    EXPECT_TRUE(r.isOk()) << r.status().message();
    if (r.isOk() && std::find(r->begin(), r->end(), name) != r->end()) return true;
    auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{w.fd(), POLLIN, 0};
    poll(&p, 1, static_cast<int>(left.count()));
  }
}

constexpr net::MacAddress kMac1{0x02, 0x00, 0x5e, 0x00, 0x01, 0x01};
constexpr net::MacAddress kMac2{0x02, 0x00, 0x5e, 0x00, 0x01, 0x02};

class LinksNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(sh("ip link add qv0 type veth peer name qv1"));
    links_ = makeNetlinkLinks();
  }
  void TearDown() override {
    if ((std::system("ip link del qv0 2>/dev/null")) != 0) {
    }
  }

  LinkInfo got(const std::string& name) {
    auto r = links_->get(name);
    EXPECT_TRUE(r.isOk()) << r.status().message();
    return r.isOk() ? r.value() : LinkInfo{};
  }

  std::unique_ptr<Links> links_;
};

TEST_F(LinksNetnsTest, GetReportsIndexAndMac) {
  LinkInfo info = got("qv0");
  EXPECT_EQ(info.name, "qv0");
  EXPECT_EQ(info.index, static_cast<int>(if_nametoindex("qv0")));
  EXPECT_NE(info.index, 0);
  EXPECT_EQ(net::toString(info.mac), ipLink("qv0")["address"]);
  EXPECT_FALSE(info.adminUp);
  EXPECT_FALSE(info.usable());
}

TEST_F(LinksNetnsTest, GetFollowsUpAndDown) {
  ASSERT_TRUE(sh("ip link set qv0 up && ip link set qv1 up"));
  ASSERT_TRUE(eventually([&] { return got("qv0").usable(); }));
  EXPECT_TRUE(got("qv0").adminUp);

  // The peer going down takes qv0's carrier: still admin-up, no longer running.
  ASSERT_TRUE(sh("ip link set qv1 down"));
  ASSERT_TRUE(eventually([&] { return !got("qv0").running; }));
  EXPECT_TRUE(got("qv0").adminUp);
  EXPECT_FALSE(got("qv0").usable());

  ASSERT_TRUE(sh("ip link set qv0 down"));
  EXPECT_FALSE(got("qv0").adminUp);  // IFF_UP changes synchronously
}

TEST_F(LinksNetnsTest, GetMissingIsEnodevNamingTheLink) {
  auto r = links_->get("nosuch0");
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().err(), ENODEV);
  EXPECT_THAT(r.status().message(), HasSubstr("nosuch0"));
  EXPECT_EQ(links_->get("").status().err(), ENODEV);
}

TEST_F(LinksNetnsTest, WatcherReportsLinkGoingDown) {
  ASSERT_TRUE(sh("ip link set qv0 up && ip link set qv1 up"));
  auto w = makeLinkWatcher();
  ASSERT_TRUE(w.isOk()) << w.status().message();
  LinkWatcher& watcher = *w.value();
  ASSERT_GE(watcher.fd(), 0);
  // Nothing pending: drain() returns at once (the socket is non-blocking).
  auto first = watcher.drain();
  ASSERT_TRUE(first.isOk());

  ASSERT_TRUE(sh("ip link set qv0 down"));
  pollfd p{watcher.fd(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 15000), 1) << "no notification within 15s";
  EXPECT_TRUE(watcherReports(watcher, "qv0"));
  // And the change is what get() then sees.
  EXPECT_FALSE(got("qv0").adminUp);
}

TEST_F(LinksNetnsTest, WatcherReportsCreatedAndDeletedLinks) {
  auto w = makeLinkWatcher();
  ASSERT_TRUE(w.isOk()) << w.status().message();
  ASSERT_TRUE(links_->ensureMacvlan("qmv9", "qv0", kMac1).isOk());
  EXPECT_TRUE(watcherReports(*w.value(), "qmv9"));
  ASSERT_TRUE(links_->removeLink("qmv9").isOk());
  EXPECT_TRUE(watcherReports(*w.value(), "qmv9"));
  // All read: a further drain() is empty and does not block.
  auto rest = w.value()->drain();
  ASSERT_TRUE(rest.isOk());
  EXPECT_TRUE(rest->empty());
}

TEST_F(LinksNetnsTest, WatcherNamesEveryLinkAfterLosingNotifications) {
  auto w = makeLinkWatcher();
  ASSERT_TRUE(w.isOk()) << w.status().message();
  // Shrink the receive buffer (the kernel rounds it up to its minimum) and flap a link until
  // the kernel has to drop notifications (ENOBUFS).
  int tiny = 1;
  ASSERT_EQ(setsockopt(w.value()->fd(), SOL_SOCKET, SO_RCVBUF, &tiny, sizeof tiny), 0);
  ASSERT_TRUE(sh("for i in $(seq 40); do ip link set qv0 up; ip link set qv0 down; done"));
  auto r = w.value()->drain();
  ASSERT_TRUE(r.isOk()) << r.status().message();
  // `lo` never changed: it is only named because everything may have.
  EXPECT_THAT(*r, Contains("lo"));
  EXPECT_THAT(*r, Contains("qv0"));
  EXPECT_THAT(*r, Contains("qv1"));
}

TEST_F(LinksNetnsTest, EnsureMacvlanCreatesPrivateUpWithMac) {
  ASSERT_TRUE(sh("ip link set qv0 up && ip link set qv1 up"));
  Status s = links_->ensureMacvlan("qmv0", "qv0", kMac1);
  ASSERT_TRUE(s.isOk()) << s.message();

  LinkInfo info = got("qmv0");
  EXPECT_EQ(info.mac, kMac1);
  EXPECT_TRUE(info.adminUp);
  auto j = ipLink("qmv0");
  ASSERT_FALSE(j.is_null());
  EXPECT_EQ(j["address"], net::toString(kMac1));
  EXPECT_EQ(j["link"], "qv0");
  EXPECT_EQ(j["linkinfo"]["info_kind"], "macvlan");
  EXPECT_EQ(j["linkinfo"]["info_data"]["mode"], "private");
  EXPECT_THAT(j["flags"].get<std::vector<std::string>>(), Contains("UP"));
  EXPECT_TRUE(eventually([&] { return got("qmv0").usable(); }));
  // No IPv6 address of its own, so the kernel sends nothing from the virtual MAC by itself
  // (issue 11: before, it autoconfigured fe80::200:5eff:... and sent DAD, MLD and router
  // solicitations on every director).
  EXPECT_EQ(ipLink("qmv0")["inet6_addr_gen_mode"], "none");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(sh("test -z \"$(ip -6 addr show dev qmv0)\""));
}

TEST_F(LinksNetnsTest, EnsureMacvlanIsIdempotent) {
  ASSERT_TRUE(links_->ensureMacvlan("qmv0", "qv0", kMac1).isOk());
  int index = got("qmv0").index;
  Status s = links_->ensureMacvlan("qmv0", "qv0", kMac1);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(got("qmv0").index, index) << "kept, not recreated";

  // Set down behind our back: ensuring sets it up again, still the same link.
  ASSERT_TRUE(sh("ip link set qmv0 down"));
  ASSERT_TRUE(links_->ensureMacvlan("qmv0", "qv0", kMac1).isOk());
  EXPECT_TRUE(got("qmv0").adminUp);
  EXPECT_EQ(got("qmv0").index, index);
}

TEST_F(LinksNetnsTest, EnsureMacvlanFixesMacModeAndParent) {
  ASSERT_TRUE(links_->ensureMacvlan("qmv0", "qv0", kMac1).isOk());
  ASSERT_TRUE(links_->ensureMacvlan("qmv0", "qv0", kMac2).isOk());
  EXPECT_EQ(got("qmv0").mac, kMac2);

  ASSERT_TRUE(sh("ip link del qmv0 && ip link add qmv0 link qv0 address " + net::toString(kMac2) +
                 " type macvlan mode bridge"));
  ASSERT_TRUE(links_->ensureMacvlan("qmv0", "qv0", kMac2).isOk());
  EXPECT_EQ(ipLink("qmv0")["linkinfo"]["info_data"]["mode"], "private");

  ASSERT_TRUE(links_->ensureMacvlan("qmv0", "qv1", kMac2).isOk());
  EXPECT_EQ(ipLink("qmv0")["link"], "qv1");
  EXPECT_EQ(got("qmv0").mac, kMac2);
}

TEST_F(LinksNetnsTest, EnsureMacvlanNeverReplacesOtherLinks) {
  std::string mac = ipLink("qv1")["address"];
  Status s = links_->ensureMacvlan("qv1", "qv0", kMac1);
  EXPECT_EQ(s.err(), EEXIST) << s.message();
  EXPECT_EQ(ipLink("qv1")["address"], mac);  // untouched
}

TEST_F(LinksNetnsTest, EnsureMacvlanMissingParentIsEnodev) {
  Status s = links_->ensureMacvlan("qmv0", "nosuch0", kMac1);
  EXPECT_EQ(s.err(), ENODEV);
  EXPECT_THAT(s.message(), HasSubstr("nosuch0"));
  EXPECT_TRUE(ipLink("qmv0").is_null());
}

TEST_F(LinksNetnsTest, EnsureMacvlanRejectsBadInput) {
  EXPECT_EQ(links_->ensureMacvlan("qmv0", "qv0", net::MacAddress{0x01, 0, 0x5e, 0, 0, 1}).err(),
            EINVAL);
  EXPECT_EQ(links_->ensureMacvlan("qmv0", "qv0", net::MacAddress{}).err(), EINVAL);
  EXPECT_EQ(links_->ensureMacvlan("a-name-too-long-for-linux", "qv0", kMac1).err(), EINVAL);
  EXPECT_TRUE(ipLink("qmv0").is_null());
}

TEST_F(LinksNetnsTest, RemoveLinkIsIdempotent) {
  ASSERT_TRUE(links_->ensureMacvlan("qmv0", "qv0", kMac1).isOk());
  Status s = links_->removeLink("qmv0");
  EXPECT_TRUE(s.isOk()) << s.message();
  EXPECT_TRUE(ipLink("qmv0").is_null());
  EXPECT_EQ(links_->get("qmv0").status().err(), ENODEV);
  s = links_->removeLink("qmv0");
  EXPECT_TRUE(s.isOk()) << "second remove: " << s.message();
  EXPECT_FALSE(ipLink("qv0").is_null()) << "the parent stays";
}

}  // namespace
}  // namespace quorate::kernel
