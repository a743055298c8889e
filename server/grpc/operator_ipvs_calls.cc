// The operator API's IPVS calls: IpvsTable (reader), Drain and Enable (admin, audited).
#include <cerrno>

#include "common/yaml_config.h"
#include "server/grpc/operator_service.h"

namespace quorate::server {
namespace {

// Operator input in a log line or a refusal: bounded, control characters escaped. The cut is
// at a character's start: half a UTF-8 character makes the audit's JSON throw, and gRPC then
// answers UNIMPLEMENTED with nothing audited.
std::string shown(const std::string& text) {
  constexpr std::size_t kMax = 200;
  if (text.size() <= kMax) return config::escapeControl(text);
  std::size_t cut = kMax;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return config::escapeControl(text.substr(0, cut)) + "...";
}

}  // namespace

grpc::ServerUnaryReactor* OperatorService::IpvsTable(grpc::CallbackServerContext* ctx,
                                                     const v1::IpvsTableRequest*,
                                                     v1::IpvsTableReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  if (auto refused = refusal(identify_(*ctx), "IpvsTable", nlohmann::json::object())) {
    reactor->Finish(*refused);
    return reactor;
  }
  if (!ipvsTable_) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "this director cannot read IPVS"));
    return reactor;
  }
  // On gRPC's thread: the read waits for the loop thread, which must never wait for it.
  const auto table = ipvsTable_();
  if (!table) {
    reactor->Finish(grpc::Status(codeOfErrno(table.status().err()), table.status().what()));
    return reactor;
  }
  ipvsTableToProto(*table, reply);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* OperatorService::Drain(grpc::CallbackServerContext* ctx,
                                                 const v1::DrainRequest* req,
                                                 v1::DrainReply* reply) {
  return changeDrain(ctx, req, reply, true);
}

grpc::ServerUnaryReactor* OperatorService::Enable(grpc::CallbackServerContext* ctx,
                                                  const v1::DrainRequest* req,
                                                  v1::DrainReply* reply) {
  return changeDrain(ctx, req, reply, false);
}

grpc::ServerUnaryReactor* OperatorService::changeDrain(grpc::CallbackServerContext* ctx,
                                                       const v1::DrainRequest* req,
                                                       v1::DrainReply* reply, bool drain) {
  auto* reactor = ctx->DefaultReactor();
  const Caller caller = identify_(*ctx);
  const char* method = drain ? "Drain" : "Enable";
  const nlohmann::json args = {{"virtual_server", shown(req->virtual_server())},
                               {"real_server", shown(req->real_server())}};
  if (auto refused = refusal(caller, method, args)) {
    reactor->Finish(*refused);
    return reactor;
  }
  if (!drain_) {
    audit(caller, method, args, "this director cannot drain", false);
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "this director cannot drain"));
    return reactor;
  }
  // On gRPC's thread: the state file is written (fsync) before the kernel changes.
  const auto r = drain_(req->virtual_server(), req->real_server(), drain);
  if (!r) {
    const std::string why =
        r.status().err() == ENOENT || r.status().err() == EINVAL || r.status().err() == ENOTSUP
            ? r.status().what()
            : r.status().message();
    audit(caller, method, args, why, false);
    reactor->Finish(grpc::Status(codeOfErrno(r.status().err()), why));
    return reactor;
  }
  const std::string what = r->key.toString();
  audit(caller, method, args,
        r->changed ? (drain ? "drained " : "enabled ") + what
                   : what + (drain ? " was drained already" : " was not drained"),
        true);
  drainToProto(*r, reply);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace quorate::server
