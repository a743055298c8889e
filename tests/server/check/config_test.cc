// Unit tests of the check config: every key of each check type, inheritance from the virtual
// server, errors with file, line and key, and damaged files that must fail cleanly; and the
// mapping of the IPVS config to the checker's targets.
#include "server/check/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "common/config_error.h"
#include "common/yaml_config.h"
#include "server/ipvs/check_targets.h"
#include "server/ipvs/config.h"
#include "tests/common/config_test_util.h"

namespace quorate::server::check {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr char kPath[] = "/etc/quorate/director.yaml";

// Line numbers matter: the tests refer to them.
constexpr char kValid[] =
    "virtual_servers:\n"                                                                 //  1
    "  - name: web\n"                                                                    //  2
    "    address: 198.18.0.10\n"                                                         //  3
    "    port: 80\n"                                                                     //  4
    "    delay_loop_ms: 2000\n"                                                          //  5
    "    checks:\n"                                                                      //  6
    "      - type: http\n"                                                               //  7
    "        path: /health?full=1\n"                                                     //  8
    "        status_codes: [200, \"301-302\"]\n"                                         //  9
    "        digest: B1946AC92492D2347C6235B4D2611184\n"                                 // 10
    "        virtualhost: www.example.test\n"                                            // 11
    "        timeout_ms: 3000\n"                                                         // 12
    "        retries: 2\n"                                                               // 13
    "        retry_delay_ms: 500\n"                                                      // 14
    "        rise: 3\n"                                                                  // 15
    "        fall: 2\n"                                                                  // 16
    "    real_servers:\n"                                                                // 17
    "      - address: 198.18.0.21\n"                                                     // 18
    "        notify_up: [/usr/local/bin/rs-up, web]\n"                                   // 19
    "        notify_down: [/usr/local/bin/rs-down]\n"                                    // 20
    "      - address: 198.18.0.22\n"                                                     // 21
    "        checks:\n"                                                                  // 22
    "          - {type: tcp, connect_port: 8080, bind_to: 198.18.0.2}\n"                 // 23
    "          - type: https\n"                                                          // 24
    "            sni: rs.test\n"                                                         // 25
    "            verify: true\n"                                                         // 26
    "            ca_file: /etc/ssl/rs.pem\n"                                             // 27
    "            warmup_ms: 0\n"                                                         // 28
    "          - {type: smtp, helo: lb1.test, connect_port: 25}\n"                       // 29
    "          - {type: dns, name: example.test, query_type: aaaa, connect_port: 53}\n"  // 30
    "          - type: script\n"                                                         // 31
    "            command: [/usr/local/bin/check-db, --fast]\n"                           // 32
    "            user: nobody\n"                                                         // 33
    "            dynamic: true\n"                                                        // 34
    "            interval_ms: 10000\n"                                                   // 35
    "      - address: 198.18.0.23\n"                                                     // 36
    "        checks: []\n";                                                              // 37

ipvs::IpvsConfig parse(const std::string& text) {
  return config::guarded(kPath, [&] {
    const config::Document doc(kPath, text);
    return ipvs::parseIpvsConfig(doc.root({"virtual_servers", "ipvs"}));
  });
}

std::string errorOf(const std::string& text) {
  try {
    parse(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "parsed without error:\n" << text;
  return "";
}

TEST(CheckConfigTest, EveryKeyOfEveryType) {
  const auto c = parse(kValid);
  const auto& rss = c.virtualServers.at(0).realServers;
  ASSERT_EQ(rss.size(), 3U);

  // The first real server inherits the virtual server's check.
  ASSERT_EQ(rss[0].checks.size(), 1U);
  const CheckSpec& http = rss[0].checks[0];
  const auto& h = std::get<HttpSpec>(http.kind);
  EXPECT_EQ(h.path, "/health?full=1");
  EXPECT_EQ(h.statusCodes, (std::vector<StatusRange>{{200, 200}, {301, 302}}));
  EXPECT_EQ(h.digest, "b1946ac92492d2347c6235b4d2611184");  // lower-cased
  EXPECT_EQ(h.virtualHost, "www.example.test");
  EXPECT_FALSE(h.tls);
  EXPECT_EQ(http.timeout, 3000ms);
  EXPECT_EQ(http.interval, 2000ms);  // the virtual server's delay_loop_ms
  EXPECT_EQ(http.warmup, 2000ms);    // defaults to the interval
  EXPECT_EQ(http.retries, 2);
  EXPECT_EQ(http.retryDelay, 500ms);
  EXPECT_EQ(http.rise, 3);
  EXPECT_EQ(http.fall, 2);
  EXPECT_EQ(kindName(http.kind), "http");
  EXPECT_EQ(rss[0].notifyUp, (std::vector<std::string>{"/usr/local/bin/rs-up", "web"}));
  EXPECT_EQ(rss[0].notifyDown, (std::vector<std::string>{"/usr/local/bin/rs-down"}));

  // The second has its own five.
  const auto& own = rss[1].checks;
  ASSERT_EQ(own.size(), 5U);
  EXPECT_TRUE(std::holds_alternative<TcpSpec>(own[0].kind));
  EXPECT_EQ(own[0].port, 8080);
  EXPECT_EQ(own[0].bindTo, net::IpAddress::parse("198.18.0.2"));
  EXPECT_EQ(own[0].retries, 1);  // defaults
  EXPECT_EQ(own[0].rise, 1);
  EXPECT_EQ(own[0].timeout, 5000ms);
  const auto& tls = std::get<HttpSpec>(own[1].kind);
  EXPECT_TRUE(tls.tls);
  EXPECT_EQ(kindName(own[1].kind), "https");
  EXPECT_EQ(tls.sni, "rs.test");
  EXPECT_TRUE(tls.verify);
  EXPECT_EQ(tls.caFile, "/etc/ssl/rs.pem");
  EXPECT_EQ(tls.statusCodes, (std::vector<StatusRange>{{200, 299}}));  // default: any 2xx
  EXPECT_EQ(own[1].warmup, 0ms);
  EXPECT_EQ(std::get<SmtpSpec>(own[2].kind).helo, "lb1.test");
  EXPECT_EQ(own[2].port, 25);
  EXPECT_EQ(std::get<DnsSpec>(own[3].kind).name, "example.test");
  EXPECT_EQ(std::get<DnsSpec>(own[3].kind).type, 28);  // AAAA, case-insensitive
  const auto& script = std::get<ScriptSpec>(own[4].kind);
  EXPECT_EQ(script.argv, (std::vector<std::string>{"/usr/local/bin/check-db", "--fast"}));
  EXPECT_EQ(script.user, "nobody");
  EXPECT_TRUE(script.dynamic);
  EXPECT_EQ(own[4].interval, 10000ms);
  EXPECT_EQ(own[4].warmup, 10000ms);

  // The third opted out: nothing checks it.
  EXPECT_TRUE(rss[2].checks.empty());
}

TEST(CheckConfigTest, DefaultsOfABareCheck) {
  const auto c = parse(
      "virtual_servers:\n"
      "  - {name: w, address: 198.18.0.10, port: 80,\n"
      "     real_servers: [{address: 198.18.0.21, checks: [{type: dns}]}]}\n");
  const CheckSpec& s = c.virtualServers[0].realServers[0].checks.at(0);
  EXPECT_EQ(std::get<DnsSpec>(s.kind), DnsSpec{});
  EXPECT_EQ(std::get<DnsSpec>(s.kind).name, ".");
  EXPECT_EQ(std::get<DnsSpec>(s.kind).type, 6);  // SOA, as keepalived
  EXPECT_EQ(s.interval, 5000ms);
  EXPECT_EQ(s.timeout, 5000ms);
  EXPECT_EQ(s.retryDelay, 1000ms);
  EXPECT_EQ(s.port, 0);  // the real server's
  EXPECT_FALSE(s.address.has_value());
}

TEST(CheckConfigTest, RequestsPerConnection) {
  const auto c = parse(
      "virtual_servers:\n"
      "  - {name: w, address: 198.18.0.10, port: 80,\n"
      "     real_servers: [{address: 198.18.0.21, checks: [{type: http},\n"
      "                    {type: http, requests_per_connection: 100}]}]}\n");
  const auto& checks = c.virtualServers[0].realServers[0].checks;
  ASSERT_EQ(checks.size(), 2U);
  EXPECT_EQ(std::get<HttpSpec>(checks[0].kind).requestsPerConnection, 1);  // keepalived's way
  EXPECT_EQ(std::get<HttpSpec>(checks[1].kind).requestsPerConnection, 100);
  EXPECT_NE(checks[0], checks[1]);  // a reload that changes it starts the check afresh
}

struct Case {
  int line;
  std::string replacement;  // replaces line `line` of kValid
  std::string where;        // "<line>: <key>"
  std::string what;
};

TEST(CheckConfigTest, ErrorsNameFileLineAndKey) {
  const std::vector<Case> cases = {
      {7, "      - type: ftp", "7: virtual_servers[0].checks[0].type", "expected one of"},
      {8, "        path: health", "8: virtual_servers[0].checks[0].path", "starting with '/'"},
      {9, "        status_codes: [200, 700]", "9: virtual_servers[0].checks[0].status_codes[1]",
       "100..599"},
      {9, "        status_codes: [\"302-301\"]", "9: virtual_servers[0].checks[0].status_codes[0]",
       "is empty"},
      {9, "        status_codes: []", "9: virtual_servers[0].checks[0].status_codes",
       "at least one"},
      {10, "        digest: xyz", "10: virtual_servers[0].checks[0].digest", "32 hex digits"},
      {12, "        timeout_ms: 0", "12: virtual_servers[0].checks[0].timeout_ms", ""},
      {13, "        retries: -1", "13: virtual_servers[0].checks[0].retries", ""},
      {15, "        rise: 0", "15: virtual_servers[0].checks[0].rise", ""},
      {16, "        sni: rs.test", "16: virtual_servers[0].checks[0].sni",
       "not a key of a http check (only of https)"},
      {16, "        helo: x", "16: virtual_servers[0].checks[0].helo", "only of smtp"},
      {16, "        command: [/bin/true]", "16: virtual_servers[0].checks[0].command",
       "only of script"},
      {16, "        colour: red", "16: virtual_servers[0].checks[0].colour", ""},
      {16, "        requests_per_connection: 0",
       "16: virtual_servers[0].checks[0].requests_per_connection", "between 1 and 1000000"},
      {27, "            requests_per_connection: 5",
       "27: virtual_servers[0].real_servers[1].checks[1].requests_per_connection",
       "not a key of a https check (only of http)"},
      {5, "    delay_loop_ms: 1", "5: virtual_servers[0].delay_loop_ms", ""},
      {19, "        notify_up: [rs-up]", "19: virtual_servers[0].real_servers[0].notify_up",
       "absolute program"},
      {23, "          - {type: tcp, connect_ip: 2001:db8::1}",
       "23: virtual_servers[0].real_servers[1].checks[0].connect_ip", "IPv4 address"},
      {23, "          - {type: tcp, connect_port: 0}",
       "23: virtual_servers[0].real_servers[1].checks[0].connect_port", ""},
      {27, "            colour: red", "27: virtual_servers[0].real_servers[1].checks[1].colour",
       ""},
      {26, "            verify: false", "27: virtual_servers[0].real_servers[1].checks[1].ca_file",
       "only with verify: true"},
      {30, "          - {type: dns, query_type: BOGUS}",
       "30: virtual_servers[0].real_servers[1].checks[3].query_type", "expected one of A, AAAA"},
      {30, "          - {type: dns, name: a..b}",
       "30: virtual_servers[0].real_servers[1].checks[3].name", "labels of 1 to 63"},
      {32, "            command: [check-db]",
       "32: virtual_servers[0].real_servers[1].checks[4].command", "absolute program"},
      {32, "            command: []", "32: virtual_servers[0].real_servers[1].checks[4].command",
       "expected a list"},
      {32, "            path: /x", "32: virtual_servers[0].real_servers[1].checks[4].path",
       "only of http, https"},
      {33, "            user: \"no body\"", "33: virtual_servers[0].real_servers[1].checks[4].user",
       ""},
      {34, "            dynamic: maybe", "34: virtual_servers[0].real_servers[1].checks[4].dynamic",
       ""},
  };
  for (const auto& c : cases) {
    const std::string text = testutil::editLines(kValid, c.line, 1, c.replacement);
    const std::string message = errorOf(text);
    EXPECT_THAT(message, HasSubstr(std::string(kPath) + ":" + c.where + ": ")) << c.replacement;
    EXPECT_THAT(message, HasSubstr(c.what)) << c.replacement;
  }
  // A script check without its command names the check's entry.
  EXPECT_THAT(errorOf(testutil::editLines(kValid, 32, 1, "")),
              HasSubstr("31: virtual_servers[0].real_servers[1].checks[4]: a script check needs "
                        "command"));
}

// UDP_CHECK, PING_CHECK and FILE_CHECK: every key, the defaults, and errors naming the key.
constexpr char kDatagram[] =
    "virtual_servers:\n"                                                            //  1
    "  - name: dns\n"                                                               //  2
    "    address: 198.18.0.10\n"                                                    //  3
    "    port: 53\n"                                                                //  4
    "    protocol: udp\n"                                                           //  5
    "    real_servers:\n"                                                           //  6
    "      - address: 198.18.0.21\n"                                                //  7
    "        checks:\n"                                                             //  8
    "          - type: udp\n"                                                       //  9
    "            payload_hex: \"0a 1B ff\"\n"                                       // 10
    "            expect: PONG\n"                                                    // 11
    "            match: exact\n"                                                    // 12
    "            connect_port: 5353\n"                                              // 13
    "          - {type: udp, payload: hello}\n"                                     // 14
    "          - {type: udp, payload: x, expect: \"^ok [0-9]+$\", match: regex}\n"  // 15
    "          - {type: ping, connect_ip: 198.18.0.31, bind_to: 198.18.0.2}\n"      // 16
    "          - {type: file, path: /run/quorate/weights/rs1}\n"                    // 17
    "          - {type: udp, expect_hex: \"00ff\", require_reply: true}\n";         // 18

TEST(CheckConfigTest, UdpPingAndFileChecks) {
  const auto c = parse(kDatagram);
  const auto& checks = c.virtualServers.at(0).realServers.at(0).checks;
  ASSERT_EQ(checks.size(), 6U);
  const auto& exact = std::get<UdpSpec>(checks[0].kind);
  EXPECT_EQ(exact.payload, std::string("\x0a\x1b\xff"));
  EXPECT_EQ(exact.expect, "PONG");
  EXPECT_EQ(exact.match, UdpSpec::Match::kExact);
  EXPECT_TRUE(exact.requireReply);  // an expectation needs a reply
  EXPECT_EQ(checks[0].port, 5353);
  EXPECT_EQ(kindName(checks[0].kind), "udp");
  const auto& quiet = std::get<UdpSpec>(checks[1].kind);
  EXPECT_EQ(quiet.payload, "hello");
  EXPECT_FALSE(quiet.requireReply);  // keepalived's default: silence passes
  EXPECT_EQ(quiet.match, UdpSpec::Match::kAny);
  EXPECT_EQ(std::get<UdpSpec>(checks[2].kind).match, UdpSpec::Match::kRegex);
  EXPECT_EQ(std::get<UdpSpec>(checks[2].kind).expect, "^ok [0-9]+$");
  EXPECT_TRUE(std::holds_alternative<PingSpec>(checks[3].kind));
  EXPECT_EQ(checks[3].address, net::IpAddress::parse("198.18.0.31"));
  EXPECT_EQ(checks[3].bindTo, net::IpAddress::parse("198.18.0.2"));
  EXPECT_EQ(kindName(checks[3].kind), "ping");
  EXPECT_EQ(std::get<FileSpec>(checks[4].kind).path, "/run/quorate/weights/rs1");
  EXPECT_EQ(kindName(checks[4].kind), "file");
  const auto& prefix = std::get<UdpSpec>(checks[5].kind);
  EXPECT_EQ(prefix.expect, std::string("\x00\xff", 2));
  EXPECT_EQ(prefix.match, UdpSpec::Match::kPrefix);  // keepalived's require_reply compares a prefix
}

TEST(CheckConfigTest, UdpPingAndFileErrorsNameTheKey) {
  const std::vector<Case> cases = {
      {10, "            payload_hex: \"0a1\"",
       "10: virtual_servers[0].real_servers[0].checks[0].payload_hex", "even number of hex digits"},
      {10, "            payload_hex: \"zz\"",
       "10: virtual_servers[0].real_servers[0].checks[0].payload_hex", "bytes in hex"},
      {12, "            match: glob", "12: virtual_servers[0].real_servers[0].checks[0].match",
       "expected one of"},
      {12, "            payload: hi",
       "10: virtual_servers[0].real_servers[0].checks[0].payload_hex", "not both"},
      {14, "          - {type: udp, match: exact}",
       "14: virtual_servers[0].real_servers[0].checks[1].match", "needs expect or expect_hex"},
      {14, "          - {type: udp, expect: a, require_reply: false}",
       "14: virtual_servers[0].real_servers[0].checks[1].require_reply", "contradicts expect"},
      {14, "          - {type: udp, expect: a, expect_hex: \"61\"}",
       "14: virtual_servers[0].real_servers[0].checks[1].expect_hex", "not both"},
      {15, "          - {type: udp, expect: \"(\", match: regex}",
       "15: virtual_servers[0].real_servers[0].checks[2].expect", "not a valid regular expression"},
      {15, "          - {type: udp, expect_hex: \"28\", match: regex}",
       "15: virtual_servers[0].real_servers[0].checks[2].match", "give it as expect"},
      {16, "          - {type: ping, connect_port: 7}",
       "16: virtual_servers[0].real_servers[0].checks[3].connect_port",
       "not a key of a ping check"},
      {16, "          - {type: ping, payload: x}",
       "16: virtual_servers[0].real_servers[0].checks[3].payload", "only of udp"},
      {16, "          - {type: ping, connect_ip: 2001:db8::1}",
       "16: virtual_servers[0].real_servers[0].checks[3].connect_ip", "IPv4 address"},
      {17, "          - {type: file}", "17: virtual_servers[0].real_servers[0].checks[4]",
       "a file check needs path"},
      {17, "          - {type: file, path: /x, connect_ip: 198.18.0.1}",
       "17: virtual_servers[0].real_servers[0].checks[4].connect_ip", "not a key of a file check"},
      {18, "          - {type: tcp, expect: x}",
       "18: virtual_servers[0].real_servers[0].checks[5].expect", "only of udp"},
  };
  for (const auto& c : cases) {
    const std::string text = testutil::editLines(kDatagram, c.line, 1, c.replacement);
    const std::string message = errorOf(text);
    EXPECT_THAT(message, HasSubstr(std::string(kPath) + ":" + c.where + ": ")) << c.replacement;
    EXPECT_THAT(message, HasSubstr(c.what)) << c.replacement;
  }
}

TEST(CheckConfigTest, DamagedFilesFailCleanly) {
  for (const char* valid : {kValid, kDatagram}) {
    const auto inputs = testutil::mutationsOf(valid, 5, false, 2000);
    testutil::expectOnlyConfigErrors(inputs, kPath, [](const std::string& text) { parse(text); });
  }
}

TEST(CheckConfigTest, DnsTypeCodes) {
  EXPECT_EQ(dnsTypeCode("A"), 1);
  EXPECT_EQ(dnsTypeCode("SOA"), 6);
  EXPECT_EQ(dnsTypeCode("ANY"), 255);
  EXPECT_EQ(dnsTypeCode("a"), 0);  // callers upper-case first
  EXPECT_EQ(dnsTypeCode("NOPE"), 0);
}

// The checker's input made from the IPVS config: every real server in order, keyed by its
// virtual server and destination, each check aimed at connect_ip / connect_port or the
// destination, with alpha and the notify programs carried over.
TEST(CheckTargetsTest, EveryRealServerKeyedAndEachCheckAimed) {
  const auto servers = ipvs::checkedServers(parse(kValid));
  ASSERT_EQ(servers.size(), 3U);
  const auto ip = [](const char* s) { return *net::IpAddress::parse(s); };

  EXPECT_EQ(servers[0].key, (ServerKey{"web", ip("198.18.0.21"), 80}));
  EXPECT_EQ(servers[0].key.endpoint(), "198.18.0.21:80");
  ASSERT_EQ(servers[0].checks.size(), 1U);
  EXPECT_EQ(servers[0].checks[0].target, (Target{ip("198.18.0.21"), 80, std::nullopt}));
  EXPECT_EQ(kindName(servers[0].checks[0].spec.kind), "http");
  EXPECT_EQ(servers[0].notifyUp, (std::vector<std::string>{"/usr/local/bin/rs-up", "web"}));
  EXPECT_EQ(servers[0].notifyDown, (std::vector<std::string>{"/usr/local/bin/rs-down"}));

  EXPECT_EQ(servers[1].key, (ServerKey{"web", ip("198.18.0.22"), 80}));
  ASSERT_EQ(servers[1].checks.size(), 5U);
  EXPECT_EQ(servers[1].checks[0].target, (Target{ip("198.18.0.22"), 8080, ip("198.18.0.2")}));
  EXPECT_EQ(servers[1].checks[1].target, (Target{ip("198.18.0.22"), 80, std::nullopt}));
  EXPECT_EQ(servers[1].checks[2].target.port, 25);
  EXPECT_EQ(servers[1].checks[3].target.port, 53);
  EXPECT_EQ(kindName(servers[1].checks[4].spec.kind), "script");
  // Each target's spec is the parsed one, unchanged.
  const auto config = parse(kValid);
  for (std::size_t i = 0; i < servers[1].checks.size(); ++i) {
    EXPECT_EQ(servers[1].checks[i].spec, config.virtualServers[0].realServers[1].checks[i]);
  }

  EXPECT_EQ(servers[2].key.address, ip("198.18.0.23"));
  EXPECT_TRUE(servers[2].checks.empty());  // checks: [] (nothing checks it)
  EXPECT_FALSE(servers[1].alpha);
}

TEST(CheckTargetsTest, AlphaIsCarriedOver) {
  auto config = parse(kValid);
  config.virtualServers[0].realServers[1].alpha = true;
  const auto servers = ipvs::checkedServers(config);
  ASSERT_EQ(servers.size(), 3U);
  EXPECT_FALSE(servers[0].alpha);
  EXPECT_TRUE(servers[1].alpha);
}

TEST(CheckTargetsTest, ConnectIpAndPortOverrideTheRealServer) {
  CheckSpec spec;
  spec.kind = TcpSpec{};
  const auto rs = *net::IpAddress::parse("2001:db8::21");
  EXPECT_EQ(checkTarget(spec, rs, 443).target, (Target{rs, 443, std::nullopt}));
  spec.address = net::IpAddress::parse("2001:db8::99");
  spec.port = 8443;
  EXPECT_EQ(checkTarget(spec, rs, 443).target, (Target{*spec.address, 8443, std::nullopt}));
  EXPECT_EQ((ServerKey{"web", rs, 443}).endpoint(), "[2001:db8::21]:443");
}

}  // namespace
}  // namespace quorate::server::check
