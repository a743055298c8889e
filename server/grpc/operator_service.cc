// The operator API: each call is authorised first; state changes run on the host's thread.
#include "server/grpc/operator_service.h"

#include <spdlog/spdlog.h>

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

nlohmann::json who(const Caller& c) {
  switch (c.via) {
    case Caller::Via::kSocket:
      return {{"via", "socket"},
              {"uid", static_cast<std::int64_t>(c.uid)},
              {"gid", static_cast<std::int64_t>(c.gid)},
              {"user", c.userName},
              {"pid", static_cast<std::int64_t>(c.pid)}};
    case Caller::Via::kTls:
      return {{"via", "tls"}, {"cn", config::escapeControl(c.commonName)}};
    case Caller::Via::kUnknown:
      break;
  }
  return {{"via", "unknown"}};
}

// A refused WatchStatus: finishes before the first write.
class RefusedWatch final : public grpc::ServerWriteReactor<v1::StatusReply> {
 public:
  explicit RefusedWatch(const grpc::Status& s) { Finish(s); }
  void OnDone() override { delete this; }
};

}  // namespace

OperatorService::OperatorService(LeaseHost& host, StatusWatchers& watchers, Post post,
                                 std::function<v1::StatusReply()> current, OperatorConfig policy,
                                 Identify identify, events::EventLog* events)
    : host_(host),
      watchers_(watchers),
      post_(std::move(post)),
      current_(std::move(current)),
      policy_(std::move(policy)),
      identify_(std::move(identify)),
      events_(events) {}

std::optional<grpc::Status> OperatorService::refusal(const Caller& c, std::string_view method,
                                                     const nlohmann::json& args) {
  std::string why;
  if (allowed(roleOf(c, policy_), neededFor(method), method, c, &why)) return std::nullopt;
  spdlog::warn("operator: refused {} from {}: {}", method, c.describe(), why);
  if (events_) {
    events_->append({{"event", "operator"},
                     {"who", who(c)},
                     {"call", method},
                     {"args", args},
                     {"outcome", "refused: " + why}});
  }
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, why);
}

void OperatorService::audit(const Caller& c, std::string_view method, const nlohmann::json& args,
                            const std::string& outcome, bool ok) {
  if (ok) {
    spdlog::info("operator: {} by {} {}: {}", method, c.describe(), args.dump(), outcome);
  } else {
    spdlog::warn("operator: {} by {} {} failed: {}", method, c.describe(), args.dump(), outcome);
  }
  if (events_) {
    events_->append({{"event", "operator"},
                     {"who", who(c)},
                     {"call", method},
                     {"args", args},
                     {"outcome", ok ? "ok: " + outcome : "failed: " + outcome}});
  }
}

void ageStatus(v1::StatusReply& r, std::chrono::milliseconds age) {
  const auto ms = static_cast<std::int64_t>(age.count());
  auto less = [ms](std::int64_t v) { return v > ms ? v - ms : 0; };
  r.set_lease_remaining_ms(less(r.lease_remaining_ms()));
  for (auto& l : *r.mutable_leases()) {
    l.set_lease_remaining_ms(less(l.lease_remaining_ms()));
    l.set_hold_remaining_ms(less(l.hold_remaining_ms()));
  }
  for (auto& n : *r.mutable_nodes()) {
    if (n.last_seen_ms() >= 0) n.set_last_seen_ms(n.last_seen_ms() + ms);
  }
}

void OperatorService::invalidateStatus() {
  std::lock_guard lock(cacheMu_);
  cached_.reset();
}

std::uint64_t OperatorService::statusBuilds() const {
  std::lock_guard lock(cacheMu_);
  return builds_;
}

void OperatorService::rebuildStatus() {
  const v1::StatusReply r = current_();
  std::vector<Waiting> done;
  {
    std::lock_guard lock(cacheMu_);
    ++builds_;
    cached_ = r;
    cachedAt_ = std::chrono::steady_clock::now();
    building_ = false;
    done.swap(waiting_);
  }
  for (const auto& w : done) {
    *w.reply = r;
    w.reactor->Finish(grpc::Status::OK);
  }
}

grpc::ServerUnaryReactor* OperatorService::Status(grpc::CallbackServerContext* ctx,
                                                  const v1::StatusRequest*,
                                                  v1::StatusReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  if (auto refused = refusal(identify_(*ctx), "Status", nlohmann::json::object())) {
    reactor->Finish(*refused);
    return reactor;
  }
  {
    std::lock_guard lock(cacheMu_);
    const auto age = std::chrono::steady_clock::now() - cachedAt_;
    if (cached_ && age < kStatusMaxAge) {
      *reply = *cached_;
      ageStatus(*reply, std::chrono::duration_cast<std::chrono::milliseconds>(age));
    } else {
      waiting_.push_back({reactor, reply});
      if (building_) return reactor;
      building_ = true;
      reply = nullptr;
    }
  }
  if (reply != nullptr) {
    reactor->Finish(grpc::Status::OK);
  } else {
    post_([this] { rebuildStatus(); });
  }
  return reactor;
}

grpc::ServerWriteReactor<v1::StatusReply>* OperatorService::WatchStatus(
    grpc::CallbackServerContext* ctx, const v1::StatusRequest*) {
  if (auto refused = refusal(identify_(*ctx), "WatchStatus", nlohmann::json::object())) {
    return new RefusedWatch(*refused);
  }
  if (!watchers_.reserve()) {
    return new RefusedWatch(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        "too many WatchStatus streams open (" + std::to_string(watchers_.limit()) + ")"));
  }
  return new StatusWatcher(watchers_);
}

grpc::ServerUnaryReactor* OperatorService::StepDown(grpc::CallbackServerContext* ctx,
                                                    const v1::StepDownRequest* req,
                                                    v1::StepDownReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  const Caller caller = identify_(*ctx);
  nlohmann::json args = {{"force", req->force()},
                         {"lease", config::escapeControl(req->lease())},
                         {"hold_ms", req->hold_ms()},
                         {"clear_hold", req->clear_hold()}};
  if (auto refused = refusal(caller, "StepDown", args)) {
    reactor->Finish(*refused);
    return reactor;
  }
  // A week: a maintenance hold, not a way to disable preemption for good.
  constexpr std::uint64_t kMaxHoldMs = 7ull * 24 * 3600 * 1000;
  if (req->hold_ms() > kMaxHoldMs) {
    const std::string why = "hold_ms " + std::to_string(req->hold_ms()) +
                            " is longer than a week (" + std::to_string(kMaxHoldMs) + " ms)";
    audit(caller, "StepDown", args, why, false);
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why));
    return reactor;
  }
  if (req->clear_hold() && (req->hold_ms() > 0 || req->force())) {
    const std::string why = "clear_hold releases nothing: give it without hold_ms or force";
    audit(caller, "StepDown", args, why, false);
    reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, why));
    return reactor;
  }
  post_([this, reactor, reply, caller, args, force = req->force(), leaseName = req->lease(),
         hold = std::chrono::milliseconds(req->hold_ms()), clear = req->clear_hold()] {
    const auto r = host_.stepDown(force, leaseName, hold, clear);
    if (r.code != StepDownResult::Code::kOk) {
      audit(caller, "StepDown", args, r.why, false);
      reactor->Finish(grpc::Status(codeOf(r.code), r.why));
      return;
    }
    audit(caller, "StepDown", args,
          "released epoch " + std::to_string(r.releasedEpoch) + " to " + r.handedTo, true);
    reply->set_released_epoch(r.releasedEpoch);
    reply->set_handed_to(r.handedTo);
    for (const auto& l : r.leases) reply->add_leases(l);
    reply->set_hold_remaining_ms(r.holdRemainingMs);
    reply->set_after_pre_release(r.afterPreRelease);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* OperatorService::Reload(grpc::CallbackServerContext* ctx,
                                                  const v1::ReloadRequest*,
                                                  v1::ReloadReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  const Caller caller = identify_(*ctx);
  const nlohmann::json args = nlohmann::json::object();
  if (auto refused = refusal(caller, "Reload", args)) {
    reactor->Finish(*refused);
    return reactor;
  }
  if (!reload_) {
    audit(caller, "Reload", args, "this director cannot reload", false);
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "this director cannot reload"));
    return reactor;
  }
  // Run here, on gRPC's thread: a reload reads one file and waits for the loop thread a few
  // milliseconds; it must never run on the loop thread, which it waits for.
  *reply = reload_();
  audit(caller, "Reload", args, reply->summary(), reply->applied());
  // A refused file is an answer, not a failure of the call: the reply carries the reasons.
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace quorate::server
