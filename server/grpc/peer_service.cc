// Director side of Peer.Exchange.
#include "server/grpc/peer_service.h"

#include <spdlog/spdlog.h>

#include "common/convert.h"
#include "common/membership.h"
#include "common/peer_auth.h"
#include "common/peer_client.h"
#include "common/tls/credentials.h"

namespace quorate::server {
namespace {

// The client's identity as its certificate names it (the handshake checked the chain).
Result<tls::Identity> certifiedSender(const grpc::CallbackServerContext& ctx) {
  const auto auth = ctx.auth_context();
  return auth ? tls::peerIdentity(*auth) : Result<tls::Identity>(Status::fail(0, "no TLS"));
}

}  // namespace

PeerService::PeerService(LeaseHost& host, std::string cluster, std::vector<std::string> keys,
                         Post post)
    : host_(host), cluster_(std::move(cluster)), keys_(std::move(keys)), post_(std::move(post)) {}

grpc::ServerUnaryReactor* PeerService::Exchange(grpc::CallbackServerContext* ctx,
                                                const v1::ExchangeRequest* req,
                                                v1::ExchangeReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  std::optional<tls::Identity> certified;
  if (tls_) {
    auto id = certifiedSender(*ctx);
    if (!id) {
      host_.counters().rejectedRequests.fetch_add(1, std::memory_order_relaxed);
      logRefusal("client certificate: " + id.status().what());
      reactor->Finish(unknownCluster(req->cluster()));
      return reactor;
    }
    certified = *id;
  }
  exchange(*req, certified,
           [reactor, reply](grpc::Status s, std::vector<lease::Message> messages,
                            const std::string* key, const std::string& mac) {
             for (const auto& m : messages) toProto(m, *reply->add_messages());
             if (s.ok()) sealReply(*reply, *key, mac);
             reactor->Finish(s);
           });
  return reactor;
}

void PeerService::logRefusal(const std::string& why) {
  // A misconfigured or hostile peer asks several times a second: one line per 10 s.
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  auto last = lastRefusalLog_.load(std::memory_order_relaxed);
  if (now - last >= std::chrono::nanoseconds(std::chrono::seconds(10)).count() &&
      lastRefusalLog_.compare_exchange_strong(last, now)) {
    spdlog::error("refused a peer request: {}", why);
  }
}

void PeerService::exchange(const v1::ExchangeRequest& wire,
                           const std::optional<tls::Identity>& certified, Done done) {
  auto refuse = [&](grpc::Status s) {
    host_.counters().rejectedRequests.fetch_add(1, std::memory_order_relaxed);
    done(std::move(s), {}, nullptr, {});
  };
  if (wire.cluster() != cluster_) return refuse(unknownCluster(wire.cluster()));
  OpenedRequest opened;
  if (auto s = openRequest(wire, keys_, wallClockMicros(), opened); !s.ok()) {
    return refuse(std::move(s));
  }
  if (certified && !skipIdentityCheck_) {
    // The certificate is one of this cluster's directors (its CA); it must be the sender's own.
    if (auto s = tls::checkSender(*certified, cluster_, opened.body.from_name()); !s.ok()) {
      logRefusal(s.error_message());
      return refuse(std::move(s));
    }
  }
  // Before any other check: a replayed request must not even repeat an identity conflict.
  if (auto s = replay_.admit(cluster_, opened.body.from_name(), opened.counter); !s.ok()) {
    return refuse(std::move(s));
  }
  const v1::ExchangeRequest& req = opened.body;
  auto parsed = fromProto(req.message());
  if (!parsed) {
    return refuse(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "message." + parsed.status().what()));
  }
  const lease::Message& m = *parsed;
  if (!lease::isDirector(m.from)) {
    return refuse(
        grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "message must come from a director"));
  }
  const auto i = host_.leaseIndex(leaseOf(req));
  if (!i) {
    return refuse(
        grpc::Status(grpc::StatusCode::NOT_FOUND, "cluster \"" + cluster_ + "\" has no lease \"" +
                                                      req.lease().substr(0, 64) +
                                                      "\" here: the directors' instances differ"));
  }
  if (auto conflict = host_.identityConflict(req.membership(), req.from_name(), m)) {
    host_.counters().identityConflicts.fetch_add(1, std::memory_order_relaxed);
    // Refusing is all that safety needs while both views share the arbiter: its pin admits one
    // of them, so the other gets no majority. With another arbiter in the sender's view there
    // may be two majorities that never meet, and only stopping is safe.
    const bool stop = !sameArbiter(req.membership(), host_.membership());
    post_([this, why = *conflict, stop] { host_.noteConflict(why, stop); });
    return refuse(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, *conflict));
  }
  post_([this, i = *i, m, key = opened.key, mac = opened.mac, done = std::move(done)] {
    std::vector<lease::Message> reply;
    host_.receive(i, m, &reply);
    done(grpc::Status::OK, std::move(reply), key, mac);
  });
}

}  // namespace quorate::server
