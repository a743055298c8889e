// The soak: a seeded nemesis faults the real daemons while the ARP prober, the address watcher
// and an application client record; the verdict comes from their records afterwards.
#include "netns/soak.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "netns/director_cluster.h"

namespace quorate::netns {
namespace {

constexpr int kAppPort = 7200;
constexpr Ms kAppPeriod{10};

const std::vector<std::string> kNodes = {kAlpha, kBeta, kArbiter};

const char* const kFaultNames[kFaultKinds] = {
    "partition",         "kill",   "freeze",      "link-flap", "arbiter-restart", "wiped-restart",
    "old-state-restart", "reload", "timer-change"};

// Valid timer sets for a rolling change. Each satisfies the daemon's own checks; across files,
// every acceptor_lease_ms (at most 690) stays within every quarantine_ms (at least 700) and the
// arbiter's quarantine (700), as docs/configuration.md requires of consistent files.
struct Timers {
  int holder, acceptor, quarantine, renew;
};
constexpr Timers kTimerSets[] = {
    {600, 650, 700, 150}, {500, 550, 700, 125}, {400, 450, 700, 100},
    {640, 690, 700, 160}, {600, 650, 900, 150},
};

std::string fmtMs(std::int64_t ns) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", static_cast<double>(ns) / 1e6);
  return b;
}
std::string fmtS(std::int64_t ns) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", static_cast<double>(ns) / 1e9);
  return b;
}

void shell(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
}

// --- The application client and its responders ---

int udpSocket() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("udp socket: ") + std::strerror(errno));
  return fd;
}

sockaddr_in addressOf(const std::string& ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) {
    throw std::invalid_argument("bad IPv4 address " + ip);
  }
  return a;
}

class AppTraffic {
 public:
  explicit AppTraffic(const Topology& topo) {
    for (const auto& d : {kAlpha, kBeta}) {
      // Bound to the VIP (IP_FREEBIND: also while the director does not have it), so answers
      // leave from the VIP and pass the fence exactly when the VIP itself does.
      const int fd = topo.inHost(d, [] {
        const int s = udpSocket();
        const int one = 1;
        ::setsockopt(s, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
        const auto a = addressOf(kVip, kAppPort);
        if (::bind(s, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
          ::close(s);
          throw std::runtime_error(std::string("bind VIP: ") + std::strerror(errno));
        }
        return s;
      });
      fds_.push_back(fd);
      threads_.emplace_back([this, fd, d] { respond(fd, d); });
    }
    const std::string clientIp = topo.host(kClient).ipv4;
    clientFd_ = topo.inHost(kClient, [&] {
      const int s = udpSocket();
      const auto a = addressOf(clientIp, 0);
      if (::bind(s, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
        ::close(s);
        throw std::runtime_error(std::string("bind client: ") + std::strerror(errno));
      }
      return s;
    });
    fds_.push_back(clientFd_);
    threads_.emplace_back([this] { ask(); });
  }
  ~AppTraffic() {
    stop();
    for (int fd : fds_) ::close(fd);
  }
  AppTraffic(const AppTraffic&) = delete;
  AppTraffic& operator=(const AppTraffic&) = delete;

  void stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  // Requests sent in [fromNs, toNs] and the answers to them.
  AppStats stats(std::int64_t fromNs, std::int64_t toNs) const {
    std::lock_guard lock(mu_);
    AppStats s;
    std::vector<std::int64_t> arrivals;
    std::vector<bool> seen(sentNs_.size(), false);
    for (const auto& a : answers_) {
      if (a.seq >= sentNs_.size() || sentNs_[a.seq] < fromNs || sentNs_[a.seq] > toNs) continue;
      if (seen[a.seq]) continue;  // a duplicate answer counts once
      seen[a.seq] = true;
      ++s.answered;
      ++s.answeredBy[a.host];
      arrivals.push_back(a.ns);
    }
    for (auto t : sentNs_) s.sent += t >= fromNs && t <= toNs;
    std::sort(arrivals.begin(), arrivals.end());
    std::int64_t prev = fromNs;
    arrivals.push_back(toNs);
    for (auto t : arrivals) {
      const double gap = static_cast<double>(t - prev) / 1e6;
      if (gap > s.longestSilenceMs) {
        s.longestSilenceMs = gap;
        s.longestSilenceStartNs = prev;
      }
      prev = t;
    }
    return s;
  }

 private:
  struct Answer {
    std::uint64_t seq;
    std::string host;
    std::int64_t ns;
  };

  void respond(int fd, const std::string& name) {
    pollfd p{fd, POLLIN, 0};
    char buf[64];
    while (!stop_) {
      if (::poll(&p, 1, 50) <= 0) continue;
      sockaddr_in from{};
      socklen_t len = sizeof from;
      const auto n = ::recvfrom(fd, buf, 8, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &len);
      if (n != 8) continue;
      std::memcpy(buf + 8, name.data(), name.size());
      ::sendto(fd, buf, 8 + name.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), len);
    }
  }

  void ask() {
    const auto vip = addressOf(kVip, kAppPort);
    pollfd p{clientFd_, POLLIN, 0};
    std::int64_t next = monoNs();
    char buf[64];
    while (!stop_) {
      const std::int64_t now = monoNs();
      if (now >= next) {
        std::uint64_t seq;
        {
          std::lock_guard lock(mu_);
          seq = sentNs_.size();
          sentNs_.push_back(now);
        }
        std::memcpy(buf, &seq, 8);
        ::sendto(clientFd_, buf, 8, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&vip),
                 sizeof vip);
        next += std::chrono::duration_cast<std::chrono::nanoseconds>(kAppPeriod).count();
        if (next < now) next = now;  // after a stall of this thread, no burst
        continue;
      }
      const int waitMs = static_cast<int>((next - now) / 1'000'000) + 1;
      if (::poll(&p, 1, waitMs) <= 0) continue;
      const auto n = ::recv(clientFd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 8) continue;
      Answer a;
      std::memcpy(&a.seq, buf, 8);
      a.host.assign(buf + 8, static_cast<std::size_t>(n) - 8);
      a.ns = monoNs();
      std::lock_guard lock(mu_);
      answers_.push_back(std::move(a));
    }
  }

  std::atomic<bool> stop_{false};
  std::vector<int> fds_;
  int clientFd_ = -1;
  mutable std::mutex mu_;
  std::vector<std::int64_t> sentNs_;  // by sequence number
  std::vector<Answer> answers_;
  std::vector<std::thread> threads_;
};

// --- The nemesis ---

class Nemesis {
 public:
  Nemesis(Topology& topo, DirectorCluster& cluster, const AddressWatcher& watcher,
          const SoakOptions& opts, SoakReport& report)
      : topo_(topo),
        cluster_(cluster),
        watcher_(watcher),
        opts_(opts),
        report_(report),
        rng_(opts.seed) {
    for (const auto& n : kNodes) {
      running_[n] = true;
      frozen_[n] = false;
      link_[n] = true;
    }
    timers_[kAlpha] = timers_[kBeta] = 0;
    noteMajority();
  }

  void log(const std::string& text) {
    const auto now = monoNs();
    report_.timeline.push_back({now, text});
    if (opts_.printTimeline) {
      std::printf("[soak +%s s] %s\n", fmtS(now - report_.startNs).c_str(), text.c_str());
      std::fflush(stdout);
    }
  }

  // Copies both directors' state dirs aside: the "older copy" a later restart may get.
  void snapshot(const std::string& d) {
    const std::string snap = cluster_.dir() + "/snap/" + d;
    // A director restarted a moment ago may not have made its state dir yet: then the copy is
    // an empty one.
    shell("mkdir -p '" + cluster_.dir() + "/snap' && rm -rf '" + snap + "' && mkdir -p '" +
          cluster_.stateDir(d) + "' && cp -a '" + cluster_.stateDir(d) + "' '" + snap + "'");
    log("snapshot of " + d + "'s state dir");
  }

  // A quiet time, then one fault, started and undone.
  void step(std::int64_t endNs) {
    sleep(uniformMs(opts_.quietMin, opts_.quietMax));
    reviveCrashed();
    if (monoNs() >= endNs) return;
    const FaultKind kind = opts_.kinds[pick(opts_.kinds.size())];
    ++report_.faults[faultName(kind)];
    switch (kind) {
      case FaultKind::kPartition:
        partition();
        break;
      case FaultKind::kKill:
        kill();
        break;
      case FaultKind::kFreeze:
        freeze();
        break;
      case FaultKind::kLinkFlap:
        linkFlap();
        break;
      case FaultKind::kArbiterRestart:
        arbiterRestart();
        break;
      case FaultKind::kWipedRestart:
        stateRestart(false);
        break;
      case FaultKind::kOldStateRestart:
        stateRestart(true);
        break;
      case FaultKind::kReload:
        reload();
        break;
      case FaultKind::kTimerChange:
        timerChange();
        break;
    }
    if (kind != FaultKind::kPartition && !lingering_.empty()) healLingering();
    if (chance(0.2)) snapshot(pickDirector(false));
  }

  // Undoes whatever is still in force, restarts what is not running.
  void healAll() {
    for (const auto& n : kNodes) {
      if (frozen_[n]) {
        topo_.cont(*cluster_.pid(n));
        frozen_[n] = false;
      }
      if (!link_[n]) {
        topo_.linkUp(n);
        link_[n] = true;
      }
    }
    topo_.heal();
    lingering_.clear();
    reviveCrashed();
    for (const auto& n : kNodes) {
      if (!running_[n]) start(n);
    }
    noteMajority();
    log("healed: all links up and unblocked, all daemons running");
  }

  // Daemons that exited although the nemesis did not stop them: recorded, then started again.
  void reviveCrashed() {
    for (const auto& n : kNodes) {
      const auto pid = cluster_.pid(n);
      if (!running_[n] || !pid || topo_.running(*pid)) continue;
      const auto st = topo_.waitExit(*pid, Ms(0));
      std::string what = n + " exited by itself (code " + std::to_string(st ? st->code : -1) +
                         ", signal " + std::to_string(st ? st->signal : 0) + ")";
      log("UNEXPECTED: " + what);
      report_.unexpectedExits.push_back(what + "; log ends:\n" + cluster_.logTail(n, 5));
      cluster_.signal(n, SIGKILL);  // forgets the reaped PID
      running_[n] = false;
      frozen_[n] = false;
      noteMajority();
      start(n);
    }
  }

  // Changes of "a majority could talk", from the start.
  const std::vector<std::pair<std::int64_t, bool>>& majority() const { return majority_; }

 private:
  // --- Faults ---

  void partition() {
    if (!lingering_.empty()) healLingering();
    const int mask = 1 + static_cast<int>(pick(63));  // a non-empty subset of the 6 links
    std::vector<std::pair<std::string, std::string>> links;
    for (std::size_t i = 0, bit = 0; i < kNodes.size(); ++i) {
      for (std::size_t j = 0; j < kNodes.size(); ++j) {
        if (i == j) continue;
        if (mask & (1 << bit)) links.emplace_back(kNodes[i], kNodes[j]);
        ++bit;
      }
    }
    std::string text;
    for (const auto& [a, b] : links) {
      topo_.block(a, b);
      text += " " + a + "->" + b;
    }
    noteMajority();
    const Ms hold = uniformMs(Ms(200), Ms(4000));
    log("partition, blocked:" + text + " (for " + std::to_string(hold.count()) + " ms)");
    sleep(hold);
    if (chance(0.3)) {
      lingering_ = links;
      log("partition lingers into the next fault");
      return;
    }
    for (const auto& [a, b] : links) topo_.unblock(a, b);
    noteMajority();
    log("partition healed");
  }

  void healLingering() {
    for (const auto& [a, b] : lingering_) topo_.unblock(a, b);
    lingering_.clear();
    noteMajority();
    log("lingering partition healed");
  }

  void kill() {
    const std::string n = pick(3) == 2 ? kArbiter : pickDirector(true);
    const Ms down = uniformMs(Ms(0), Ms(3000));
    cluster_.signal(n, SIGKILL);
    running_[n] = false;
    noteMajority();
    log("kill -9 " + n + " (down " + std::to_string(down.count()) + " ms)");
    sleep(down);
    start(n);
  }

  void freeze() {
    const std::string d = pickDirector(true);
    // Half shorter than any holder lease of the timer sets (400 ms), half longer than all.
    const Ms length = chance(0.5) ? uniformMs(Ms(50), Ms(350))
                                  : uniformMs(Ms(700), std::max(Ms(700), opts_.maxFreeze));
    topo_.stop(*cluster_.pid(d));
    frozen_[d] = true;
    noteMajority();
    log("SIGSTOP " + d + " for " + std::to_string(length.count()) + " ms");
    sleep(length);
    topo_.cont(*cluster_.pid(d));
    frozen_[d] = false;
    noteMajority();
    log("SIGCONT " + d);
  }

  void linkFlap() {
    const std::string n = kNodes[pick(3)];
    const int flaps = 1 + static_cast<int>(pick(3));
    for (int k = 0; k < flaps; ++k) {
      const Ms down = uniformMs(Ms(50), Ms(2000));
      const Ms up = uniformMs(Ms(50), Ms(500));
      topo_.linkDown(n);
      link_[n] = false;
      noteMajority();
      log("link down " + n + " (" + std::to_string(down.count()) + " ms)");
      sleep(down);
      topo_.linkUp(n);
      link_[n] = true;
      noteMajority();
      log("link up " + n);
      if (k + 1 < flaps) sleep(up);
    }
  }

  void arbiterRestart() {
    const bool wipe = pick(3) == 0;
    log(std::string("SIGTERM arbiter, then start it") + (wipe ? " with its state dir wiped" : ""));
    stopGracefully(kArbiter);
    if (wipe) shell("rm -rf '" + cluster_.stateDir(kArbiter) + "'");
    start(kArbiter);
  }

  void stateRestart(bool older) {
    const std::string d = pickDirector(true);
    const Ms down = uniformMs(Ms(0), Ms(1000));
    cluster_.signal(d, SIGKILL);
    running_[d] = false;
    noteMajority();
    const std::string state = cluster_.stateDir(d);
    const std::string snap = cluster_.dir() + "/snap/" + d;
    if (older) {
      shell("rm -rf '" + state + "' && cp -a '" + snap + "' '" + state + "'");
    } else {
      shell("rm -rf '" + state + "'");
    }
    log("kill -9 " + d + ", state dir " +
        (older ? "replaced by its last snapshot" : std::string("wiped")) + " (down " +
        std::to_string(down.count()) + " ms)");
    sleep(down);
    start(d);
  }

  void reload() {
    const std::string d = pickDirector(false);
    cluster_.signal(d, SIGHUP);
    log("SIGHUP " + d);
  }

  void timerChange() {
    const std::string d = pickDirector(false);
    constexpr std::size_t kSets = sizeof kTimerSets / sizeof kTimerSets[0];
    const std::size_t next = (timers_[d] + 1 + pick(kSets - 1)) % kSets;
    const Timers& t = kTimerSets[next];
    log("SIGTERM " + d + ", then start it with timers H/A/Q/R " + std::to_string(t.holder) + "/" +
        std::to_string(t.acceptor) + "/" + std::to_string(t.quarantine) + "/" +
        std::to_string(t.renew));
    stopGracefully(d);
    ClusterOptions o = cluster_.options();
    o.holderLeaseMs = t.holder;
    o.acceptorLeaseMs = t.acceptor;
    o.quarantineMs = t.quarantine;
    o.renewIntervalMs = t.renew;
    cluster_.writeDirectorConfig(d, o);
    timers_[d] = next;
    start(d);
  }

  // --- Helpers ---

  void start(const std::string& n) {
    if (n == kArbiter) {
      cluster_.startArbiter();
    } else {
      cluster_.startDirector(n);
    }
    running_[n] = true;
    noteMajority();
    log("start " + n);
  }

  void stopGracefully(const std::string& n) {
    if (!cluster_.terminate(n, Ms(5000))) {
      log(n + " did not exit within 5 s of SIGTERM: SIGKILL");
      cluster_.signal(n, SIGKILL);
    }
    running_[n] = false;
    noteMajority();
  }

  // alpha or beta; with `holderToo`, one draw in three is "the current holder" (as the watcher
  // sees it, alpha if none), the one whose faults matter most.
  std::string pickDirector(bool holderToo) {
    const auto k = pick(holderToo ? 3 : 2);
    if (k == 0) return kAlpha;
    if (k == 1) return kBeta;
    const auto b = watcher_.latest(kBeta);
    return b && b->owns() ? kBeta : kAlpha;
  }

  bool up(const std::string& n) { return running_[n] && !frozen_[n] && link_[n]; }

  bool majorityNow() {
    for (const auto& d : {kAlpha, kBeta}) {
      for (const auto& o : kNodes) {
        if (o == d || !up(d) || !up(o)) continue;
        if (!topo_.blocked(d, o) && !topo_.blocked(o, d)) return true;
      }
    }
    return false;
  }

  void noteMajority() {
    const bool m = majorityNow();
    if (majority_.empty() || majority_.back().second != m) majority_.emplace_back(monoNs(), m);
  }

  std::size_t pick(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  Ms uniformMs(Ms lo, Ms hi) {
    return Ms(std::uniform_int_distribution<std::int64_t>(lo.count(), hi.count())(rng_));
  }
  static void sleep(Ms d) { std::this_thread::sleep_for(d); }

  Topology& topo_;
  DirectorCluster& cluster_;
  const AddressWatcher& watcher_;
  const SoakOptions& opts_;
  SoakReport& report_;
  std::mt19937_64 rng_;
  std::map<std::string, bool> running_, frozen_, link_;
  std::map<std::string, std::size_t> timers_;
  std::vector<std::pair<std::string, std::string>> lingering_;
  std::vector<std::pair<std::int64_t, bool>> majority_;
};

// How far an announcement may be from its sender's owning: a claim announces right after
// opening the fence, before the watcher's next poll sees it; a frame sent just before the fence
// closed may arrive after the poll that saw it closed. Both are a few poll periods (2 ms).
constexpr std::int64_t kStrayToleranceNs = 10'000'000;

// `h` owned the VIP at some moment of [fromNs, toNs].
bool ownedWithin(const OwnershipHistory& h, std::int64_t fromNs, std::int64_t toNs) {
  bool owns = false;  // the state at fromNs
  for (const auto& s : h.transitions) {
    if (s.ns <= fromNs) {
      owns = s.owns();
      continue;
    }
    if (s.ns > toNs) break;
    if (s.owns()) return true;
  }
  return owns;
}

}  // namespace

const char* faultName(FaultKind kind) { return kFaultNames[static_cast<int>(kind)]; }

std::optional<FaultKind> parseFaultKind(const std::string& name) {
  for (int k = 0; k < kFaultKinds; ++k) {
    if (name == kFaultNames[k]) return static_cast<FaultKind>(k);
  }
  return std::nullopt;
}

std::vector<FaultKind> allFaultKinds() {
  std::vector<FaultKind> all;
  for (int k = 0; k < kFaultKinds; ++k) all.push_back(static_cast<FaultKind>(k));
  return all;
}

std::vector<FaultKind> parseFaultKinds(const std::string& list) {
  std::vector<FaultKind> kinds;
  std::stringstream in(list);
  for (std::string name; std::getline(in, name, ',');) {
    if (name.empty()) continue;
    const auto k = parseFaultKind(name);
    if (!k) {
      std::string known;
      for (const char* n : kFaultNames) known += std::string(known.empty() ? "" : ", ") + n;
      throw std::invalid_argument("unknown fault kind \"" + name + "\" (known: " + known + ")");
    }
    kinds.push_back(*k);
  }
  if (kinds.empty()) throw std::invalid_argument("no fault kinds given");
  return kinds;
}

HolderlessSummary holderlessWhileMajority(
    const std::vector<std::pair<std::int64_t, bool>>& majority,
    const std::vector<OwnershipHistory>& owners, std::int64_t fromNs, std::int64_t toNs,
    const std::vector<TimelineEntry>& timeline) {
  HolderlessSummary report;
  // Events: (time, source, value); source 0 = majority, 1.. = owners.
  struct Event {
    std::int64_t ns;
    std::size_t source;
    bool value;
  };
  std::vector<Event> events;
  for (const auto& [ns, m] : majority) events.push_back({ns, 0, m});
  for (std::size_t i = 0; i < owners.size(); ++i) {
    for (const auto& s : owners[i].transitions) events.push_back({s.ns, i + 1, s.owns()});
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.ns < b.ns; });
  std::vector<bool> state(owners.size() + 1, false);
  auto holderless = [&] {
    return state[0] && std::none_of(state.begin() + 1, state.end(), [](bool b) { return b; });
  };
  bool open = false;  // a stretch runs since `since`
  std::int64_t since = 0;
  std::int64_t last = fromNs;
  auto close = [&](std::int64_t at) {
    if (!open) return;
    Stretch s{since, at, ""};
    for (const auto& e : timeline) {
      if (e.ns <= since) s.lastFault = e.text;
    }
    report.longest.push_back(s);
    report.holderlessNs += at - since;
    open = false;
  };
  auto advance = [&](std::int64_t to) {  // the state holds over [last, to)
    to = std::min(to, toNs);
    if (to > last && state[0]) report.majorityNs += to - last;
    last = std::max(last, to);
  };
  // Events of one instant are applied together, then the state is compared with the one before.
  // The state before fromNs is the starting state.
  std::size_t k = 0;
  while (k < events.size() && events[k].ns < fromNs) {
    state[events[k].source] = events[k].value;
    ++k;
  }
  if (holderless()) {
    open = true;
    since = fromNs;
  }
  while (k < events.size() && events[k].ns < toNs) {
    const std::int64_t at = events[k].ns;
    advance(at);
    const bool before = holderless();
    for (; k < events.size() && events[k].ns == at; ++k) state[events[k].source] = events[k].value;
    const bool after = holderless();
    if (!before && after) {
      open = true;
      since = at;
    }
    if (before && !after) close(at);
  }
  advance(toNs);
  close(toNs);
  std::sort(report.longest.begin(), report.longest.end(),
            [](const Stretch& a, const Stretch& b) { return a.ms() > b.ms(); });
  if (report.longest.size() > 10) report.longest.resize(10);
  return report;
}

SoakReport runSoak(const SoakOptions& options) {
  SoakOptions opts = options;
  if (opts.kinds.empty()) throw std::invalid_argument("no fault kinds given");
  if (opts.seed == 0)
    opts.seed = (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  SoakReport report;
  report.seed = opts.seed;
  report.fence = opts.fence;
  report.duration = opts.duration;
  std::printf("[soak] seed %llu, %lld s, fence %s\n", static_cast<unsigned long long>(opts.seed),
              static_cast<long long>(opts.duration.count() / 1000), opts.fence.c_str());
  std::fflush(stdout);

  // Declared so that they are destroyed observers first, then daemons, then namespaces.
  Topology topo;
  ClusterOptions co;
  co.fence = opts.fence;
  DirectorCluster cluster(topo, co);
  ArpProber prober(topo);
  AddressWatcherOptions wo;
  wo.period = opts.watcherPeriod;
  AddressWatcher watcher(topo, {kAlpha, kBeta}, wo);
  AppTraffic app(topo);
  const auto someoneOwns = [&] {
    for (const auto& d : {kAlpha, kBeta}) {
      const auto s = watcher.latest(d);
      if (s && s->owns()) return true;
    }
    return false;
  };

  cluster.startAll();
  if (!waitUntil(someoneOwns, Ms(15'000), Ms(5))) {
    cluster.keepFiles();
    throw std::runtime_error("no director owns the VIP after the start");
  }
  report.startNs = monoNs();
  Nemesis nemesis(topo, cluster, watcher, opts, report);
  nemesis.log("a holder owns the VIP; the nemesis starts");
  nemesis.snapshot(kAlpha);
  nemesis.snapshot(kBeta);
  const std::int64_t endNs =
      report.startNs + std::chrono::duration_cast<std::chrono::nanoseconds>(opts.duration).count();
  while (monoNs() < endNs) {
    try {
      nemesis.step(endNs);
    } catch (const std::exception& e) {
      // A fault the test bed could not apply or undo (a link that did not come back, say) is
      // reported, everything is healed, and the run goes on.
      nemesis.log(std::string("NEMESIS ERROR: ") + e.what());
      report.nemesisErrors.push_back(e.what());
      nemesis.healAll();
    }
  }

  nemesis.healAll();
  report.healNs = monoNs();
  if (waitUntil(someoneOwns, opts.healTimeout, Ms(1))) {
    report.healToHolderNs = monoNs() - report.healNs;
    report.holderAfterHeal = cluster.waitForHolder(Ms(5000)).value_or("");
    nemesis.log("after the heal " + report.holderAfterHeal + " holds (owned " +
                fmtMs(*report.healToHolderNs) + " ms after the heal)");
  } else {
    nemesis.log("no holder within " + std::to_string(opts.healTimeout.count()) + " ms of the heal");
  }
  prober.waitRounds(400, Ms(5000));  // two more seconds of records
  nemesis.reviveCrashed();
  report.endNs = monoNs();
  app.stop();
  prober.stop();
  watcher.stop();

  const auto checker = SplitBrainChecker::forTopology(topo);
  const auto history = prober.history();
  const auto owners = watcher.histories();
  report.arpWindows = checker.arpWindows(history);
  for (auto& w : checker.ownershipWindows(owners)) {
    double precisionUs = 0;
    for (const auto& h : w.hosts) precisionUs += watcher.stats(h).meanPeriodUs;
    const bool precise = static_cast<double>(w.endNs - w.startNs) > precisionUs * 1000;
    (precise ? report.ownershipWindows : report.withinPrecision).push_back(std::move(w));
  }
  for (const auto& a : history.announcements) {
    const std::string host = checker.hostOf(a.sender);
    const auto h = std::find_if(owners.begin(), owners.end(),
                                [&](const OwnershipHistory& o) { return o.host == host; });
    if (a.ns < report.startNs || h == owners.end() ||
        ownedWithin(*h, a.ns - kStrayToleranceNs, a.ns + kStrayToleranceNs)) {
      continue;
    }
    report.strayAnnouncements.push_back("+" + fmtS(a.ns - report.startNs) + " s from " +
                                        (host.empty() ? a.sender.str() : host));
  }
  report.probeRounds = history.rounds.size();
  report.probeReplies = history.replies.size();
  report.failovers = checker.failoverGaps(history).size();
  auto holderless = holderlessWhileMajority(nemesis.majority(), owners, report.startNs,
                                            report.endNs, report.timeline);
  report.holderless = std::move(holderless.longest);
  report.holderlessNs = holderless.holderlessNs;
  report.majorityNs = holderless.majorityNs;
  report.app = app.stats(report.startNs, report.endNs);
  const bool found =
      report.splitBrainWindows() > 0 || !report.healToHolderNs || !report.unexpectedExits.empty();
  if (found && opts.keepLogsOnFinding) {
    cluster.keepFiles();
    report.logsDir = cluster.dir();
  }
  return report;
}

std::string SoakReport::markdown(bool withTimeline) const {
  std::ostringstream o;
  const auto rel = [&](std::int64_t ns) { return "+" + fmtS(ns - startNs) + " s"; };
  o << "| | |\n|---|---|\n"
    << "| seed | " << seed << " |\n"
    << "| fence | " << fence << " |\n"
    << "| nemesis time | " << duration.count() / 1000 << " s (observed " << fmtS(endNs - startNs)
    << " s in all) |\n";
  int total = 0;
  for (const auto& [k, n] : faults) total += n;
  o << "| faults injected | " << total << " |\n"
    << "| split-brain windows | " << splitBrainWindows() << " (ARP " << arpWindows.size()
    << ", address+fence " << ownershipWindows.size() << "; within the watchers' precision "
    << withinPrecision.size() << ") |\n"
    << "| longest holderless stretch while a majority could talk | "
    << fmtMs(holderless.empty() ? 0 : holderless.front().endNs - holderless.front().startNs)
    << " ms |\n"
    << "| holderless while a majority could talk, in all | " << fmtMs(holderlessNs) << " ms of "
    << fmtS(majorityNs) << " s |\n"
    << "| heal to holder | "
    << (healToHolderNs ? fmtMs(*healToHolderNs) + " ms (" + holderAfterHeal + ")"
                       : std::string("NO HOLDER"))
    << " |\n"
    << "| daemons that exited by themselves | " << unexpectedExits.size() << " |\n"
    << "| faults the test bed failed to apply | " << nemesisErrors.size() << " |\n"
    << "| announcements by a director not owning the VIP | " << strayAnnouncements.size() << " |\n"
    << "| ARP probe rounds / replies / changes of answering MAC | " << probeRounds << " / "
    << probeReplies << " / " << failovers << " |\n"
    << "| application requests answered | " << app.answered << " of " << app.sent;
  if (app.sent) {
    char b[32];
    std::snprintf(b, sizeof b, " (%.2f %%)",
                  100.0 * static_cast<double>(app.answered) / static_cast<double>(app.sent));
    o << b;
  }
  o << "; by";
  for (const auto& [h, n] : app.answeredBy) o << " " << h << " " << n;
  o << " |\n| application's longest silence | "
    << fmtMs(static_cast<std::int64_t>(app.longestSilenceMs * 1e6)) << " ms (from "
    << rel(app.longestSilenceStartNs) << ") |\n\n";

  o << "Faults per kind:\n\n| kind | injected |\n|---|---|\n";
  for (const auto& [k, n] : faults) o << "| " << k << " | " << n << " |\n";
  o << "\n";
  if (splitBrainWindows() > 0) {
    o << "Split-brain windows:\n\n```\n";
    for (const auto& w : arpWindows) o << rel(w.startNs) << " " << w.describe() << "\n";
    for (const auto& w : ownershipWindows) o << rel(w.startNs) << " " << w.describe() << "\n";
    o << "```\n\n";
  }
  if (!withinPrecision.empty()) {
    o << "Address+fence windows within the watchers' precision (one mean poll period per host; "
         "not counted):\n\n```\n";
    for (const auto& w : withinPrecision) o << rel(w.startNs) << " " << w.describe() << "\n";
    o << "```\n\n";
  }
  if (!holderless.empty()) {
    o << "Longest holderless stretches while a majority could talk:\n\n"
      << "| from | ms | latest fault event before it |\n|---|---|---|\n";
    for (const auto& s : holderless) {
      o << "| " << rel(s.startNs) << " | " << fmtMs(s.endNs - s.startNs) << " | " << s.lastFault
        << " |\n";
    }
    o << "\n";
  }
  for (const auto& e : unexpectedExits) o << "Unexpected exit: " << e << "\n";
  for (const auto& e : nemesisErrors) o << "Nemesis error: " << e << "\n";
  if (!strayAnnouncements.empty()) {
    o << "Announcements of the VIP by a director that did not own it:\n\n";
    for (const auto& a : strayAnnouncements) o << "- " << a << "\n";
    o << "\n";
  }
  if (!logsDir.empty()) o << "Daemon logs kept in " << logsDir << "\n\n";
  if (withTimeline) {
    o << "Timeline:\n\n```\n";
    for (const auto& e : timeline) o << rel(e.ns) << "  " << e.text << "\n";
    o << "```\n";
  }
  return o.str();
}

}  // namespace quorate::netns
