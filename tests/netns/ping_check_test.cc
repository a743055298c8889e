// The ping check (PING_CHECK) between two namespaces of the test bed, IPv4 and IPv6: on a ping
// socket and on the raw-socket fallback, a host that answers, stops answering (its frames
// dropped in the switch, its link down, echo ignored) and answers again, and a responder of our
// own that answers with another identifier, sequence or payload. Root, label netns.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "netns/topology.h"
#include "server/check/icmp_socket.h"
#include "server/check/icmp_wire.h"
#include "server/check/probe.h"
#include "server/script_runner.h"

namespace quorate::netns {
namespace {

using server::check::CheckSpec;
using server::check::Outcome;
using server::check::PingSpec;
using server::check::Target;
using namespace std::chrono_literals;

constexpr Ms kAnswered{5000};  // never reached by an attempt that is answered
constexpr Ms kSilent{300};     // how long an unanswered attempt waits

const std::string kProber = "prober";
const std::string kTarget = "target";

class PingCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    TopologyOptions options;
    options.hosts = {{kProber, "198.18.0.1", "2001:db8::1"},
                     {kTarget, "198.18.0.11", "2001:db8::11"}};
    topo_ = std::make_unique<Topology>(options);
  }
  Topology& topo() { return *topo_; }
  std::string v4() const { return topo_->host(kTarget).ipv4; }
  std::string v6() const { return topo_->host(kTarget).ipv6; }

  // Whether the prober's namespace lets its processes open ping sockets (ping_group_range,
  // per namespace). Without, the check must fall back on a raw socket.
  void allowPingSockets(bool allow) {
    topo().check(kProber, std::string("sysctl -qw net.ipv4.ping_group_range='") +
                              (allow ? "0 2147483647" : "1 0") + "'");
  }
  // Whether the target's kernel answers echo requests.
  void targetAnswers(bool answers) {
    const std::string v = answers ? "0" : "1";
    topo().check(kTarget, "sysctl -qw net.ipv4.icmp_echo_ignore_all=" + v +
                              " net.ipv6.icmp.echo_ignore_all=" + v);
  }

  // One attempt of a ping check from the prober, on a thread inside its namespace (where the
  // probe opens its sockets).
  Outcome ping(const std::string& address, Ms timeout = kAnswered) {
    return topo().inHost(kProber, [&] {
      boost::asio::io_context io;
      server::ScriptRunner scripts(io);
      server::check::ProbeContext ctx(io, scripts);
      CheckSpec spec;
      spec.kind = PingSpec{};
      spec.timeout = timeout;
      auto probe =
          server::check::makeProbe(spec, Target{*net::IpAddress::parse(address), 0, {}}, ctx);
      std::optional<Outcome> outcome;
      probe->start([&](Outcome o) { outcome = std::move(o); });
      const auto giveUp = std::chrono::steady_clock::now() + 30s;
      while (!outcome && std::chrono::steady_clock::now() < giveUp) io.run_one_for(50ms);
      return outcome.value_or(Outcome{false, "the attempt never ended", {}});
    });
  }
  // Whether the prober's ping check would use a raw socket towards `address`.
  bool usesRawSocket(const std::string& address) {
    return topo().inHost(kProber, [&] {
      auto s = server::check::openIcmpSocket(*net::IpAddress::parse(address), std::nullopt);
      if (!s) throw std::runtime_error(s.status().what());
      ::close(s->fd);
      return s->raw;
    });
  }

  std::unique_ptr<Topology> topo_;
};

TEST_F(PingCheckTest, PingSocketAnswersThenStopsAnsweringIpv4AndIpv6) {
  allowPingSockets(true);
  for (const std::string& address : {v4(), v6()}) {
    EXPECT_FALSE(usesRawSocket(address));
    const Outcome answered = ping(address);
    EXPECT_TRUE(answered.ok) << address << ": " << answered.reason;
    EXPECT_EQ(answered.reason, "echo reply");
  }
  topo().block(kTarget, kProber);  // the target's replies never arrive
  for (const std::string& address : {v4(), v6()}) {
    const Outcome silent = ping(address, kSilent);
    EXPECT_FALSE(silent.ok) << address;
    EXPECT_EQ(silent.reason, "timeout waiting for the reply") << address;
  }
  topo().heal();
  for (const std::string& address : {v4(), v6()}) EXPECT_TRUE(ping(address).ok) << address;
  // The target keeps its IPv6 address while its link is down (by default the kernel drops it).
  topo().check(kTarget, "sysctl -qw net.ipv6.conf.eth0.keep_addr_on_down=1");
  topo().linkDown(kTarget);
  for (const std::string& address : {v4(), v6()}) EXPECT_FALSE(ping(address, kSilent).ok);
  topo().linkUp(kTarget);
  for (const std::string& address : {v4(), v6()}) EXPECT_TRUE(ping(address).ok) << address;
}

TEST_F(PingCheckTest, RawSocketWhenPingSocketsAreNotAllowed) {
  allowPingSockets(false);
  for (const std::string& address : {v4(), v6()}) {
    EXPECT_TRUE(usesRawSocket(address));
    const Outcome answered = ping(address);
    EXPECT_TRUE(answered.ok) << address << ": " << answered.reason;
  }
  targetAnswers(false);
  for (const std::string& address : {v4(), v6()}) {
    EXPECT_EQ(ping(address, kSilent).reason, "timeout waiting for the reply") << address;
  }
  targetAnswers(true);
  for (const std::string& address : {v4(), v6()}) EXPECT_TRUE(ping(address).ok) << address;
}

// An echo responder of our own on the target (whose kernel then ignores echo requests): a raw
// ICMP socket that answers every request, altered as told.
class Responder {
 public:
  enum class Mode { kRight, kOtherId, kOtherSequence, kOtherPayload };
  explicit Responder(const Topology& topo) {
    fd_ = topo.inHost(kTarget, [] { return ::socket(AF_INET, SOCK_RAW, IPPROTO_ICMP); });
    if (fd_ < 0) throw std::runtime_error("raw socket on the target");
    timeval tick{0, 50'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
    thread_ = std::thread([this] { serve(); });
  }
  ~Responder() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  std::atomic<Mode> mode{Mode::kRight};
  std::atomic<int> answered{0};

 private:
  void serve() {
    std::array<std::uint8_t, 1500> packet;
    while (!stop_) {
      sockaddr_in from{};
      socklen_t size = sizeof from;
      const ssize_t got = ::recvfrom(fd_, packet.data(), packet.size(), 0,
                                     reinterpret_cast<sockaddr*>(&from), &size);
      if (got < 28) continue;  // a timeout tick, or less than an IP header and an ICMP one
      const std::size_t header = static_cast<std::size_t>(packet[0] & 0x0f) * 4;
      if (header + 8 > static_cast<std::size_t>(got) || packet[header] != 8) continue;
      std::vector<std::uint8_t> reply(packet.begin() + static_cast<std::ptrdiff_t>(header),
                                      packet.begin() + got);
      reply[0] = 0;  // echo reply
      switch (mode.load()) {
        case Mode::kOtherId:
          reply[5] ^= 1;
          break;
        case Mode::kOtherSequence:
          reply[7] ^= 1;
          break;
        case Mode::kOtherPayload:
          if (reply.size() > 8) reply[8] ^= 1;
          break;
        case Mode::kRight:
          break;
      }
      reply[2] = reply[3] = 0;
      const std::uint16_t sum = server::check::internetChecksum(reply);
      reply[2] = static_cast<std::uint8_t>(sum >> 8);
      reply[3] = static_cast<std::uint8_t>(sum);
      ::sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), size);
      ++answered;
    }
  }
  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Only the reply to this attempt's request passes: a reply with another identifier or sequence
// is someone else's (on a raw socket every echo reply from the target arrives), and one with
// another payload fails. On both kinds of socket.
TEST_F(PingCheckTest, OnlyTheReplyWithOurIdentifierAndSequencePasses) {
  targetAnswers(false);
  Responder responder(topo());
  for (const bool pingSockets : {false, true}) {
    allowPingSockets(pingSockets);
    SCOPED_TRACE(pingSockets ? "ping socket" : "raw socket");
    responder.mode = Responder::Mode::kRight;
    EXPECT_EQ(ping(v4()).reason, "echo reply");
    const int before = responder.answered;
    responder.mode = Responder::Mode::kOtherId;
    EXPECT_EQ(ping(v4(), kSilent).reason, "timeout waiting for the reply");
    responder.mode = Responder::Mode::kOtherSequence;
    EXPECT_EQ(ping(v4(), kSilent).reason, "timeout waiting for the reply");
    EXPECT_EQ(responder.answered.load(), before + 2);  // the silence was not the responder's
    responder.mode = Responder::Mode::kOtherPayload;
    EXPECT_EQ(ping(v4()).reason, "echo reply with another payload");
  }
}

}  // namespace
}  // namespace quorate::netns
