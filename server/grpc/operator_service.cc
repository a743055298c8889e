// The operator API: each call runs on the host's thread and finishes from there.
#include "server/grpc/operator_service.h"

namespace quorate::server {
namespace {

grpc::StatusCode codeOf(StepDownResult::Code c) {
  switch (c) {
    case StepDownResult::Code::kOk:
      return grpc::StatusCode::OK;
    case StepDownResult::Code::kNoSuchLease:
      return grpc::StatusCode::NOT_FOUND;
    case StepDownResult::Code::kNotHolder:
    case StepDownResult::Code::kPeerUnreachable:
      return grpc::StatusCode::FAILED_PRECONDITION;
  }
  return grpc::StatusCode::INTERNAL;
}

}  // namespace

OperatorService::OperatorService(LeaseHost& host, StatusWatchers& watchers, Post post,
                                 std::function<v1::StatusReply()> current)
    : host_(host), watchers_(watchers), post_(std::move(post)), current_(std::move(current)) {}

grpc::ServerUnaryReactor* OperatorService::Status(grpc::CallbackServerContext* ctx,
                                                  const v1::StatusRequest*,
                                                  v1::StatusReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  post_([this, reactor, reply] {
    *reply = current_();
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerWriteReactor<v1::StatusReply>* OperatorService::WatchStatus(
    grpc::CallbackServerContext*, const v1::StatusRequest*) {
  return new StatusWatcher(watchers_);
}

grpc::ServerUnaryReactor* OperatorService::StepDown(grpc::CallbackServerContext* ctx,
                                                    const v1::StepDownRequest* req,
                                                    v1::StepDownReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  // A week: a maintenance hold, not a way to disable preemption for good.
  constexpr std::uint64_t kMaxHoldMs = 7ull * 24 * 3600 * 1000;
  if (req->hold_ms() > kMaxHoldMs) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "hold_ms " + std::to_string(req->hold_ms()) +
                                     " is longer than a week (" + std::to_string(kMaxHoldMs) +
                                     " ms)"));
    return reactor;
  }
  if (req->clear_hold() && (req->hold_ms() > 0 || req->force())) {
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "clear_hold releases nothing: give it without hold_ms or force"));
    return reactor;
  }
  post_([this, reactor, reply, force = req->force(), leaseName = req->lease(),
         hold = std::chrono::milliseconds(req->hold_ms()), clear = req->clear_hold()] {
    const auto r = host_.stepDown(force, leaseName, hold, clear);
    if (r.code != StepDownResult::Code::kOk) {
      reactor->Finish(grpc::Status(codeOf(r.code), r.why));
      return;
    }
    reply->set_released_epoch(r.releasedEpoch);
    reply->set_handed_to(r.handedTo);
    for (const auto& l : r.leases) reply->add_leases(l);
    reply->set_hold_remaining_ms(r.holdRemainingMs);
    reply->set_after_pre_release(r.afterPreRelease);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace quorate::server
