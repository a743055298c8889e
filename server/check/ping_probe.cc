// The ping probe (keepalived's PING_CHECK): one ICMP or ICMPv6 echo request on the socket of
// icmp_socket.h, and the echo reply with our identifier, sequence and payload, judged by
// icmp_wire.h. A fresh socket each attempt: nothing to keep, as the exchange is one datagram.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/generic/raw_protocol.hpp>
#include <cerrno>
#include <random>
#include <vector>

#include "server/check/attempt.h"
#include "server/check/icmp_socket.h"
#include "server/check/icmp_wire.h"
#include "server/check/probes_internal.h"

namespace quorate::server::check {
namespace {

constexpr std::size_t kPayloadBytes = 16;
constexpr std::size_t kMaxPacket = 1500;  // an error quotes at most this much of our request

struct PingConfig {
  Target target;
  std::chrono::milliseconds timeout;
};

class PingAttempt final : public Attempt<Outcome> {
 public:
  using Config = PingConfig;
  PingAttempt(ProbeContext& ctx, std::shared_ptr<const Config> config,
              std::shared_ptr<SpareSocket> /*unused: one datagram*/)
      : Attempt(ctx.io(), nullptr), config_(std::move(config)), socket_(ctx.io()) {}

  void run(Done done) {
    arm(std::move(done), config_->timeout);
    const net::IpAddress& to = config_->target.address;
    Result<IcmpSocket> opened = openIcmpSocket(to, config_->target.bindTo);
    if (!opened) return failSoon(cannot(opened.status()));
    const IcmpSocket& s = *opened;
    const bool v6 = to.isV6();
    error_code ec;
    socket_.assign(asio::generic::raw_protocol(v6 ? AF_INET6 : AF_INET,
                                               v6 ? int{IPPROTO_ICMPV6} : int{IPPROTO_ICMP}),
                   s.fd, ec);
    if (ec) {
      ::close(s.fd);
      return failSoon(errorReason(ec));
    }
    static thread_local std::mt19937 generator{std::random_device{}()};
    for (std::uint8_t& byte : payload_) byte = static_cast<std::uint8_t>(generator());
    expected_.v6 = v6;
    expected_.ipHeader = s.raw && !v6;
    expected_.id = s.id.value_or(static_cast<std::uint16_t>(generator()));
    expected_.sequence = static_cast<std::uint16_t>(generator());
    expected_.payload = payload_;
    const std::vector<std::uint8_t> request =
        makeEchoRequest(v6, expected_.id, expected_.sequence, payload_);
    // One datagram on a fresh socket: its send buffer is empty, so this never waits.
    if (::send(s.fd, request.data(), request.size(), 0) < 0) {
      return failSoon(errnoReason(errno));
    }
    waiting("timeout waiting for the reply");
    receive();
  }

 private:
  std::shared_ptr<PingAttempt> self() {
    return std::static_pointer_cast<PingAttempt>(shared_from_this());
  }

  void receive() {
    socket_.async_wait(asio::socket_base::wait_read, [self = self()](const error_code& ec) {
      if (self->over()) return;
      if (ec) return self->fail(errorReason(ec));
      // Every queued packet: a raw socket also gets other programs' echo replies.
      for (;;) {
        const ssize_t got = ::recv(self->socket_.native_handle(), self->packet_.data(),
                                   self->packet_.size(), MSG_DONTWAIT);
        if (got < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
          return self->fail(errnoReason(errno));  // a ping socket's unreachable
        }
        const std::span<const std::uint8_t> packet(self->packet_.data(),
                                                   static_cast<std::size_t>(got));
        if (auto outcome = judgeEchoReply(packet, self->expected_)) {
          return self->finish(std::move(*outcome));
        }
      }
      self->receive();
    });
  }

  void closeSocket(bool) override {
    error_code ignored;
    socket_.close(ignored);
  }

  std::shared_ptr<const Config> config_;
  asio::generic::raw_protocol::socket socket_;
  std::array<std::uint8_t, kPayloadBytes> payload_{};
  EchoExpectation expected_;
  std::array<std::uint8_t, kMaxPacket> packet_{};
};

}  // namespace

std::unique_ptr<Probe> makePingProbe(const Target& target, std::chrono::milliseconds timeout,
                                     ProbeContext& ctx) {
  return std::make_unique<AttemptRunner<Probe, PingAttempt>>(
      ctx, std::make_shared<const PingConfig>(PingConfig{target, timeout}));
}

}  // namespace quorate::server::check
