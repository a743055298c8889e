// The operator API (Status, WatchStatus, StepDown) over the lease host.
#pragma once

#include <functional>

#include "quorate/v1/quorate.grpc.pb.h"
#include "server/grpc/status_watcher.h"
#include "server/lease_host.h"

namespace quorate::server {

class OperatorService final : public v1::Director::CallbackService {
 public:
  // Runs a task on the host's thread.
  using Post = std::function<void(std::function<void()>)>;
  // `current` builds the status now; called on the host's thread.
  OperatorService(LeaseHost& host, StatusWatchers& watchers, Post post,
                  std::function<v1::StatusReply()> current);

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx, const v1::StatusRequest*,
                                   v1::StatusReply* reply) override;
  grpc::ServerWriteReactor<v1::StatusReply>* WatchStatus(grpc::CallbackServerContext*,
                                                         const v1::StatusRequest*) override;
  grpc::ServerUnaryReactor* StepDown(grpc::CallbackServerContext* ctx,
                                     const v1::StepDownRequest* req,
                                     v1::StepDownReply* reply) override;

 private:
  LeaseHost& host_;
  StatusWatchers& watchers_;
  Post post_;
  std::function<v1::StatusReply()> current_;
};

}  // namespace quorate::server
