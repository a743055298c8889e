// Lease messages out over gRPC, and what became of them back to the host.
#include "server/grpc/peer_transport.h"

#include <spdlog/spdlog.h>

#include "common/tls/credentials.h"

namespace quorate::server {

PeerTransport::PeerTransport(const DirectorConfig& config, const std::string& membership, Post post)
    : config_(config), post_(std::move(post)) {
  // Messages older than a renewal interval are of no use to anyone.
  const auto timeout = config_.timing.renewInterval;
  for (lease::NodeId n = 0; n < lease::kNodeCount; ++n) {
    if (n == config_.self) continue;
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    if (const auto& t = config_.tls) {
      // The arbiter is trusted through its own CA only: it can never mint one of our directors.
      const bool arbiter = n == lease::kArbiter;
      credentials = tls::channelCredentials({arbiter ? t->arbiterCa : t->ca, t->cert, t->key});
    }
    peers_[n] = std::make_unique<PeerClient>(
        makePeerChannel(config_.peer(n).address, false, credentials), config_.cluster,
        config_.secrets.front(), config_.node, membership, timeout);
    if (const auto& t = config_.tls; t && !config_.testFaults.uncheckedPeerIdentity) {
      peers_[n]->expectPeer(n == lease::kArbiter
                                ? tls::Identity::arbiter(t->arbiterName)
                                : tls::Identity::director(config_.cluster, config_.peer(n).id));
    }
  }
}

void PeerTransport::begin() {
  std::lock_guard lock(mu_);
  ++inFlight_;
}

void PeerTransport::end() {
  std::lock_guard lock(mu_);
  if (--inFlight_ == 0) idle_.notify_all();
}

void PeerTransport::waitIdle() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [this] { return inFlight_ == 0; });
}

void PeerTransport::send(std::size_t lease, const lease::Message& m) {
  auto& peer = peers_.at(m.to);
  if (!peer) return;
  begin();
  // Read here, on the host's thread: the callback runs on a gRPC thread, and a reload may add
  // leases to the host meanwhile.
  std::string leaseName = host_->leaseName(lease);
  peer->send(
      leaseName, m,
      [this, lease, m, leaseName](const grpc::Status& s, std::vector<lease::Message> replies) {
        const lease::NodeId to = m.to;
        if (!s.ok() || replies.empty()) {
          // No vote from that acceptor (down, refusing us, or silent in quarantine).
          post_([this, lease, m] { host_->undelivered(lease, m); });
        }
        if (!s.ok()) {
          host_->counters().sendFailures.fetch_add(1, std::memory_order_relaxed);
          spdlog::debug("-> {} failed: {}: {}", name(to), static_cast<int>(s.error_code()),
                        s.error_message());
          // A refusal, not an outage (RESOURCE_EXHAUSTED: the arbiter's lease limit). It
          // repeats at every renewal until someone acts: at error level once per 30 s.
          if ((s.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
               s.error_code() == grpc::StatusCode::NOT_FOUND ||
               s.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
               s.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
               s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) &&
              refusals_.shouldLog(name(to), static_cast<int>(s.error_code()), leaseName,
                                  RefusalLog::Clock::now())) {
            spdlog::error("{} refused us for lease {}: {} (repeats within 30 s not shown)",
                          name(to), leaseName, s.error_message());
          }
          if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
            post_([this, to, why = s.error_message()] { host_->refusedIdentity(to, why); });
          }
        }
        if (!replies.empty()) {
          post_([this, lease, replies = std::move(replies)] { host_->delivered(lease, replies); });
        }
        end();
      });
}

void PeerTransport::probe(std::size_t lease, const lease::Message& m) {
  auto& peer = peers_.at(m.to);
  if (!peer) return;
  begin();
  const lease::NodeId to = m.to;
  peer->send(host_->leaseName(lease), m,
             [this, to](const grpc::Status& s, std::vector<lease::Message>) {
               if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
                 post_([this, to, why = s.error_message()] { host_->refusedIdentity(to, why); });
               }
               end();
             });
}

}  // namespace quorate::server
