// The director daemon: one DirectorNode per lease, stepped on one Asio thread, fed by gRPC
// (peer protocol and operator API) and by its own timer; the data plane follows each lease
// (VIPs fenced, added and announced while held) and the director's own health gates them.
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
#include "server/check/checker.h"
#include "server/config.h"
#include "server/dataplane.h"
#include "server/health.h"
#include "server/script_runner.h"

namespace quorate::server {

class StatusWatcher;

class Director {
 public:
  // Loads the durable state from config.stateDir; throws std::runtime_error naming
  // the file when it exists but cannot be read. With `ports` unset, the director uses the
  // real kernel (rtnetlink, nftables, AF_PACKET) when the config has VIPs or tracking.
  explicit Director(DirectorConfig config, std::optional<KernelPorts> ports = std::nullopt);
  ~Director();

  // Starts the loop thread and the gRPC server. Returns an error text on failure.
  std::optional<std::string> start();
  // Planned stop: a holder hands over to its peer first (bounded wait), then stops.
  void stop();
  // SIGHUP: takes the virtual servers and IPVS settings of `next` (only their difference
  // reaches the kernel). Everything else in `next` must equal the running configuration's,
  // which needs a restart to change; `sameOtherwise` says whether it does (the caller
  // compares the files). Returns what was done, or an error text (nothing changed then).
  std::string reloadVirtualServers(const DirectorConfig& next, bool sameOtherwise);
  int boundPort() const { return boundPort_; }

  // Entry points for the gRPC services; each completes through its callback,
  // possibly on another thread.
  void exchange(const v1::ExchangeRequest& req,
                std::function<void(grpc::Status, v1::ExchangeReply)> done);
  void status(std::function<void(v1::StatusReply)> done);
  void stepDown(bool force, const std::string& leaseName,
                std::function<void(grpc::Status, v1::StepDownReply)> done);
  void addWatcher(StatusWatcher* w);
  void removeWatcher(StatusWatcher* w);

  struct Counters {
    std::atomic<std::uint64_t> sendFailures{0};
    std::atomic<std::uint64_t> persistFailures{0};
    std::atomic<std::uint64_t> rejectedRequests{0};
    std::atomic<std::uint64_t> reannouncements{0};
    std::atomic<std::uint64_t> identityConflicts{0};  // refused by, or refusing, a peer
  };
  // The data plane, for tests (touch only on the loop thread, or when stopped).
  const DataPlane* dataPlane() const { return dataPlane_.get(); }
  const Counters& counters() const { return counters_; }

 private:
  struct Lease {
    const LeaseConfig* cfg;
    StateFile state;
    std::unique_ptr<lease::DirectorNode> node;
  };

  // Everything below runs on the loop thread only.
  using Step = std::function<lease::Output(lease::DirectorNode&)>;
  // Steps lease i's node and carries out the output: persist first, and if the write fails the
  // node goes back to its copy from before the step and nothing of it is sent (what is not on
  // disk never happened). Messages for `replyTo` go into `reply`, the rest to the peers.
  void step(std::size_t i, const Step& fn, std::optional<lease::NodeId> replyTo = std::nullopt,
            v1::ExchangeReply* reply = nullptr);
  // Another node's view of who is who disagrees with ours (`why` names both): logged; with
  // `stop` (the views name different arbiters), this director also neither campaigns nor holds
  // until no such conflict was seen for a while.
  void noteConflict(const std::string& why, bool stop);
  // Any thread: `peer` refused one of our requests with FAILED_PRECONDITION (its view of who is
  // who differs); counted, and noted on the loop thread without stopping.
  void refusedIdentity(lease::NodeId peer, const std::string& why);
  // While quarantined, pings the other nodes once a renewal interval, so that a view of who is
  // who that differs from ours is refused (and noted, on both sides) before anyone campaigns.
  void probeIdentity();
  void updateEligibility();
  bool conflicted(lease::Time now) const { return conflictUntil_ && now < *conflictUntil_; }
  // The data plane follows lease i. False: not held, and its VIPs may still answer (the fence
  // did not close), so nothing may tell the acceptors it is free.
  bool followLease(std::size_t i, lease::Time now);
  void sendToPeer(std::size_t i, const lease::Message& m);
  void onTimer();
  void scheduleIpvsResync();
  void onHealthChange();
  void onVerdict(const check::Verdict& v);  // a real server's health changed
  // Runs `fn` on the checks' thread and waits for it (a no-op without checks).
  void onChecksThread(const std::function<void()>& fn);
  void warnIfMisconfigured(const lease::Message& reply);
  void rearm();
  v1::StatusReply buildStatus(lease::Time now) const;
  bool reachable(lease::NodeId n, lease::Time now) const;
  std::optional<lease::Time> lastSeen(lease::NodeId n) const;  // by any lease's messages
  void publishIfChanged(lease::Time now);
  const std::string& name(lease::NodeId n) const { return config_.peer(n).id; }
  std::optional<std::size_t> leaseIndex(const std::string& name) const;

  DirectorConfig config_;
  std::vector<Lease> leases_;
  // The real kernel, when used (see the constructor); ports_ points into them or at fakes.
  std::unique_ptr<kernel::Vips> kernelVips_;
  std::unique_ptr<kernel::Fence> kernelFence_;
  std::unique_ptr<kernel::Links> kernelLinks_;
  std::unique_ptr<kernel::Announcer> kernelAnnouncer_;
  std::unique_ptr<kernel::ipvs::Ipvs> kernelIpvs_;
  KernelPorts ports_;
  std::array<std::unique_ptr<PeerClient>, lease::kNodeCount> peers_;

  boost::asio::io_context io_;
  boost::asio::steady_timer timer_{io_};
  boost::asio::steady_timer ipvsTimer_{io_};   // periodic IPVS drift repair
  boost::asio::steady_timer probeTimer_{io_};  // identity probes during the quarantine
  std::unique_ptr<DataPlane> dataPlane_;
  std::unique_ptr<OwnHealth> health_;
  std::thread loop_;
  // Real-server health checks run on their own thread and io_context, so that thousands of
  // probes a second never delay a lease renewal; verdicts are posted to the loop thread.
  boost::asio::io_context checkIo_;
  std::unique_ptr<ScriptRunner> checkScripts_;
  std::unique_ptr<check::HealthChecks> checks_;
  std::thread checkLoop_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Service> peerService_;
  std::unique_ptr<grpc::Service> operatorService_;
  int boundPort_ = 0;
  std::atomic<int> inFlight_{0};

  std::optional<lease::Time> lastMisconfigWarning_;
  std::string membership_;                    // config_.membership(), sent and expected
  std::optional<lease::Time> conflictUntil_;  // loop thread
  std::string conflictWhy_;                   // loop thread
  std::optional<lease::Time> lastConflictLog_;
  std::string lastSignature_;
  std::uint64_t version_ = 0;
  std::mutex watchersMu_;
  std::set<StatusWatcher*> watchers_;
  v1::StatusReply lastPublished_;  // guarded by watchersMu_
  Counters counters_;
};

}  // namespace quorate::server
