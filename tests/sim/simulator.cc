// Seeded discrete-event simulation of directors and arbiter: drift, loss, partitions, crashes.
#include "sim/simulator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <queue>
#include <random>
#include <stdexcept>
#include <tuple>
#include <utility>
#include <vector>

#include "arbiter/arbiter_service.h"
#include "common/convert.h"
#include "common/membership.h"
#include "common/peer_auth.h"
#include "common/peer_client.h"
#include "common/state_file.h"
#include "lease/director_node.h"
#include "support/temp_dir.h"

namespace quorate::sim {
namespace {

using namespace std::chrono_literals;
using lease::Acceptor;
using lease::DirectorNode;
using lease::DurableState;
using lease::Duration;
using lease::Message;
using lease::NodeId;
using lease::Output;
using lease::Time;

// A fresh node's clock reads this much at least: real daemons start well after boot.
constexpr Duration kMinBootReading = 5s;
constexpr Duration kMaxBootReading = 100'000s;
// Ticks in a row that leave nextDeadline() at or before now before we call it a livelock.
constexpr int kMaxStalledTicks = 3;
constexpr std::uint64_t kMaxEvents = 20'000'000;
// No honest run and no insider inside the range checks comes near this (each admitted step is
// kMaxStep plus a microsecond per microsecond waited: under 2^32 in a schedule); an acceptor or
// director past it means a counter was pushed towards kMaxCounter, where the cluster would stop.
constexpr std::uint64_t kHeadroom = lease::kMaxCounter >> 20;

// What the sim's directors send the real arbiter: one cluster, one secret, one view of it.
const std::string kCluster = "sim";
const std::string kSecret = "sim-secret-0123456789";
const std::array<const char*, lease::kNodeCount> kNames = {"a", "b", "arbiter"};
const std::string& simMembership() {
  static const std::string text =
      membershipText(kCluster, {Member{"a", "a:1"}, Member{"b", "b:1"}, Member{"arbiter", "c:1"}});
  return text;
}

// Portable draws over mt19937_64 (the standard distributions differ between libraries).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : gen_(mix(seed)) {}
  std::uint64_t next() { return gen_(); }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return unit() < p; }
  std::int64_t between(std::int64_t lo, std::int64_t hi) {  // inclusive
    if (hi <= lo) return lo;
    return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
  Duration between(Duration lo, Duration hi) { return Duration(between(lo.count(), hi.count())); }
  Duration exponential(Duration mean) {
    return Duration(static_cast<std::int64_t>(-std::log1p(-unit()) * mean.count()));
  }
  template <typename T, std::size_t N>
  T pick(const std::array<T, N>& from) {
    return from[next() % N];
  }

 private:
  static std::uint64_t mix(std::uint64_t x) {  // splitmix64: nearby seeds, unrelated streams
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  }
  std::mt19937_64 gen_;
};

enum class EventKind {
  kDeliver,
  kTimer,
  kFault,
  kRestart,
  kResume,
  kQuiet,
  kEnd,
  kAnnounce,  // a holder's announce timer (data plane)
  kClock,     // a slewing clock returns to a rate within the bound
  kLocked,    // a request at the arbiter got the cluster's lock
};

struct Event {
  RealTime at = 0;
  std::uint64_t seq = 0;  // FIFO among events at the same instant
  EventKind kind = EventKind::kEnd;
  ProcId proc = 0;
  // Timer, announce, clock: its generation. Restart/resume: the crash or pause it ends.
  // Delivery: how many times the receiving process had crashed when it was sent.
  std::uint64_t token = 0;
  Message msg{};
  ProcId fromProc = 0;  // delivery: the process that sent it
  Time reading{};       // kLocked: the arbiter's clock when the request arrived
};

struct Later {
  bool operator()(const Event& a, const Event& b) const {
    return std::tie(a.at, a.seq) > std::tie(b.at, b.seq);
  }
};

struct SimNode {
  ProcId proc = 0;
  NodeId id = 0;                                     // the node id this process runs as
  std::optional<DirectorNode> director;              // director processes while up
  std::optional<Acceptor> arbiter;                   // the arbiter process while up (its model)
  std::unique_ptr<arbiter::ArbiterService> service;  // the real one (SimConfig::realArbiter)
  std::map<std::string, std::string> backupFiles;    // its older state dir, file by file
  DriftClock clock;
  DurableState disk;     // survives crashes
  DurableState memory;   // durable() after the last step (what it believes is on disk)
  DurableState backup;   // an older copy of the disk, for "restored from backup"
  lease::Timing timing;  // this process's timers (per-node skew)
  std::uint64_t instance = 0;
  bool active = true;  // false: the clone before it is started and after it is retired
  bool up = false;
  bool paused = false;
  std::deque<Event> held;  // what arrived while paused, in order
  std::uint64_t incarnation = 0;
  std::uint64_t crashes = 0;  // deliveries name the count at sending time
  std::uint64_t timerToken = 0;
  RealTime timerAt = kNever;
  RealTime retryNotBefore = 0;  // after a failed persist: when the daemon tries again
  std::uint64_t downToken = 0;  // names the pending restart or resume
  std::uint64_t announceToken = 0;
  std::uint64_t clockToken = 0;
  int diskFate = 0;  // at the next start: 0 keep, 1 empty, 2 the backup
  RealTime stalledAt = -1;
  int stalledTicks = 0;
};

// Network conditions, changed by "weather" faults.
struct Weather {
  double loss = 0;
  double duplicate = 0;
  double longDelay = 0;
};

bool timingEqual(const lease::Timing& a, const lease::Timing& b) {
  return a.holderLease == b.holderLease && a.acceptorLease == b.acceptorLease &&
         a.quarantine == b.quarantine && a.renewInterval == b.renewInterval && a.rho == b.rho;
}

bool isReply(const lease::Body& b) {
  return std::holds_alternative<lease::Promise>(b) || std::holds_alternative<lease::Accepted>(b) ||
         std::holds_alternative<lease::Reject>(b) || std::holds_alternative<lease::Pong>(b);
}

std::string bodyText(const lease::Body& body) {
  using namespace lease;
  std::string s = bodyName(body);
  auto epoch = [](std::uint64_t e) { return " e" + std::to_string(e); };
  auto leaseText = [](const std::optional<LeaseView>& l) {
    return l ? " lease{n" + std::to_string(l->owner) + " e" + std::to_string(l->epoch) + " " +
                   formatDuration(l->remaining) + "}"
             : std::string();
  };
  if (const auto* p = std::get_if<Prepare>(&body)) s += " b" + toString(p->ballot);
  if (const auto* p = std::get_if<Promise>(&body)) {
    s += " b" + toString(p->ballot) + " max" + epoch(p->maxEpoch) + leaseText(p->lease);
  }
  if (const auto* a = std::get_if<Accept>(&body)) {
    s += " b" + toString(a->ballot) + epoch(a->epoch) + " " + formatDuration(a->lease);
  }
  if (const auto* a = std::get_if<Accepted>(&body)) {
    s += " b" + toString(a->ballot) + epoch(a->epoch);
  }
  if (const auto* r = std::get_if<Reject>(&body)) {
    s += " b" + toString(r->ballot) + " (" + toString(r->reason) + ") promised " +
         toString(r->promised) + " max" + epoch(r->maxEpoch) + leaseText(r->lease);
  }
  if (const auto* r = std::get_if<Release>(&body)) s += epoch(r->epoch);
  if (const auto* h = std::get_if<Handover>(&body)) s += epoch(h->epoch);
  return s;
}

class Simulator {
 public:
  Simulator(const SimConfig& cfg, std::uint64_t seed, std::ostream* trace);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;
  SimResult run();

 private:
  // Events.
  void schedule(RealTime at, EventKind kind, ProcId proc = 0, std::uint64_t token = 0,
                Message msg = {}, ProcId fromProc = 0, Time reading = {});
  void dispatch(const Event& e);
  void process(SimNode& n, const Event& e);  // a delivery or timer for a running process
  void afterEvent();                         // safety checks and liveness bookkeeping
  std::size_t currentHolders(std::array<HolderView, kMaxProcs>& buf, RealTime* coveredUntil);

  // Process lifecycle.
  void start(SimNode& n);
  void crash(SimNode& n, Duration downtime);
  void pause(SimNode& n, Duration length);
  void resume(SimNode& n);
  void startClone();
  lease::Timing drawTiming();

  // Process input and output.
  void deliver(SimNode& n, const Message& m, ProcId fromProc);
  void arbiterHandle(SimNode& n, const Message& m, ProcId fromProc, Time now);
  // The real arbiter: its state dir is its disk.
  void startService(SimNode& n, Time local);
  void serviceHandle(SimNode& n, const Message& m, ProcId fromProc, Time arrival);
  std::map<std::string, std::string> readStateDir() const;
  void replaceStateDir(const std::map<std::string, std::string>& files);
  void tick(SimNode& n);
  // Runs one step of a director: snapshot, step, persist; then sends, or rolls back.
  template <typename Step>
  void step(SimNode& n, bool afterTick, Step&& stepFn);
  bool persist(SimNode& n, const DurableState& state, bool requested);  // false: failed
  void reportChanges(SimNode& n, const Output& out);
  void send(const SimNode& from, const Message& m);
  void sendTo(const SimNode& from, const Message& m, SimNode& to);
  void rearmTimer(SimNode& n, bool afterTick);
  void announce(SimNode& n);

  // Faults and phases.
  void injectFault();
  void reshapePartition();
  void changeWeather();
  void stepDownSomeone();
  void flipHealth();
  void clockFault(int kind);  // 0 rate change, 1 slew, 2 jump
  void injectInsider();
  void checkHeadroom();
  void noteHalt(SimNode& n, const std::string& why);
  void beginQuiet();
  void finish();
  void noteQuietGap(RealTime length);
  SimNode& victim();  // a process to crash or pause, often the holder
  Duration downtime();
  std::int64_t drawPpb(NodeId n);

  Time localNow(const SimNode& n) const { return n.clock.local(now_); }
  bool tracing() const { return trace_ != nullptr; }
  void log(const SimNode* n, const std::string& what);
  void fail(const std::string& what) { checker_.fail(now_, what); }
  bool cloneEnabled() const { return cfg_.mix.clone > 0; }

  const SimConfig& cfg_;
  Rng rng_;
  // Process instances come from a stream of their own, so that drawing them leaves the
  // schedules of the older scenarios as they were.
  Rng instanceRng_;
  std::ostream* trace_;
  Checker checker_;
  std::optional<testutil::TempDir> stateTmp_;  // the real arbiter's, for one schedule
  std::string stateDir_;
  arbiter::ArbiterConfig arbiterConfig_;
  std::array<SimNode, kMaxProcs> nodes_;  // by process; processes 0..2 run nodes 0..2
  ProcId procCount_ = lease::kNodeCount;  // kMaxProcs when the clone can run
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  std::uint64_t seq_ = 0;
  RealTime now_ = 0;
  bool done_ = false;

  // Schedule-wide draws.
  bool adversarialClocks_ = false;  // slowDirector_ at 1 - rho, the other two at 1 + rho
  NodeId slowDirector_ = 0;
  std::optional<NodeId> preferred_;
  std::optional<Duration> preemptDelay_;
  Duration meanFaultGap_{};
  Duration longDelayMax_{};
  Duration livenessBound_{};
  CloneRouting routing_ = CloneRouting::kBoth;

  // The network, by process.
  bool cut_[kMaxProcs][kMaxProcs] = {};  // [from][to]
  Weather weather_;
  // While a process handles a message: the sender, for replies over "its connection".
  std::optional<std::pair<NodeId, ProcId>> replyTo_;

  // Phases and liveness.
  bool quiet_ = false;
  RealTime quietStart_ = kNever;
  std::optional<RealTime> firstQuietHolder_;
  RealTime coveredUntil_ = 0;  // the holders seen at the last event hold until then
  std::optional<RealTime> holderlessSince_;
  Duration maxQuietGap_{0};
  SimStats stats_;
};

Duration longestHolderLease(const SimConfig& cfg) {
  Duration d = cfg.timing.holderLease;
  for (const auto& t : cfg.timings) d = std::max(d, t.holderLease);
  return d;
}

Simulator::Simulator(const SimConfig& cfg, std::uint64_t seed, std::ostream* trace)
    : cfg_(cfg),
      rng_(seed),
      instanceRng_(~seed),
      trace_(trace),
      checker_(longestHolderLease(cfg), cfg.checkEpochOrder) {
  if (cfg_.realArbiter) {
    if (cfg_.mutants.noQuarantineWithoutState) {
      throw std::invalid_argument(
          "noQuarantineWithoutState plants a bug in the model arbiter only");
    }
    // The service logs every grant; thousands of schedules would drown the test output.
    spdlog::set_level(spdlog::level::off);
    // In memory, so that its fsyncs cost nothing; a schedule's own directory.
    std::error_code ec;
    std::string base = std::filesystem::is_directory("/dev/shm", ec)
                           ? std::string("/dev/shm")
                           : std::filesystem::temp_directory_path().string();
    stateTmp_.emplace("quorate-sim", base);
    stateDir_ = stateTmp_->path();
    arbiterConfig_.stateDir = stateDir_;
    arbiterConfig_.clusters = {arbiter::ClusterEntry{kCluster, {kSecret}}};
    arbiterConfig_.testFaults = cfg_.acceptorFaults;
    if (cfg_.mix.insider > 0) {
      throw std::invalid_argument("the insider talks to the model arbiter only");
    }
  }
  // The dangerous extreme (a slow holder, fast acceptors) often, not just by chance.
  adversarialClocks_ = cfg_.adversarialClocks || rng_.chance(0.25);
  slowDirector_ = static_cast<NodeId>(rng_.between(0, 1));
  if (rng_.chance(0.5)) {
    preferred_ = static_cast<NodeId>(rng_.between(0, 1));
    if (rng_.chance(0.5)) preemptDelay_ = rng_.between(Duration::zero(), Duration(3s));
  }
  meanFaultGap_ = rng_.between(cfg_.meanFaultGapMin, cfg_.meanFaultGapMax);
  longDelayMax_ =
      cfg_.longDelayMax > Duration::zero() ? cfg_.longDelayMax : 2 * cfg_.timing.holderLease;
  livenessBound_ = cfg_.livenessBound > Duration::zero() ? cfg_.livenessBound : livenessBound(cfg_);
  for (NodeId id = 0; id < lease::kNodeCount; ++id) {
    SimNode& n = nodes_[id];
    n.proc = id;
    n.id = id;
    // One draw per statement: the order of a call's arguments is the compiler's (gcc and clang
    // differ), and a seed must give one schedule whichever built the simulation. This is the
    // order gcc took, so that the seeds the tests were tuned on keep their schedules.
    const std::int64_t ppb = drawPpb(id);
    const Time boot(rng_.between(kMinBootReading, kMaxBootReading));
    n.clock.reset(0, boot, ppb);
    n.disk.maxEpoch = cfg_.startCounters;
    n.disk.maxRound = cfg_.startCounters;
    schedule(rng_.between(Duration::zero(), Duration(2s)).count(), EventKind::kRestart, id,
             n.downToken);
  }
  SimNode& c = nodes_[kCloneProc];
  c.proc = kCloneProc;
  c.id = lease::kDirectorA;
  c.active = false;
  if (cloneEnabled()) {
    procCount_ = kMaxProcs;
    routing_ = cfg_.cloneRouting;
    if (routing_ == CloneRouting::kDrawn) {
      routing_ = rng_.pick(
          std::array{CloneRouting::kBoth, CloneRouting::kOne, CloneRouting::kRepliesBack});
    }
  }
  const Duration faultPhase = rng_.between(cfg_.faultPhaseMin, cfg_.faultPhaseMax);
  schedule(rng_.exponential(meanFaultGap_).count(), EventKind::kFault);
  schedule(faultPhase.count(), EventKind::kQuiet);
  if (tracing()) {
    *trace_ << "schedule: fault phase " << formatDuration(faultPhase) << ", mean fault gap "
            << formatDuration(meanFaultGap_) << ", preferred "
            << (preferred_ ? "n" + std::to_string(*preferred_) : std::string("none"))
            << ", preempt delay "
            << (preemptDelay_ ? formatDuration(*preemptDelay_) : std::string("none")) << "\n";
    for (NodeId id = 0; id < lease::kNodeCount; ++id) {
      *trace_ << "  n" << id << " clock rate " << nodes_[id].clock.ppb() << " ppb\n";
    }
    if (cloneEnabled()) *trace_ << "  clone routing " << static_cast<int>(routing_) << "\n";
  }
  changeWeather();
}

Simulator::~Simulator() {
  for (auto& n : nodes_) n.service.reset();
}

std::int64_t Simulator::drawPpb(NodeId n) {
  const auto rho = static_cast<std::int64_t>(std::llround(cfg_.rhoSim * 1e9));
  if (adversarialClocks_) return n == slowDirector_ ? -rho : rho;
  switch (rng_.between(0, 2)) {
    case 0:
      return -rho;
    case 1:
      return rho;
    default:
      return rng_.between(-rho, rho);
  }
}

void Simulator::log(const SimNode* n, const std::string& what) {
  *trace_ << "[" << formatReal(now_) << "] ";
  if (n) {
    *trace_ << procName(n->proc) << " @" << formatDuration(localNow(*n).time_since_epoch());
    if (n->director) *trace_ << " " << lease::toString(n->director->role());
    *trace_ << ": ";
  }
  *trace_ << what << "\n";
}

void Simulator::schedule(RealTime at, EventKind kind, ProcId proc, std::uint64_t token, Message msg,
                         ProcId fromProc, Time reading) {
  queue_.push(Event{at, seq_++, kind, proc, token, std::move(msg), fromProc, reading});
}

SimResult Simulator::run() {
  while (!queue_.empty() && !done_ && checker_.ok()) {
    Event e = queue_.top();
    queue_.pop();
    now_ = e.at;
    if (++stats_.events > kMaxEvents) {
      fail("event limit reached: the schedule does not settle");
      break;
    }
    dispatch(e);
    afterEvent();
  }
  SimResult r;
  r.violation = checker_.violation();
  r.quietStart = quietStart_;
  if (firstQuietHolder_) r.timeToHolder = Duration(*firstQuietHolder_ - quietStart_);
  r.maxQuietGap = maxQuietGap_;
  r.stats = stats_;
  r.stats.tenures = checker_.tenureCount();
  return r;
}

void Simulator::dispatch(const Event& e) {
  SimNode& n = nodes_[e.proc];
  switch (e.kind) {
    case EventKind::kDeliver:
    case EventKind::kTimer:
    case EventKind::kAnnounce:
    case EventKind::kLocked:
      // A crash drops what was in flight to the process (unless configured otherwise),
      // and the requests waiting for the arbiter's lock.
      if (!n.up ||
          (e.kind == EventKind::kDeliver && !cfg_.deliverAcrossRestarts && e.token != n.crashes) ||
          (e.kind == EventKind::kLocked && e.token != n.crashes)) {
        if (e.kind == EventKind::kDeliver || e.kind == EventKind::kLocked) {
          ++stats_.messagesLost;
          if (tracing()) {
            log(&n, std::string(n.up ? "crashed since it was sent" : "down") + ", dropped " +
                        bodyText(e.msg.body));
          }
        }
        return;
      }
      if (e.kind == EventKind::kTimer && e.token != n.timerToken) return;
      if (e.kind == EventKind::kAnnounce && e.token != n.announceToken) return;
      if (n.paused) {
        if (tracing() && e.kind == EventKind::kDeliver) {
          log(&n, "paused, queued " + bodyText(e.msg.body));
        }
        n.held.push_back(e);
        return;
      }
      process(n, e);
      return;
    case EventKind::kFault:
      if (quiet_) return;
      injectFault();
      schedule(now_ + rng_.exponential(meanFaultGap_).count(), EventKind::kFault);
      return;
    case EventKind::kRestart:
      if (n.active && !n.up && e.token == n.downToken) start(n);
      return;
    case EventKind::kResume:
      if (n.up && n.paused && e.token == n.downToken) resume(n);
      return;
    case EventKind::kClock:
      if (e.token != n.clockToken) return;
      n.clock.setRate(now_, drawPpb(n.id));
      if (tracing()) log(&n, "CLOCK back to " + std::to_string(n.clock.ppb()) + " ppb");
      rearmTimer(n, false);
      return;
    case EventKind::kQuiet:
      beginQuiet();
      return;
    case EventKind::kEnd:
      finish();
      return;
  }
}

void Simulator::process(SimNode& n, const Event& e) {
  if (e.kind == EventKind::kTimer) {
    if (e.token == n.timerToken) tick(n);
  } else if (e.kind == EventKind::kAnnounce) {
    if (e.token == n.announceToken) announce(n);
  } else if (e.kind == EventKind::kLocked) {
    arbiterHandle(n, e.msg, e.fromProc, e.reading);
  } else {
    deliver(n, e.msg, e.fromProc);
  }
}

std::size_t Simulator::currentHolders(std::array<HolderView, kMaxProcs>& buf,
                                      RealTime* coveredUntil) {
  std::size_t count = 0;
  for (ProcId p = 0; p < procCount_; ++p) {
    const SimNode& n = nodes_[p];
    if (!n.up || !n.director) continue;
    const Time local = localNow(n);
    if (!n.director->holds(local)) continue;
    buf[count++] = HolderView{n.proc, n.director->epoch(), n.director->leaseEnd() - local};
    if (coveredUntil) {
      *coveredUntil = std::max(*coveredUntil, n.clock.realAt(n.director->leaseEnd()));
    }
  }
  return count;
}

// Safety is checked here, after every event, at the event's real instant. That is
// complete: holds(t) = (role == kHolder && t < leaseEnd) can only turn true inside
// a call into the node, i.e. at an event; between events a node's local clock only
// advances, which can only turn it false. So the set of holders at any instant is a
// subset of the set seen after the last event before it. A paused node's belief
// counts (its clock runs on, or stands still with pauseStopsClock); a crashed node
// holds nothing. Clock jumps and rate changes are events too.
void Simulator::afterEvent() {
  std::array<HolderView, kMaxProcs> buf;
  RealTime coveredUntil = now_;
  const std::size_t count = currentHolders(buf, &coveredUntil);
  checker_.onHolders(now_, std::span<const HolderView>(buf.data(), count));
  if (cfg_.startCounters == 0) checkHeadroom();

  if (!quiet_) return;
  // Holders can lapse between events: the gap then began when their lease ran out.
  if (firstQuietHolder_ && !holderlessSince_ && now_ > coveredUntil_) {
    holderlessSince_ = coveredUntil_;
  }
  if (count > 0) {
    if (!firstQuietHolder_) firstQuietHolder_ = now_;
    if (holderlessSince_) noteQuietGap(now_ - *holderlessSince_);
    holderlessSince_.reset();
    coveredUntil_ = coveredUntil;
  } else if (firstQuietHolder_ && !holderlessSince_) {
    holderlessSince_ = now_;
  }
}

void Simulator::noteQuietGap(RealTime length) {
  maxQuietGap_ = std::max(maxQuietGap_, Duration(length));
  if (cfg_.checkLiveness && length > livenessBound_.count()) {
    fail("liveness: no holder for " + formatReal(length) + " in the quiet phase, above the bound " +
         formatDuration(livenessBound_));
  }
}

lease::Timing Simulator::drawTiming() {
  return cfg_.timings[static_cast<std::size_t>(
      rng_.between(0, static_cast<std::int64_t>(cfg_.timings.size()) - 1))];
}

void Simulator::start(SimNode& n) {
  ++n.incarnation;
  ++n.downToken;
  n.up = true;
  n.paused = false;
  n.stalledTicks = 0;
  n.retryNotBefore = 0;
  // A restart is sometimes a reboot: the clock starts over at a small reading.
  if (n.incarnation > 1 && rng_.chance(0.3)) {
    const std::int64_t ppb = drawPpb(n.id);  // one draw per statement (see the constructor)
    const Time boot(rng_.between(kMinBootReading, Duration(100s)));
    n.clock.reset(now_, boot, ppb);
  }
  if (cfg_.timings.empty()) {
    n.timing = cfg_.timing;
  } else if (quiet_) {
    n.timing = cfg_.timings.front();  // the rolling change is complete
  } else if (n.incarnation == 1 || rng_.chance(cfg_.timerChangeOnRestart)) {
    const lease::Timing t = drawTiming();
    if (n.incarnation > 1 && !timingEqual(t, n.timing)) ++stats_.timerChanges;
    n.timing = t;
  }
  if (n.diskFate != 0) {
    ++stats_.diskLosses;
    n.disk = n.diskFate == 1 ? DurableState{} : n.backup;
    if (n.id == lease::kArbiter && cfg_.realArbiter) {
      replaceStateDir(n.diskFate == 1 ? std::map<std::string, std::string>{} : n.backupFiles);
    }
    n.diskFate = 0;
  }
  if (n.id == lease::kArbiter && cfg_.realArbiter) {
    // What the service will find (for the trace; the files are the disk).
    const auto loaded = StateFile(stateDir_ + "/" + kCluster + ".state").load();
    if (loaded) n.disk = *loaded;
  }
  n.memory = n.disk;
  n.instance = instanceRng_.next() | 1;  // nonzero, as a daemon draws it at every start
  const Time local = localNow(n);
  if (tracing()) {
    log(&n, "start #" + std::to_string(n.incarnation) + ", disk max epoch " +
                std::to_string(n.disk.maxEpoch) + " (n" + std::to_string(n.disk.maxEpochOwner) +
                "), clock " + std::to_string(n.clock.ppb()) + " ppb, timers " +
                formatDuration(n.timing.holderLease) + "/" +
                formatDuration(n.timing.acceptorLease) + "/" + formatDuration(n.timing.quarantine));
  }
  if (lease::isDirector(n.id)) {
    lease::NodeConfig c;
    c.self = n.id;
    c.timing = n.timing;
    c.preferred = preferred_;
    c.preemptDelay = preemptDelay_;
    c.seed = rng_.next();
    c.acceptorFaults = cfg_.acceptorFaults;
    c.instance = n.instance;
    n.director.emplace(c, n.disk, local);
    rearmTimer(n, false);
  } else if (cfg_.realArbiter) {
    startService(n, local);
  } else {
    // The arbiter grants no more than its quarantine covers.
    const bool skip = cfg_.mutants.noQuarantineWithoutState && n.disk == DurableState{};
    n.arbiter.emplace(n.id, n.timing.quarantine, skip ? Duration::zero() : n.timing.quarantine,
                      n.disk, local, cfg_.acceptorFaults);
  }
}

void Simulator::startClone() {
  SimNode& c = nodes_[kCloneProc];
  if (c.active || quiet_) return;
  ++stats_.clones;
  c.active = true;
  // A cloned VM: A's disk as it is now, A's clock reading, A's timers.
  const SimNode& a = nodes_[lease::kDirectorA];
  c.disk = a.disk;
  c.backup = a.disk;
  c.timing = a.timing;
  c.clock.reset(now_, localNow(a), drawPpb(c.id));
  if (tracing()) log(&c, "CLONE of n0 starts");
  ++c.downToken;
  start(c);
}

void Simulator::crash(SimNode& n, Duration down) {
  ++stats_.crashes;
  ++n.crashes;
  if (tracing()) log(&n, "CRASH for " + formatDuration(down));
  n.up = false;
  n.paused = false;
  n.held.clear();
  n.director.reset();
  n.arbiter.reset();
  n.service.reset();
  n.clock.start(now_);  // a paused VM that is killed boots with a running clock
  ++n.timerToken;
  ++n.announceToken;
  n.timerAt = kNever;
  ++n.downToken;
  checker_.onCrash(n.proc);
  schedule(now_ + down.count(), EventKind::kRestart, n.proc, n.downToken);
}

void Simulator::pause(SimNode& n, Duration length) {
  ++stats_.pauses;
  if (tracing()) {
    log(&n,
        "PAUSE for " + formatDuration(length) + (cfg_.pauseStopsClock ? ", clock stopped" : ""));
  }
  n.paused = true;
  if (cfg_.pauseStopsClock) n.clock.stop(now_);
  ++n.downToken;
  schedule(now_ + length.count(), EventKind::kResume, n.proc, n.downToken);
}

void Simulator::resume(SimNode& n) {
  if (tracing()) log(&n, "RESUME with " + std::to_string(n.held.size()) + " held events");
  n.paused = false;
  n.clock.start(now_);
  ++n.downToken;
  std::deque<Event> held;
  held.swap(n.held);
  bool first = true;
  for (const Event& e : held) {
    if (!first) afterEvent();  // each held event is a step of its own
    first = false;
    process(n, e);
  }
  rearmTimer(n, false);
}

void Simulator::deliver(SimNode& n, const Message& m, ProcId fromProc) {
  if (tracing()) {
    log(&n, "recv " + bodyText(m.body) + " from " + procName(fromProc));
  }
  if (n.director) {
    replyTo_ = std::make_pair(m.from, fromProc);
    step(n, false, [&] { return n.director->receive(localNow(n), m); });
    replyTo_.reset();
  } else if (cfg_.arbiterLockWaitMax > Duration::zero()) {
    // The clock is read now; the request is handled when it gets the lock.
    const Duration wait = rng_.between(Duration::zero(), cfg_.arbiterLockWaitMax);
    schedule(now_ + wait.count(), EventKind::kLocked, n.proc, n.crashes, m, fromProc, localNow(n));
  } else {
    arbiterHandle(n, m, fromProc, localNow(n));
  }
}

void Simulator::startService(SimNode& n, Time local) {
  arbiterConfig_.quarantine = n.timing.quarantine;
  try {
    n.service = std::make_unique<arbiter::ArbiterService>(arbiterConfig_, local);
  } catch (const std::exception& e) {
    fail(std::string("the arbiter cannot start: ") + e.what());
  }
}

void Simulator::serviceHandle(SimNode& n, const Message& m, ProcId fromProc, Time arrival) {
  if (!n.service) return;  // it failed to start: already a violation
  v1::ExchangeRequest req;
  req.set_cluster(kCluster);
  req.set_from_name(m.from < lease::kNodeCount ? kNames[m.from] : "?");
  req.set_membership(simMembership());
  toProto(m, *req.mutable_message());
  // A failing write: the temporary file cannot be created, so the service's own store fails
  // and its own rollback runs.
  const std::string blocker = stateDir_ + "/" + kCluster + ".state.tmp";
  const bool failWrites = cfg_.persistFailure > 0 && rng_.chance(cfg_.persistFailure);
  if (failWrites) std::filesystem::create_directory(blocker);
  const std::uint64_t failedBefore = n.service->counters().persistFailures.load();
  // The fixed service reads the clock under the lock, i.e. now; the broken variant uses the
  // reading taken when the request arrived.
  const arbiter::ArbiterService::Clock clock =
      cfg_.mutants.arbiterClockAtArrival
          ? arbiter::ArbiterService::Clock([arrival] { return arrival; })
          : arbiter::ArbiterService::Clock([this, &n] { return localNow(n); });
  // Sealed and opened as the daemons do (common/peer_auth.h), so the service's checks run too.
  const v1::ExchangeRequest wire = sealRequest(req, kSecret, nextCounter());
  v1::ExchangeReply sealed;
  grpc::Status status = n.service->handle(clock, wire, sealed);
  v1::ExchangeReply reply;
  if (status.ok()) status = openReply(sealed, kSecret, wire.auth().mac(), reply);
  if (failWrites) {
    std::error_code ec;
    std::filesystem::remove(blocker, ec);
  }
  if (n.service->counters().persistFailures.load() != failedBefore) {
    ++stats_.persistFailures;
    ++stats_.arbiterRollbacks;
    if (tracing()) log(&n, "PERSIST FAILED: " + status.error_message());
  }
  if (!status.ok()) {
    if (status.error_code() != grpc::StatusCode::UNAVAILABLE) {
      fail("API: the arbiter refused " + bodyText(m.body) + " from " + procName(fromProc) + ": " +
           status.error_message());
    }
    return;
  }
  for (const auto& pm : reply.messages()) {
    const auto out = fromProto(pm);
    if (!out) {
      fail("API: the arbiter's reply does not convert back: " + out.status().message());
      return;
    }
    send(n, *out);
  }
}

std::map<std::string, std::string> Simulator::readStateDir() const {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(stateDir_)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    files[entry.path().filename().string()].assign(std::istreambuf_iterator<char>(in), {});
  }
  return files;
}

void Simulator::replaceStateDir(const std::map<std::string, std::string>& files) {
  for (const auto& entry : std::filesystem::directory_iterator(stateDir_)) {
    std::filesystem::remove_all(entry.path());
  }
  for (const auto& [name, text] : files) {
    std::ofstream(stateDir_ + "/" + name, std::ios::binary) << text;
  }
}

void Simulator::arbiterHandle(SimNode& n, const Message& m, ProcId fromProc, Time now) {
  if (tracing() && now != localNow(n)) {
    log(&n, "LOCKED " + bodyText(m.body) + " from " + procName(fromProc) + ", clock read " +
                formatDuration(localNow(n) - now) + " ago");
  }
  replyTo_ = std::make_pair(m.from, fromProc);
  if (cfg_.realArbiter) {
    serviceHandle(n, m, fromProc, now);
    replyTo_.reset();
    return;
  }
  std::optional<Acceptor> before;
  if (cfg_.persistFailure > 0) before = *n.arbiter;
  auto r = n.arbiter->handle(now, m);
  if (!persist(n, n.arbiter->durable(), r.persist)) {
    // The step never happened: the state from before it, nothing sent.
    if (!cfg_.mutants.noRollback) n.arbiter = std::move(before);
    n.memory = n.arbiter->durable();
  } else if (r.reply) {
    send(n, *r.reply);
  }
  replyTo_.reset();
}

void Simulator::tick(SimNode& n) {
  step(n, true, [&] { return n.director->tick(localNow(n)); });
}

template <typename Step>
void Simulator::step(SimNode& n, bool afterTick, Step&& stepFn) {
  std::optional<DirectorNode> before;
  if (cfg_.persistFailure > 0) before = *n.director;
  Output out = stepFn();
  if (!persist(n, n.director->durable(), out.persist)) {  // before anything leaves the node
    if (cfg_.mutants.noRollback) {
      reportChanges(n, out);  // what it believes now, although nothing reached the disk
    } else {
      n.director = std::move(before);
    }
    n.memory = n.director->durable();
    n.retryNotBefore = now_ + (5ms).count();
    rearmTimer(n, false);
    return;
  }
  reportChanges(n, out);
  if (out.halt) noteHalt(n, *out.halt);
  // The simulated data plane is dark as soon as the lease is not held.
  if (out.releaseLocal) n.director->releaseOwn(localNow(n), *out.releaseLocal);
  for (const auto& m : out.send) send(n, m);
  rearmTimer(n, afterTick);
}

void Simulator::reportChanges(SimNode& n, const Output& out) {
  for (const auto& c : out.changes) {
    if (tracing()) {
      log(&n, std::string("ROLE ") + lease::toString(c.from) + " -> " + lease::toString(c.to) +
                  " epoch " + std::to_string(c.epoch) + ": " + c.reason);
    }
    if (c.to == lease::Role::kHolder) {
      checker_.onTenure(now_, n.proc, c.epoch);
      if (cfg_.announceInterval > Duration::zero()) {
        // The claim announces at once, then every announceInterval.
        schedule(now_, EventKind::kAnnounce, n.proc, ++n.announceToken);
      }
    }
  }
}

bool Simulator::persist(SimNode& n, const DurableState& state, bool requested) {
  if (state != n.memory && !requested) {
    fail("API: " + procName(n.proc) + " changed its durable state without asking to persist");
  }
  if (!requested) return true;
  if (cfg_.persistFailure > 0 && rng_.chance(cfg_.persistFailure)) {
    ++stats_.persistFailures;
    if (tracing()) log(&n, "PERSIST FAILED");
    return false;
  }
  if (state.maxEpoch < n.disk.maxEpoch) {
    fail(procName(n.proc) + " persisted max epoch " + std::to_string(state.maxEpoch) +
         " below the " + std::to_string(n.disk.maxEpoch) + " already on disk");
  }
  n.disk = state;
  n.memory = state;
  return true;
}

void Simulator::announce(SimNode& n) {
  if (!n.director) return;
  const Time local = localNow(n);
  // The daemon's gate: the lease end on its own clock. The mutant checks only the role
  // ("claimed"), as an announce timer that knows nothing of leases would.
  const bool gate = cfg_.mutants.ungatedAnnounce ? n.director->role() == lease::Role::kHolder
                                                 : n.director->holds(local);
  if (gate) {
    ++stats_.announces;
    if (tracing()) log(&n, "ANNOUNCE the VIPs");
    std::array<HolderView, kMaxProcs> buf;
    const std::size_t count = currentHolders(buf, nullptr);
    checker_.onAnnounce(now_, n.proc, std::span<const HolderView>(buf.data(), count));
  }
  if (n.director->role() != lease::Role::kHolder) return;  // the next tenure starts anew
  const RealTime next = n.clock.realAt(local + cfg_.announceInterval);
  if (next != kNever)
    schedule(std::max(next, now_ + 1), EventKind::kAnnounce, n.proc, n.announceToken);
}

void Simulator::send(const SimNode& from, const Message& m) {
  if (m.from != from.id || m.to == from.id || m.to >= lease::kNodeCount) {
    fail("API: " + procName(from.proc) + " emitted a message from n" + std::to_string(m.from) +
         " to n" + std::to_string(m.to));
    return;
  }
  // Every process that runs as m.to; only director A can have a second one.
  if (m.to != lease::kDirectorA || !nodes_[kCloneProc].active) {
    return sendTo(from, m, nodes_[m.to]);
  }
  SimNode& a = nodes_[lease::kDirectorA];
  SimNode& clone = nodes_[kCloneProc];
  if (routing_ == CloneRouting::kRepliesBack && replyTo_ && replyTo_->first == m.to &&
      isReply(m.body)) {
    return sendTo(from, m, nodes_[replyTo_->second]);  // over the asker's connection
  }
  if (routing_ == CloneRouting::kBoth) {
    sendTo(from, m, a);
    return sendTo(from, m, clone);
  }
  sendTo(from, m, rng_.chance(0.5) ? a : clone);
}

void Simulator::sendTo(const SimNode& from, const Message& m, SimNode& to) {
  ++stats_.messagesSent;
  const bool cut = cut_[from.proc][to.proc];
  if (cut || rng_.chance(weather_.loss)) {
    ++stats_.messagesLost;
    if (tracing()) {
      log(&from,
          std::string(cut ? "cut: " : "lost: ") + bodyText(m.body) + " to " + procName(to.proc));
    }
    return;
  }
  const int copies = rng_.chance(weather_.duplicate) ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    Duration delay = rng_.between(cfg_.smallDelayMin, cfg_.smallDelayMax);
    if (rng_.chance(weather_.longDelay)) delay = rng_.between(cfg_.smallDelayMax, longDelayMax_);
    if (tracing()) {
      log(&from, "send " + bodyText(m.body) + " to " + procName(to.proc) + ", arrives after " +
                     formatDuration(delay));
    }
    schedule(now_ + delay.count(), EventKind::kDeliver, to.proc, to.crashes, m, from.proc);
  }
}

void Simulator::rearmTimer(SimNode& n, bool afterTick) {
  if (!n.up || !n.director) return;
  const Time deadline = n.director->nextDeadline();
  if (afterTick) {
    if (deadline > localNow(n)) {
      n.stalledTicks = 0;
    } else if (n.stalledAt == now_ && ++n.stalledTicks >= kMaxStalledTicks) {
      fail("API: " + procName(n.proc) + " nextDeadline() stays at or before now after tick()");
      return;
    } else if (n.stalledAt != now_) {
      n.stalledAt = now_;
      n.stalledTicks = 1;
    }
  }
  RealTime at = std::max(now_, n.clock.realAt(deadline));
  if (at != kNever) at = std::max(at, n.retryNotBefore);
  if (at == n.timerAt && at > now_) return;  // already armed for that instant
  ++n.timerToken;
  n.timerAt = at;
  if (at != kNever) schedule(at, EventKind::kTimer, n.proc, n.timerToken);
}

SimNode& Simulator::victim() {
  // Half the time a director process that believes it holds: that is where safety is
  // at stake.
  if (rng_.chance(0.5)) {
    for (SimNode& n : nodes_) {
      if (n.up && n.director && n.director->role() == lease::Role::kHolder) return n;
    }
  }
  return nodes_[rng_.between(0, procCount_ - 1)];
}

Duration Simulator::downtime() {
  const Duration q = cfg_.timing.quarantine;
  switch (rng_.between(0, 4)) {
    case 0:
    case 1:
      return rng_.between(Duration(1ms), Duration(200ms));  // back before any lease ran out
    case 2:
    case 3:
      return rng_.between(Duration(200ms), 2 * q);
    default:
      return rng_.between(2 * q, Duration(10s));
  }
}

void Simulator::injectFault() {
  const FaultMix& m = cfg_.mix;
  const std::int64_t total = m.partition + m.crash + m.pause + m.stepDown + m.weather + m.health +
                             m.diskLoss + m.rateChange + m.clone + m.slew + m.clockJump;
  if (total <= 0) return;
  if (m.diskLoss > 0 && rng_.chance(0.2)) {
    // Backups are taken now and then; restoring one brings back an older disk.
    SimNode& b = nodes_[rng_.between(0, lease::kNodeCount - 1)];
    b.backup = b.disk;
    if (b.id == lease::kArbiter && cfg_.realArbiter) b.backupFiles = readStateDir();
  }
  std::int64_t r = rng_.between(0, total - 1);
  if ((r -= m.partition) < 0) return reshapePartition();
  if ((r -= m.crash) < 0) {
    SimNode& n = victim();
    if (n.up) crash(n, downtime());
    return;
  }
  if ((r -= m.pause) < 0) {
    SimNode& n = victim();
    if (!n.up || n.paused) return;
    const Duration hl = cfg_.timing.holderLease;
    switch (rng_.between(0, 4)) {
      case 0:
      case 1:
        return pause(n, rng_.between(Duration(1ms), Duration(500ms)));
      case 2:
      case 3:
        return pause(n, rng_.between(Duration(500ms), 2 * hl));
      default:
        return pause(n, rng_.between(2 * hl, 4 * hl));
    }
  }
  if ((r -= m.stepDown) < 0) return stepDownSomeone();
  if ((r -= m.health) < 0) return flipHealth();
  if ((r -= m.diskLoss) < 0) {
    SimNode& n = victim();
    if (!n.up) return;
    n.diskFate = rng_.chance(0.5) ? 1 : 2;
    if (tracing()) log(&n, n.diskFate == 1 ? "DISK LOST" : "DISK REPLACED by an older backup");
    crash(n, downtime());
    return;
  }
  if ((r -= m.rateChange) < 0) return clockFault(0);
  if ((r -= m.clone) < 0) return startClone();
  if ((r -= m.slew) < 0) return clockFault(1);
  if ((r -= m.clockJump) < 0) return clockFault(2);
  if ((r -= m.insider) < 0) return injectInsider();
  changeWeather();
}

void Simulator::noteHalt(SimNode& n, const std::string& why) {
  ++stats_.halts;
  if (tracing()) log(&n, "HALT: " + why);
  if (!cfg_.expectHalts) fail(procName(n.proc) + " stopped: " + why);
}

void Simulator::checkHeadroom() {
  for (ProcId p = 0; p < procCount_; ++p) {
    const SimNode& n = nodes_[p];
    if (!n.up) continue;
    const Acceptor* a = n.director ? &n.director->acceptor() : n.arbiter ? &*n.arbiter : nullptr;
    if (!a) continue;
    const std::uint64_t round = std::max(a->knownRound(), a->promised().round);
    const std::uint64_t epoch = std::max(a->maxEpoch(), n.director ? n.director->epoch() : 0);
    if (round > kHeadroom || epoch > kHeadroom) {
      fail("insider: " + procName(p) + " took round " + std::to_string(round) + " / epoch " +
           std::to_string(epoch) + ", past " + std::to_string(kHeadroom) +
           ": its counters were pushed towards the limit");
      return;
    }
  }
}

// A node that holds the cluster's credentials sends one message with an absurd or borderline
// round or epoch. It names itself as one of the other nodes (the membership check binds a name to
// an id, not to a key), with an instance of its own.
void Simulator::injectInsider() {
  using namespace lease;
  SimNode& t = nodes_[rng_.between(0, kNodeCount - 1)];
  if (!t.up || t.paused) return;
  const Time local = localNow(t);
  const Acceptor& acc = t.director ? t.director->acceptor() : *t.arbiter;
  const bool reply = t.director && rng_.chance(0.5);  // a Promise or Reject (directors only)
  const std::uint64_t roundLimit = reply ? t.director->roundLimit(local) : acc.roundLimit(local);
  const std::uint64_t epochLimit = reply ? t.director->epochLimit(local) : acc.epochLimit(local);
  constexpr std::uint64_t kTop = std::numeric_limits<std::uint64_t>::max();
  auto value = [&](std::uint64_t limit) -> std::uint64_t {
    switch (rng_.between(0, 5)) {
      case 0:
        return kTop;
      case 1:
        return 1ULL << 63;
      case 2:
        return kMaxCounter + 1;
      case 3:
        return kMaxCounter;
      case 4:
        return limit + 1;  // just beyond what the receiver admits now
      default:
        return limit;  // just inside: admitted
    }
  };
  // Another node's id: the other director, or (for a reply) the arbiter too.
  NodeId from = isDirector(t.id) ? otherDirector(t.id) : static_cast<NodeId>(rng_.between(0, 1));
  if (reply && rng_.chance(0.5)) from = kArbiter;
  const Instance instance = instanceRng_.next() | 1;
  Message m{from, t.id, Ping{}, from == kArbiter ? 0 : instance};
  const Ballot fair{acc.knownRound() + 1, from, 1, instance};  // a ballot that passes
  if (!reply) {
    if (rng_.chance(0.5)) {
      m.body = Prepare{Ballot{value(roundLimit), from, 1, instance}};
    } else {
      const std::uint64_t v = value(epochLimit);
      // The epoch alone, or round and epoch together as in the original report.
      const Ballot b = rng_.chance(0.5) ? fair : Ballot{value(roundLimit), from, 1, instance};
      m.body = Accept{b, v, t.timing.acceptorLease};
    }
  } else if (rng_.chance(0.5)) {
    m.body = Promise{Ballot{value(roundLimit), from, 1, instance}, std::nullopt, value(epochLimit)};
  } else {
    m.body = Reject{fair, Ballot{value(roundLimit), from, 1, instance}, value(epochLimit),
                    std::nullopt, RejectReason::kBallot};
  }
  ++stats_.insiderMessages;
  if (rng_.chance(0.5)) {
    // Through the daemons' edge: what it refuses never reaches the core.
    v1::PeerMessage wire;
    toProto(m, wire);
    const auto parsed = fromProto(wire);
    if (!parsed) {
      ++stats_.insiderAtEdge;
      if (tracing()) log(&t, "INSIDER " + bodyText(m.body) + " refused: " + parsed.status().what());
      return;
    }
    m = *parsed;
  }
  if (tracing()) log(&t, "INSIDER sends " + bodyText(m.body) + " as " + procName(from));
  if (t.director) {
    step(t, false, [&] { return t.director->receive(local, m); });
  } else {
    arbiterHandle(t, m, from, local);
  }
}

void Simulator::clockFault(int kind) {
  SimNode& n = nodes_[rng_.between(0, procCount_ - 1)];
  if (!n.active) return;
  ++stats_.clockFaults;
  ++n.clockToken;
  if (kind == 0) {
    n.clock.setRate(now_, drawPpb(n.id));
    if (tracing()) log(&n, "CLOCK rate now " + std::to_string(n.clock.ppb()) + " ppb");
  } else if (kind == 1) {
    const std::int64_t ppb = rng_.between(50'000'000, 100'000'000);
    n.clock.setRate(now_, rng_.chance(0.5) ? ppb : -ppb);
    const Duration length = rng_.between(Duration(1s), Duration(10s));
    if (tracing()) {
      log(&n,
          "CLOCK SLEW at " + std::to_string(n.clock.ppb()) + " ppb for " + formatDuration(length));
    }
    schedule(now_ + length.count(), EventKind::kClock, n.proc, n.clockToken);
  } else {
    const Duration by = rng_.between(Duration(1ms), cfg_.clockJumpMax);
    n.clock.jump(now_, by);
    if (tracing()) log(&n, "CLOCK JUMPS forward by " + formatDuration(by));
  }
  rearmTimer(n, false);
}

void Simulator::reshapePartition() {
  const ProcId kN = procCount_;
  for (auto& row : cut_) std::fill(std::begin(row), std::end(row), false);
  const auto k = static_cast<ProcId>(rng_.between(0, kN - 1));
  const auto other = static_cast<ProcId>((k + 1 + rng_.between(0, kN - 2)) % kN);
  std::string shape;
  switch (rng_.between(0, 5)) {
    case 0:
      shape = "healed";
      break;
    case 1:
      shape = procName(k) + " isolated";
      for (ProcId j = 0; j < kN; ++j) cut_[k][j] = cut_[j][k] = true;
      break;
    case 2:
      shape = procName(k) + " -> " + procName(other) + " cut";
      cut_[k][other] = true;
      break;
    case 3:
      shape = procName(k) + " cannot send";
      for (ProcId j = 0; j < kN; ++j) cut_[k][j] = true;
      break;
    case 4:
      shape = procName(k) + " cannot receive";
      for (ProcId j = 0; j < kN; ++j) cut_[j][k] = true;
      break;
    default:
      shape = "random cuts:";
      for (ProcId a = 0; a < kN; ++a) {
        for (ProcId b = 0; b < kN; ++b) {
          if (a != b && rng_.chance(0.35)) {
            cut_[a][b] = true;
            shape += " " + procName(a) + "->" + procName(b);
          }
        }
      }
      break;
  }
  if (tracing()) log(nullptr, "PARTITION " + shape);
}

void Simulator::changeWeather() {
  weather_.loss = rng_.pick(std::array{0.0, 0.0, 0.02, 0.1, 0.3, 0.6});
  weather_.duplicate = rng_.pick(std::array{0.0, 0.0, 0.05, 0.2});
  weather_.longDelay = rng_.pick(std::array{0.0, 0.02, 0.1, cfg_.maxLongDelayRate});
  if (tracing()) {
    log(nullptr, "WEATHER loss " + std::to_string(weather_.loss) + ", duplicate " +
                     std::to_string(weather_.duplicate) + ", long delay " +
                     std::to_string(weather_.longDelay));
  }
}

void Simulator::stepDownSomeone() {
  // The director that holds, if any; otherwise anyone, to see stepDown() refuse.
  SimNode* n = &nodes_[rng_.between(0, 1)];
  for (SimNode& d : nodes_) {
    if (d.up && d.director && d.director->holds(localNow(d))) n = &d;
  }
  if (!n->up || n->paused || !n->director) return;
  const Time local = localNow(*n);
  if (!n->director->holds(local)) {
    // It must refuse, and a refusal is no step: it changes nothing.
    if (n->director->stepDown(local, "simulated planned step-down")) {
      fail("API: stepDown() on " + procName(n->proc) + " succeeded although it does not hold");
    }
    return;
  }
  bool refused = false;
  step(*n, false, [&] {
    auto out = n->director->stepDown(local, "simulated planned step-down");
    refused = !out;
    if (out && tracing()) log(n, "STEP DOWN");
    return out ? std::move(*out) : Output{};
  });
  if (refused) {
    fail("API: stepDown() on " + procName(n->proc) + " failed although it holds");
    return;
  }
  ++stats_.stepDowns;
}

void Simulator::flipHealth() {
  SimNode& n = nodes_[rng_.between(0, 1)];
  if (!n.up || n.paused || !n.director) return;
  const bool to = !n.director->eligible();
  ++stats_.healthFlips;
  if (tracing()) log(&n, to ? "HEALTHY" : "UNHEALTHY");
  step(n, false,
       [&] { return n.director->setEligible(localNow(n), to, "simulated health change"); });
}

void Simulator::beginQuiet() {
  quiet_ = true;
  quietStart_ = now_;
  if (tracing()) log(nullptr, "QUIET: healing everything");
  for (auto& row : cut_) std::fill(std::begin(row), std::end(row), false);
  weather_ = Weather{};
  for (auto& n : nodes_) {
    if (n.proc == kCloneProc) {
      // The clone is found and shut down for good.
      if (n.up) crash(n, Duration::zero());
      n.active = false;
      continue;
    }
    if (!n.up) {
      start(n);
    } else if (n.paused) {
      resume(n);
    }
    if (!cfg_.timings.empty() && !timingEqual(n.timing, cfg_.timings.front())) {
      // The rolling timer change completes: a restart with the final timers.
      crash(n, Duration::zero());
      start(n);
    }
    if (n.director && !n.director->eligible()) {
      step(n, false,
           [&] { return n.director->setEligible(localNow(n), true, "quiet phase: healthy"); });
    }
  }
  const Duration length =
      cfg_.quietPhase > Duration::zero() ? cfg_.quietPhase : livenessBound_ + 5s;
  schedule(now_ + length.count(), EventKind::kEnd);
}

void Simulator::finish() {
  done_ = true;
  if (cfg_.expectHalts && !firstQuietHolder_) {
    bool halted = false;
    for (const SimNode& n : nodes_) halted = halted || (n.up && n.director && n.director->halted());
    if (!halted) {
      fail(
          "counters at the limit: no holder in the quiet phase and no director stopped: the "
          "cluster stalled silently");
    }
  }
  if (holderlessSince_) noteQuietGap(now_ - *holderlessSince_);  // still without a holder
  if (!cfg_.checkLiveness) return;
  if (!firstQuietHolder_) {
    fail("liveness: no holder within " + formatReal(now_ - quietStart_) +
         " of the quiet phase (bound " + formatDuration(livenessBound_) + ")");
  } else if (*firstQuietHolder_ - quietStart_ > livenessBound_.count()) {
    fail("liveness: first holder " + formatReal(*firstQuietHolder_ - quietStart_) +
         " after the quiet phase began, above the bound " + formatDuration(livenessBound_));
  }
}

}  // namespace

lease::Duration livenessBound(const SimConfig& cfg) {
  // With per-node timers, the longest of each (a restarted acceptor may quarantine for
  // the longest lease it granted under its old timers).
  lease::Timing t = cfg.timing;
  for (const auto& o : cfg.timings) {
    t.quarantine = std::max(t.quarantine, o.quarantine);
    t.acceptorLease = std::max(t.acceptorLease, o.acceptorLease);
    t.renewInterval = std::max(t.renewInterval, o.renewInterval);
  }
  const double slow = 1 - cfg.rhoSim;
  auto scaled = [slow](Duration d) {
    return Duration(static_cast<std::int64_t>(std::ceil(static_cast<double>(d.count()) / slow)));
  };
  return scaled(t.quarantine) + scaled(t.acceptorLease) + 4 * t.renewInterval +
         8 * cfg.smallDelayMax + 2 * cfg.arbiterLockWaitMax;
}

std::string SimResult::describe(const std::string& scenario) const {
  std::string s = "scenario " + scenario + " seed " + std::to_string(seed) + ": ";
  if (violation) return s + "VIOLATION at " + formatReal(violation->at) + ": " + violation->what;
  s += "ok, " + std::to_string(stats.tenures) + " tenures, " + std::to_string(stats.events) +
       " events";
  if (timeToHolder) s += ", holder " + formatDuration(*timeToHolder) + " after quiet start";
  s += ", max quiet gap " + formatDuration(maxQuietGap);
  return s;
}

SimResult runSchedule(const SimConfig& cfg, std::uint64_t seed, std::ostream* trace) {
  Simulator sim(cfg, seed, trace);
  SimResult r = sim.run();
  r.seed = seed;
  return r;
}

}  // namespace quorate::sim
