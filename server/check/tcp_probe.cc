// The tcp probe (keepalived's TCP_CHECK): connect, then reset the connection.
#include "server/check/attempt.h"
#include "server/check/probes_internal.h"

namespace quorate::server::check {
namespace {

struct TcpConfig {
  Target target;
  std::chrono::milliseconds timeout;
};

class TcpConnectAttempt final : public TcpAttempt<TcpConfig> {
 public:
  using TcpAttempt::TcpAttempt;

  void run(Done done) {
    arm(std::move(done), config_->timeout);
    connect(socket_, config_->target,
            [self = std::static_pointer_cast<TcpConnectAttempt>(shared_from_this())] {
              self->finish(Outcome{true, "connected", {}});  // resets the connection
            });
  }
};

}  // namespace

std::unique_ptr<Probe> makeTcpProbe(const Target& target, std::chrono::milliseconds timeout,
                                    ProbeContext& ctx) {
  return std::make_unique<AttemptRunner<Probe, TcpConnectAttempt>>(
      ctx, std::make_shared<const TcpConfig>(TcpConfig{target, timeout}));
}

}  // namespace quorate::server::check
