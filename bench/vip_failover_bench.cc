// VIP failover as a client sees it: ARP replies for the VIP across crash, freeze and planned
// switchover of the holder, quorate against keepalived on the same netns topology.
//
// One Topology (alpha, beta, arbiter, client on one bridge) for the whole run. Trials run in
// blocks: a block starts one peer (quorate's arbiter and two directors, or a keepalived in
// alpha and beta), runs `--block` trials of each scenario, interleaved, and stops it; blocks
// alternate between the peers, so both see the same machine load over the run. Each trial has
// its own ArpProber (the client asks "who has the VIP" every 5 ms); the SplitBrainChecker turns
// its history into the failover gap and the split-brain windows. Progress on stderr, the
// markdown table on stdout, one CSV row per trial in --results-dir.
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "netns/checker.h"
#include "netns/director_cluster.h"
#include "netns/topology.h"

namespace {

using quorate::netns::ArpProber;
using quorate::netns::ClusterOptions;
using quorate::netns::DirectorCluster;
using quorate::netns::FailoverGap;
using quorate::netns::kAlpha;
using quorate::netns::kBeta;
using quorate::netns::kVip;
using quorate::netns::Mac;
using quorate::netns::monoNs;
using quorate::netns::Ms;
using quorate::netns::ProbeHistory;
using quorate::netns::SplitBrainChecker;
using quorate::netns::SplitBrainWindow;
using quorate::netns::Topology;
using quorate::netns::waitUntil;

void progress(const char* fmt, auto... args) {
  std::fprintf(stderr, fmt, args...);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

double toMs(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

std::string loadAvg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

// --- Scenarios ---

enum class Scenario { kCrash, kFreeze, kPlanned };
const Scenario kScenarios[] = {Scenario::kCrash, Scenario::kFreeze, Scenario::kPlanned};

const char* scenarioKey(Scenario s) {
  switch (s) {
    case Scenario::kCrash:
      return "crash";
    case Scenario::kFreeze:
      return "freeze";
    case Scenario::kPlanned:
      return "planned";
  }
  return "?";
}

const char* scenarioTitle(Scenario s) {
  switch (s) {
    case Scenario::kCrash:
      return "(a) SIGKILL + link cut";
    case Scenario::kFreeze:
      return "(b) SIGSTOP, SIGCONT after takeover";
    case Scenario::kPlanned:
      return "(c) planned switchover";
  }
  return "?";
}

// --- Peers: the two HA managers, driven the same way ---

// An HA manager in alpha and beta. Every method throws std::runtime_error when the daemons do
// not do what they are asked within a generous timeout; the caller counts the trial as failed
// and restarts the peer.
class Peer {
 public:
  virtual ~Peer() = default;
  virtual std::string name() const = 0;
  // Starts the daemons from nothing; returns once alpha holds the VIP and beta stands by.
  virtual void start() = 0;
  // Stops every daemon of this peer and leaves alpha and beta without VIP or fence.
  virtual void stop() = 0;
  // Unplanned: SIGKILL of the holder's daemon(s), nothing else (the caller cuts the link).
  virtual void crash(const std::string& host) = 0;
  virtual void freeze(const std::string& host) = 0;
  virtual void thaw(const std::string& host) = 0;
  // Planned: what an operator does to move the VIP off `host` for maintenance.
  virtual void switchover(const std::string& host) = 0;
  // After a trial whose old holder was alpha: brings alpha's daemon back (after a crash, as a
  // rebooted host: link up, no VIP) and gives it the VIP again. Returns when alpha holds.
  virtual void restore(Scenario s) = 0;
  // Log excerpts for a trial that missed a goal.
  virtual std::string logTails(std::size_t lines) const = 0;
  virtual std::string logDir() const = 0;
};

void removeVipAndFence(Topology& topo, const std::string& host) {
  topo.run(host, "ip addr del " + kVip +
                     "/24 dev eth0 2>/dev/null; "
                     "nft delete table inet quorate 2>/dev/null; nft delete table arp quorate "
                     "2>/dev/null; true");
}

class QuoratePeer : public Peer {
 public:
  // Each start's daemon logs and configs are copied to <logRoot>/start<N>/ when it stops.
  QuoratePeer(Topology& topo, std::string logRoot) : topo_(topo), logRoot_(std::move(logRoot)) {}
  std::string name() const override { return "quorate"; }

  void start() override {
    cluster_ = std::make_unique<DirectorCluster>(topo_, ClusterOptions{});
    cluster_->startAll();
    const auto holder = cluster_->waitForHolder(Ms(15'000));
    if (holder != kAlpha) throw std::runtime_error("quorate: alpha does not hold after start");
  }

  void stop() override {
    if (cluster_) {
      const auto to = logRoot_ + "/start" + std::to_string(starts_++);
      std::filesystem::create_directories(to);
      for (const auto& e : std::filesystem::directory_iterator(cluster_->dir())) {
        if (e.is_regular_file() && e.path().filename() != "secret") {
          std::filesystem::copy_file(e.path(), to + "/" + e.path().filename().string(),
                                     std::filesystem::copy_options::overwrite_existing);
        }
      }
    }
    cluster_.reset();  // SIGKILLs the three daemons
    for (const auto& h : {kAlpha, kBeta}) removeVipAndFence(topo_, h);
  }

  // A trial missed a goal: keep the daemons' directory too (DirectorCluster prints its path).
  void keepFiles() {
    if (cluster_) cluster_->keepFiles();
  }

  void crash(const std::string& host) override { sendSignal(host, SIGKILL); }
  void freeze(const std::string& host) override { sendSignal(host, SIGSTOP); }
  void thaw(const std::string& host) override { sendSignal(host, SIGCONT); }

  void switchover(const std::string& host) override {
    const auto r = cluster_->ctl(host, "step-down");
    if (!r.ok()) throw std::runtime_error("quoratectl step-down: " + r.err);
  }

  void restore(Scenario s) override {
    if (s == Scenario::kCrash) {
      cluster_->signal(kAlpha, SIGKILL);  // reaps it (killed already)
      removeVipAndFence(topo_, kAlpha);   // a crashed host comes back rebooted
      topo_.linkUp(kAlpha);
      cluster_->startDirector(kAlpha);
    }
    // alpha must be a healthy standby that sees beta hold before beta hands over.
    if (!waitUntil([&] { return cluster_->holderSeenBy(kAlpha) == kBeta; }, Ms(10'000), Ms(20))) {
      throw std::runtime_error("quorate restore: alpha does not see beta hold");
    }
    const auto r = cluster_->ctl(kBeta, "step-down");
    if (!r.ok()) throw std::runtime_error("quoratectl step-down on beta: " + r.err);
    if (cluster_->waitForHolder(Ms(10'000)) != kAlpha) {
      throw std::runtime_error("quorate restore: alpha does not hold again");
    }
  }

  std::string logTails(std::size_t lines) const override {
    if (!cluster_) return "";
    std::string s;
    for (const auto& h : {kAlpha, kBeta, quorate::netns::kArbiter}) {
      s += "---- " + h + " (" + cluster_->logPath(h) + ", last lines) ----\n" +
           cluster_->logTail(h, lines);
    }
    return s;
  }
  std::string logDir() const override { return logRoot_; }

 private:
  void sendSignal(const std::string& host, int sig) {
    const auto pid = cluster_->pid(host);
    if (!pid || !topo_.kill(*pid, sig)) throw std::runtime_error("quorate: no daemon in " + host);
  }

  Topology& topo_;
  std::string logRoot_;
  std::unique_ptr<DirectorCluster> cluster_;
  int starts_ = 0;
};

// keepalived 2.x as commonly deployed: alpha MASTER priority 150, beta BACKUP priority 100,
// multicast adverts every second, preemption on (the default), default GARP settings. Each runs
// `keepalived -n --vrrp`: a parent that watches a VRRP child. The child holds the VRRP state
// and gets SIGTERM (PR_SET_PDEATHSIG) when the parent dies, which makes it shut down gracefully
// (priority-0 advert, VIP removed); a crash therefore stops the parent first and SIGKILLs the
// child, then the parent (a stopped parent cannot respawn the child).
class KeepalivedPeer : public Peer {
 public:
  KeepalivedPeer(Topology& topo, std::string binary, std::string dir)
      : topo_(topo), binary_(std::move(binary)), dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    writeConfig(kAlpha, "MASTER", 150);
    writeConfig(kBeta, "BACKUP", 100);
    for (const auto& h : {kAlpha, kBeta}) {
      // In the host's namespace, so eth0 exists and the check covers the interface too.
      const auto r = topo_.runArgv(h, {binary_, "-t", "-f", conf(h)});
      if (!r.ok()) throw std::runtime_error("keepalived -t " + conf(h) + ": " + r.out + r.err);
    }
  }
  ~KeepalivedPeer() override { stopAll(); }

  std::string name() const override { return "keepalived"; }

  void start() override {
    startHost(kAlpha);
    startHost(kBeta);
    // alpha (MASTER) elects itself after master_down_interval (~3.4 s): it sees no advert.
    waitVipOnlyOn(kAlpha, Ms(15'000));
  }

  void stop() override {
    stopAll();
    for (const auto& h : {kAlpha, kBeta}) removeVipAndFence(topo_, h);
  }

  void crash(const std::string& host) override {
    auto& p = procs_.at(host);
    topo_.stop(p.parent);
    ::kill(p.child, SIGKILL);
    topo_.kill(p.parent, SIGKILL);
  }

  void freeze(const std::string& host) override {
    auto& p = procs_.at(host);
    topo_.stop(p.parent);
    ::kill(p.child, SIGSTOP);
  }
  void thaw(const std::string& host) override {
    auto& p = procs_.at(host);
    ::kill(p.child, SIGCONT);
    topo_.cont(p.parent);
  }

  // `systemctl stop keepalived` (SIGTERM): the master sends a priority-0 advert and removes
  // the VIP; the backup takes over after its skew time ((256 - 100) / 256 s) instead of
  // 3 adverts.
  void switchover(const std::string& host) override { topo_.kill(procs_.at(host).parent, SIGTERM); }

  void restore(Scenario s) override {
    switch (s) {
      case Scenario::kCrash:
        reap(kAlpha);
        removeVipAndFence(topo_, kAlpha);  // a crashed host comes back rebooted
        topo_.linkUp(kAlpha);
        startHost(kAlpha);
        break;
      case Scenario::kFreeze:
        break;  // the thawed master still has priority 150 and takes its VIP back by itself
      case Scenario::kPlanned:
        reap(kAlpha);
        startHost(kAlpha);
        break;
    }
    // A restarted alpha waits master_down_interval, then preempts beta.
    waitVipOnlyOn(kAlpha, Ms(15'000));
  }

  std::string logTails(std::size_t lines) const override {
    std::string s;
    for (const auto& h : {kAlpha, kBeta}) {
      std::ifstream f(log(h));
      std::vector<std::string> all;
      for (std::string line; std::getline(f, line);) all.push_back(line);
      s += "---- keepalived " + h + " (" + log(h) + ", last lines) ----\n";
      for (std::size_t k = all.size() > lines ? all.size() - lines : 0; k < all.size(); ++k) {
        s += all[k] + "\n";
      }
    }
    return s;
  }
  std::string logDir() const override { return dir_; }

 private:
  struct Procs {
    pid_t parent = 0;
    pid_t child = 0;
  };

  std::string conf(const std::string& h) const { return dir_ + "/keepalived-" + h + ".conf"; }
  std::string log(const std::string& h) const { return dir_ + "/keepalived-" + h + ".log"; }
  std::string pidFile(const std::string& h, const char* kind) const {
    return dir_ + "/keepalived-" + h + "." + kind + ".pid";
  }

  void writeConfig(const std::string& h, const char* state, int priority) {
    std::ofstream f(conf(h));
    f << "# quorate-vip-failover-bench: keepalived in netns host " << h << "\n"
      << "global_defs {\n"
      << "  router_id qvb_" << h << "\n"
      << "}\n"
      << "vrrp_instance web {\n"
      << "  state " << state << "\n"
      << "  interface eth0\n"
      << "  virtual_router_id 51\n"
      << "  priority " << priority << "\n"
      << "  advert_int 1\n"
      << "  virtual_ipaddress {\n"
      << "    " << kVip << "/24 dev eth0\n"
      << "  }\n"
      << "}\n";
    if (!f) throw std::runtime_error("cannot write " + conf(h));
  }

  void startHost(const std::string& h) {
    // A stale pid file naming a live process (PIDs are reused) would make keepalived refuse.
    for (const char* k : {"main", "vrrp", "checkers"}) std::filesystem::remove(pidFile(h, k));
    Procs p;
    p.parent =
        topo_.spawn(h,
                    {binary_, "-n", "-l", "-D", "--vrrp", "-f", conf(h), "-p", pidFile(h, "main"),
                     "-r", pidFile(h, "vrrp"), "-c", pidFile(h, "checkers")},
                    log(h));
    procs_[h] = p;
    const std::string children =
        "/proc/" + std::to_string(p.parent) + "/task/" + std::to_string(p.parent) + "/children";
    waitUntil(
        [&] {
          std::ifstream f(children);
          pid_t c = 0;
          if (f >> c && c > 0) procs_[h].child = c;
          return procs_[h].child > 0;
        },
        Ms(5000), Ms(5));
    if (procs_[h].child == 0) {
      throw std::runtime_error("keepalived in " + h + " started no VRRP child; see " + log(h));
    }
  }

  static bool gone(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line)) return true;
    const auto paren = line.rfind(')');
    return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
  }

  // Waits for alpha's processes to be gone (SIGKILL: dead already; SIGTERM: after its
  // shutdown); SIGKILLs them if not.
  void reap(const std::string& h) {
    auto it = procs_.find(h);
    if (it == procs_.end()) return;
    const auto p = it->second;
    if (!topo_.waitExit(p.parent, Ms(5000))) {
      topo_.stop(p.parent);
      if (p.child) ::kill(p.child, SIGKILL);
      topo_.kill(p.parent, SIGKILL);
      topo_.waitExit(p.parent, Ms(5000));
    }
    if (p.child && !waitUntil([&] { return gone(p.child); }, Ms(3000), Ms(5))) {
      ::kill(p.child, SIGKILL);  // by PID: the child we saw start
      waitUntil([&] { return gone(p.child); }, Ms(3000), Ms(5));
    }
    procs_.erase(it);
  }

  void stopAll() {
    for (auto& [h, p] : procs_) {
      topo_.cont(p.parent);
      if (p.child) ::kill(p.child, SIGCONT);
      topo_.kill(p.parent, SIGTERM);
    }
    while (!procs_.empty()) reap(procs_.begin()->first);
  }

  bool hasVip(const std::string& h) const {
    return topo_.run(h, "ip -4 -o addr show dev eth0").out.find(" " + kVip + "/") !=
           std::string::npos;
  }

  void waitVipOnlyOn(const std::string& h, Ms timeout) {
    const std::string other = h == kAlpha ? kBeta : kAlpha;
    if (!waitUntil([&] { return hasVip(h) && !hasVip(other); }, timeout, Ms(50))) {
      throw std::runtime_error("keepalived: the VIP is not on " + h + " alone");
    }
  }

  Topology& topo_;
  std::string binary_;
  std::string dir_;
  std::map<std::string, Procs> procs_;
};

// --- One trial ---

struct TrialResult {
  std::string peer;
  Scenario scenario = Scenario::kCrash;
  int trial = 0;
  int block = 0;
  double phaseMs = 0;
  bool ok = false;
  std::string error;
  double gapMs = NAN;  // last reply of alpha -> first reply of beta (< 0: overlap)
  std::uint64_t silentRounds = 0;
  double takeoverMs = NAN;  // fault -> first reply of beta
  double lastOldMs = NAN;   // fault -> last reply of alpha before beta's first
  std::size_t windows = 0;  // split-brain windows, fault to end of observation
  double windowTotalMs = 0;
  double windowMaxMs = 0;
  std::size_t restoreWindows = 0;  // while giving alpha the VIP back (not part of the trial)
  double restoreWindowMs = 0;

  static TrialResult of(std::string peer, Scenario s, int trial, int block) {
    TrialResult r;
    r.peer = std::move(peer);
    r.scenario = s;
    r.trial = trial;
    r.block = block;
    return r;
  }
};

// The rounds sent in [fromNs, toNs) and their replies.
ProbeHistory slice(const ProbeHistory& h, std::int64_t fromNs, std::int64_t toNs) {
  ProbeHistory s;
  s.periodNs = h.periodNs;
  std::uint64_t lo = UINT64_MAX, hi = 0;
  for (const auto& r : h.rounds) {
    if (r.sentNs < fromNs || r.sentNs >= toNs) continue;
    s.rounds.push_back(r);
    lo = std::min(lo, r.round);
    hi = std::max(hi, r.round);
  }
  for (const auto& r : h.replies) {
    if (r.round >= lo && r.round <= hi) s.replies.push_back(r);
  }
  for (const auto& a : h.announcements) {
    if (a.ns >= fromNs && a.ns < toNs) s.announcements.push_back(a);
  }
  return s;
}

struct Bench {
  Bench(Topology& t, unsigned seed)
      : topo(t),
        checker(SplitBrainChecker::forTopology(t)),
        alphaMac(*Mac::parse(t.host(kAlpha).mac)),
        betaMac(*Mac::parse(t.host(kBeta).mac)),
        rng(seed) {}

  Topology& topo;
  SplitBrainChecker checker;
  Mac alphaMac, betaMac;
  std::mt19937 rng;
  int observeMs = 500;
  int frozenAfterTakeoverMs = 1000;
  int afterThawMs = 1500;
  std::ofstream anomalies;

  // Waits until alpha has been the only one answering for `quiet`.
  bool waitAlphaOnly(const ArpProber& prober, Ms quiet, Ms timeout) const {
    return waitUntil(
        [&] {
          const auto h = prober.history();
          const auto now = monoNs();
          const auto since =
              now - std::chrono::duration_cast<std::chrono::nanoseconds>(quiet).count();
          bool alpha = false;
          for (auto it = h.replies.rbegin(); it != h.replies.rend() && it->ns >= since; ++it) {
            if (it->sender != alphaMac) return false;
            alpha = true;
          }
          return alpha && !h.rounds.empty() && h.rounds.front().sentNs < since;
        },
        timeout, Ms(20));
  }

  TrialResult run(Peer& peer, Scenario s, int trial, int block) {
    TrialResult r = TrialResult::of(peer.name(), s, trial, block);
    ArpProber prober(topo);
    if (!waitAlphaOnly(prober, Ms(300), Ms(5000))) {
      r.error = "alpha does not answer alone before the fault";
      return r;
    }
    // Land anywhere in an advert / renewal interval.
    r.phaseMs = std::uniform_int_distribution<int>(0, 1000)(rng);
    std::this_thread::sleep_for(Ms(static_cast<int>(r.phaseMs)));
    const std::int64_t t0 = monoNs();
    switch (s) {
      case Scenario::kCrash:
        peer.crash(kAlpha);
        topo.linkDown(kAlpha);
        break;
      case Scenario::kFreeze:
        peer.freeze(kAlpha);
        break;
      case Scenario::kPlanned:
        peer.switchover(kAlpha);
        break;
    }
    const bool tookOver = prober.waitForReply(
        [&](const quorate::netns::ArpReply& a) { return a.sender == betaMac; }, t0, Ms(15'000));
    if (s == Scenario::kFreeze) {
      if (tookOver) std::this_thread::sleep_for(Ms(frozenAfterTakeoverMs));
      peer.thaw(kAlpha);
      std::this_thread::sleep_for(Ms(afterThawMs));
    } else {
      std::this_thread::sleep_for(Ms(observeMs));
    }
    const std::int64_t tEnd = monoNs();
    analyseTrial(peer, prober.history(), t0, tEnd, tookOver, r);

    peer.restore(s);  // throws on failure: the caller restarts the peer
    if (!waitAlphaOnly(prober, Ms(300), Ms(5000))) {
      r.ok = false;
      r.error +=
          (r.error.empty() ? "" : "; ") + std::string("alpha not answering alone after restore");
    }
    prober.stop();
    const auto rest = slice(prober.history(), tEnd, monoNs());
    for (const auto& w : checker.arpWindows(rest)) {
      ++r.restoreWindows;
      r.restoreWindowMs += toMs(w.endNs - w.startNs);
    }
    return r;
  }

  void analyseTrial(Peer& peer, const ProbeHistory& all, std::int64_t t0, std::int64_t tEnd,
                    bool tookOver, TrialResult& r) {
    // From 300 ms before the fault: alpha's run is in it.
    const auto h = slice(all, t0 - 300'000'000, tEnd);
    const auto windows = checker.arpWindows(h);
    const auto gaps = checker.failoverGaps(h);
    for (const auto& w : windows) {
      ++r.windows;
      const double d = toMs(w.endNs - w.startNs);
      r.windowTotalMs += d;
      r.windowMaxMs = std::max(r.windowMaxMs, d);
    }
    const FailoverGap* gap = nullptr;
    for (const auto& g : gaps) {
      if (g.from == alphaMac && g.to == betaMac) {
        gap = &g;
        break;
      }
    }
    if (!tookOver || !gap) {
      r.error = "no takeover by beta seen";
    } else {
      r.ok = true;
      r.gapMs = toMs(gap->gapNs());
      r.silentRounds = gap->silentRounds();
      r.takeoverMs = toMs(gap->firstToNs - t0);
      r.lastOldMs = toMs(gap->lastFromNs - t0);
    }
    // quorate's goals; a miss is reported with the evidence, not hidden.
    if (peer.name() != "quorate") return;
    std::string miss;
    if (!r.ok) miss = r.error;
    if (!windows.empty()) miss += " split-brain;";
    if (r.ok && isPlanned(r.scenario) && r.gapMs >= 100) miss += " planned gap >= 100 ms;";
    if (r.ok && !isPlanned(r.scenario) && r.gapMs >= 1000) miss += " unplanned gap >= 1 s;";
    if (miss.empty()) return;
    std::ostringstream o;
    o << "## quorate " << scenarioKey(r.scenario) << " trial " << r.trial << ":" << miss << "\n\n"
      << "fault at mono " << toMs(t0) << " ms, end " << toMs(tEnd) << " ms\n\n```\n"
      << quorate::netns::describe(windows) << quorate::netns::describe(gaps) << "runs:\n";
    for (const auto& run : checker.runs(h)) {
      o << "  " << checker.hostOf(run.mac) << " rounds " << run.firstRound << ".." << run.lastRound
        << " at " << toMs(run.firstNs) << ".." << toMs(run.lastNs) << " ms, " << run.replies
        << " replies\n";
    }
    o << peer.logTails(60) << "```\n\n";
    static_cast<QuoratePeer&>(peer).keepFiles();
    anomalies << o.str() << std::flush;
    progress("QUORATE GOAL MISSED:\n%s", o.str().c_str());
  }

  static bool isPlanned(Scenario s) { return s == Scenario::kPlanned; }
};

// --- Statistics and output ---

double nearestRank(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

std::string fmt(double v) {
  if (std::isnan(v)) return "–";
  char b[32];
  std::snprintf(b, sizeof b, std::fabs(v) >= 100 ? "%.0f" : "%.1f", v);
  return b;
}

void writeCsv(const std::string& path, const std::vector<TrialResult>& rs) {
  std::ofstream f(path);
  f << "peer,scenario,trial,block,phase_ms,ok,gap_ms,silent_rounds,takeover_ms,last_old_ms,"
       "windows,window_total_ms,window_max_ms,restore_windows,restore_window_ms,error\n";
  for (const auto& r : rs) {
    auto num = [](double v) {
      if (std::isnan(v)) return std::string();
      char b[32];
      std::snprintf(b, sizeof b, "%.3f", v);
      return std::string(b);
    };
    std::string err = r.error;
    std::replace(err.begin(), err.end(), ',', ';');
    f << r.peer << "," << scenarioKey(r.scenario) << "," << r.trial << "," << r.block << ","
      << num(r.phaseMs) << "," << (r.ok ? 1 : 0) << "," << num(r.gapMs) << "," << r.silentRounds
      << "," << num(r.takeoverMs) << "," << num(r.lastOldMs) << "," << r.windows << ","
      << num(r.windowTotalMs) << "," << num(r.windowMaxMs) << "," << r.restoreWindows << ","
      << num(r.restoreWindowMs) << "," << err << "\n";
  }
}

std::string table(const std::vector<TrialResult>& rs, const std::vector<std::string>& peers) {
  std::ostringstream o;
  o << "| scenario | peer | trials ok/run | gap p50 ms | gap p99 ms | gap max ms | takeover p50 ms "
       "| takeover p99 ms | trials with split brain | split brain total ms | split brain max ms "
       "|\n|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto s : kScenarios) {
    for (const auto& p : peers) {
      std::vector<double> gap, take;
      int runs = 0, withWindows = 0;
      double total = 0, max = 0;
      for (const auto& r : rs) {
        if (r.peer != p || r.scenario != s) continue;
        ++runs;
        if (r.ok) {
          gap.push_back(r.gapMs);
          take.push_back(r.takeoverMs);
        }
        if (r.windows) ++withWindows;
        total += r.windowTotalMs;
        max = std::max(max, r.windowMaxMs);
      }
      if (!runs) continue;
      o << "| " << scenarioTitle(s) << " | " << p << " | " << gap.size() << "/" << runs << " | "
        << fmt(nearestRank(gap, 0.5)) << " | " << fmt(nearestRank(gap, 0.99)) << " | "
        << fmt(nearestRank(gap, 1.0)) << " | " << fmt(nearestRank(take, 0.5)) << " | "
        << fmt(nearestRank(take, 0.99)) << " | " << withWindows << "/" << runs << " | "
        << fmt(total) << " | " << fmt(max) << " |\n";
    }
  }
  return o.str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "quorate-vip-failover-bench: VIP failover seen by a client's ARP, quorate vs "
      "keepalived, in network namespaces"};
  int trials = 30;
  int block = 10;
  std::string resultsDir = "vip-failover-results";
  std::string keepalived = "/usr/sbin/keepalived";
  std::vector<std::string> peers = {"quorate", "keepalived"};
  unsigned seed = 20261129;
  int observeMs = 500;
  int frozenMs = 1000;
  int afterThawMs = 1500;
  app.add_option("--trials", trials, "trials per scenario and peer")->check(CLI::Range(1, 1000));
  app.add_option("--block", block, "trials per scenario before switching peers")
      ->check(CLI::Range(1, 1000));
  app.add_option("--results-dir", resultsDir, "where trials.csv and anomalies.md go");
  app.add_option("--keepalived", keepalived, "the keepalived binary");
  app.add_option("--peers", peers, "quorate, keepalived or both")
      ->check(CLI::IsMember({"quorate", "keepalived"}));
  app.add_option("--seed", seed, "seed of the random fault phase");
  app.add_option("--observe-ms", observeMs, "(a), (c): observation after the takeover");
  app.add_option("--frozen-ms", frozenMs, "(b): how long the holder stays frozen after takeover");
  app.add_option("--after-thaw-ms", afterThawMs, "(b): observation after SIGCONT");
  CLI11_PARSE(app, argc, argv);
  if (::geteuid() != 0) {
    std::fprintf(stderr, "needs root (network namespaces, nftables, raw sockets)\n");
    return 2;
  }
  std::filesystem::create_directories(resultsDir);
  resultsDir = std::filesystem::canonical(resultsDir).string();

  const std::string loadBefore = loadAvg();
  progress("load average before: %s; seed %u; %d trials x 3 scenarios x %zu peers",
           loadBefore.c_str(), seed, trials, peers.size());

  Topology topo;
  progress("topology %s up in %lld ms", topo.prefix().c_str(),
           static_cast<long long>(topo.setupTime().count()));
  Bench bench(topo, seed);
  bench.observeMs = observeMs;
  bench.frozenAfterTakeoverMs = frozenMs;
  bench.afterThawMs = afterThawMs;
  bench.anomalies.open(resultsDir + "/anomalies.md");

  std::vector<std::unique_ptr<Peer>> impls;
  for (const auto& p : peers) {
    if (p == "quorate")
      impls.push_back(std::make_unique<QuoratePeer>(topo, resultsDir + "/quorate"));
    if (p == "keepalived") {
      impls.push_back(
          std::make_unique<KeepalivedPeer>(topo, keepalived, resultsDir + "/keepalived"));
    }
  }

  std::vector<TrialResult> results;
  int restarts = 0;
  const auto started = std::chrono::steady_clock::now();
  for (int first = 0, b = 0; first < trials; first += block, ++b) {
    for (auto& peer : impls) {
      progress("block %d: starting %s", b, peer->name().c_str());
      try {
        peer->start();
      } catch (const std::exception& e) {
        progress("  %s does not start: %s; retrying once", peer->name().c_str(), e.what());
        peer->stop();
        peer->start();
      }
      for (int t = first; t < std::min(trials, first + block); ++t) {
        for (const auto s : kScenarios) {
          TrialResult r;
          try {
            r = bench.run(*peer, s, t, b);
          } catch (const std::exception& e) {
            r = TrialResult::of(peer->name(), s, t, b);
            r.error = e.what();
            progress("  %s %s trial %d failed: %s; restarting %s", peer->name().c_str(),
                     scenarioKey(s), t, e.what(), peer->name().c_str());
            ++restarts;
            topo.linkUp(kAlpha);
            peer->stop();
            peer->start();
          }
          const double elapsed =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
          progress(
              "  [%4.0f s] %-10s %-7s #%-2d gap %8s ms  takeover %7s ms  windows %zu (%s ms)"
              "%s%s",
              elapsed, r.peer.c_str(), scenarioKey(s), t, fmt(r.gapMs).c_str(),
              fmt(r.takeoverMs).c_str(), r.windows, fmt(r.windowTotalMs).c_str(),
              r.restoreWindows ? "  restore windows " : "",
              r.restoreWindows ? std::to_string(r.restoreWindows).c_str() : "");
          if (!r.error.empty()) progress("    error: %s", r.error.c_str());
          results.push_back(r);
          writeCsv(resultsDir + "/trials.csv", results);  // partial results survive a crash
        }
      }
      peer->stop();
    }
  }

  const std::string loadAfter = loadAvg();
  std::printf("load average before: %s, after: %s; peer restarts after failed trials: %d\n\n",
              loadBefore.c_str(), loadAfter.c_str(), restarts);
  std::printf("%s", table(results, peers).c_str());
  for (const auto& p : impls) std::printf("\n%s logs: %s", p->name().c_str(), p->logDir().c_str());
  std::printf("\n");
  std::ofstream(resultsDir + "/table.md") << table(results, peers);
  std::printf("raw results: %s/trials.csv\n", resultsDir.c_str());
  return 0;
}
