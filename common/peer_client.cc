// Unary callback-API calls of Peer.Exchange, one per lease message.
#include "common/peer_client.h"

#include <spdlog/spdlog.h>

#include "common/convert.h"
#include "common/peer_auth.h"
#include "common/tls/credentials.h"

namespace quorate {

std::shared_ptr<grpc::Channel> makePeerChannel(
    const std::string& address, bool ownConnection,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  // gRPC also takes this as the minimum connect timeout: at 100 ms a slow handshake
  // (a loaded host, a distant arbiter) would be given up on.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  if (ownConnection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (!credentials) credentials = grpc::InsecureChannelCredentials();
  return grpc::CreateCustomChannel(address, credentials, args);
}

PeerClient::PeerClient(std::shared_ptr<grpc::Channel> channel, std::string cluster, std::string key,
                       std::string fromName, std::string membership, lease::Duration timeout)
    : stub_(v1::Peer::NewStub(std::move(channel))),
      cluster_(std::move(cluster)),
      key_(std::move(key)),
      fromName_(std::move(fromName)),
      membership_(std::move(membership)),
      timeout_(timeout) {}

namespace {
struct Call {
  grpc::ClientContext ctx;
  v1::ExchangeRequest req;
  v1::ExchangeReply resp;
  std::string key;
  std::string mac;  // of the request: the reply must be bound to it
  PeerClient::Callback done;
  std::optional<tls::Identity> expectedPeer;
};

// With TLS, whether the server of a finished call was `expected`: the handshake showed a
// certificate of the right CA, and it must also be the right node's.
grpc::Status checkServer(const grpc::ClientContext& ctx, const tls::Identity& expected) {
  const auto auth = ctx.auth_context();
  const Status who = auth ? tls::checkPeerIs(*auth, expected)
                          : Status::fail(0, "no TLS context, expected " + expected.uri());
  if (who) return grpc::Status::OK;
  spdlog::error("reply dropped: the server {}", who.what());
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "reply from the wrong identity: the server " + who.what());
}
}  // namespace

void PeerClient::send(const lease::Message& m, Callback done) {
  send(kDefaultLease, m, std::move(done));
}

void PeerClient::send(const std::string& leaseName, const lease::Message& m, Callback done) {
  auto* call = new Call;
  call->done = std::move(done);
  call->expectedPeer = expectedPeer_;
  call->ctx.set_deadline(std::chrono::system_clock::now() + timeout_);
  v1::ExchangeRequest body;
  body.set_cluster(cluster_);
  body.set_from_name(fromName_);
  body.set_membership(membership_);
  if (leaseName != kDefaultLease) body.set_lease(leaseName);
  toProto(m, *body.mutable_message());
  call->req = sealRequest(body, key_, nextCounter());
  call->key = key_;
  call->mac = call->req.auth().mac();
  stub_->async()->Exchange(&call->ctx, &call->req, &call->resp, [call](grpc::Status status) {
    std::unique_ptr<Call> owned(call);
    std::vector<lease::Message> replies;
    if (status.ok() && owned->expectedPeer) status = checkServer(owned->ctx, *owned->expectedPeer);
    v1::ExchangeReply opened;
    if (status.ok()) status = openReply(owned->resp, owned->key, owned->mac, opened);
    if (status.ok()) {
      for (const auto& pm : opened.messages()) {
        auto reply = fromProto(pm);
        if (!reply) {
          status =
              grpc::Status(grpc::StatusCode::INTERNAL, "malformed reply: " + reply.status().what());
          replies.clear();
          break;
        }
        replies.push_back(std::move(reply).value());
      }
    }
    // The call goes first: its ClientContext holds the channel, and a caller told by the
    // callback that its last call is over may drop the client (Daemon::stop). Were the context
    // still alive, it would destroy the channel here, on a thread of gRPC's callback queue that
    // the channel's destructor then shuts down and joins from itself: a double free in gRPC.
    Callback then = std::move(owned->done);
    owned.reset();
    then(status, std::move(replies));
  });
}

}  // namespace quorate
