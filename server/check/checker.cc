// Runners hold the timer, the probe and the schedule of one check; handlers hold weak
// pointers to them, so a check dropped by a reload is simply forgotten.
#include "server/check/checker.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <utility>

#include "server/check/schedule.h"

namespace quorate::server::check {

namespace asio = boost::asio;
using std::chrono::milliseconds;

// How long a notify program may run before it is killed.
constexpr milliseconds kNotifyTimeout{30'000};
// Attempts start on this grid (see startRunner).
constexpr milliseconds kTimerSlack{25};
// Open files the director needs besides the checks' sockets: gRPC, netlink, logs, scripts.
constexpr std::size_t kDescriptorHeadroom = 1024;

struct HealthChecks::Runner {
  Runner(asio::io_context& io, CheckSpec s, Target t, bool alpha)
      : spec(std::move(s)), target(std::move(t)), schedule(spec, alpha), timer(io) {}
  CheckSpec spec;
  Target target;
  Schedule schedule;
  asio::steady_timer timer;
  std::unique_ptr<Probe> probe;
  RealServer* owner = nullptr;
  std::string last = "not checked yet";           // the last outcome's reason
  std::optional<std::int32_t> weight;             // the last dynamic weight a passing outcome set
  std::chrono::steady_clock::time_point started;  // the probe in flight's start
  std::optional<std::chrono::nanoseconds> lastLatency;  // the last ended probe's duration

  // "http check: status 500".
  std::string describe() const { return kindName(spec.kind) + " check: " + last; }
};

struct HealthChecks::RealServer {
  CheckedServer config;  // its checks are in `runners`
  std::vector<std::shared_ptr<Runner>> runners;
  std::optional<Verdict> reported;         // the last verdict given out
  std::uint64_t wentUp = 0, wentDown = 0;  // changes of `reported`, for the metrics
};

HealthChecks::HealthChecks(asio::io_context& io, ScriptRunner& scripts, OnVerdict onVerdict,
                           std::uint64_t seed)
    : io_(io),
      scripts_(scripts),
      onVerdict_(std::move(onVerdict)),
      random_(seed),
      probes_(io, scripts) {}

HealthChecks::~HealthChecks() { stop(); }

void HealthChecks::stop() {
  servers_.clear();    // runners go: their timers and probes with them
  notifiers_.clear();  // running notify programs are killed
}

std::size_t HealthChecks::checkCount() const {
  std::size_t n = 0;
  for (const auto& [key, rs] : servers_) n += rs->runners.size();
  return n;
}

std::vector<Verdict> HealthChecks::apply(const std::vector<CheckedServer>& servers) {
  probes_.forgetTlsContexts();  // CA files are read again (a rotated bundle)
  std::map<Key, std::unique_ptr<RealServer>> next;
  std::vector<std::pair<std::shared_ptr<Runner>, milliseconds>> fresh;
  std::size_t kept = 0;
  std::vector<Key> order;  // as given, for the verdicts returned
  for (const CheckedServer& server : servers) {
    if (server.checks.empty()) continue;
    const Key& key = server.key;
    auto rs = std::make_unique<RealServer>();
    rs->config = CheckedServer{key, {}, server.alpha, server.notifyUp, server.notifyDown};
    std::vector<std::shared_ptr<Runner>> old;
    if (auto it = servers_.find(key); it != servers_.end()) {
      old = std::move(it->second->runners);
      rs->reported = it->second->reported;
      rs->wentUp = it->second->wentUp;
      rs->wentDown = it->second->wentDown;
    }
    for (const auto& [spec, target] : server.checks) {
      // By name: clang before 16 cannot capture structured bindings (the fuzzing build's).
      auto same = std::find_if(old.begin(), old.end(), [&s = spec, &t = target](const auto& r) {
        return r && r->spec == s && r->target == t;
      });
      if (same != old.end()) {
        (*same)->owner = rs.get();
        rs->runners.push_back(std::move(*same));
        ++kept;
        continue;
      }
      auto r = std::make_shared<Runner>(io_, spec, target, server.alpha);
      r->owner = rs.get();
      r->probe = makeProbe(spec, target, probes_);
      std::uniform_real_distribution<double> unit(0.0, 1.0);
      fresh.emplace_back(r, r->schedule.firstDelay(unit(random_)));
      rs->runners.push_back(std::move(r));
    }
    order.push_back(key);
    next[key] = std::move(rs);
  }
  servers_ = std::move(next);  // runners not carried over are dropped here
  for (auto& [r, delay] : fresh) startRunner(r, delay);

  std::vector<Verdict> out;
  for (const Key& key : order) {
    RealServer& rs = *servers_.at(key);
    Verdict v = verdictOf(rs);
    // A reload can move a real server too (a changed alpha check, a failing check removed).
    if (rs.reported && rs.reported->alive != v.alive) {
      ++(v.alive ? rs.wentUp : rs.wentDown);
      notify(rs, v);
    }
    rs.reported = v;
    out.push_back(std::move(v));
  }
  const std::size_t checks = checkCount();
  spdlog::info("checks: {} checks on {} real servers ({} kept, {} new)", checks, servers_.size(),
               kept, fresh.size());
  // Each network check keeps a socket open between its attempts (attempt.h); past the limit
  // on open files a check would fail for want of one and take its real server out.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY &&
      checks + kDescriptorHeadroom > files.rlim_cur) {
    spdlog::warn(
        "checks: {} checks may hold as many sockets, too close to the limit of {} open files "
        "(raise LimitNOFILE / ulimit -n to at least {})",
        checks, files.rlim_cur, checks + kDescriptorHeadroom);
  }
  return out;
}

void HealthChecks::startRunner(const std::shared_ptr<Runner>& r, milliseconds delay) {
  // Timer slack: every start is rounded up to the next tick (25 ms) of the steady clock, so the
  // checks due in one tick go out together, one wake-up for many probes (here and, on
  // loopback, in the servers checked) instead of one each. 25 ms is 2.5% of a 1 s interval.
  using Clock = std::chrono::steady_clock;
  const auto at = Clock::now() + delay;
  const auto tick = std::chrono::duration_cast<Clock::duration>(kTimerSlack);
  r->timer.expires_at(at + (tick - at.time_since_epoch() % tick) % tick);
  r->timer.async_wait([this, weak = std::weak_ptr<Runner>(r)](const boost::system::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self) return;
    attempt(self);
  });
}

void HealthChecks::attempt(const std::shared_ptr<Runner>& r) {
  ++attempts_;
  r->started = std::chrono::steady_clock::now();
  r->probe->start([this, weak = std::weak_ptr<Runner>(r)](Outcome outcome) {
    if (auto self = weak.lock()) onOutcome(self, std::move(outcome));
  });
}

void HealthChecks::onOutcome(const std::shared_ptr<Runner>& r, Outcome outcome) {
  r->lastLatency = std::chrono::steady_clock::now() - r->started;
  const auto step = r->schedule.onOutcome(outcome.ok);
  r->last = std::move(outcome.reason);
  // keepalived's misc_dynamic: exit 0 leaves the weight as it is, 2..255 set it.
  const bool weightChanged = outcome.ok && outcome.weight && outcome.weight != r->weight;
  if (weightChanged) r->weight = outcome.weight;
  if (step.changed || weightChanged) {
    spdlog::debug("checks: {} {}: {} check {}: {}", r->owner->config.key.virtualServer,
                  r->target.address.toString() + ":" + std::to_string(r->target.port),
                  kindName(r->spec.kind), r->schedule.up() ? "up" : "down", r->last);
    report(*r->owner, r->describe());
  }
  startRunner(r, step.next);
}

std::vector<HealthChecks::ServerStats> HealthChecks::stats() const {
  std::vector<ServerStats> out;
  out.reserve(servers_.size());
  for (const auto& [key, rs] : servers_) {
    ServerStats s;
    s.server = key;
    s.alive = rs->reported ? rs->reported->alive : verdictOf(*rs).alive;
    for (const auto& r : rs->runners) {
      if (r->lastLatency && (!s.lastLatency || *r->lastLatency > *s.lastLatency)) {
        s.lastLatency = r->lastLatency;
      }
    }
    s.wentUp = rs->wentUp;
    s.wentDown = rs->wentDown;
    out.push_back(std::move(s));
  }
  return out;
}

Verdict HealthChecks::verdictOf(const RealServer& rs) const {
  Verdict v;
  v.server = rs.config.key;
  std::size_t up = 0;
  for (const auto& r : rs.runners) {
    if (r->schedule.up()) {
      ++up;
      if (r->weight) v.weight = r->weight;
    } else if (v.alive) {
      v.alive = false;
      v.reason = r->describe();
    }
  }
  if (v.alive) {
    v.reason = rs.runners.size() == 1 ? rs.runners[0]->describe()
                                      : "all " + std::to_string(up) + " checks pass";
  }
  if (!v.alive) v.weight.reset();
  return v;
}

void HealthChecks::report(RealServer& rs, const std::string& why) {
  Verdict v = verdictOf(rs);
  v.reason = why;
  const bool changed =
      !rs.reported || rs.reported->alive != v.alive || rs.reported->weight != v.weight;
  if (!changed) return;
  const bool aliveChanged = !rs.reported || rs.reported->alive != v.alive;
  if (rs.reported && aliveChanged) ++(v.alive ? rs.wentUp : rs.wentDown);
  rs.reported = v;
  if (aliveChanged) notify(rs, v);
  if (onVerdict_) onVerdict_(v);
}

void HealthChecks::notify(const RealServer& rs, const Verdict& v) {
  const auto& argv = v.alive ? rs.config.notifyUp : rs.config.notifyDown;
  if (argv.empty()) return;
  ScriptRun run;
  run.argv = argv;
  run.timeout = kNotifyTimeout;
  run.env = {"QUORATE_VIRTUAL_SERVER=" + v.server.virtualServer,
             "QUORATE_REAL_SERVER=" + rs.config.key.endpoint(),
             std::string("QUORATE_STATE=") + (v.alive ? "up" : "down"),
             "QUORATE_REASON=" + v.reason};
  const Key& key = rs.config.key;
  Notifier& n = notifiers_[key];
  n.queue.emplace_back(std::move(run), (v.alive ? "notify_up " : "notify_down ") + argv[0]);
  if (!n.running) startNotify(key);
}

void HealthChecks::startNotify(const Key& key) {
  const auto it = notifiers_.find(key);
  if (it == notifiers_.end()) return;
  Notifier& n = it->second;
  if (n.queue.empty()) {
    notifiers_.erase(it);
    return;
  }
  auto [run, what] = std::move(n.queue.front());
  n.queue.pop_front();
  auto slot = std::make_shared<ScriptRunner::Handle*>(nullptr);
  n.running = scripts_.start(run, [this, key, slot, what = what](ScriptExit exit) {
    if (!exit.ok()) spdlog::warn("checks: {}: {}", what, exit.toString());
    // Once this callback has returned: forget the handle, start the next in line.
    asio::post(io_, [this, key, slot] {
      const auto found = notifiers_.find(key);
      if (found == notifiers_.end() || found->second.running.get() != *slot) return;
      found->second.running.reset();
      startNotify(key);
    });
  });
  *slot = n.running.get();
}

}  // namespace quorate::server::check
