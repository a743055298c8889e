// The tcp probe (keepalived's TCP_CHECK): connect, then reset the connection.
#include "server/check/attempt.h"
#include "server/check/probes_internal.h"

namespace quorate::server::check {
namespace {

struct TcpConfig {
  Target target;
  std::chrono::milliseconds timeout;
};

class TcpAttempt final : public Attempt<Outcome> {
 public:
  using Config = TcpConfig;
  TcpAttempt(ProbeContext& ctx, std::shared_ptr<const Config> config,
             std::shared_ptr<SpareSocket> spare)
      : Attempt(ctx.io(), std::move(spare)),
        config_(std::move(config)),
        socket_(takeSocket(ctx.io())) {}

  void run(Done done) {
    arm(std::move(done), config_->timeout);
    connect(socket_, config_->target,
            [self = std::static_pointer_cast<TcpAttempt>(shared_from_this())] {
              self->finish(Outcome{true, "connected", {}});  // resets the connection
            });
  }

 private:
  void closeSocket(bool keep) override { endSocket(socket_, keep); }

  std::shared_ptr<const Config> config_;
  tcp::socket socket_;
};

}  // namespace

std::unique_ptr<Probe> makeTcpProbe(const Target& target, std::chrono::milliseconds timeout,
                                    ProbeContext& ctx) {
  return std::make_unique<AttemptRunner<Probe, TcpAttempt>>(
      ctx, std::make_shared<const TcpConfig>(TcpConfig{target, timeout}));
}

}  // namespace quorate::server::check
