// The Director RPCs of quoratectl: deadlines, cancellation and the watch stream.
#include "client/director_client.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>

namespace quorate::client {
namespace {

// How often the connection wait of watch looks at the canceller.
constexpr std::chrono::milliseconds kCancelCheck{50};

}  // namespace

DirectorClient::DirectorClient(const Endpoint& endpoint, std::chrono::milliseconds timeout,
                               CallCanceller* canceller,
                               std::shared_ptr<grpc::ChannelCredentials> credentials)
    : target_(endpoint.target()), timeout_(timeout), canceller_(canceller) {
  grpc::ChannelArguments args;
  // Directors are dialled directly on the management network, never via a proxy.
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  if (!credentials) credentials = grpc::InsecureChannelCredentials();
  channel_ = grpc::CreateCustomChannel(target_, credentials, args);
  stub_ = quorate::v1::Director::NewStub(channel_);
}

grpc::Status DirectorClient::status(quorate::v1::StatusReply* reply) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout_);
  CallCanceller::Attach attach(canceller_, &context);
  return stub_->Status(&context, quorate::v1::StatusRequest(), reply);
}

grpc::Status DirectorClient::arbiterStatus(quorate::v1::ArbiterStatusReply* reply) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout_);
  CallCanceller::Attach attach(canceller_, &context);
  return quorate::v1::ArbiterOperator::NewStub(channel_)->Status(
      &context, quorate::v1::ArbiterStatusRequest(), reply);
}

grpc::Status DirectorClient::stepDown(bool force, const std::string& lease,
                                      quorate::v1::StepDownReply* reply, std::uint64_t holdMs,
                                      bool clearHold) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout_);
  CallCanceller::Attach attach(canceller_, &context);
  quorate::v1::StepDownRequest request;
  request.set_force(force);
  request.set_lease(lease);
  request.set_hold_ms(holdMs);
  request.set_clear_hold(clearHold);
  return stub_->StepDown(&context, request, reply);
}

grpc::Status DirectorClient::reload(quorate::v1::ReloadReply* reply) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout_);
  CallCanceller::Attach attach(canceller_, &context);
  return stub_->Reload(&context, quorate::v1::ReloadRequest(), reply);
}

grpc::Status DirectorClient::ipvsTable(quorate::v1::IpvsTableReply* reply) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout_);
  CallCanceller::Attach attach(canceller_, &context);
  return stub_->IpvsTable(&context, quorate::v1::IpvsTableRequest(), reply);
}

grpc::Status DirectorClient::drain(bool drain, const std::string& virtualServer,
                                   const std::string& realServer, quorate::v1::DrainReply* reply) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout_);
  CallCanceller::Attach attach(canceller_, &context);
  quorate::v1::DrainRequest request;
  request.set_virtual_server(virtualServer);
  request.set_real_server(realServer);
  return drain ? stub_->Drain(&context, request, reply) : stub_->Enable(&context, request, reply);
}

grpc::Status DirectorClient::waitForChannel() {
  const auto deadline = std::chrono::system_clock::now() + timeout_;
  grpc_connectivity_state state = channel_->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY && state != GRPC_CHANNEL_TRANSIENT_FAILURE) {
    if (canceller_ != nullptr && canceller_->cancelled()) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "interrupted");
    }
    const auto now = std::chrono::system_clock::now();
    if (now >= deadline) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          "no connection within " + std::to_string(timeout_.count()) + " ms");
    }
    channel_->WaitForStateChange(state, std::min(deadline, now + kCancelCheck));
    state = channel_->GetState(/*try_to_connect=*/true);
  }
  return grpc::Status::OK;
}

grpc::Status DirectorClient::watch(const UpdateFn& onUpdate) {
  if (grpc::Status ready = waitForChannel(); !ready.ok()) return ready;

  // No deadline: the stream lives until it ends, is stopped or is interrupted.
  grpc::ClientContext context;
  CallCanceller::Attach attach(canceller_, &context);
  std::unique_ptr<grpc::ClientReader<quorate::v1::StatusReply>> reader =
      stub_->WatchStatus(&context, quorate::v1::StatusRequest());
  quorate::v1::StatusReply update;
  bool stopped = false;
  while (reader->Read(&update)) {
    if (!onUpdate(update)) {
      stopped = true;
      context.TryCancel();
      break;
    }
  }
  grpc::Status finished = reader->Finish();
  if (stopped) return grpc::Status::OK;
  return finished;
}

}  // namespace quorate::client
