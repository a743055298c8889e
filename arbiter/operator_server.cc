// The arbiter's status API endpoint: its own gRPC server, fed by a Unix socket listener.
#include "arbiter/operator_server.h"

#include <chrono>

namespace quorate::arbiter {
namespace {

// Status calls are tiny and rare: a few connections (a monitoring agent and an operator or two)
// are plenty, and a client that loops cannot hold more than this.
constexpr int kMaxConnections = 16;

}  // namespace

OperatorEndpoint::OperatorEndpoint(const ArbiterOperatorConfig& config,
                                   const ArbiterService& service, ArbiterService::Clock clock)
    : service_(service, std::move(clock)),
      listener_(config.socket, config.group, kMaxConnections) {}

Result<std::unique_ptr<OperatorEndpoint>> OperatorEndpoint::start(
    const ArbiterOperatorConfig& config, const ArbiterService& service,
    ArbiterService::Clock clock) {
  std::unique_ptr<OperatorEndpoint> e(new OperatorEndpoint(config, service, std::move(clock)));
  if (const Status st = e->listener_.open(); !st) return st;
  grpc::ServerBuilder b;
  b.SetMaxReceiveMessageSize(4 << 10);  // a status request is empty
  b.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 4);
  b.RegisterService(&e->service_);
  e->server_ = b.BuildAndStart();
  if (!e->server_) return Status::fail(0, "cannot start the operator API's gRPC server");
  e->listener_.start(e->server_.get());
  return e;
}

OperatorEndpoint::~OperatorEndpoint() {
  listener_.stop();
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
}

}  // namespace quorate::arbiter
