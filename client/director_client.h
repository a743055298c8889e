// quoratectl's calls to a director's operator API, over the gRPC sync client.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "client/endpoint.h"
#include "client/interrupt.h"
#include "quorate/v1/quorate.grpc.pb.h"

namespace quorate::client {

inline constexpr std::chrono::milliseconds kDefaultTimeout{2000};

class DirectorClient {
 public:
  // Creates the channel; nothing is dialled until the first call. `timeout` bounds
  // each unary call and, for watch, the wait for a connection. `canceller` (may be
  // null) cancels the call in flight.
  // `credentials` null: insecure (a Unix socket).
  DirectorClient(const Endpoint& endpoint, std::chrono::milliseconds timeout,
                 CallCanceller* canceller = nullptr,
                 std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);

  grpc::Status status(quorate::v1::StatusReply* reply);
  // The arbiter's status, on the same endpoint (an arbiter's operator socket).
  grpc::Status arbiterStatus(quorate::v1::ArbiterStatusReply* reply);
  // Releases `lease`, or every lease the director holds when `lease` is empty.
  // FAILED_PRECONDITION when the director does not hold it (or holds none); NOT_FOUND
  // when the director has no lease of that name.
  grpc::Status stepDown(bool force, const std::string& lease, quorate::v1::StepDownReply* reply,
                        std::uint64_t holdMs = 0, bool clearHold = false);

  // Asks the director to re-read its configuration file. OK whether it was applied or refused
  // (the reply says which, and why); PERMISSION_DENIED without the admin role.
  grpc::Status reload(quorate::v1::ReloadReply* reply);

  // The kernel's IPVS table with its counters (reader role).
  grpc::Status ipvsTable(quorate::v1::IpvsTableReply* reply);
  // Drains (`drain`) or enables a real server of a virtual server (admin role).
  grpc::Status drain(bool drain, const std::string& virtualServer, const std::string& realServer,
                     quorate::v1::DrainReply* reply);

  // Called for each update; return false to stop watching.
  using UpdateFn = std::function<bool(const quorate::v1::StatusReply&)>;
  // Streams WatchStatus into `onUpdate`. OK when the server ended the stream or
  // `onUpdate` stopped it; CANCELLED when the canceller fired; otherwise the
  // error that broke the stream or kept it from starting.
  grpc::Status watch(const UpdateFn& onUpdate);

  const std::string& target() const { return target_; }

 private:
  // Waits up to the timeout until the channel is connected or has failed to
  // connect (the fail-fast call that follows then reports why).
  grpc::Status waitForChannel();

  std::string target_;
  std::chrono::milliseconds timeout_;
  CallCanceller* canceller_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<quorate::v1::Director::Stub> stub_;
};

}  // namespace quorate::client
