// The lease host's transport in the daemon: one PeerClient per other node; each outcome is
// handed back to the host on its thread. stop-safe: waitIdle() returns once no call is open.
#pragma once

#include <array>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>

#include "common/peer_client.h"
#include "server/config.h"
#include "server/grpc/refusal_log.h"
#include "server/lease_host.h"

namespace quorate::server {

class PeerTransport final : public LeaseTransport {
 public:
  // Runs a task on the host's thread.
  using Post = std::function<void(std::function<void()>)>;
  PeerTransport(const DirectorConfig& config, const std::string& membership, Post post);

  // The host that hears the outcomes; set before anything is sent.
  void attach(LeaseHost& host) { host_ = &host; }
  void send(std::size_t lease, const lease::Message& m) override;
  void probe(std::size_t lease, const lease::Message& m) override;
  // Blocks until every call sent has completed (each has a deadline of a renewal interval).
  void waitIdle();

 private:
  void begin();
  void end();
  const std::string& name(lease::NodeId n) const { return config_.peer(n).id; }

  const DirectorConfig& config_;
  Post post_;
  LeaseHost* host_ = nullptr;
  std::array<std::unique_ptr<PeerClient>, lease::kNodeCount> peers_;
  std::mutex mu_;
  std::condition_variable idle_;
  int inFlight_ = 0;
  RefusalLog refusals_;  // error lines for refusals, without one per renewal
};

}  // namespace quorate::server
