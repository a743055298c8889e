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

// OK when the request's cluster and sender are what the client's certificate names.
grpc::Status checkSender(const grpc::CallbackServerContext& ctx, const v1::ExchangeRequest& req,
                         bool skipIdentityCheck) {
  const auto auth = ctx.auth_context();
  auto id = auth ? tls::peerIdentity(*auth) : Result<tls::Identity>(Status::fail(0, "no TLS"));
  if (!id) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "client certificate: " + id.status().what());
  }
  if (skipIdentityCheck) return grpc::Status::OK;
  const auto claimed =
      tls::Identity::director(req.cluster().substr(0, 64), req.from_name().substr(0, 64));
  if (!(*id == claimed)) {
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        "the client certificate is " + id->uri() + ", but the request is from " + claimed.uri());
  }
  return grpc::Status::OK;
}

}  // namespace

PeerService::PeerService(LeaseHost& host, std::string cluster, std::string secret, Post post)
    : host_(host),
      cluster_(std::move(cluster)),
      secret_(std::move(secret)),
      post_(std::move(post)) {}

grpc::ServerUnaryReactor* PeerService::Exchange(grpc::CallbackServerContext* ctx,
                                                const v1::ExchangeRequest* req,
                                                v1::ExchangeReply* reply) {
  auto* reactor = ctx->DefaultReactor();
  if (tls_) {
    if (auto s = checkSender(*ctx, *req, skipIdentityCheck_); !s.ok()) {
      host_.counters().rejectedRequests.fetch_add(1, std::memory_order_relaxed);
      // A misconfigured or hostile peer asks several times a second: one line per 10 s.
      const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
      auto last = lastRefusalLog_.load(std::memory_order_relaxed);
      if (now - last >= std::chrono::nanoseconds(std::chrono::seconds(10)).count() &&
          lastRefusalLog_.compare_exchange_strong(last, now)) {
        spdlog::error("refused a peer request: {}", s.error_message());
      }
      reactor->Finish(s);
      return reactor;
    }
  }
  exchange(*req, [reactor, reply](grpc::Status s, std::vector<lease::Message> messages) {
    for (const auto& m : messages) toProto(m, *reply->add_messages());
    reactor->Finish(s);
  });
  return reactor;
}

void PeerService::exchange(const v1::ExchangeRequest& req,
                           std::function<void(grpc::Status, std::vector<lease::Message>)> done) {
  auto refuse = [&](grpc::Status s) {
    host_.counters().rejectedRequests.fetch_add(1, std::memory_order_relaxed);
    done(std::move(s), {});
  };
  if (auto s = authenticatePeer(req.cluster(), req.secret(), cluster_, secret_); !s.ok()) {
    return refuse(std::move(s));
  }
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
  post_([this, i = *i, m, done = std::move(done)] {
    std::vector<lease::Message> reply;
    host_.receive(i, m, &reply);
    done(grpc::Status::OK, std::move(reply));
  });
}

}  // namespace quorate::server
