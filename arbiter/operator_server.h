// The arbiter's status API endpoint: its own gRPC server, fed by a Unix socket listener.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>

#include "arbiter/arbiter_service.h"
#include "arbiter/operator_config.h"
#include "arbiter/operator_service.h"
#include "common/status.h"
#include "server/grpc/operator_listener.h"

namespace quorate::arbiter {

// Apart from the peer port's server, so that the peer port never answers operator calls and the
// socket never answers peer calls.
class OperatorEndpoint {
 public:
  // Creates the socket (mode 0600, or 0660 with the group; the checks of the director's) and
  // starts serving ArbiterOperator on it. Fails naming the socket.
  static Result<std::unique_ptr<OperatorEndpoint>> start(const ArbiterOperatorConfig& config,
                                                         const ArbiterService& service,
                                                         ArbiterService::Clock clock);
  ~OperatorEndpoint();  // stops accepting, removes the socket, shuts the server down
  OperatorEndpoint(const OperatorEndpoint&) = delete;
  OperatorEndpoint& operator=(const OperatorEndpoint&) = delete;

 private:
  OperatorEndpoint(const ArbiterOperatorConfig& config, const ArbiterService& service,
                   ArbiterService::Clock clock);
  ArbiterOperatorService service_;
  server::UnixOperatorListener listener_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace quorate::arbiter
