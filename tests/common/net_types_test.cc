// Address parsing and formatting.
#include "common/net_types.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

namespace quorate::net {
namespace {

TEST(IpPrefix, ParsesV4AndV6WithDefaultLengths) {
  auto p = IpPrefix::parse("198.18.1.10/24");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->address.family, AF_INET);
  EXPECT_EQ(p->length, 24);
  EXPECT_EQ(p->toString(), "198.18.1.10/24");
  EXPECT_EQ(IpPrefix::parse("198.18.1.10")->length, 32);
  EXPECT_EQ(IpPrefix::parse("2001:db8::10")->length, 128);
  EXPECT_EQ(IpPrefix::parse("2001:db8::10/64")->toString(), "2001:db8::10/64");
}

TEST(IpPrefix, RejectsMalformed) {
  for (const char* bad :
       {"", "198.18.1", "198.18.1.10/33", "198.18.1.10/", "198.18.1.10/2x", "2001:db8::1/129",
        "host.example", "198.18.1.10/-1", "198.18.1.10/0024"}) {
    EXPECT_FALSE(IpPrefix::parse(bad)) << bad;
  }
}

TEST(Mac, RoundTrips) {
  auto m = parseMac("02:00:5E:00:01:0a");
  ASSERT_TRUE(m);
  EXPECT_EQ(toString(*m), "02:00:5e:00:01:0a");
  EXPECT_FALSE(parseMac("02:00:5e:00:01"));
  EXPECT_FALSE(parseMac("02-00-5e-00-01-0a"));
  EXPECT_FALSE(parseMac("02:00:5e:00:01:0g"));
}

TEST(Vip, Formats) {
  Vip v{*IpPrefix::parse("198.18.1.10/24"), "eth0", "eth0:web"};
  EXPECT_EQ(v.toString(), "198.18.1.10/24 dev eth0 label eth0:web");
}

}  // namespace
}  // namespace quorate::net
