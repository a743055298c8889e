// LeaseHooks: transitions into notify runs, the claim gate into fence and pre-claim runs.
#include "server/hooks/lease_hooks.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <utility>

namespace quorate::server::hooks {
namespace {

std::int64_t msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

// The output's lines into the log, each marked as the program's.
void logOutput(spdlog::level::level_enum level, const std::string& lease, const ScriptExit& e) {
  std::size_t start = 0;
  while (start < e.output.size()) {
    std::size_t end = e.output.find('\n', start);
    if (end == std::string::npos) end = e.output.size();
    if (end > start)
      spdlog::log(level, "lease {}: | {}", lease,
                  escapeControl(e.output.substr(start, end - start)));
    start = end + 1;
  }
  if (e.outputTruncated) {
    spdlog::log(level, "lease {}: | ... ({} more bytes not kept)", lease, e.outputDiscarded);
  }
}

// keepalived's notify_fifo: made if missing; anything else there is left alone, and logged.
void prepareFifo(const std::string& fifo) {
  struct stat st {};
  if (::stat(fifo.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      spdlog::error("notify_fifo {}: {}", fifo, std::strerror(errno));
    } else if (::mkfifo(fifo.c_str(), 0600) != 0) {
      spdlog::error("notify_fifo {}: cannot create: {}", fifo, std::strerror(errno));
    }
  } else if (!S_ISFIFO(st.st_mode)) {
    spdlog::error("notify_fifo {}: exists and is not a FIFO; nothing will be written to it", fifo);
  }
}

std::string tail(const std::string& s, std::size_t n) {
  return s.size() <= n ? s : s.substr(s.size() - n);
}

}  // namespace

struct LeaseHooks::Gate {
  std::uint64_t epoch = 0;
  HookKind kind = HookKind::kPreClaim;
  std::optional<std::string> fenceTarget;
  bool fencing = false;
  std::vector<HookCommand> commands;
  std::size_t next = 0;
  std::unique_ptr<ScriptRunner::Handle> handle;
  std::chrono::steady_clock::time_point started{};
  std::chrono::steady_clock::time_point commandStarted{};
  std::vector<std::string> argv;
  ClaimGate::Done claimDone;
  std::function<void()> releaseDone;
};

LeaseHooks::LeaseHooks(boost::asio::io_context& io, ScriptRunner& runner,
                       std::vector<LeaseHookSettings> leases, Fencer* fencer, Record record)
    : io_(io),
      runner_(runner),
      fencer_(fencer),
      record_(std::move(record)),
      alive_(std::make_shared<LeaseHooks*>(this)) {
  for (auto& s : leases) append(std::move(s));
}

void LeaseHooks::append(LeaseHookSettings settings) {
  PerLease pl;
  pl.settings = std::move(settings);
  pl.queue = std::make_unique<HookQueue>(
      io_, runner_, HookQueue::Options{}, [this](const HookOutcome& o) { reported(o); },
      [this, name = pl.settings.lease](const HookEvent& e, std::uint64_t sequence) {
        ++counters_.dropped;
        spdlog::warn("lease {}: notify queue full: dropped event #{} ({}, epoch {})", name,
                     sequence, kindName(e.kind), e.epoch);
      });
  if (const auto& fifo = pl.settings.hooks.notifyFifo) prepareFifo(*fifo);
  leases_.push_back(std::move(pl));
}

bool LeaseHooks::updateSettings(std::vector<LeaseHookSettings> leases) {
  if (leases.size() < leases_.size()) return false;
  for (std::size_t i = 0; i < leases_.size(); ++i) {
    if (leases[i].lease != leases_[i].settings.lease) return false;
  }
  const std::size_t had = leases_.size();
  for (std::size_t i = 0; i < leases.size(); ++i) {
    if (i >= had) {
      append(std::move(leases[i]));  // a lease added by a reload, at the next index
      continue;
    }
    if (const auto& fifo = leases[i].hooks.notifyFifo) prepareFifo(*fifo);
    leases_[i].settings = std::move(leases[i]);
  }
  return true;
}

LeaseHooks::~LeaseHooks() {
  alive_.reset();
  for (auto& pl : leases_) pl.gate.reset();  // kills a gating program still running
}

HookEvent LeaseHooks::eventFor(std::size_t lease, HookKind kind, std::uint64_t epoch,
                               const std::string& previousHolder, const std::string& reason) const {
  const auto& s = leases_.at(lease).settings;
  HookEvent e;
  e.lease = s.lease;
  e.syncGroup = s.group;
  e.kind = kind;
  e.epoch = epoch;
  e.previousHolder = previousHolder;
  e.reason = reason;
  e.priority = s.priority;
  return e;
}

void LeaseHooks::transition(const Transition& t) {
  if (t.lease >= leases_.size()) return;
  PerLease& pl = leases_[t.lease];
  const HooksConfig& h = pl.settings.hooks;
  HookKind kind = HookKind::kBecameStandby;
  std::vector<HookCommand> commands;
  auto add = [&commands](const std::vector<HookCommand>& more) {
    commands.insert(commands.end(), more.begin(), more.end());
  };
  switch (t.to) {
    case LeaseState::kHolder:
      kind = HookKind::kBecameHolder;
      add(h.notifyMaster);
      break;
    case LeaseState::kStandby:
    case LeaseState::kNone:
      kind = HookKind::kBecameStandby;
      add(h.notifyBackup);
      break;
    case LeaseState::kFault:
      kind = t.quorumLost ? HookKind::kQuorumLost : HookKind::kFault;
      // The program that acts on the loss first; the VIPs are already withdrawn.
      if (t.quorumLost) add(h.onQuorumLoss);
      add(h.notifyFault);
      break;
    case LeaseState::kStopping:
      kind = HookKind::kStopping;
      add(h.notifyStop);
      break;
  }
  add(h.notify);
  HookEvent e = eventFor(t.lease, kind, t.epoch, t.previousHolder, t.reason);
  std::uint64_t sequence = 0;
  // A loss of quorum runs on_quorum_loss once: never dropped from a full queue (one per loss,
  // so these cannot pile up without bound).
  if (!commands.empty()) sequence = pl.queue->enqueue(e, std::move(commands), t.quorumLost);
  writeFifo(t.lease, e);
  if (record_) {
    record_(nlohmann::json{{"event", "role"},
                           {"lease", pl.settings.lease},
                           {"from", toString(t.from)},
                           {"to", toString(t.to)},
                           {"kind", std::string(kindName(kind))},
                           {"epoch", t.epoch},
                           {"previous_holder", t.previousHolder},
                           {"quorum_lost", t.quorumLost},
                           {"reason", t.reason},
                           {"hook_sequence", sequence}});
  }
}

void LeaseHooks::reported(const HookOutcome& o) {
  ++counters_.runs;
  const bool ok = o.exit.ok();
  if (!ok) ++counters_.failures;
  if (o.exit.kind == ScriptExit::Kind::kTimedOut) ++counters_.timeouts;
  const bool timedOut = o.exit.kind == ScriptExit::Kind::kTimedOut;
  ++counters_.runsByKind[{std::string(kindName(o.event.kind)), ok         ? "ok"
                                                               : timedOut ? "timeout"
                                                                          : "failed"}];
  const auto level = ok ? spdlog::level::info : spdlog::level::warn;
  spdlog::log(level, "lease {}: {} hook #{} {}: {} in {} ms", o.event.lease, kindName(o.event.kind),
              o.sequence, o.argv.empty() ? std::string("?") : o.argv.front(), o.exit.toString(),
              o.duration.count());
  logOutput(level, o.event.lease, o.exit);
  if (record_) {
    record_(nlohmann::json{{"event", "hook"},
                           {"lease", o.event.lease},
                           {"kind", std::string(kindName(o.event.kind))},
                           {"epoch", o.event.epoch},
                           {"sequence", o.sequence},
                           {"argv", o.argv},
                           {"result", o.exit.toString()},
                           {"ok", ok},
                           {"duration_ms", o.duration.count()},
                           {"output", tail(o.exit.output, 512)}});
  }
}

void LeaseHooks::writeFifo(std::size_t lease, const HookEvent& e) {
  const auto& own = leases_.at(lease).settings.hooks.notifyFifo;
  if (!own) return;
  // Only ever a FIFO: as root, a path that is (or became, or links to) a file or a disk would
  // be overwritten from its first byte. Checked before the open (opening some devices acts on
  // them) and on what was opened (the path may change in between).
  struct stat st {};
  if (::stat(own->c_str(), &st) != 0 || !S_ISFIFO(st.st_mode)) {
    ++counters_.fifoErrors;
    spdlog::warn("notify_fifo {}: not a FIFO; line not written", *own);
    return;
  }
  // Non-blocking: no reader (ENXIO) or a full pipe (EAGAIN) loses the line, never the loop.
  const int fd = ::open(own->c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    ++counters_.fifoErrors;
    spdlog::debug("notify_fifo {}: {}", *own, std::strerror(errno));
    return;
  }
  if (::fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
    ++counters_.fifoErrors;
    spdlog::warn("notify_fifo {}: not a FIFO; line not written", *own);
    ::close(fd);
    return;
  }
  const std::string line = notifyFifoLine(e);
  const ssize_t n = ::write(fd, line.data(), line.size());
  if (n != static_cast<ssize_t>(line.size())) {
    ++counters_.fifoErrors;
    spdlog::warn("notify_fifo {}: line not written: {}", *own,
                 n < 0 ? std::strerror(errno) : "short write");
  }
  ::close(fd);
}

bool LeaseHooks::gates(std::size_t lease, const std::optional<std::string>& unreleased) const {
  if (lease >= leases_.size()) return false;
  return (fencer_ && unreleased) || !leases_[lease].settings.hooks.preClaim.empty();
}

void LeaseHooks::beforeClaim(std::size_t lease, std::uint64_t epoch,
                             const std::optional<std::string>& unreleased, Done done) {
  PerLease& pl = leases_.at(lease);
  if (pl.gate && pl.gate->fencing) dropFence(lease);  // an older epoch's, never finished
  Gate& g = newGate(lease, epoch, HookKind::kPreClaim, pl.settings.hooks.preClaim);
  g.claimDone = std::move(done);
  if (fencer_ && unreleased) {
    g.fenceTarget = unreleased;
    g.fencing = true;
    if (fencing_) {
      spdlog::info("lease {}: epoch {}: fencing {} waits for lease {}'s fence", pl.settings.lease,
                   epoch, *unreleased, leases_.at(*fencing_).settings.lease);
      fenceWaiting_.push_back(lease);
    } else {
      startFence(lease);
    }
    return;
  }
  // Never finish from inside this call, even with nothing to run.
  postRunGate(lease, epoch);
}

LeaseHooks::Gate& LeaseHooks::newGate(std::size_t lease, std::uint64_t epoch, HookKind kind,
                                      const std::vector<HookCommand>& commands) {
  auto& gate = leases_.at(lease).gate;
  gate = std::make_unique<Gate>();
  gate->epoch = epoch;
  gate->kind = kind;
  gate->commands = commands;
  gate->started = std::chrono::steady_clock::now();
  return *gate;
}

void LeaseHooks::startFence(std::size_t lease) {
  PerLease& pl = leases_.at(lease);
  const std::uint64_t epoch = pl.gate->epoch;
  const std::string target = pl.gate->fenceTarget.value_or("");
  fencing_ = lease;
  ++counters_.fences;
  spdlog::warn(
      "lease {}: epoch {}: fencing {} (it held the lease and never released it) "
      "before claiming",
      pl.settings.lease, epoch, target);
  if (record_) {
    record_(nlohmann::json{{"event", "fence-start"},
                           {"lease", pl.settings.lease},
                           {"target", target},
                           {"epoch", epoch}});
  }
  fencer_->fence(
      target, epoch,
      [weak = std::weak_ptr<LeaseHooks*>(alive_), lease, epoch, target](const Fencer::Outcome& o) {
        auto self = weak.lock();
        if (!self) return;
        LeaseHooks& h = **self;
        if (h.fencing_ == lease) h.fencing_.reset();
        PerLease& p = h.leases_.at(lease);
        if (p.gate && p.gate->epoch == epoch && p.gate->fencing) {
          p.gate->fencing = false;
          const auto level = o.ok ? spdlog::level::warn : spdlog::level::err;
          spdlog::log(level, "lease {}: epoch {}: fence of {} {} after {} attempt(s) in {} ms: {}",
                      p.settings.lease, epoch, target, o.ok ? "succeeded" : "FAILED", o.attempts,
                      o.duration.count(), o.summary);
          if (h.record_) {
            h.record_(nlohmann::json{{"event", "fence"},
                                     {"lease", p.settings.lease},
                                     {"target", target},
                                     {"epoch", epoch},
                                     {"ok", o.ok},
                                     {"attempts", o.attempts},
                                     {"duration_ms", o.duration.count()},
                                     {"summary", o.summary}});
          }
          if (!o.ok) {
            ++h.counters_.fenceFailures;
            h.finishGate(lease, false, "fence of " + target + " failed: " + o.summary);
          } else {
            ++h.counters_.fencesOk;
            h.runGate(lease);
          }
        }
        h.startNextFence();
      });
}

void LeaseHooks::startNextFence() {
  while (!fencing_ && !fenceWaiting_.empty()) {
    const std::size_t next = fenceWaiting_.front();
    fenceWaiting_.pop_front();
    const PerLease& pl = leases_.at(next);
    if (pl.gate && pl.gate->fencing) startFence(next);
  }
}

void LeaseHooks::dropFence(std::size_t lease) {
  fenceWaiting_.erase(std::remove(fenceWaiting_.begin(), fenceWaiting_.end(), lease),
                      fenceWaiting_.end());
  if (fencing_ != lease) return;
  if (fencer_) fencer_->cancel();  // its done is then not called
  fencing_.reset();
  startNextFence();
}

void LeaseHooks::cancel(std::size_t lease) {
  if (lease >= leases_.size()) return;
  PerLease& pl = leases_[lease];
  if (!pl.gate) return;
  if (pl.gate->fencing) dropFence(lease);
  spdlog::info("lease {}: gate of epoch {} cancelled (the lease ended)", pl.settings.lease,
               pl.gate->epoch);
  pl.gate.reset();  // kills a gating program still running
}

bool LeaseHooks::hasPreRelease(std::size_t lease) const {
  return lease < leases_.size() && !leases_[lease].settings.hooks.preRelease.empty();
}

void LeaseHooks::beforeRelease(std::size_t lease, std::uint64_t epoch, std::function<void()> done) {
  PerLease& pl = leases_.at(lease);
  if (pl.gate && pl.gate->claimDone) {
    // A claim gate still runs: the step-down wins, the claim never happens.
    cancel(lease);
  }
  newGate(lease, epoch, HookKind::kPreRelease, pl.settings.hooks.preRelease).releaseDone =
      std::move(done);
  postRunGate(lease, epoch);
}

void LeaseHooks::postRunGate(std::size_t lease, std::uint64_t epoch) {
  // Never from inside beforeClaim()/beforeRelease(), even with nothing to run.
  boost::asio::post(io_, [weak = std::weak_ptr<LeaseHooks*>(alive_), lease, epoch] {
    auto self = weak.lock();
    if (!self) return;
    PerLease& p = (*self)->leases_.at(lease);
    if (p.gate && p.gate->epoch == epoch && !p.gate->handle) (*self)->runGate(lease);
  });
}

void LeaseHooks::runGate(std::size_t lease) {
  PerLease& pl = leases_.at(lease);
  Gate& g = *pl.gate;
  if (g.next >= g.commands.size()) {
    finishGate(lease, true,
               g.commands.empty() ? std::string("fence succeeded")
                                  : std::to_string(g.commands.size()) + " " +
                                        std::string(kindName(g.kind)) + " hook(s) passed");
    return;
  }
  const HookEvent e = eventFor(
      lease, g.kind, g.epoch, g.fenceTarget.value_or(""),
      g.kind == HookKind::kPreClaim ? "lease won, VIPs not claimed yet" : "planned step-down");
  const ScriptRun run = hookRun(g.commands[g.next], e);
  g.argv = run.argv;
  g.commandStarted = std::chrono::steady_clock::now();
  g.handle = runner_.start(run, [weak = std::weak_ptr<LeaseHooks*>(alive_), lease](ScriptExit x) {
    if (auto self = weak.lock()) (*self)->gateCommandDone(lease, std::move(x));
  });
}

void LeaseHooks::gateCommandDone(std::size_t lease, ScriptExit exit) {
  PerLease& pl = leases_.at(lease);
  if (!pl.gate) return;
  Gate& g = *pl.gate;
  g.handle.reset();
  HookOutcome o;
  o.event = eventFor(lease, g.kind, g.epoch, g.fenceTarget.value_or(""), "");
  o.argv = g.argv;
  o.exit = exit;
  o.duration = std::chrono::milliseconds(msSince(g.commandStarted));
  o.sequence = g.next + 1;
  reported(o);
  if (!exit.ok() && g.kind == HookKind::kPreClaim) {
    finishGate(lease, false,
               "pre-claim hook " + (g.argv.empty() ? std::string("?") : g.argv.front()) + ": " +
                   exit.toString());
    return;
  }
  ++g.next;
  runGate(lease);
}

void LeaseHooks::finishGate(std::size_t lease, bool ok, const std::string& why) {
  PerLease& pl = leases_.at(lease);
  std::unique_ptr<Gate> g = std::move(pl.gate);
  if (!g) return;
  if (!ok) ++counters_.gatesFailed;
  if (record_) {
    record_(
        nlohmann::json{{"event", g->kind == HookKind::kPreClaim ? "claim-gate" : "release-gate"},
                       {"lease", pl.settings.lease},
                       {"epoch", g->epoch},
                       {"ok", ok},
                       {"duration_ms", msSince(g->started)},
                       {"why", why}});
  }
  if (g->claimDone) g->claimDone(ok, why);
  if (g->releaseDone) g->releaseDone();
}

bool LeaseHooks::idle() const {
  for (const auto& pl : leases_) {
    if (pl.gate || pl.queue->running() || pl.queue->pending() > 0) return false;
  }
  return true;
}

}  // namespace quorate::server::hooks
