// The udp and file probes against the real thing: a UDP server on loopback that echoes, answers
// wrongly or goes silent, a port that answers with ICMP port unreachable, and weight files
// written, flipped and removed under the checker; plus the pure judges (UDP replies, weight
// files, ICMP echo matching) on bytes made here.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "server/check/checker.h"
#include "server/check/file_weight.h"
#include "server/check/icmp_wire.h"
#include "server/check/probe.h"
#include "server/check/udp_reply.h"
#include "server/script_runner.h"
#include "tests/support/temp_dir.h"

namespace quorate::server::check {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using udp = asio::ip::udp;
using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kGenerous = 20s;  // never reached by an attempt that passes
constexpr std::chrono::milliseconds kShort = 300ms;   // the silent cases

net::IpAddress ip(const char* text) { return *net::IpAddress::parse(text); }

// A UDP server on loopback: echoes each datagram, or answers `answer`, or says nothing.
struct UdpServer {
  enum class Mode { kEcho, kAnswer, kSilent };
  explicit UdpServer(asio::io_context& io, const char* address = "127.0.0.1")
      : socket(io, udp::endpoint(asio::ip::make_address(address), 0)) {
    asio::co_spawn(io, loop(), asio::detached);
  }
  std::uint16_t port() const { return socket.local_endpoint().port(); }

  udp::socket socket;
  Mode mode = Mode::kEcho;
  std::string answer;
  std::vector<std::string> received;
  udp::endpoint lastFrom;  // the sender of the last datagram

 private:
  awaitable<void> loop() {
    std::array<char, 2048> buffer;
    udp::endpoint from;
    for (;;) {
      const std::size_t size =
          co_await socket.async_receive_from(asio::buffer(buffer), from, use_awaitable);
      received.emplace_back(buffer.data(), size);
      lastFrom = from;
      if (mode == Mode::kSilent) continue;
      const std::string reply = mode == Mode::kEcho ? received.back() : answer;
      co_await socket.async_send_to(asio::buffer(reply), from, use_awaitable);
    }
  }
};

// A loopback UDP port nobody has: bound to find it free, then closed. The kernel answers a
// datagram to it with ICMP port unreachable.
std::uint16_t closedUdpPort(asio::io_context& io) {
  udp::socket s(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::uint16_t port = s.local_endpoint().port();
  s.close();
  return port;
}

CheckSpec udpCheck(UdpSpec check, std::chrono::milliseconds timeout = kGenerous) {
  CheckSpec spec;
  spec.kind = std::move(check);
  spec.timeout = timeout;
  return spec;
}

UdpSpec expecting(std::string payload, UdpSpec::Match match, std::string expect) {
  UdpSpec u;
  u.payload = std::move(payload);
  u.match = match;
  u.expect = std::move(expect);
  u.requireReply = true;
  return u;
}

class DatagramProbeTest : public ::testing::Test {
 protected:
  // One attempt; `done` must run once, and not from inside start().
  Outcome runProbe(Probe& probe) {
    int calls = 0;
    Outcome outcome;
    probe.start([&](Outcome result) {
      ++calls;
      outcome = std::move(result);
    });
    EXPECT_EQ(calls, 0) << "done ran from inside start()";
    const auto giveUp = std::chrono::steady_clock::now() + 60s;
    while (calls == 0 && std::chrono::steady_clock::now() < giveUp) {
      if (io.stopped()) io.restart();
      io.run_one_for(50ms);
    }
    EXPECT_EQ(calls, 1);
    return outcome;
  }
  Outcome run(const CheckSpec& spec, const char* address, std::uint16_t port) {
    std::unique_ptr<Probe> probe = makeProbe(spec, Target{ip(address), port, {}}, ctx);
    return runProbe(*probe);
  }

  asio::io_context io;
  ScriptRunner scripts{io};
  ProbeContext ctx{io, scripts};
};

// ---- udp

TEST_F(DatagramProbeTest, UdpEchoPassesAndThePayloadArrives) {
  UdpServer server(io);
  const Outcome outcome = run(udpCheck(expecting("ping\x01", UdpSpec::Match::kExact, "ping\x01")),
                              "127.0.0.1", server.port());
  EXPECT_TRUE(outcome.ok) << outcome.reason;
  EXPECT_EQ(outcome.reason, "reply of 5 bytes");
  ASSERT_EQ(server.received.size(), 1u);
  EXPECT_EQ(server.received[0], "ping\x01");
}

TEST_F(DatagramProbeTest, UdpEchoOverIpv6) {
  UdpServer server(io, "::1");
  const Outcome outcome =
      run(udpCheck(expecting("x", UdpSpec::Match::kExact, "x")), "::1", server.port());
  EXPECT_TRUE(outcome.ok) << outcome.reason;
}

TEST_F(DatagramProbeTest, UdpWrongReplyFails) {
  UdpServer server(io);
  server.mode = UdpServer::Mode::kAnswer;
  server.answer = std::string("PONG\0\xff", 6);
  Outcome outcome =
      run(udpCheck(expecting("PING", UdpSpec::Match::kPrefix, "PONX")), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "unexpected reply: \"PONG\\x00\\xff\"");
  // The same reply passes as a prefix, fails as exact bytes, passes a regex.
  outcome =
      run(udpCheck(expecting("PING", UdpSpec::Match::kPrefix, "PONG")), "127.0.0.1", server.port());
  EXPECT_TRUE(outcome.ok) << outcome.reason;
  outcome =
      run(udpCheck(expecting("PING", UdpSpec::Match::kExact, "PONG")), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
  outcome = run(udpCheck(expecting("PING", UdpSpec::Match::kRegex, "^PO[N]G")), "127.0.0.1",
                server.port());
  EXPECT_TRUE(outcome.ok) << outcome.reason;
  outcome =
      run(udpCheck(expecting("PING", UdpSpec::Match::kRegex, "^pong")), "127.0.0.1", server.port());
  EXPECT_FALSE(outcome.ok);
}

// The expected reply sent to the probe from the wrong port, then from the wrong address (same
// port): neither counts, so a check that requires a reply times out. A spoofer on the path must
// not keep a dead server in service.
TEST_F(DatagramProbeTest, UdpReplyFromAnotherPortOrAddressDoesNotCount) {
  UdpServer server(io);
  server.mode = UdpServer::Mode::kSilent;
  udp::socket otherPort(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  udp::socket otherAddress(io, udp::endpoint(asio::ip::make_address("127.0.0.2"), server.port()));
  for (udp::socket* liar : {&otherPort, &otherAddress}) {
    std::unique_ptr<Probe> probe =
        makeProbe(udpCheck(expecting("a", UdpSpec::Match::kExact, "yes"), kShort),
                  Target{ip("127.0.0.1"), server.port(), {}}, ctx);
    int calls = 0;
    Outcome outcome;
    probe->start([&](Outcome result) {
      ++calls;
      outcome = std::move(result);
    });
    // The probe's datagram tells where it listens; the reply goes there from the liar.
    const std::size_t before = server.received.size();
    const auto giveUp = std::chrono::steady_clock::now() + 60s;
    while (server.received.size() == before && std::chrono::steady_clock::now() < giveUp) {
      io.run_one_for(50ms);
    }
    ASSERT_EQ(server.received.size(), before + 1);
    liar->send_to(asio::buffer(std::string("yes")), server.lastFrom);
    while (calls == 0 && std::chrono::steady_clock::now() < giveUp) io.run_one_for(50ms);
    ASSERT_EQ(calls, 1);
    EXPECT_FALSE(outcome.ok) << (liar == &otherPort ? "another port: " : "another address: ")
                             << outcome.reason;
    EXPECT_EQ(outcome.reason, "timeout waiting for the reply");
  }
}

// A server that stops answering: a check that requires a reply times out; one that does not
// (keepalived's default) passes on silence.
TEST_F(DatagramProbeTest, UdpServerThatStopsAnswering) {
  UdpServer server(io);
  std::unique_ptr<Probe> probe =
      makeProbe(udpCheck(expecting("a", UdpSpec::Match::kExact, "a"), kShort),
                Target{ip("127.0.0.1"), server.port(), {}}, ctx);
  EXPECT_TRUE(runProbe(*probe).ok);
  server.mode = UdpServer::Mode::kSilent;
  Outcome outcome = runProbe(*probe);
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "timeout waiting for the reply");
  server.mode = UdpServer::Mode::kEcho;
  EXPECT_TRUE(runProbe(*probe).ok);

  UdpSpec quiet;
  quiet.payload = "a";
  server.mode = UdpServer::Mode::kSilent;
  outcome = run(udpCheck(quiet, kShort), "127.0.0.1", server.port());
  EXPECT_TRUE(outcome.ok);
  EXPECT_EQ(outcome.reason, "no reply, no port unreachable");
  EXPECT_EQ(server.received.size(), 4u);  // every attempt sent its datagram
}

// ICMP port unreachable fails the attempt at once, with or without require_reply: the
// outcome is not the timeout's (20 s, and a silence would pass the second).
TEST_F(DatagramProbeTest, UdpPortUnreachableFailsAtOnce) {
  const std::uint16_t port = closedUdpPort(io);
  Outcome outcome = run(udpCheck(expecting("a", UdpSpec::Match::kAny, "")), "127.0.0.1", port);
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "port unreachable");
  UdpSpec quiet;
  quiet.payload = "a";
  outcome = run(udpCheck(quiet), "127.0.0.1", port);
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(outcome.reason, "port unreachable");
}

TEST_F(DatagramProbeTest, UdpDestroyedMidAttemptNeverCallsBack) {
  UdpServer server(io);
  server.mode = UdpServer::Mode::kSilent;
  std::unique_ptr<Probe> probe =
      makeProbe(udpCheck(expecting("a", UdpSpec::Match::kAny, ""), 200ms),
                Target{ip("127.0.0.1"), server.port(), {}}, ctx);
  int calls = 0;
  probe->start([&](Outcome) { ++calls; });
  while (server.received.empty()) io.run_one_for(50ms);
  probe.reset();
  io.restart();
  io.run_for(500ms);
  EXPECT_EQ(calls, 0);
}

TEST(UdpReplyTest, Judged) {
  const UdpSpec any = expecting("", UdpSpec::Match::kAny, "");
  EXPECT_EQ(judgeUdpReply(any, nullptr, "").reason, "reply of 0 bytes");
  const UdpSpec prefix = expecting("", UdpSpec::Match::kPrefix, "ab");
  EXPECT_TRUE(judgeUdpReply(prefix, nullptr, "abc").ok);
  EXPECT_FALSE(judgeUdpReply(prefix, nullptr, "a").ok);
  const UdpSpec exact = expecting("", UdpSpec::Match::kExact, "ab");
  EXPECT_TRUE(judgeUdpReply(exact, nullptr, "ab").ok);
  EXPECT_FALSE(judgeUdpReply(exact, nullptr, "abc").ok);
  // A regex sees only the first kUdpRegexWindow bytes.
  const UdpSpec regex = expecting("", UdpSpec::Match::kRegex, "z");
  const std::regex z("z");
  EXPECT_TRUE(judgeUdpReply(regex, &z, std::string(kUdpRegexWindow - 1, 'a') + "z").ok);
  EXPECT_FALSE(judgeUdpReply(regex, &z, std::string(kUdpRegexWindow, 'a') + "z").ok);
  EXPECT_EQ(printable(std::string(40, 'a')), std::string(32, 'a') + "...");
  EXPECT_EQ(printable("a\\b\n"), "a\\x5cb\\x0a");
}

// ---- file

TEST(WeightFileTest, ContentJudged) {
  auto expect = [](std::string_view content, bool ok, const std::string& reason,
                   std::optional<int> weight) {
    const Outcome o = judgeWeightFile(content);
    EXPECT_EQ(o.ok, ok) << content;
    EXPECT_EQ(o.reason, reason) << content;
    EXPECT_EQ(o.weight, weight) << content;
  };
  expect("5\n", true, "weight 5", 5);
  expect("  007 \r\n", true, "weight 7", 7);
  expect("65535", true, "weight 65535", 65535);
  expect("0\n", false, "weight 0", std::nullopt);
  expect("000", false, "weight 0", std::nullopt);
  expect("", false, "empty file", std::nullopt);
  expect(" \n\n", false, "empty file", std::nullopt);
  expect("65536", false, "weight 65536 above 65535", std::nullopt);
  expect("99999999999999999999", false, "weight 99999999999999999999 above 65535", std::nullopt);
  expect("-1", false, "not a weight: \"-1\"", std::nullopt);
  expect("5 5", false, "not a weight: \"5 5\"", std::nullopt);
  expect("up", false, "not a weight: \"up\"", std::nullopt);
}

TEST_F(DatagramProbeTest, FileProbeReadsTheFileEachAttempt) {
  testutil::TempDir dir("quorate-file-check");
  const std::string path = dir.file("weight");
  CheckSpec spec;
  spec.kind = FileSpec{path};
  std::unique_ptr<Probe> probe = makeProbe(spec, Target{}, ctx);
  Outcome o = runProbe(*probe);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.reason, "no file " + path);
  dir.write("weight", "12\n");
  o = runProbe(*probe);
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(o.weight, 12);
  dir.write("weight", "0\n");
  o = runProbe(*probe);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.reason, "weight 0");
  dir.write("weight", std::string(kMaxWeightFile, ' ') + "1");
  EXPECT_EQ(runProbe(*probe).reason, path + " is larger than 4096 bytes");
  dir.write("weight", std::string(kMaxWeightFile - 1, ' ') + "1");
  EXPECT_EQ(runProbe(*probe).reason, "weight 1");
  // A FIFO nobody writes would block a plain read: it is refused unread.
  std::filesystem::remove(path);
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  EXPECT_EQ(runProbe(*probe).reason, path + " is not a regular file");
}

TEST_F(DatagramProbeTest, FileProbeDestroyedOrRestartedCallsBackOnlyTheLatest) {
  testutil::TempDir dir("quorate-file-check");
  CheckSpec spec;
  spec.kind = FileSpec{dir.write("weight", "3")};
  std::unique_ptr<Probe> probe = makeProbe(spec, Target{}, ctx);
  int first = 0;
  int second = 0;
  probe->start([&](Outcome) { ++first; });
  probe->start([&](Outcome) { ++second; });
  io.run_for(100ms);
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);
  probe->start([&](Outcome) { ++first; });
  probe.reset();
  io.restart();
  io.run_for(100ms);
  EXPECT_EQ(first, 0);
}

// The drain an operator does: the checker's verdict follows the file, its number as the weight
// in effect, 0 taking the real server down, a new number bringing it back.
TEST(FileCheckerTest, TheVerdictFollowsTheFileFlipped) {
  asio::io_context io;
  ScriptRunner scripts(io);
  std::vector<Verdict> verdicts;
  HealthChecks checks(
      io, scripts, [&](const Verdict& v) { verdicts.push_back(v); }, 7);
  testutil::TempDir dir("quorate-file-check");
  const std::string path = dir.write("weight", "3\n");
  CheckSpec spec;
  spec.kind = FileSpec{path};
  spec.interval = 20ms;
  spec.warmup = 1ms;
  spec.retries = 0;
  CheckedServer rs;
  rs.key = {"dns", ip("198.18.0.21"), 53};
  rs.checks.push_back(checkTarget(spec, rs.key.address, rs.key.port));
  checks.apply({rs});
  auto waitFor = [&](const std::function<bool(const Verdict&)>& want) {
    const auto giveUp = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < giveUp) {
      if (!verdicts.empty() && want(verdicts.back())) return true;
      io.run_one_for(50ms);
    }
    return false;
  };
  ASSERT_TRUE(waitFor([](const Verdict& v) { return v.alive && v.weight == 3; }));
  dir.write("weight", "0\n");
  ASSERT_TRUE(waitFor([](const Verdict& v) { return !v.alive; }));
  EXPECT_EQ(verdicts.back().reason, "file check: weight 0");
  dir.write("weight", "9\n");
  ASSERT_TRUE(waitFor([](const Verdict& v) { return v.alive && v.weight == 9; }));
  std::filesystem::remove(path);
  ASSERT_TRUE(waitFor([](const Verdict& v) { return !v.alive; }));
  EXPECT_EQ(verdicts.back().reason, "file check: no file " + path);
}

// ---- ICMP echo bytes (the ping probe's matching; the probe itself: tests/netns)

TEST(IcmpWireTest, ChecksumOfAKnownMessage) {
  // RFC 1071's example words 0001 f203 f4f5 f6f7 sum to ddf2; the checksum is its complement.
  const std::vector<std::uint8_t> words = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(internetChecksum(words), 0x220d);
  const std::vector<std::uint8_t> payload = {1, 2, 3};
  const auto request = makeEchoRequest(false, 0x1234, 7, payload);
  EXPECT_EQ(internetChecksum(request), 0);  // a message with its checksum sums to zero
  EXPECT_EQ(request[0], 8);
  EXPECT_EQ(makeEchoRequest(true, 0x1234, 7, payload)[0], 128);
}

std::vector<std::uint8_t> echoReply(bool v6, std::uint16_t id, std::uint16_t seq,
                                    std::vector<std::uint8_t> payload) {
  std::vector<std::uint8_t> reply = makeEchoRequest(v6, id, seq, payload);
  reply[0] = v6 ? 129 : 0;
  return reply;
}

TEST(IcmpWireTest, OnlyOurEchoReplyCounts) {
  const std::vector<std::uint8_t> payload = {9, 8, 7, 6};
  for (const bool v6 : {false, true}) {
    const EchoExpectation e{v6, false, 0x1234, 42, payload};
    const auto ours = judgeEchoReply(echoReply(v6, 0x1234, 42, payload), e);
    ASSERT_TRUE(ours.has_value());
    EXPECT_TRUE(ours->ok);
    EXPECT_EQ(ours->reason, "echo reply");
    EXPECT_FALSE(judgeEchoReply(echoReply(v6, 0x1235, 42, payload), e)) << "another identifier";
    EXPECT_FALSE(judgeEchoReply(echoReply(v6, 0x1234, 41, payload), e)) << "another sequence";
    EXPECT_FALSE(judgeEchoReply(makeEchoRequest(v6, 0x1234, 42, payload), e)) << "our request";
    EXPECT_FALSE(judgeEchoReply(std::vector<std::uint8_t>{0, 0, 0}, e)) << "too short";
    const auto other = judgeEchoReply(echoReply(v6, 0x1234, 42, {1, 2, 3, 4}), e);
    ASSERT_TRUE(other.has_value());
    EXPECT_FALSE(other->ok);
    EXPECT_EQ(other->reason, "echo reply with another payload");
  }
}

TEST(IcmpWireTest, RawIpv4ReplyAndAnUnreachableQuotingOurRequest) {
  const std::vector<std::uint8_t> payload = {5, 5};
  const EchoExpectation e{false, true, 7, 9, payload};
  const std::vector<std::uint8_t> ipHeader = {0x45, 0, 0,   0,  0, 0,  0,   0,  64, 1,
                                              0,    0, 198, 18, 0, 11, 198, 18, 0,  1};
  std::vector<std::uint8_t> packet = ipHeader;
  const auto reply = echoReply(false, 7, 9, payload);
  packet.insert(packet.end(), reply.begin(), reply.end());
  ASSERT_TRUE(judgeEchoReply(packet, e).has_value());
  EXPECT_TRUE(judgeEchoReply(packet, e)->ok);
  // Host unreachable from a router: outer IP header, ICMP 3/1, then our IP header and request.
  std::vector<std::uint8_t> error = ipHeader;
  const std::vector<std::uint8_t> unreachable = {3, 1, 0, 0, 0, 0, 0, 0};
  error.insert(error.end(), unreachable.begin(), unreachable.end());
  error.insert(error.end(), ipHeader.begin(), ipHeader.end());
  const auto request = makeEchoRequest(false, 7, 9, payload);
  error.insert(error.end(), request.begin(), request.end());
  const auto judged = judgeEchoReply(error, e);
  ASSERT_TRUE(judged.has_value());
  EXPECT_FALSE(judged->ok);
  EXPECT_EQ(judged->reason, "host unreachable");
  // The same error about someone else's echo is not ours.
  error[error.size() - request.size() + 6] ^= 1;
  EXPECT_FALSE(judgeEchoReply(error, e).has_value());
}

}  // namespace
}  // namespace quorate::server::check
