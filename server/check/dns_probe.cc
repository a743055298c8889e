// The dns probe (keepalived's DNS_CHECK): one query over UDP, the reply with our id judged by
// dns_wire.h.
#include <array>
#include <boost/asio/buffer.hpp>
#include <random>
#include <vector>

#include "server/check/attempt.h"
#include "server/check/dns_wire.h"
#include "server/check/probes_internal.h"

namespace quorate::server::check {
namespace {

constexpr std::size_t kMaxDnsReply = 4096;  // no EDNS in the query: replies are <= 512 bytes

struct DnsConfig {
  Target target;
  std::chrono::milliseconds timeout;
  DnsQuery query;  // id 0, filled in per attempt; with an error, every attempt fails so
  std::uint16_t type = 0;
};

std::uint16_t randomId() {
  static thread_local std::mt19937 generator{std::random_device{}()};
  return static_cast<std::uint16_t>(generator());
}

class DnsAttempt final : public Attempt<Outcome> {
 public:
  using Config = DnsConfig;
  DnsAttempt(ProbeContext& ctx, std::shared_ptr<const Config> config,
             std::shared_ptr<SpareSocket> /*unused: UDP*/)
      : Attempt(ctx.io(), nullptr), config_(std::move(config)), socket_(ctx.io()) {}

  void run(Done done) {
    arm(std::move(done), config_->timeout);
    if (!config_->query.error.empty()) return failSoon(config_->query.error);
    if (Status opened = openSocket(socket_, config_->target); !opened) {
      return failSoon(cannot(opened));
    }
    // Connected: the kernel drops datagrams from anyone else, and a closed port's ICMP error
    // fails the receive at once ("connection refused").
    if (Status connected = connectDatagram(socket_, config_->target); !connected) {
      return failSoon(errnoReason(connected.err()));
    }
    query_ = config_->query.bytes;
    id_ = randomId();
    setDnsId(query_, id_);
    waiting("timeout waiting for the reply");
    socket_.async_send(asio::buffer(query_), [self = self()](const error_code& e, std::size_t) {
      if (self->over()) return;
      if (e) return self->fail(errorReason(e));
      self->receive();
    });
  }

 private:
  std::shared_ptr<DnsAttempt> self() {
    return std::static_pointer_cast<DnsAttempt>(shared_from_this());
  }

  void receive() {
    socket_.async_receive(asio::buffer(reply_), [self = self()](const error_code& ec,
                                                                std::size_t size) {
      if (self->over()) return;
      if (ec) return self->fail(errorReason(ec));
      std::optional<Outcome> outcome = judgeDnsReply(
          std::span<const std::uint8_t>(self->reply_.data(), size), self->id_, self->config_->type);
      if (!outcome) return self->receive();  // not ours: keep waiting
      self->finish(std::move(*outcome));
    });
  }

  void closeSocket(bool) override {
    error_code ignored;
    socket_.close(ignored);
  }

  std::shared_ptr<const Config> config_;
  udp::socket socket_;
  std::vector<std::uint8_t> query_;
  std::uint16_t id_ = 0;
  std::array<std::uint8_t, kMaxDnsReply> reply_;
};

}  // namespace

std::unique_ptr<Probe> makeDnsProbe(const DnsSpec& spec, const Target& target,
                                    std::chrono::milliseconds timeout, ProbeContext& ctx) {
  auto config = std::make_shared<DnsConfig>();
  config->target = target;
  config->timeout = timeout;
  config->type = spec.type;
  config->query = makeDnsQuery(spec.name, spec.type);
  return std::make_unique<AttemptRunner<Probe, DnsAttempt>>(ctx, std::move(config));
}

}  // namespace quorate::server::check
