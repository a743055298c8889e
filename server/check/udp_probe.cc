// The udp probe (keepalived's UDP_CHECK): one datagram on a connected socket, then a reply
// judged by udp_reply.h, or an ICMP port unreachable (down at once), or silence, which passes
// unless the check requires a reply.
#include <array>
#include <boost/asio/buffer.hpp>
#include <optional>
#include <regex>

#include "server/check/attempt.h"
#include "server/check/probes_internal.h"
#include "server/check/udp_reply.h"

namespace quorate::server::check {
namespace {

// Replies longer than this are cut (an exact expectation is at most 1024 bytes, so a cut reply
// still never equals it).
constexpr std::size_t kMaxUdpReply = 4096;

struct UdpConfig {
  Target target;
  std::chrono::milliseconds timeout;
  UdpSpec spec;
  std::optional<std::regex> pattern;  // spec.expect compiled, for Match::kRegex
  std::string error;                  // not empty: the pattern does not compile; attempts fail so
};

class UdpAttempt final : public Attempt<Outcome> {
 public:
  using Config = UdpConfig;
  UdpAttempt(ProbeContext& ctx, std::shared_ptr<const Config> config,
             std::shared_ptr<SpareSocket> /*unused: UDP*/)
      : Attempt(ctx.io(), nullptr), config_(std::move(config)), socket_(ctx.io()) {}

  void run(Done done) {
    arm(std::move(done), config_->timeout);
    if (!config_->error.empty()) return failSoon(config_->error);
    if (Status opened = openSocket(socket_, config_->target); !opened) {
      return failSoon(cannot(opened));
    }
    // Connected: only the target's datagrams arrive, and its ICMP port unreachable fails the
    // receive at once.
    if (Status connected = connectDatagram(socket_, config_->target); !connected) {
      return failSoon(errnoReason(connected.err()));
    }
    waiting("timeout waiting for the reply");
    socket_.async_send(asio::buffer(config_->spec.payload),
                       [self = self()](const error_code& ec, std::size_t) {
                         if (self->over()) return;
                         if (ec) return self->fail(reasonOf(ec));
                         self->receive();
                       });
  }

 private:
  std::shared_ptr<UdpAttempt> self() {
    return std::static_pointer_cast<UdpAttempt>(shared_from_this());
  }
  static std::string reasonOf(const error_code& ec) {
    // What a connected UDP socket makes of an ICMP port unreachable.
    if (ec == asio::error::connection_refused) return "port unreachable";
    return errorReason(ec);
  }

  void receive() {
    socket_.async_receive(
        asio::buffer(reply_), [self = self()](const error_code& ec, std::size_t size) {
          if (self->over()) return;
          if (ec) return self->fail(reasonOf(ec));
          const std::string_view reply(reinterpret_cast<const char*>(self->reply_.data()), size);
          const std::regex* pattern = self->config_->pattern ? &*self->config_->pattern : nullptr;
          self->finish(judgeUdpReply(self->config_->spec, pattern, reply));
        });
  }

  Outcome atDeadline() override {
    if (config_->spec.requireReply) return Attempt::atDeadline();
    return Outcome{true, "no reply, no port unreachable", {}};
  }

  void closeSocket(bool) override {
    error_code ignored;
    socket_.close(ignored);
  }

  std::shared_ptr<const Config> config_;
  udp::socket socket_;
  std::array<std::uint8_t, kMaxUdpReply> reply_;
};

}  // namespace

std::unique_ptr<Probe> makeUdpProbe(const UdpSpec& spec, const Target& target,
                                    std::chrono::milliseconds timeout, ProbeContext& ctx) {
  auto config = std::make_shared<UdpConfig>();
  config->target = target;
  config->timeout = timeout;
  config->spec = spec;
  if (spec.match == UdpSpec::Match::kRegex) {
    try {
      config->pattern.emplace(spec.expect, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      config->error = std::string("bad regex: ") + e.what();  // the config check refuses these
    }
  }
  return std::make_unique<AttemptRunner<Probe, UdpAttempt>>(ctx, std::move(config));
}

}  // namespace quorate::server::check
