// Unit tests of quoratectl's endpoint parsing (unix:/path, HOST:PORT) and its credentials.
#include "client/endpoint.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client/credentials.h"

namespace quorate::client {
namespace {

TEST(ParseEndpoint, AcceptsHostAndPort) {
  auto e = parseEndpoint("127.0.0.1:7101");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 7101);
  EXPECT_FALSE(e->ipv6);
  EXPECT_EQ(e->target(), "127.0.0.1:7101");
}

TEST(ParseEndpoint, AcceptsHostNames) {
  auto e = parseEndpoint("director-a.lb_1.example:1");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "director-a.lb_1.example");
  EXPECT_EQ(e->port, 1);
  EXPECT_TRUE(parseEndpoint("localhost:65535"));
}

TEST(ParseEndpoint, AcceptsBracketedIpv6) {
  auto e = parseEndpoint("[::1]:7101");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "::1");
  EXPECT_TRUE(e->ipv6);
  EXPECT_EQ(e->target(), "[::1]:7101");
  EXPECT_TRUE(parseEndpoint("[fe80::1:2]:80"));
  EXPECT_TRUE(parseEndpoint("[::ffff:10.0.0.1]:80"));
}

TEST(ParseEndpoint, RejectsBadEndpointsWithAReason) {
  const char* bad[] = {
      "",
      "nohost",
      "nohost:",
      ":7101",
      "host:0",
      "host:65536",
      "host:99999999999999999999",
      "host:-1",
      "host:+1",
      "host:7a",
      "host: 7101",
      "::1:7101",
      "[::1]",
      "[::1]7101",
      "[::1:7101",
      "[nothost]:7101",
      "[]:7101",
      "ho st:7101",
      "host/x:7101",
      ".host:7101",
      "-host:7101",
      "[::1]:",
      "host:7101:",
  };
  for (const char* text : bad) {
    std::string error;
    EXPECT_FALSE(parseEndpoint(text, &error)) << "accepted \"" << text << "\"";
    EXPECT_FALSE(error.empty()) << "no reason for \"" << text << "\"";
  }
}

TEST(ParseEndpoint, ReasonsNameTheProblem) {
  std::string error;
  EXPECT_FALSE(parseEndpoint("nohost", &error));
  EXPECT_NE(error.find("missing port"), std::string::npos) << error;
  EXPECT_FALSE(parseEndpoint("h:70000", &error));
  EXPECT_NE(error.find("1 to 65535"), std::string::npos) << error;
  EXPECT_FALSE(parseEndpoint("::1:80", &error));
  EXPECT_NE(error.find("[IPV6]:PORT"), std::string::npos) << error;
}

}  // namespace
TEST(EndpointTest, UnixSocketPaths) {
  std::string error;
  auto e = parseEndpoint("unix:/run/quorate/director.sock", &error);
  ASSERT_TRUE(e) << error;
  EXPECT_EQ(e->unixPath, "/run/quorate/director.sock");
  EXPECT_EQ(e->target(), "unix:/run/quorate/director.sock");
  for (const std::string& bad :
       std::vector<std::string>{"unix:", "unix:relative.sock", "unix:/" + std::string(107, 'a'),
                                std::string("unix:/run/a\nb")}) {
    EXPECT_FALSE(parseEndpoint(bad, &error)) << bad;
    EXPECT_FALSE(error.empty());
  }
  EXPECT_TRUE(parseEndpoint("unix:/" + std::string(106, 'a')));  // 107 bytes: the most
}

TEST(EndpointTest, CredentialsForEachKindOfEndpoint) {
  std::string error;
  const auto tcp = parseEndpoint("127.0.0.1:7201");
  const auto sock = parseEndpoint("unix:/run/q.sock");
  ASSERT_TRUE(tcp && sock);
  EXPECT_TRUE(credentialsFor(*sock, {}, &error));
  EXPECT_FALSE(credentialsFor(*sock, {"ca.pem", "c.pem", "c.key"}, &error));
  EXPECT_NE(error.find("Unix socket"), std::string::npos) << error;
  EXPECT_FALSE(credentialsFor(*tcp, {"ca.pem", "", ""}, &error));
  EXPECT_NE(error.find("all of --ca, --cert and --key"), std::string::npos) << error;
  EXPECT_FALSE(credentialsFor(*tcp, {"/nonexistent/ca.pem", "/nonexistent/c.pem", "/x"}, &error));
  EXPECT_NE(error.find("cannot read /nonexistent/ca.pem"), std::string::npos) << error;
}

}  // namespace quorate::client
