// The director daemon: owns the threads (the loop thread that runs the lease host and the data
// plane, and the health checks' thread), the gRPC server and the wiring between them.
#pragma once

#include <grpcpp/grpcpp.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/status.h"
#include "server/check/checker.h"
#include "server/config.h"
#include "server/dataplane.h"
#include "server/events/event_log.h"
#include "server/grpc/operator_ipvs.h"
#include "server/grpc/status_watcher.h"
#include "server/health.h"
#include "server/hooks/lease_hooks.h"
#include "server/kernel/ports.h"
#include "server/lease_host.h"
#include "server/reload/plan.h"
#include "server/script_runner.h"
#include "server/service_watchdog.h"
#include "server/watchdog.h"

namespace quorate::server {

class PeerTransport;
class OperatorService;
class UnixOperatorListener;
class DirectorMetrics;

// What a reload did: applied (the new virtual servers run) or refused (nothing changed).
struct ReloadResult {
  bool applied = false;
  std::string text;  // one line for the log
  // Not applied, yet changed: every key but the leases `text` names was applied. The director
  // then runs the new file minus those, so that file is the one to compare the next reload with.
  bool partial = false;
};

class Daemon {
 public:
  // Loads the durable state from config.stateDir and withdraws whatever an earlier run left in
  // the kernel; throws std::runtime_error naming what failed. With `ports` unset, the daemon
  // opens the real kernel (rtnetlink, nftables, AF_PACKET) when the config has VIPs or
  // tracking.
  explicit Daemon(DirectorConfig config, std::optional<KernelPorts> ports = std::nullopt);
  ~Daemon();

  // Starts the threads and the gRPC server.
  Status start();
  // Planned stop: a holder hands over to its peer first, then everything stops; returns once
  // no thread and no gRPC call of ours is left. Idempotent.
  void stop();
  // A reload (server/reload): applies what `plan`, accepted, says differs in `next`, on the loop
  // thread (and the checks' thread for the checks); blocks until done. Refused once stop() has
  // begun. One at a time. A refused plan changes nothing.
  ReloadResult applyReload(const DirectorConfig& next, const reload::ReloadPlan& plan);
  // What the operator API's Reload runs (server/reload/reloader.h); set before start(). Unset:
  // Reload is refused as unavailable.
  void setReloadHandler(std::function<v1::ReloadReply()> handler) {
    reloadHandler_ = std::move(handler);
  }
  // The operator API's IpvsTable and Drain/Enable (server/daemon_ipvs.cc), from a thread other
  // than the loop's; blocks until the loop thread answered. ENOTSUP without virtual servers,
  // ESHUTDOWN once stop() has begun. A drain is written to the state directory (fsync) before
  // the kernel changes: a failed write changes nothing.
  Result<IpvsTableView> ipvsTable();
  Result<ipvs::DrainOutcome> changeDrain(const std::string& virtualServer,
                                         const std::string& realServer, bool drain);
  int boundPort() const { return boundPort_; }
  // The operator API's TLS TCP port (0 without operator.tcp).
  int operatorTcpPort() const { return operatorTcpPort_; }
  // Status replies built so far on the loop thread (the cache's misses); any thread.
  std::uint64_t statusBuilds() const;

  const LeaseHost::Counters& counters() const { return host_->counters(); }
  // The watchdog's pets and refusals (null without a watchdog); any thread.
  const Watchdog::Counters* watchdogCounters() const {
    return watchdog_ ? &watchdog_->counters() : nullptr;
  }
  // The data plane, for tests (touch only on the loop thread, or when stopped).
  const DataPlane* dataPlane() const { return dataPlane_.get(); }
  // The event log, or nullptr with event_log: {enabled: false}. append() from any thread; it
  // never blocks. Lives as long as the daemon.
  events::EventLog* events() const { return events_.get(); }

 private:
  // Opens config_.watchdog's device and makes the watchdog (started on the loop thread).
  Status openWatchdog();
  // Loop thread.
  void rearm();
  void onTimer();
  void probeIdentity();
  void scheduleIpvsResync();
  void onVerdict(const check::Verdict& v);  // a real server's health changed
  void publishStatus();
  v1::StatusReply currentStatus() const;
  // Runs `fn` on the checks' thread and waits for it (a no-op without checks).
  void onChecksThread(const std::function<void()>& fn);
  // On the loop thread: the VIPs of `leases` (indices into next.leases, each running) become
  // those of `next` (DataPlane::updateVips), and config_'s instances follow; "". Or, if any
  // lease fails, every lease is given its old VIPs again, config_ unchanged, and the error is
  // returned.
  std::string reloadVips(const DirectorConfig& next, const std::vector<std::size_t>& leases);
  // The two passes of reloadVips (losses, then gains) towards `wanted` (per slot of `slots`),
  // stopping at the first failure: "" or its message.
  std::string moveVips(const std::vector<std::size_t>& slots,
                       const std::vector<std::vector<net::Vip>>& wanted);
  // On the loop thread, a reload's lease removed (by name) or added (from `next`): "" or what
  // went wrong. See applyReload() for the order and server/reload/plan.h for what is refused.
  std::string removeLease(const std::string& name);
  std::string addLease(const DirectorConfig& next, const LeaseConfig& lease);
  // The running lease of that name, as an index into config_.leases (a slot), if any.
  std::optional<std::size_t> slotOf(const std::string& lease) const;
  void post(std::function<void()> fn);
  // From a thread other than the loop's: asks `done` on the loop until it is true or `limit`
  // has passed.
  void waitOnLoop(std::chrono::nanoseconds limit, const std::function<bool()>& done);

  DirectorConfig config_;
  std::unique_ptr<events::EventLog> events_;  // first: open before anything that logs to it
  RealKernelPorts realPorts_;                 // when the real kernel is used
  KernelPorts ports_;                         // points into realPorts_ or at the caller's
  boost::asio::io_context io_;
  boost::asio::steady_timer timer_{io_};
  boost::asio::steady_timer ipvsTimer_{io_};   // periodic IPVS drift repair
  boost::asio::steady_timer probeTimer_{io_};  // identity probes during the quarantine
  std::unique_ptr<DataPlane> dataPlane_;
  std::unique_ptr<OwnHealth> health_;
  std::unique_ptr<FileLeaseStore> store_;
  // Notify, quorum-loss and gating hooks, on the loop thread; before host_, which points at them.
  std::unique_ptr<ScriptRunner> hookScripts_;
  std::unique_ptr<hooks::Fencer> fencer_;  // fence-before-claim, when configured
  std::unique_ptr<hooks::LeaseHooks> hooks_;
  std::unique_ptr<PeerTransport> transport_;
  std::unique_ptr<LeaseHost> host_;
  // Opened in start(), petted on the loop thread, disarmed by a clean stop().
  std::unique_ptr<kernel::WatchdogDevice> watchdogDevice_;
  std::unique_ptr<Watchdog> watchdog_;
  StatusWatchers watchers_;
  std::thread loop_;
  // Real-server health checks run on their own thread and io_context, so that thousands of
  // probes a second never delay a lease renewal; verdicts are posted to the loop thread.
  boost::asio::io_context checkIo_;
  std::unique_ptr<ScriptRunner> checkScripts_;
  std::unique_ptr<check::HealthChecks> checks_;
  std::thread checkLoop_;
  // systemd's WatchdogSec: petted on the loop thread while the loop and checkLoop_ work. After
  // io_ and checkIo_: destroyed before them.
  std::unique_ptr<ServiceWatchdog> serviceWatchdog_;
  std::unique_ptr<grpc::Service> peerService_;
  std::unique_ptr<OperatorService> operatorService_;
  std::unique_ptr<grpc::Server> server_;  // after the services: destroyed before them
  // The operator API: its own server (Unix socket, optional TLS TCP), never the peer port's.
  std::unique_ptr<grpc::Server> operatorServer_;
  std::unique_ptr<UnixOperatorListener> operatorSocket_;  // hands fds to operatorServer_
  int boundPort_ = 0;
  int operatorTcpPort_ = 0;
  std::function<v1::ReloadReply()> reloadHandler_;
  std::mutex reloadMu_;    // one reload at a time, and none once stopping_
  bool stopping_ = false;  // under reloadMu_
  // The /metrics endpoint (metrics: in the config); last, so it goes before what it reads.
  std::unique_ptr<DirectorMetrics> metrics_;
};

}  // namespace quorate::server
