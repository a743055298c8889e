// The smtp probe (keepalived's SMTP_CHECK): the 220 banner, HELO answered 250, QUIT. The reply
// parsing is smtp_reply.h's.
#include <boost/asio/buffer.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <string_view>

#include "server/check/attempt.h"
#include "server/check/probes_internal.h"
#include "server/check/smtp_reply.h"

namespace quorate::server::check {
namespace {

constexpr std::size_t kMaxSmtpLine = 4096;

struct SmtpConfig {
  Target target;
  std::chrono::milliseconds timeout;
  std::string helo;  // "HELO name\r\n"
};

class SmtpAttempt final : public TcpAttempt<SmtpConfig> {
 public:
  using TcpAttempt::TcpAttempt;

  void run(Done done) {
    arm(std::move(done), config_->timeout);
    connect(socket_, config_->target, [self = self()] {
      self->waiting("timeout waiting for the banner");
      self->readReply(&SmtpAttempt::onBanner, "the banner");
    });
  }

 private:
  using OnReply = void (SmtpAttempt::*)(int code);

  std::shared_ptr<SmtpAttempt> self() {
    return std::static_pointer_cast<SmtpAttempt>(shared_from_this());
  }

  // Reads one reply, all its lines ("220-first", "220 last"), and hands its code to `next`.
  void readReply(OnReply next, const char* what) {
    asio::async_read_until(socket_, asio::dynamic_buffer(input_, kMaxSmtpLine), '\n',
                           [self = self(), next, what](const error_code& ec, std::size_t) {
                             if (self->over()) return;
                             if (ec == asio::error::eof) {
                               return self->fail(std::string("connection closed before ") + what);
                             }
                             if (ec == asio::error::not_found)
                               return self->fail("SMTP reply line too long");
                             if (ec) return self->fail(errorReason(ec));
                             const SmtpScan scan = scanSmtpReply(self->input_);
                             if (scan.state == SmtpScan::State::kBad) {
                               return self->fail(std::string("bad SMTP reply to ") + what);
                             }
                             self->input_.erase(0, scan.consumed);
                             if (scan.state == SmtpScan::State::kIncomplete)
                               return self->readReply(next, what);
                             ((*self).*next)(scan.code);
                           });
  }

  void onBanner(int code) {
    if (code != 220) return fail("banner " + std::to_string(code));
    waiting("timeout waiting for the HELO reply");
    asio::async_write(socket_, asio::buffer(config_->helo),
                      [self = self()](const error_code& ec, std::size_t) {
                        if (self->over()) return;
                        if (ec) return self->fail(errorReason(ec));
                        self->readReply(&SmtpAttempt::onHelo, "the HELO reply");
                      });
  }

  void onHelo(int code) {
    if (code != 250) return fail("HELO answered " + std::to_string(code));
    static constexpr std::string_view kQuit = "QUIT\r\n";
    // The server is healthy whatever becomes of the QUIT; its 221 is not waited for.
    asio::async_write(socket_, asio::buffer(kQuit.data(), kQuit.size()),
                      [self = self()](const error_code&, std::size_t) {
                        self->finish(Outcome{true, "banner 220, HELO 250", {}});
                      });
  }

  std::string input_;
};

}  // namespace

std::unique_ptr<Probe> makeSmtpProbe(const SmtpSpec& spec, const Target& target,
                                     std::chrono::milliseconds timeout, ProbeContext& ctx) {
  return std::make_unique<AttemptRunner<Probe, SmtpAttempt>>(
      ctx, std::make_shared<const SmtpConfig>(
               SmtpConfig{target, timeout, "HELO " + spec.helo + "\r\n"}));
}

}  // namespace quorate::server::check
