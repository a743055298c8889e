// A fake Director service on 127.0.0.1:<ephemeral port> for quoratectl's gRPC tests.
#pragma once

#include <grpcpp/server.h>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "quorate/v1/quorate.grpc.pb.h"

namespace quorate::client::testing {

// The reply every Status call gets: cluster demo, alpha holding epoch 7.
quorate::v1::StatusReply cannedStatus();

class FakeDirector final : public quorate::v1::Director::Service {
 public:
  enum class WatchMode {
    kThreeThenEnd,  // three updates (versions 1, 2, 3), then the stream ends OK
    kOneThenBreak,  // one update, then UNAVAILABLE "director shutting down"
    kOneThenHold,   // one update, then holds the stream until release()
  };

  // StepDown: holder → {7, "beta"}; otherwise FAILED_PRECONDITION.
  bool holder = true;
  // Empty: an old-style director whose StepDown reply names no lease. Otherwise the
  // leases it holds: StepDown names the requested one (NOT_FOUND if not listed), or all.
  std::vector<std::string> leaseNames;
  WatchMode watchMode = WatchMode::kThreeThenEnd;
  bool holdStatus = false;             // Status blocks until release()
  std::function<void()> onStatusCall;  // if set, runs as each Status call arrives

  // Lets held calls return; ~FakeServer calls it too.
  void release();
  bool lastForce() const;
  std::string lastLease() const;

  grpc::Status Status(grpc::ServerContext* context, const quorate::v1::StatusRequest* request,
                      quorate::v1::StatusReply* reply) override;
  grpc::Status WatchStatus(grpc::ServerContext* context, const quorate::v1::StatusRequest* request,
                           grpc::ServerWriter<quorate::v1::StatusReply>* writer) override;
  grpc::Status StepDown(grpc::ServerContext* context, const quorate::v1::StepDownRequest* request,
                        quorate::v1::StepDownReply* reply) override;

 private:
  void waitForRelease();

  mutable std::mutex mu_;
  std::condition_variable released_cv_;
  bool released_ = false;
  bool last_force_ = false;
  std::string last_lease_;
};

// Runs `service` on 127.0.0.1 with a port picked by the kernel.
class FakeServer {
 public:
  explicit FakeServer(FakeDirector* service);
  ~FakeServer();
  int port() const { return port_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  FakeDirector* service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace quorate::client::testing
