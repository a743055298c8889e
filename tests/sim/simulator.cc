// Seeded discrete-event simulation of directors and arbiter: drift, loss, partitions, crashes.
#include "sim/simulator.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <memory>
#include <ostream>
#include <queue>
#include <random>
#include <tuple>
#include <vector>

#include "lease/director_node.h"

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

enum class EventKind { kDeliver, kTimer, kFault, kRestart, kResume, kQuiet, kEnd };

struct Event {
  RealTime at = 0;
  std::uint64_t seq = 0;  // FIFO among events at the same instant
  EventKind kind = EventKind::kEnd;
  NodeId node = 0;
  // Timer: its generation. Restart/resume: the crash or pause it ends. Delivery: how
  // many times the receiver had crashed when the message was sent.
  std::uint64_t token = 0;
  Message msg{};
};

struct Later {
  bool operator()(const Event& a, const Event& b) const {
    return std::tie(a.at, a.seq) > std::tie(b.at, b.seq);
  }
};

struct SimNode {
  NodeId id = 0;
  std::unique_ptr<DirectorNode> director;  // nodes 0 and 1 while up
  std::unique_ptr<Acceptor> arbiter;       // node 2 while up
  DriftClock clock;
  DurableState disk;  // survives crashes
  bool up = false;
  bool paused = false;
  std::deque<Event> held;  // what arrived while paused, in order
  std::uint64_t incarnation = 0;
  std::uint64_t crashes = 0;  // deliveries name the count at sending time
  std::uint64_t timerToken = 0;
  RealTime timerAt = kNever;
  std::uint64_t downToken = 0;  // names the pending restart or resume
  RealTime stalledAt = -1;
  int stalledTicks = 0;
};

// Network conditions, changed by "weather" faults.
struct Weather {
  double loss = 0;
  double duplicate = 0;
  double longDelay = 0;
};

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
  SimResult run();

 private:
  // Events.
  void schedule(RealTime at, EventKind kind, NodeId node = 0, std::uint64_t token = 0,
                Message msg = {});
  void dispatch(const Event& e);
  void process(SimNode& n, const Event& e);  // a delivery or timer for a running node
  void afterEvent();                         // safety checks and liveness bookkeeping

  // Node lifecycle.
  void start(SimNode& n);
  void crash(SimNode& n, Duration downtime);
  void pause(SimNode& n, Duration length);
  void resume(SimNode& n);

  // Node input and output.
  void deliver(SimNode& n, const Message& m);
  void tick(SimNode& n);
  void apply(SimNode& n, Output out);
  void persist(SimNode& n, const DurableState& state, bool requested);
  void send(NodeId from, const Message& m);
  void rearmTimer(SimNode& n, bool afterTick);

  // Faults and phases.
  void injectFault();
  void reshapePartition();
  void changeWeather();
  void stepDownSomeone();
  void flipHealth();
  void beginQuiet();
  void finish();
  void noteQuietGap(RealTime length);
  SimNode& victim();  // a node to crash or pause, often the holder
  Duration downtime();
  std::int64_t drawPpb(NodeId n);

  Time localNow(const SimNode& n) const { return n.clock.local(now_); }
  bool tracing() const { return trace_ != nullptr; }
  void log(const SimNode* n, const std::string& what);
  void fail(const std::string& what) { checker_.fail(now_, what); }

  const SimConfig& cfg_;
  Rng rng_;
  std::ostream* trace_;
  Checker checker_;
  std::array<SimNode, lease::kNodeCount> nodes_;
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

  // The network.
  bool cut_[lease::kNodeCount][lease::kNodeCount] = {};  // [from][to]
  Weather weather_;

  // Phases and liveness.
  bool quiet_ = false;
  RealTime quietStart_ = kNever;
  std::optional<RealTime> firstQuietHolder_;
  RealTime coveredUntil_ = 0;  // the holders seen at the last event hold until then
  std::optional<RealTime> holderlessSince_;
  Duration maxQuietGap_{0};
  SimStats stats_;
};

Simulator::Simulator(const SimConfig& cfg, std::uint64_t seed, std::ostream* trace)
    : cfg_(cfg), rng_(seed), trace_(trace), checker_(cfg.timing.holderLease) {
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
    n.id = id;
    n.clock.reset(0, Time(rng_.between(kMinBootReading, kMaxBootReading)), drawPpb(id));
    schedule(rng_.between(Duration::zero(), Duration(2s)).count(), EventKind::kRestart, id,
             n.downToken);
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
    for (const auto& node : nodes_) {
      *trace_ << "  n" << node.id << " clock rate " << node.clock.ppb() << " ppb\n";
    }
  }
  changeWeather();
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
    *trace_ << "n" << n->id << " @" << formatDuration(localNow(*n).time_since_epoch());
    if (n->director) *trace_ << " " << lease::toString(n->director->role());
    *trace_ << ": ";
  }
  *trace_ << what << "\n";
}

void Simulator::schedule(RealTime at, EventKind kind, NodeId node, std::uint64_t token,
                         Message msg) {
  queue_.push(Event{at, seq_++, kind, node, token, std::move(msg)});
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
  SimNode& n = nodes_[e.node];
  switch (e.kind) {
    case EventKind::kDeliver:
    case EventKind::kTimer:
      // A crash drops what was in flight to the node (unless configured otherwise).
      if (!n.up ||
          (e.kind == EventKind::kDeliver && !cfg_.deliverAcrossRestarts && e.token != n.crashes)) {
        if (e.kind == EventKind::kDeliver) {
          ++stats_.messagesLost;
          if (tracing()) {
            log(&n, std::string(n.up ? "crashed since it was sent" : "down") + ", dropped " +
                        bodyText(e.msg.body));
          }
        }
        return;
      }
      if (e.kind == EventKind::kTimer && e.token != n.timerToken) return;
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
      if (!n.up && e.token == n.downToken) start(n);
      return;
    case EventKind::kResume:
      if (n.up && n.paused && e.token == n.downToken) resume(n);
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
  } else {
    deliver(n, e.msg);
  }
}

// Safety is checked here, after every event, at the event's real instant. That is
// complete: holds(t) = (role == kHolder && t < leaseEnd) can only turn true inside
// a call into the node, i.e. at an event; between events a node's local clock only
// advances, which can only turn it false. So the set of holders at any instant is a
// subset of the set seen after the last event before it. A paused node's belief
// counts (its clock runs on); a crashed node holds nothing.
void Simulator::afterEvent() {
  std::array<HolderView, 2> buf;
  std::size_t count = 0;
  RealTime coveredUntil = now_;
  for (NodeId id : {lease::kDirectorA, lease::kDirectorB}) {
    const SimNode& n = nodes_[id];
    if (!n.up || !n.director) continue;
    const Time local = localNow(n);
    if (!n.director->holds(local)) continue;
    buf[count++] = HolderView{id, n.director->epoch(), n.director->leaseEnd() - local};
    coveredUntil = std::max(coveredUntil, n.clock.realAt(n.director->leaseEnd()));
  }
  checker_.onHolders(now_, std::span<const HolderView>(buf.data(), count));

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

void Simulator::start(SimNode& n) {
  ++n.incarnation;
  ++n.downToken;
  n.up = true;
  n.paused = false;
  n.stalledTicks = 0;
  // A restart is sometimes a reboot: the clock starts over at a small reading.
  if (n.incarnation > 1 && rng_.chance(0.3)) {
    n.clock.reset(now_, Time(rng_.between(kMinBootReading, Duration(100s))), drawPpb(n.id));
  }
  const Time local = localNow(n);
  if (tracing()) {
    log(&n, "start #" + std::to_string(n.incarnation) + ", disk max epoch " +
                std::to_string(n.disk.maxEpoch) + " (n" + std::to_string(n.disk.maxEpochOwner) +
                "), clock " + std::to_string(n.clock.ppb()) + " ppb");
  }
  if (lease::isDirector(n.id)) {
    lease::NodeConfig c;
    c.self = n.id;
    c.timing = cfg_.timing;
    c.preferred = preferred_;
    c.preemptDelay = preemptDelay_;
    c.seed = rng_.next();
    c.acceptorFaults = cfg_.acceptorFaults;
    n.director = std::make_unique<DirectorNode>(c, n.disk, local);
    rearmTimer(n, false);
  } else {
    // The arbiter grants no more than its quarantine covers.
    n.arbiter = std::make_unique<Acceptor>(n.id, cfg_.timing.quarantine, cfg_.timing.quarantine,
                                           n.disk, local, cfg_.acceptorFaults);
  }
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
  ++n.timerToken;
  n.timerAt = kNever;
  ++n.downToken;
  checker_.onCrash(n.id);
  schedule(now_ + down.count(), EventKind::kRestart, n.id, n.downToken);
}

void Simulator::pause(SimNode& n, Duration length) {
  ++stats_.pauses;
  if (tracing()) log(&n, "PAUSE for " + formatDuration(length));
  n.paused = true;
  ++n.downToken;
  schedule(now_ + length.count(), EventKind::kResume, n.id, n.downToken);
}

void Simulator::resume(SimNode& n) {
  if (tracing()) log(&n, "RESUME with " + std::to_string(n.held.size()) + " held events");
  n.paused = false;
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

void Simulator::deliver(SimNode& n, const Message& m) {
  if (tracing()) log(&n, "recv " + bodyText(m.body) + " from n" + std::to_string(m.from));
  if (n.director) {
    apply(n, n.director->receive(localNow(n), m));
    rearmTimer(n, false);
    return;
  }
  auto r = n.arbiter->handle(localNow(n), m);
  persist(n, n.arbiter->durable(), r.persist);
  if (r.reply) send(n.id, *r.reply);
}

void Simulator::tick(SimNode& n) {
  apply(n, n.director->tick(localNow(n)));
  rearmTimer(n, true);
}

void Simulator::apply(SimNode& n, Output out) {
  persist(n, n.director->durable(), out.persist);  // before anything leaves the node
  for (const auto& c : out.changes) {
    if (tracing()) {
      log(&n, std::string("ROLE ") + lease::toString(c.from) + " -> " + lease::toString(c.to) +
                  " epoch " + std::to_string(c.epoch) + ": " + c.reason);
    }
    if (c.to == lease::Role::kHolder) checker_.onTenure(now_, n.id, c.epoch);
  }
  for (const auto& m : out.send) send(n.id, m);
}

void Simulator::persist(SimNode& n, const DurableState& state, bool requested) {
  if (state == n.disk) return;
  if (!requested) {
    fail("API: n" + std::to_string(n.id) + " changed its durable state without asking to persist");
  }
  if (state.maxEpoch < n.disk.maxEpoch) {
    fail("n" + std::to_string(n.id) + " persisted max epoch " + std::to_string(state.maxEpoch) +
         " below the " + std::to_string(n.disk.maxEpoch) + " already on disk");
  }
  n.disk = state;
}

void Simulator::send(NodeId from, const Message& m) {
  if (m.from != from || m.to == from || m.to >= lease::kNodeCount) {
    fail("API: n" + std::to_string(from) + " emitted a message from n" + std::to_string(m.from) +
         " to n" + std::to_string(m.to));
    return;
  }
  ++stats_.messagesSent;
  const bool cut = cut_[m.from][m.to];
  if (cut || rng_.chance(weather_.loss)) {
    ++stats_.messagesLost;
    if (tracing()) {
      log(&nodes_[from], std::string(cut ? "cut: " : "lost: ") + bodyText(m.body) + " to n" +
                             std::to_string(m.to));
    }
    return;
  }
  const int copies = rng_.chance(weather_.duplicate) ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    Duration delay = rng_.between(cfg_.smallDelayMin, cfg_.smallDelayMax);
    if (rng_.chance(weather_.longDelay)) delay = rng_.between(cfg_.smallDelayMax, longDelayMax_);
    if (tracing()) {
      log(&nodes_[from], "send " + bodyText(m.body) + " to n" + std::to_string(m.to) +
                             ", arrives after " + formatDuration(delay));
    }
    schedule(now_ + delay.count(), EventKind::kDeliver, m.to, nodes_[m.to].crashes, m);
  }
}

void Simulator::rearmTimer(SimNode& n, bool afterTick) {
  if (!n.up || !n.director) return;
  const Time deadline = n.director->nextDeadline();
  if (afterTick) {
    if (deadline > localNow(n)) {
      n.stalledTicks = 0;
    } else if (n.stalledAt == now_ && ++n.stalledTicks >= kMaxStalledTicks) {
      fail("API: n" + std::to_string(n.id) + " nextDeadline() stays at or before now after tick()");
      return;
    } else if (n.stalledAt != now_) {
      n.stalledAt = now_;
      n.stalledTicks = 1;
    }
  }
  const RealTime at = std::max(now_, n.clock.realAt(deadline));
  if (at == n.timerAt && at > now_) return;  // already armed for that instant
  ++n.timerToken;
  n.timerAt = at;
  if (at != kNever) schedule(at, EventKind::kTimer, n.id, n.timerToken);
}

SimNode& Simulator::victim() {
  // Half the time the director that believes it holds: that is where safety is at stake.
  if (rng_.chance(0.5)) {
    for (NodeId id : {lease::kDirectorA, lease::kDirectorB}) {
      SimNode& n = nodes_[id];
      if (n.up && n.director && n.director->role() == lease::Role::kHolder) return n;
    }
  }
  return nodes_[rng_.between(0, lease::kNodeCount - 1)];
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
  const std::int64_t total = m.partition + m.crash + m.pause + m.stepDown + m.weather + m.health;
  if (total <= 0) return;
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
  changeWeather();
}

void Simulator::reshapePartition() {
  constexpr NodeId kN = lease::kNodeCount;
  for (auto& row : cut_) std::fill(std::begin(row), std::end(row), false);
  const auto k = static_cast<NodeId>(rng_.between(0, kN - 1));
  const auto other = static_cast<NodeId>((k + 1 + rng_.between(0, 1)) % kN);
  std::string shape;
  switch (rng_.between(0, 5)) {
    case 0:
      shape = "healed";
      break;
    case 1:
      shape = "n" + std::to_string(k) + " isolated";
      for (NodeId j = 0; j < kN; ++j) cut_[k][j] = cut_[j][k] = true;
      break;
    case 2:
      shape = "n" + std::to_string(k) + " -> n" + std::to_string(other) + " cut";
      cut_[k][other] = true;
      break;
    case 3:
      shape = "n" + std::to_string(k) + " cannot send";
      for (NodeId j = 0; j < kN; ++j) cut_[k][j] = true;
      break;
    case 4:
      shape = "n" + std::to_string(k) + " cannot receive";
      for (NodeId j = 0; j < kN; ++j) cut_[j][k] = true;
      break;
    default:
      shape = "random cuts:";
      for (NodeId a = 0; a < kN; ++a) {
        for (NodeId b = 0; b < kN; ++b) {
          if (a != b && rng_.chance(0.35)) {
            cut_[a][b] = true;
            shape += " " + std::to_string(a) + "->" + std::to_string(b);
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
  for (NodeId id : {lease::kDirectorA, lease::kDirectorB}) {
    SimNode& d = nodes_[id];
    if (d.up && d.director && d.director->holds(localNow(d))) n = &d;
  }
  if (!n->up || n->paused || !n->director) return;
  const Time local = localNow(*n);
  const bool held = n->director->holds(local);
  auto out = n->director->stepDown(local, "simulated planned step-down");
  if (out.has_value() != held) {
    fail("API: stepDown() on n" + std::to_string(n->id) +
         (held ? " failed although it holds" : " succeeded although it does not hold"));
    return;
  }
  if (!out) return;
  ++stats_.stepDowns;
  if (tracing()) log(n, "STEP DOWN");
  apply(*n, std::move(*out));
  rearmTimer(*n, false);
}

void Simulator::flipHealth() {
  SimNode& n = nodes_[rng_.between(0, 1)];
  if (!n.up || n.paused || !n.director) return;
  const bool to = !n.director->eligible();
  ++stats_.healthFlips;
  if (tracing()) log(&n, to ? "HEALTHY" : "UNHEALTHY");
  apply(n, n.director->setEligible(localNow(n), to, "simulated health change"));
  rearmTimer(n, false);
}

void Simulator::beginQuiet() {
  quiet_ = true;
  quietStart_ = now_;
  if (tracing()) log(nullptr, "QUIET: healing everything");
  for (auto& row : cut_) std::fill(std::begin(row), std::end(row), false);
  weather_ = Weather{};
  for (auto& n : nodes_) {
    if (!n.up) {
      start(n);
    } else if (n.paused) {
      resume(n);
    }
    if (n.director && !n.director->eligible()) {
      apply(n, n.director->setEligible(localNow(n), true, "quiet phase: healthy"));
      rearmTimer(n, false);
    }
  }
  const Duration length =
      cfg_.quietPhase > Duration::zero() ? cfg_.quietPhase : livenessBound_ + 5s;
  schedule(now_ + length.count(), EventKind::kEnd);
}

void Simulator::finish() {
  done_ = true;
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
  const lease::Timing& t = cfg.timing;
  const double slow = 1 - cfg.rhoSim;
  auto scaled = [slow](Duration d) {
    return Duration(static_cast<std::int64_t>(std::ceil(static_cast<double>(d.count()) / slow)));
  };
  return scaled(t.quarantine) + scaled(t.acceptorLease) + 4 * t.renewInterval +
         8 * cfg.smallDelayMax;
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
