// The director daemon's lease half: the DirectorNode stepped on one Asio thread,
// fed by gRPC (peer protocol and operator API) and by its own timer.
#pragma once

#include <grpcpp/grpcpp.h>

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "common/peer_client.h"
#include "common/state_file.h"
#include "lease/director_node.h"
#include "quorate/v1/quorate.grpc.pb.h"
#include "server/config.h"

namespace quorate::server {

class StatusWatcher;

class Director {
 public:
  // Loads the durable state from config.stateDir; throws std::runtime_error naming
  // the file when it exists but cannot be read.
  explicit Director(DirectorConfig config);
  ~Director();

  // Starts the loop thread and the gRPC server. Returns an error text on failure.
  std::optional<std::string> start();
  // Planned stop: a holder hands over to its peer first (bounded wait), then stops.
  void stop();
  int boundPort() const { return boundPort_; }

  // Entry points for the gRPC services; each completes through its callback,
  // possibly on another thread.
  void exchange(const v1::ExchangeRequest& req,
                std::function<void(grpc::Status, v1::ExchangeReply)> done);
  void status(std::function<void(v1::StatusReply)> done);
  void stepDown(bool force, std::function<void(grpc::Status, v1::StepDownReply)> done);
  void addWatcher(StatusWatcher* w);
  void removeWatcher(StatusWatcher* w);

  struct Counters {
    std::atomic<std::uint64_t> sendFailures{0};
    std::atomic<std::uint64_t> persistFailures{0};
    std::atomic<std::uint64_t> rejectedRequests{0};
  };
  const Counters& counters() const { return counters_; }

 private:
  // Everything below runs on the loop thread only.
  void apply(lease::Output out, std::optional<lease::NodeId> replyTo, v1::ExchangeReply* reply);
  void sendToPeer(const lease::Message& m);
  void onTimer();
  void warnIfMisconfigured(const lease::Message& reply);
  void rearm();
  v1::StatusReply buildStatus(lease::Time now) const;
  bool reachable(lease::NodeId n, lease::Time now) const;
  void publishIfChanged(lease::Time now);
  const std::string& name(lease::NodeId n) const { return config_.peer(n).id; }

  DirectorConfig config_;
  StateFile state_;
  std::unique_ptr<lease::DirectorNode> node_;
  std::array<std::unique_ptr<PeerClient>, lease::kNodeCount> peers_;

  boost::asio::io_context io_;
  boost::asio::steady_timer timer_{io_};
  std::thread loop_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Service> peerService_;
  std::unique_ptr<grpc::Service> operatorService_;
  int boundPort_ = 0;
  std::atomic<int> inFlight_{0};

  std::optional<lease::Time> lastMisconfigWarning_;
  std::string lastSignature_;
  std::uint64_t version_ = 0;
  std::mutex watchersMu_;
  std::set<StatusWatcher*> watchers_;
  v1::StatusReply lastPublished_;  // guarded by watchersMu_
  Counters counters_;
};

}  // namespace quorate::server
