// The director daemon's wiring: CLOCK_BOOTTIME, Asio timers, fsync'd state, gRPC in and out,
// and the order of start-up and shutdown.
#include "server/daemon.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <future>
#include <random>
#include <stdexcept>

#include "common/clock.h"
#include "common/systemd_notify.h"
#include "common/tls/credentials.h"
#include "server/grpc/operator_listener.h"
#include "server/grpc/operator_service.h"
#include "server/grpc/peer_service.h"
#include "server/grpc/peer_transport.h"
#include "server/grpc/servers.h"
#include "server/grpc/status_builder.h"
#include "server/ipvs/check_targets.h"
#include "server/metrics/director_metrics.h"

namespace quorate::server {
namespace {

namespace asio = boost::asio;
using lease::Time;

std::int64_t toMs(lease::Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

KernelNeeds kernelNeeds(const DirectorConfig& c) {
  KernelNeeds n;
  n.addresses = c.hasDataPlane() || !c.trackInterfaces.empty();
  if (!n.addresses) return n;
  n.fence = c.fence == FenceMode::kNftables;
  n.announcer = c.hasDataPlane();
  n.ipvs = !c.ipvs.virtualServers.empty();
  return n;
}

// Opened first, so that a director that cannot keep its record does not start.
std::unique_ptr<events::EventLog> openEventLog(const DirectorConfig& c) {
  if (!c.eventLog.enabled) return nullptr;
  events::EventLog::Options o;
  o.path = c.eventLog.path.empty() ? c.stateDir + "/events.jsonl" : c.eventLog.path;
  o.maxBytes = c.eventLog.maxBytes;
  o.keep = c.eventLog.keep;
  o.node = c.node;
  auto log = events::EventLog::open(std::move(o));
  if (!log) throw std::runtime_error(log.status().message());  // names the log and its path
  return std::move(log).value();
}

std::uint64_t randomWord() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) | rd();
}

}  // namespace

namespace {

// What each lease's hooks need to know of it.
std::vector<hooks::LeaseHookSettings> hookSettings(const DirectorConfig& c) {
  std::vector<hooks::LeaseHookSettings> out;
  for (const auto& l : c.leases) {
    hooks::LeaseHookSettings s;
    s.lease = l.name;
    if (l.syncGroup) s.group = l.name;
    // keepalived's priority: the VRRP one when the lease's first instance has it, else 100 on the
    // preferred director (or with no preference) and 50 on the other.
    const auto preferred = l.preferred ? l.preferred : c.preferred;
    s.priority = !preferred || *preferred == c.node ? 100 : 50;
    if (!l.instances.empty()) {
      const auto& inst = c.instance(l.instances.front());
      if (inst.vrrp) s.priority = inst.vrrp->priority;
    }
    s.hooks = l.hooks;
    out.push_back(std::move(s));
  }
  return out;
}

// Fence-before-claim through a FenceRunner: the hooks' view of it.
class RunnerFencer final : public hooks::Fencer {
 public:
  RunnerFencer(boost::asio::io_context& io, ScriptRunner& scripts, fencing::FenceAction action)
      : runner_(io, scripts, std::move(action)) {}
  void fence(const std::string& target, std::uint64_t epoch, Done done) override {
    const std::uint64_t generation = ++generation_;
    runner_.fence(target, epoch,
                  [this, generation, done = std::move(done)](fencing::FenceOutcome o) {
                    // A cancelled fence runs to its end (the agent is not interrupted halfway
                    // through a power-off); only its outcome is dropped.
                    if (generation != generation_) return;
                    Outcome out;
                    out.ok = o.ok;
                    out.attempts = static_cast<int>(o.attempts.size());
                    for (const auto& a : o.attempts) out.duration += a.duration;
                    out.summary = o.toString();
                    done(out);
                  });
  }
  void cancel() override { ++generation_; }

 private:
  fencing::FenceRunner runner_;
  std::uint64_t generation_ = 0;
};

// How long a stop waits for the STOP hooks (and what is queued before them), at most.
std::chrono::milliseconds stopHooksBudget(const DirectorConfig& c) {
  std::chrono::milliseconds most{0};
  for (const auto& l : c.leases) {
    most = std::max(most, hooks::HooksConfig::budget(l.hooks.notifyStop) +
                              hooks::HooksConfig::budget(l.hooks.notify));
  }
  return std::min(most + std::chrono::milliseconds(500), std::chrono::milliseconds(30'000));
}

}  // namespace

Daemon::Daemon(DirectorConfig config, std::optional<KernelPorts> ports)
    : config_(std::move(config)),
      events_(openEventLog(config_)),
      watchers_([this](StatusWatcher* w) {
        post([this, w] {
          if (host_->version() > 0) watchers_.publishTo(w, currentStatus());
        });
      }) {
  if (config_.leases.empty()) {
    // Built by hand rather than parsed: the single default lease.
    LeaseConfig l;
    l.name = kDefaultLease;
    l.preferred = config_.preferred;
    l.preemptDelay = config_.preemptDelay;
    config_.leases.push_back(std::move(l));
  }
  store_ = std::make_unique<FileLeaseStore>(config_);
  transport_ = std::make_unique<PeerTransport>(config_, config_.membership(),
                                               [this](std::function<void()> fn) { post(fn); });
  if (ports) {
    ports_ = *ports;
  } else {
    auto real = openKernelPorts(kernelNeeds(config_));
    if (!real) throw std::runtime_error(real.status().message());
    realPorts_ = std::move(real).value();
    ports_ = realPorts_.view();
  }
  if (config_.hasDataPlane()) {
    dataPlane_ = std::make_unique<DataPlane>(config_, ports_, io_, [] { return bootNow(); });
  }
  health_ = std::make_unique<OwnHealth>(config_, ports_.links, io_,
                                        [this] { host_->updateEligibility(); });
  host_ = std::make_unique<LeaseHost>(config_, bootNow, *transport_, *store_, dataPlane_.get(),
                                      health_.get(), randomWord);
  hookScripts_ = std::make_unique<ScriptRunner>(io_);
  hookScripts_->setDefaultUser(config_.scriptUser);
  if (config_.fenceBeforeClaim) {
    fencer_ = std::make_unique<RunnerFencer>(io_, *hookScripts_, *config_.fenceBeforeClaim);
  }
  hooks::LeaseHooks::Record record;
  if (events_) record = [log = events_.get()](nlohmann::json r) { log->append(std::move(r)); };
  hooks_ = std::make_unique<hooks::LeaseHooks>(io_, *hookScripts_, hookSettings(config_),
                                               fencer_.get(), std::move(record));
  host_->setTransitionSink(hooks_.get());
  host_->setClaimGate(hooks_.get());
  transport_->attach(*host_);
  host_->onDeadlineChange([this] { rearm(); });
  host_->onVersionChange([this] { publishStatus(); });
  if (dataPlane_ && dataPlane_->balancer()) {
    // Drains in force go in with the first table: a drained server never takes a new
    // connection, restart or not. An unreadable file stops the start (it names the problem).
    auto drains = ipvs::loadDrains(config_.stateDir + "/" + std::string(ipvs::kDrainsFile));
    if (!drains) throw std::runtime_error(drains.status().message());
    dataPlane_->balancer()->loadDrains(std::move(drains).value());
  }
  if (dataPlane_) {
    // Never claim without the lease: whatever an earlier run left goes before we listen.
    if (auto s = dataPlane_->start(); !s) {
      throw std::runtime_error("cannot withdraw the VIPs and virtual servers: " + s.message());
    }
  }
  if (dataPlane_ && dataPlane_->balancer()) {
    checkScripts_ = std::make_unique<ScriptRunner>(checkIo_);
    checkScripts_->setDefaultUser(config_.scriptUser);
    checks_ = std::make_unique<check::HealthChecks>(
        checkIo_, *checkScripts_,
        [this](const check::Verdict& v) { post([this, v] { onVerdict(v); }); },
        std::random_device{}());
  }
}

Daemon::~Daemon() { stop(); }

std::uint64_t Daemon::statusBuilds() const {
  return operatorService_ ? operatorService_->statusBuilds() : 0;
}

void Daemon::post(std::function<void()> fn) { asio::post(io_, std::move(fn)); }

void Daemon::waitOnLoop(std::chrono::nanoseconds limit, const std::function<bool()>& done) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (true) {
    std::promise<bool> answer;
    post([&] { answer.set_value(done()); });
    if (answer.get_future().get() || std::chrono::steady_clock::now() >= until) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status Daemon::start() {
  // What can fail goes first: once the server listens, calls may arrive.
  std::unique_ptr<kernel::LinkWatcher> watcher;
  const bool watchLinks = !config_.linkWatchList().empty();
  if (watchLinks && !ports_.links) return Status::fail(0, "interface tracking needs the kernel");
  if (watchLinks) {
    auto w = kernel::makeLinkWatcher();
    if (!w) return Status::fail(0, "cannot watch links: " + w.status().message());
    watcher = std::move(w).value();
  }
  if (config_.metrics) {
    // Scrapes read the loop's and the checks' state on their own threads (server/metrics).
    DirectorMetricsSources sources{
        host_.get(),
        dataPlane_.get(),
        hooks_.get(),
        checks_.get(),
        [this](std::function<void()> fn) { post(std::move(fn)); },
        [this](std::function<void()> fn) { asio::post(checkIo_, std::move(fn)); }};
    auto m = DirectorMetrics::start(*config_.metrics, std::move(sources));
    if (!m) return m.status();
    metrics_ = std::move(m).value();
  }
  if (const Status st = openWatchdog(); !st) return st;
  auto post = [this](std::function<void()> fn) { this->post(std::move(fn)); };
  auto peerService = std::make_unique<PeerService>(*host_, config_.cluster, config_.secrets, post);
  std::shared_ptr<grpc::ServerCredentials> peerCredentials = grpc::InsecureServerCredentials();
  if (const auto& t = config_.tls) {
    peerCredentials = tls::verifyingServerCredentials({t->ca, t->cert, t->key});
    peerService->requirePeerCertificates(config_.testFaults.uncheckedPeerIdentity);
  } else {
    spdlog::warn(
        "running WITHOUT TLS: anyone who can reach {} can read lease messages and, with a "
        "captured key, forge them; configure tls: (docs/security.md)",
        config_.listen);
  }
  peerService_ = std::move(peerService);
  const OperatorConfig& op = config_.operatorApi;
  watchers_.setLimit(static_cast<std::size_t>(op.maxWatchers));
  operatorSocket_ = std::make_unique<UnixOperatorListener>(op.socket, op.group, op.maxConnections);
  if (const Status st = operatorSocket_->open(); !st) {
    if (watchdogDevice_) (void)watchdogDevice_->disarm();
    return st;
  }
  OperatorConfig policy = op;
  policy.daemonUid = ::geteuid();  // it owns the socket: already able to do anything
  operatorService_ = std::make_unique<OperatorService>(
      *host_, watchers_, post, [this] { return currentStatus(); }, std::move(policy),
      [this](const grpc::CallbackServerContext& ctx) {
        return callerOf(ctx, operatorSocket_.get());
      },
      events_.get());
  operatorService_->setReload(reloadHandler_);
  operatorService_->setIpvs([this] { return ipvsTable(); },
                            [this](const std::string& vs, const std::string& rs, bool drain) {
                              return changeDrain(vs, rs, drain);
                            });
  server_ = buildPeerServer(config_.listen, *peerService_, peerCredentials, &boundPort_);
  // No errno to give: gRPC says only that it could not.
  if (!server_ || boundPort_ == 0) {
    if (watchdogDevice_) (void)watchdogDevice_->disarm();
    return Status::fail(0, "cannot listen on " + config_.listen);
  }
  auto opServer = buildOperatorServer(op, *operatorService_, &operatorTcpPort_);
  if (!opServer) {
    if (watchdogDevice_) (void)watchdogDevice_->disarm();
    server_->Shutdown();
    return opServer.status();
  }
  operatorServer_ = std::move(opServer).value();
  operatorSocket_->start(operatorServer_.get());
  spdlog::info("operator API on {}{}{}", op.socket,
               op.group ? " (group " + op.groupName + ")" : std::string(" (root only)"),
               op.tcp ? " and TLS on " + op.tcp->listen : std::string());
  for (std::size_t i = 0; i < host_->leaseCount(); ++i) {
    const auto durable = host_->node(i).durable();
    spdlog::info(
        "director {} of cluster {} listening on {}: lease {}, quarantine {} ms, epoch floor {}, "
        "incarnation {}",
        config_.node, config_.cluster, config_.listen, host_->leaseName(i),
        toMs(config_.timing.quarantine), durable.maxEpoch, durable.incarnation);
  }
  warnNoTls("quorate-director " + config_.node);
  if (config_.fence == FenceMode::kNone && config_.hasDataPlane()) {
    spdlog::warn("fence: none: a frozen holder keeps answering for its VIPs until it thaws");
  }
  // Before the loop thread runs: the first of this run's records, ahead of any transition.
  if (events_) {
    events_->append({{"event", "started"},
                     {"version", QUORATE_VERSION},
                     {"cluster", config_.cluster},
                     {"listen", config_.listen},
                     {"pid", static_cast<long>(::getpid())}});
  }
  // The loop thread is not running yet: this thread may touch the loop's state.
  health_->start(std::move(watcher));
  if (checks_) {
    // Neither thread runs yet: the first verdicts (up, or down if alpha) go in directly.
    for (const auto& v : checks_->apply(ipvs::checkedServers(config_.ipvs))) onVerdict(v);
    checkLoop_ = std::thread([this] {
      auto guard = asio::make_work_guard(checkIo_);
      checkIo_.run();
    });
  }
  this->post([this] {
    rearm();
    probeIdentity();
    if (watchdog_) watchdog_->start();
  });
  if (dataPlane_ && dataPlane_->balancer()) this->post([this] { scheduleIpvsResync(); });
  if (const auto every = systemd::watchdogInterval(); every.count() > 0) {
    ServiceWatchdog::Options o;
    o.interval = every;
    o.pet = [] {
      if (const Status st = systemd::pet(); !st) spdlog::debug("{}", st.message());
    };
    if (checks_) o.toChecks = [this](std::function<void()> fn) { asio::post(checkIo_, fn); };
    o.leaseTimerDue = [this] { return timer_.expiry(); };
    o.freezeLoopFile = config_.testFaults.freezeLoopFile;
    o.petFromAnyThread = config_.testFaults.petFromAnyThread;
    serviceWatchdog_ = std::make_unique<ServiceWatchdog>(io_, std::move(o));
    spdlog::info(
        "systemd watchdog: {} ms; WATCHDOG=1 every {} ms while the loop and the checks run",
        std::chrono::duration_cast<std::chrono::milliseconds>(every).count(),
        std::chrono::duration_cast<std::chrono::milliseconds>(serviceWatchdog_->petEvery())
            .count());
    this->post([this] { serviceWatchdog_->start(); });
  }
  loop_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
  return Status::ok();
}

Status Daemon::openWatchdog() {
  if (!config_.watchdog) return Status::ok();
  const WatchdogConfig& w = *config_.watchdog;
  auto opened = kernel::openWatchdog(w.device, w.timeout);
  if (!opened) return opened.status();
  if (opened->warning) spdlog::warn("{}", *opened->warning);
  watchdogDevice_ = std::move(opened.value().device);
  const auto timeout = watchdogDevice_->timeout();
  if (2 * w.interval > timeout) {
    (void)watchdogDevice_->disarm();
    return Status::fail(ERANGE, "watchdog " + w.device + ": interval_ms " +
                                    std::to_string(w.interval.count()) +
                                    " is more than half the device's timeout of " +
                                    std::to_string(timeout.count()) + " ms");
  }
  lease::Duration margin = watchdogMargin(w, config_.timing.rho);
  if (config_.testFaults.ungatedWatchdog) {
    spdlog::critical("watchdog {}: TEST FAULT: petted whatever the lease", w.device);
  }
  watchdog_ = std::make_unique<Watchdog>(
      io_, *watchdogDevice_, w.interval, margin, bootNow,
      [this] { return host_->earliestHeldLeaseEnd(); }, config_.testFaults.ungatedWatchdog);
  spdlog::info(
      "watchdog {}: timeout {} ms ({}), pet every {} ms, margin {} ms: a holder pets only while "
      "its lease outlasts timeout + margin",
      w.device, timeout.count(),
      watchdogDevice_->takesIoctls() ? "granted by the driver" : "assumed", w.interval.count(),
      toMs(margin));
  return Status::ok();
}

ReloadResult Daemon::applyReload(const DirectorConfig& next, const reload::ReloadPlan& plan) {
  std::lock_guard<std::mutex> lock(reloadMu_);
  if (stopping_) return {false, "reload refused: the director is stopping"};
  if (!plan.accepted()) return {false, "reload refused: the plan has refusals"};
  if (!loop_.joinable()) return {false, "reload refused: the director is not running"};
  if (plan.virtualServers && (!dataPlane_ || !dataPlane_->balancer())) {
    return {false, "reload refused: this director runs no virtual servers"};
  }
  // The data plane, the lease host and the health code keep a reference to config_: each field
  // below changes on the loop thread, between two of their handlers, so none of them ever sees
  // half a change. config_'s leases are by index (slot), not the file's order: a lease removed
  // keeps its slot (retired, its instances gone), one added takes the next; nothing keeps a
  // pointer into config_'s vectors (the data plane and the lease host keep names and copies).
  // The order: VIPs of the leases both files have (all or nothing: on a failure they are put
  // back and nothing else is applied, so the old file stays the running one), own health, leases
  // removed (their VIPs dark before the Release leaves), leases added, hooks, announcements, the
  // virtual servers (which may use an added VIP) and their checks, the log level. A lease that
  // cannot be removed or added is reported and the rest applied (partial): the reloader then
  // takes the new file as the running one, and each reload adds and removes whatever running
  // leases differ from its file by name, so the same file reloaded retries what failed and the
  // old one reloaded brings back what was removed.
  std::promise<std::string> done;
  std::string vipErrors, errors;  // written on the loop thread before `done` is set
  post([&] {
    std::string vs;
    auto error = [&](const std::string& e) { errors += (errors.empty() ? "" : "; ") + e; };
    // The leases removed and added are what runs against `next`, by name: the plan's, and what
    // a reload that failed in part left undone (the reloader then compares with its file, so
    // its plan names neither a lease that could not be added nor one whose removal it undoes).
    std::vector<std::string> removed;
    for (std::size_t i = 0; i < config_.leases.size(); ++i) {
      const std::string& name = config_.leases[i].name;
      if (host_->retired(i) || next.leases.empty()) continue;
      if (std::none_of(next.leases.begin(), next.leases.end(),
                       [&](const LeaseConfig& l) { return l.name == name; })) {
        removed.push_back(name);
      }
    }
    std::vector<std::size_t> added;
    for (std::size_t k = 0; k < next.leases.size(); ++k) {
      if (!slotOf(next.leases[k].name)) added.push_back(k);
    }
    // The plan names only leases both files have, and refuses a VIP that changes lease (even
    // with a lease added or removed), so this is independent of the leases added and removed.
    // A lease of both files that is not running yet is added below with its new VIPs.
    if (!plan.vipLeases.empty()) vipErrors = reloadVips(next, plan.vipLeases);
    if (!vipErrors.empty()) {
      done.set_value(vs);
      return;
    }
    if (plan.trackScripts) {
      health_->reloadScripts(next.trackScripts);  // it keeps copies: config_ may change below
      config_.trackScripts = next.trackScripts;
    }
    std::string retried;  // beyond the plan: what an earlier reload left undone, now done
    auto note = [&](const std::string& what) { retried += (retried.empty() ? "" : ", ") + what; };
    // A removal that left an address up or in the fence (any earlier reload's) is finished, or
    // reported again, before this reload removes or adds any lease.
    for (std::size_t i = 0; dataPlane_ && i < config_.leases.size(); ++i) {
      if (!host_->retired(i) || !dataPlane_->retiring(i)) continue;
      if (auto s = dataPlane_->retireLease(i); !s) {
        error(s.message());
      } else {
        note("lease " + config_.leases[i].name + " out of the fence");
      }
    }
    for (const auto& name : removed) {
      if (const auto e = removeLease(name); !e.empty()) {
        error(e);
      } else if (std::find(plan.removedLeases.begin(), plan.removedLeases.end(), name) ==
                 plan.removedLeases.end()) {
        note("lease " + name + " removed");
      }
    }
    for (std::size_t k : added) {
      if (const auto e = addLease(next, next.leases.at(k)); !e.empty()) {
        error(e);
      } else if (std::find(plan.addedLeases.begin(), plan.addedLeases.end(), k) ==
                 plan.addedLeases.end()) {
        note("lease " + next.leases.at(k).name + " added");
      }
    }
    if (plan.hooks) {
      for (const auto& l : next.leases) {
        if (const auto slot = slotOf(l.name)) config_.leases[*slot].hooks = l.hooks;
      }
    }
    if ((plan.hooks || !added.empty()) && !hooks_->updateSettings(hookSettings(config_))) {
      spdlog::error("reload: hooks not applied: the leases differ from the running ones");
    }
    if (plan.announce) {  // read at each burst and refresh
      config_.announce = next.announce;
      for (const auto& l : next.leases) {
        if (const auto slot = slotOf(l.name)) config_.leases[*slot].announce = l.announce;
      }
    }
    if (plan.leaseTracks) {  // OwnHealth and the lease host read them from config_
      for (const auto& l : next.leases) {
        if (const auto slot = slotOf(l.name)) config_.leases[*slot].track = l.track;
      }
    }
    if (plan.leaseTracks || !added.empty()) health_->reloadFiles();  // before any verdict
    if (plan.leaseTracks || plan.trackScripts) host_->updateEligibility();
    if (plan.virtualServers) {
      // The file's lease indices, as slots.
      std::vector<std::size_t> leaseOf;
      for (std::size_t i : next.virtualServerLease) {
        leaseOf.push_back(slotOf(next.leases.at(i).name).value_or(config_.leases.size()));
      }
      const std::size_t sync =
          slotOf(next.leases.at(next.syncLease).name).value_or(config_.leases.size());
      config_.ipvs = next.ipvs;
      config_.virtualServerLease = leaseOf;
      config_.syncLease = sync;
      vs = dataPlane_->balancer()->reload(next.ipvs, leaseOf, sync);
    }
    if (!retried.empty()) {
      vs += (vs.empty() ? "" : "; ") + std::string("left by an earlier reload: ") + retried;
    }
    done.set_value(vs);
  });
  std::string summary = done.get_future().get();
  if (!vipErrors.empty()) return {false, "VIPs: " + vipErrors + "; nothing else applied"};
  if (plan.virtualServers) {
    // Unchanged checks keep their state, and every checked real server's verdict is given
    // again (the pools only log what changes).
    onChecksThread([&] {
      for (const auto& v : checks_->apply(ipvs::checkedServers(next.ipvs))) {
        post([this, v] { onVerdict(v); });
      }
    });
  }
  if (plan.logLevel) {
    spdlog::set_level(spdlog::level::from_str(next.logLevel));
    post([this, level = next.logLevel] { config_.logLevel = level; });
  }
  if (!errors.empty()) {
    return {false, errors + "; everything else applied: reload again to retry", true};
  }
  return {true, std::move(summary)};
}

std::optional<std::size_t> Daemon::slotOf(const std::string& lease) const {
  for (std::size_t i = 0; i < config_.leases.size(); ++i) {
    if (config_.leases[i].name == lease && !host_->retired(i)) return i;
  }
  return std::nullopt;
}

std::string Daemon::removeLease(const std::string& name) {
  const auto slot = slotOf(name);
  // Gone already: a reload that failed in part (and so left the reloader's running file as it
  // was) is retried whole.
  if (!slot) return "";
  // The lease host steps down (a holder's VIPs dark before its Release leaves) and forgets it;
  // then the data plane retires its addresses in the fence and lets them go once off their
  // devices. Its durable state stays: a lease of that name later starts above its epochs.
  const bool dark = host_->retireLease(*slot);
  std::string error;
  if (dataPlane_) {
    if (auto s = dataPlane_->retireLease(*slot); !s) error = s.message();
  } else if (!dark) {
    error = "lease " + name + " removed, but its VIPs may answer until its end";
  }
  // Only now, the VRRP resign advert sent: the instances leave the configuration.
  LeaseConfig& lc = config_.leases[*slot];
  std::erase_if(config_.instances, [&](const InstanceConfig& inst) {
    return std::find(lc.instances.begin(), lc.instances.end(), inst.name) != lc.instances.end();
  });
  lc.instances.clear();
  if (events_) {
    events_->append({{"event", "lease_removed"}, {"lease", name}, {"dark", dark}});
  }
  return error;
}

std::string Daemon::addLease(const DirectorConfig& next, const LeaseConfig& lease) {
  if (slotOf(lease.name)) return "";  // added by an earlier reload that failed in part
  const std::size_t slot = config_.leases.size();
  const std::size_t hadInstances = config_.instances.size();
  for (const auto& name : lease.instances) config_.instances.push_back(next.instance(name));
  config_.leases.push_back(lease);
  if (dataPlane_) {
    if (auto s = dataPlane_->addLease(lease); !s) {
      config_.leases.pop_back();
      config_.instances.resize(hadInstances);
      return s.message();
    }
  }
  // The same slot in the store, the hooks and the lease host; the lease's state is found by
  // its name (an earlier tenure's floor if it ran before).
  store_->add(lease);
  (void)hooks_->updateSettings(hookSettings(config_));
  if (auto s = host_->addLease(lease); !s) {
    // The host keeps the slot retired: so does the data plane, and the instances go again.
    if (dataPlane_) (void)dataPlane_->retireLease(slot);
    config_.instances.resize(hadInstances);
    config_.leases[slot].instances.clear();
    return s.message();
  }
  if (events_) events_->append({{"event", "lease_added"}, {"lease", lease.name}});
  return "";
}

std::string Daemon::reloadVips(const DirectorConfig& next, const std::vector<std::size_t>& leases) {
  if (!dataPlane_) return "VIPs not changed: this director has no data plane";
  // `leases` index the new file; the data plane's leases are slots, found by name.
  std::vector<std::size_t> slots;
  std::vector<std::vector<net::Vip>> before, wanted;
  for (std::size_t i : leases) {
    const auto slot = slotOf(next.leases.at(i).name);
    if (!slot) continue;  // a reload that failed in part did not add it: added now, as it is
    slots.push_back(*slot);
    before.push_back(dataPlane_->vipsOf(*slot));
    wanted.push_back(DataPlane::leaseVips(next, next.leases.at(i)));
  }
  std::string errors = moveVips(slots, wanted);
  if (errors.empty()) {
    // The running configuration follows: VRRP adverts and the status read the instances' VIPs
    // (nothing keeps a pointer into config_.instances).
    for (std::size_t i : leases) {
      for (const auto& name : next.leases.at(i).instances) {
        for (auto& inst : config_.instances) {
          if (inst.name == name) inst.vips = next.instance(name).vips;
        }
      }
    }
    return errors;
  }
  // All or nothing: the caller keeps the old file as the running one, so the leases that took
  // their new VIPs (and a lease that let go of some before it failed to take others) go back.
  // Left as they were, a reload of the old file would find nothing to change.
  if (const std::string back = moveVips(slots, before); !back.empty()) {
    spdlog::critical("reload: putting the VIPs back failed: {}; restart the director", back);
    return errors + "; putting the old VIPs back failed too (" + back + "): restart the director";
  }
  return errors + "; every lease keeps its old VIPs";
}

std::string Daemon::moveVips(const std::vector<std::size_t>& slots,
                             const std::vector<std::vector<net::Vip>>& wanted) {
  // Two passes: every lease first lets go of the VIPs it loses, then takes the ones it gains.
  // The plan refuses a VIP that changes lease, but were one to, it would be out of the first
  // (fenced dark, off its device) before the second gated it. The first failure stops it.
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t k = 0; k < slots.size(); ++k) {
      std::vector<net::Vip> vips = wanted[k];
      if (pass == 0) {
        const auto now = dataPlane_->vipsOf(slots[k]);
        std::erase_if(vips, [&](const net::Vip& v) {
          return std::find(now.begin(), now.end(), v) == now.end();
        });
      }
      if (auto s = dataPlane_->updateVips(slots[k], vips); !s) return s.message();
    }
  }
  return "";
}

void Daemon::onChecksThread(const std::function<void()>& fn) {
  if (!checks_ || !checkLoop_.joinable()) return;
  std::promise<void> done;
  asio::post(checkIo_, [&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

void Daemon::onVerdict(const check::Verdict& v) {
  if (!dataPlane_ || !dataPlane_->balancer()) return;
  (void)dataPlane_->balancer()->setAlive(v.server.virtualServer, v.server.address, v.server.port,
                                         v.alive, v.reason, v.weight);
}

void Daemon::scheduleIpvsResync() {
  dataPlane_->resyncIpvs();
  ipvsTimer_.expires_after(config_.ipvs.resyncInterval);
  ipvsTimer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) scheduleIpvsResync();
  });
}

void Daemon::probeIdentity() {
  if (!host_->probeIdentity()) return;
  probeTimer_.expires_after(config_.timing.renewInterval);
  probeTimer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) probeIdentity();
  });
}

void Daemon::rearm() {
  const Time now = bootNow();
  const Time next = host_->nextWake();
  auto delay = next > now ? next - now : lease::Duration::zero();
  // The timer runs on CLOCK_MONOTONIC, which NTP slews (chrony by up to 8.3 %), while deadlines
  // are on the lease clock: wake 10 % early and look again, so that a slew never makes the end
  // of a lease (the withdrawal of the VIPs) late. A few extra wake-ups per deadline.
  if (delay > std::chrono::milliseconds(2)) delay -= delay / 10;
  timer_.expires_after(delay);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) onTimer();
  });
}

void Daemon::onTimer() {
  host_->onTimer();
  rearm();
}

v1::StatusReply Daemon::currentStatus() const {
  PartCounters parts;
  const auto& h = hooks_->counters();
  v1::HookCounters hc;
  hc.set_runs(h.runs);
  hc.set_failures(h.failures);
  hc.set_timeouts(h.timeouts);
  hc.set_dropped(h.dropped);
  hc.set_fifo_errors(h.fifoErrors);
  hc.set_fences(h.fences);
  hc.set_fence_failures(h.fenceFailures);
  hc.set_gates_failed(h.gatesFailed);
  parts.hooks = hc;
  if (events_) {
    const auto e = events_->counters();
    v1::EventLogCounters ec;
    ec.set_written(e.written);
    ec.set_dropped(e.dropped);
    ec.set_write_errors(e.writeErrors);
    parts.eventLog = ec;
  }
  if (watchdog_) {
    const auto& w = watchdog_->counters();
    v1::WatchdogCounters wc;
    wc.set_pets(w.pets.load(std::memory_order_relaxed));
    wc.set_refusals(w.refusals.load(std::memory_order_relaxed));
    wc.set_pet_failures(w.petFailures.load(std::memory_order_relaxed));
    parts.watchdog = wc;
  }
  return buildStatusReply(host_->snapshot(), parts);
}

void Daemon::publishStatus() {
  // The proto is built only for someone who watches; a new watcher asks for its own.
  if (operatorService_) operatorService_->invalidateStatus();
  if (watchers_.empty()) return;
  watchers_.publish(currentStatus());
}

void Daemon::stop() {
  if (!loop_.joinable()) return;
  if (metrics_) metrics_->stop();  // a scrape would wait on the loop being stopped
  {
    // A reload under way finishes first (it needs the loop); none starts after this.
    std::lock_guard<std::mutex> lock(reloadMu_);
    stopping_ = true;
  }
  if (events_) events_->append({{"event", "stopping"}});
  // A planned stop hands the lease over instead of letting it lapse.
  std::promise<void> handedOver;
  post([this, &handedOver] {
    host_->stepDownAll("shutting down");
    handedOver.set_value();
  });
  handedOver.get_future().wait();
  // Pre-release hooks may hold a release back (their timeouts fit in a lease, see config).
  waitOnLoop(config_.timing.holderLease, [this] { return !host_->holdsAny(); });
  post([this] { host_->stopping(); });
  // notify_stop and whatever else is queued: bounded, then killed with the loop.
  waitOnLoop(stopHooksBudget(config_), [this] { return hooks_->idle(); });
  onChecksThread([this] { checks_->stop(); });
  if (checkLoop_.joinable()) {
    checkIo_.stop();
    checkLoop_.join();
  }
  if (operatorSocket_) operatorSocket_->stop();
  if (operatorServer_) {
    operatorServer_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  }
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  std::promise<void> withdrawn;
  post([this, &withdrawn] {
    // Nothing may answer for a VIP once we are gone, whatever happened meanwhile.
    ipvsTimer_.cancel();
    probeTimer_.cancel();
    if (dataPlane_) dataPlane_->withdrawAll();
    health_->stop();
    if (watchdog_) {
      watchdog_->stop();
      const auto& c = watchdog_->counters();
      spdlog::info("watchdog {}: {} pets, {} refused, {} failed", watchdogDevice_->path(),
                   c.pets.load(), c.refusals.load(), c.petFailures.load());
      if (const Status st = watchdogDevice_->disarm(); !st) {
        spdlog::error("{}: the host may reboot", st.message());
      } else {
        spdlog::info(
            "watchdog {}: disarmed (magic close); a driver with nowayout ignores it and reboots "
            "the host {} ms after the last pet",
            watchdogDevice_->path(), watchdogDevice_->timeout().count());
      }
    }
    withdrawn.set_value();
  });
  withdrawn.get_future().wait();
  io_.stop();
  loop_.join();
  // No new call can start now. Every call has a deadline of one renewal interval, so this
  // wait is bounded; no gRPC callback may outlive the object it calls into (their posts to
  // the stopped io_context are never run).
  transport_->waitIdle();
  if (events_) events_->flush();  // the hand-over's records are on disk when stop() returns
}

}  // namespace quorate::server
