// Vips against the real kernel, in a private network namespace (netns_main.cc); what the kernel
// holds is checked both through list() and through `ip -j addr`.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "server/kernel/vips.h"
#include "tests/server/kernel/command_output.h"

namespace quorate::kernel {
namespace {

using std::chrono::seconds;
using std::chrono::steady_clock;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr long kForever = 4294967295L;

std::string capture(const std::string& cmd) { return testing::commandOutput(cmd); }

// The addr_info entry `ip -j addr` shows for `local` on `dev`, if any.
std::optional<nlohmann::json> ipAddr(const std::string& dev, const std::string& local) {
  auto j = nlohmann::json::parse(capture("ip -j addr show dev " + dev), nullptr, false);
  if (j.is_discarded() || !j.is_array()) return std::nullopt;
  for (const auto& link : j) {
    for (const auto& a : link.value("addr_info", nlohmann::json::array())) {
      if (a.value("local", "") == local) return a;
    }
  }
  return std::nullopt;
}

net::Vip vip(const std::string& prefix, const std::string& dev, const std::string& label = "") {
  auto p = net::IpPrefix::parse(prefix);
  EXPECT_TRUE(p.has_value()) << prefix;
  return net::Vip{p.value_or(net::IpPrefix{}), dev, label};
}

// Polls `done` until it holds or `limit` passes; returns whether it held.
template <class F>
bool eventually(F done, seconds limit = seconds(15)) {
  auto deadline = steady_clock::now() + limit;
  while (steady_clock::now() < deadline) {
    if (done()) return true;
    capture("sleep 0.05");  // back-off between polls of the kernel, not synchronisation
  }
  return done();
}

class VipsNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A veth pair, both ends up, so IPv6 is enabled and carrier is on.
    ASSERT_EQ(std::system("ip link add qv0 type veth peer name qv1 && ip link set qv0 up && "
                          "ip link set qv1 up"),
              0);
    vips_ = makeNetlinkVips();
  }
  void TearDown() override {
    if ((std::system("ip link del qv0 2>/dev/null")) != 0) {
    }
  }

  std::vector<net::Vip> listed(const std::string& dev = "qv0") {
    auto r = vips_->list(dev);
    EXPECT_TRUE(r.isOk()) << r.status().message();
    return r.isOk() ? r.value() : std::vector<net::Vip>{};
  }

  std::unique_ptr<Vips> vips_;
};

TEST_F(VipsNetnsTest, AddsIpv4WithLabelAndIpv6AndListsThem) {
  net::Vip v4 = vip("198.18.1.10/24", "qv0", "qv0:web");
  net::Vip v6 = vip("2001:db8:1::10/64", "qv0");
  ASSERT_TRUE(vips_->add(v4, std::nullopt).isOk());
  Status s6 = vips_->add(v6, std::nullopt);
  ASSERT_TRUE(s6.isOk()) << s6.message();

  auto all = listed();
  EXPECT_THAT(all, Contains(v4));
  EXPECT_THAT(all, Contains(v6));

  auto a4 = ipAddr("qv0", "198.18.1.10");
  ASSERT_TRUE(a4) << capture("ip addr show dev qv0");
  EXPECT_EQ((*a4)["prefixlen"], 24);
  EXPECT_EQ((*a4)["label"], "qv0:web");
  EXPECT_FALSE(a4->contains("broadcast")) << *a4;  // as `ip addr add` without `brd`
  EXPECT_EQ((*a4)["valid_life_time"], kForever);
  EXPECT_EQ((*a4)["preferred_life_time"], kForever);

  auto a6 = ipAddr("qv0", "2001:db8:1::10");
  ASSERT_TRUE(a6) << capture("ip addr show dev qv0");
  EXPECT_EQ((*a6)["prefixlen"], 64);
  EXPECT_EQ(a6->value("nodad", false), true) << *a6;
  EXPECT_FALSE(a6->value("tentative", false)) << *a6;  // usable at once
  EXPECT_EQ((*a6)["valid_life_time"], kForever);
}

TEST_F(VipsNetnsTest, UnlabelledIpv4ListsWithoutLabel) {
  net::Vip v = vip("198.18.2.1/32", "qv0");
  ASSERT_TRUE(vips_->add(v, std::nullopt).isOk());
  EXPECT_THAT(listed(), Contains(v));
  auto a = ipAddr("qv0", "198.18.2.1");
  ASSERT_TRUE(a);
  EXPECT_EQ((*a)["label"], "qv0");  // the kernel's default; list() reports it as ""
}

TEST_F(VipsNetnsTest, AddTwiceKeepsOneAddress) {
  net::Vip v = vip("198.18.2.2/24", "qv0", "qv0:a");
  ASSERT_TRUE(vips_->add(v, std::nullopt).isOk());
  Status again = vips_->add(v, std::nullopt);
  EXPECT_TRUE(again.isOk()) << again.message();
  auto all = listed();
  EXPECT_EQ(std::count(all.begin(), all.end(), v), 1);
}

TEST_F(VipsNetnsTest, ReAddWithAnotherLabelRelabels) {
  ASSERT_TRUE(vips_->add(vip("198.18.2.3/24", "qv0", "qv0:a"), std::nullopt).isOk());
  net::Vip relabelled = vip("198.18.2.3/24", "qv0", "qv0:b");
  Status s = vips_->add(relabelled, std::nullopt);
  ASSERT_TRUE(s.isOk()) << s.message();
  auto all = listed();
  EXPECT_THAT(all, Contains(relabelled));
  EXPECT_THAT(all, Not(Contains(vip("198.18.2.3/24", "qv0", "qv0:a"))));
  auto a = ipAddr("qv0", "198.18.2.3");
  ASSERT_TRUE(a);
  EXPECT_EQ((*a)["label"], "qv0:b");
}

TEST_F(VipsNetnsTest, ReplaceRefreshesLifetime) {
  for (const char* text : {"198.18.3.1/24", "2001:db8:3::1/64"}) {
    SCOPED_TRACE(text);
    net::Vip v = vip(text, "qv0");
    const std::string local = v.prefix.address.toString();
    ASSERT_TRUE(vips_->add(v, seconds(2)).isOk());
    auto a = ipAddr("qv0", local);
    ASSERT_TRUE(a);
    EXPECT_LE((*a)["valid_life_time"].get<long>(), 2);
    EXPECT_LE((*a)["preferred_life_time"].get<long>(), 2);

    ASSERT_TRUE(vips_->add(v, seconds(5)).isOk());
    a = ipAddr("qv0", local);
    ASSERT_TRUE(a);
    EXPECT_GE((*a)["valid_life_time"].get<long>(), 4) << *a;
    EXPECT_LE((*a)["valid_life_time"].get<long>(), 5) << *a;
    EXPECT_GE((*a)["preferred_life_time"].get<long>(), 4) << *a;

    // Back to forever: the address stops expiring.
    ASSERT_TRUE(vips_->add(v, std::nullopt).isOk());
    a = ipAddr("qv0", local);
    ASSERT_TRUE(a);
    EXPECT_EQ((*a)["valid_life_time"], kForever) << *a;
  }
}

TEST_F(VipsNetnsTest, AddressWithOneSecondLifetimeExpiresByItself) {
  net::Vip v4 = vip("198.18.4.1/24", "qv0", "qv0:x");
  net::Vip v6 = vip("2001:db8:4::1/64", "qv0");
  auto start = steady_clock::now();
  ASSERT_TRUE(vips_->add(v4, seconds(1)).isOk());
  ASSERT_TRUE(vips_->add(v6, seconds(1)).isOk());
  ASSERT_THAT(listed(), Contains(v4));
  ASSERT_THAT(listed(), Contains(v6));
  std::optional<double> gone4, gone6;
  bool gone = eventually([&] {
    auto all = listed();
    double t = std::chrono::duration<double>(steady_clock::now() - start).count();
    if (!gone4 && std::find(all.begin(), all.end(), v4) == all.end()) gone4 = t;
    if (!gone6 && std::find(all.begin(), all.end(), v6) == all.end()) gone6 = t;
    return gone4 && gone6;
  });
  ASSERT_TRUE(gone) << capture("ip addr show dev qv0");
  EXPECT_FALSE(ipAddr("qv0", "198.18.4.1"));
  EXPECT_FALSE(ipAddr("qv0", "2001:db8:4::1"));
  EXPECT_GE(*gone4, 0.9);  // it did live until its lifetime was over
  EXPECT_GE(*gone6, 0.9);
  RecordProperty("v4_gone_after_ms", static_cast<int>(*gone4 * 1000));
  RecordProperty("v6_gone_after_ms", static_cast<int>(*gone6 * 1000));
  std::printf("valid_lft 1: IPv4 gone after %.2fs, IPv6 after %.2fs\n", *gone4, *gone6);
}

TEST_F(VipsNetnsTest, RemoveIsIdempotent) {
  net::Vip v4 = vip("198.18.5.1/24", "qv0", "qv0:r");
  net::Vip v6 = vip("2001:db8:5::1/64", "qv0");
  ASSERT_TRUE(vips_->add(v4, std::nullopt).isOk());
  ASSERT_TRUE(vips_->add(v6, std::nullopt).isOk());
  for (const net::Vip& v : {v4, v6}) {
    Status s = vips_->remove(v);
    EXPECT_TRUE(s.isOk()) << s.message();
    EXPECT_THAT(listed(), Not(Contains(v)));
    EXPECT_FALSE(ipAddr("qv0", v.prefix.address.toString()));
    s = vips_->remove(v);
    EXPECT_TRUE(s.isOk()) << "second remove: " << s.message();
  }
  // Gone with its device is gone too.
  EXPECT_TRUE(vips_->remove(vip("198.18.5.1/24", "nosuch0")).isOk());
}

TEST_F(VipsNetnsTest, RemoveIgnoresLabel) {
  ASSERT_TRUE(vips_->add(vip("198.18.5.2/24", "qv0", "qv0:a"), std::nullopt).isOk());
  ASSERT_TRUE(vips_->remove(vip("198.18.5.2/24", "qv0", "qv0:other")).isOk());
  EXPECT_FALSE(ipAddr("qv0", "198.18.5.2"));
}

TEST_F(VipsNetnsTest, MissingDeviceIsEnodevNamingTheDevice) {
  Status s = vips_->add(vip("198.18.6.1/24", "nosuch0"), std::nullopt);
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.err(), ENODEV);
  EXPECT_THAT(s.message(), HasSubstr("nosuch0"));
  EXPECT_THAT(s.message(), HasSubstr("198.18.6.1/24"));

  auto r = vips_->list("nosuch0");
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().err(), ENODEV);
  EXPECT_THAT(r.status().message(), HasSubstr("nosuch0"));

  s = vips_->add(vip("198.18.6.1/24", "a-name-far-too-long-for-linux"), std::nullopt);
  EXPECT_EQ(s.err(), ENODEV);
}

TEST_F(VipsNetnsTest, RejectsWhatTheKernelWouldNot) {
  EXPECT_EQ(vips_->add(vip("2001:db8:7::1/64", "qv0", "qv0:v6"), std::nullopt).err(), EINVAL);
  EXPECT_EQ(vips_->add(vip("198.18.7.1/24", "qv0", "other:x"), std::nullopt).err(), EINVAL);
  EXPECT_EQ(vips_->add(vip("198.18.7.1/0", "qv0"), std::nullopt).err(), EINVAL);
  EXPECT_EQ(vips_->add(vip("198.18.7.1/24", "qv0"), seconds(0)).err(), EINVAL);
  EXPECT_EQ(vips_->add(net::Vip{net::IpPrefix{}, "qv0", ""}, std::nullopt).err(), EAFNOSUPPORT);
  EXPECT_FALSE(ipAddr("qv0", "198.18.7.1"));
}

TEST_F(VipsNetnsTest, KernelErrorsCarryErrnoAndContext) {
  // The kernel refuses IPv6 on a device with IPv6 disabled; the errno is the kernel's own.
  ASSERT_EQ(std::system("sysctl -qw net.ipv6.conf.qv1.disable_ipv6=1"), 0);
  Status s = vips_->add(vip("2001:db8:8::1/64", "qv1"), std::nullopt);
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.err(), EACCES) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("2001:db8:8::1/64 dev qv1"));
  // The object stays usable after a failure.
  EXPECT_TRUE(vips_->add(vip("198.18.8.1/24", "qv1"), std::nullopt).isOk());
  EXPECT_TRUE(ipAddr("qv1", "198.18.8.1"));
}

}  // namespace
}  // namespace quorate::kernel
