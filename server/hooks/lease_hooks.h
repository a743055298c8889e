// What the director runs on its leases' transitions: the notify programs (one queue per lease,
// in transition order), keepalived's notify_fifo, the on-quorum-loss programs, and the claim
// gate (fence the holder before us if it vanished, then the pre-claim hooks). Every run's outcome
// goes to the log and to the event log. All on the director's loop thread; nothing blocks it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "server/hooks/hook_queue.h"
#include "server/hooks/hooks_config.h"
#include "server/lease_events.h"
#include "server/script_runner.h"

namespace quorate::server::hooks {

// One lease as its hooks see it.
struct LeaseHookSettings {
  std::string lease;
  std::optional<std::string> group;  // the lease is a sync group: keepalived's GROUP
  int priority = 100;                // keepalived's fourth argument
  HooksConfig hooks;
};

// Fence-before-claim: cuts the previous holder off (fence agent or command). One run at a time.
class Fencer {
 public:
  virtual ~Fencer() = default;
  struct Outcome {
    bool ok = false;
    int attempts = 0;
    std::chrono::milliseconds duration{0};
    std::string summary;  // one line for the log: the last attempt's result and output tail
  };
  using Done = std::function<void(const Outcome&)>;
  // Calls `done` once, later, on the loop thread, unless cancel() came first.
  virtual void fence(const std::string& target, std::uint64_t epoch, Done done) = 0;
  virtual void cancel() = 0;
};

class LeaseHooks final : public TransitionSink, public ClaimGate {
 public:
  using Record = std::function<void(nlohmann::json)>;  // appends to the event log
  struct Counters {
    std::uint64_t runs = 0;      // programs that ended (any way)
    std::uint64_t failures = 0;  // ended other than exit 0 (timeouts included)
    std::uint64_t timeouts = 0;
    std::uint64_t dropped = 0;     // events dropped from a full queue
    std::uint64_t fifoErrors = 0;  // notify_fifo lines not written (no reader, full)
    std::uint64_t fences = 0;
    std::uint64_t fenceFailures = 0;
    std::uint64_t gatesFailed = 0;
    std::uint64_t fencesOk = 0;  // fences that succeeded (the rest of `fences`: failed or cut off)
    // Programs that ended, by kind (kindName()) and outcome ("ok", "failed", "timeout").
    std::map<std::pair<std::string, std::string>, std::uint64_t> runsByKind;
  };

  // `fencer` may be null (no fence-before-claim); `record` may be empty. `runner` and `fencer`
  // must outlive this.
  LeaseHooks(boost::asio::io_context& io, ScriptRunner& runner,
             std::vector<LeaseHookSettings> leases, Fencer* fencer, Record record);
  ~LeaseHooks() override;

  void transition(const Transition& t) override;

  bool gates(std::size_t lease, const std::optional<std::string>& unreleased) const override;
  void beforeClaim(std::size_t lease, std::uint64_t epoch,
                   const std::optional<std::string>& unreleased, Done done) override;
  void cancel(std::size_t lease) override;

  // A planned step-down of `lease` at `epoch`: runs its pre-release hooks, then `done` (always,
  // whatever they returned: the step-down goes on). `done` is called later, on the loop thread.
  // Without pre-release hooks `done` is posted at once.
  void beforeRelease(std::size_t lease, std::uint64_t epoch, std::function<void()> done) override;
  bool hasPreRelease(std::size_t lease) const override;

  // A reload: the same leases (names and order) with new settings, and any lease added by the
  // reload after them (the next indices; a removed lease keeps its index and its settings).
  // Programs and gates already running finish as they started (a gate holds its own copy of its
  // commands); the next event uses the new settings. Returns false, changing nothing, when the
  // leases it had are not the first ones given, in order.
  bool updateSettings(std::vector<LeaseHookSettings> leases);

  // Nothing queued or running (the daemon waits for this, bounded, before it exits).
  bool idle() const;
  const Counters& counters() const { return counters_; }

 private:
  struct Gate;  // a sequence of gating commands for one lease and epoch
  struct PerLease {
    LeaseHookSettings settings;
    std::unique_ptr<HookQueue> queue;
    std::unique_ptr<Gate> gate;
  };

  void reported(const HookOutcome& o);
  void append(LeaseHookSettings settings);
  // The Fencer runs one fence at a time: a lease's gate waits while another lease's fence runs.
  void startFence(std::size_t lease);
  void startNextFence();
  void dropFence(std::size_t lease);  // the lease's gate ends: its fence stops, or never starts
  void writeFifo(std::size_t lease, const HookEvent& e);
  // Replaces the lease's gate with a new one of `kind` running `commands` for `epoch`.
  Gate& newGate(std::size_t lease, std::uint64_t epoch, HookKind kind,
                const std::vector<HookCommand>& commands);
  void postRunGate(std::size_t lease, std::uint64_t epoch);  // runGate, later, if still due
  void runGate(std::size_t lease);  // the next command of the lease's gate, or its end
  void gateCommandDone(std::size_t lease, ScriptExit exit);
  void finishGate(std::size_t lease, bool ok, const std::string& why);
  HookEvent eventFor(std::size_t lease, HookKind kind, std::uint64_t epoch,
                     const std::string& previousHolder, const std::string& reason) const;

  boost::asio::io_context& io_;
  ScriptRunner& runner_;
  std::deque<PerLease> leases_;  // a deque: a lease added by a reload moves no other
  Fencer* fencer_;
  Record record_;
  Counters counters_;
  std::optional<std::size_t> fencing_;    // the lease whose fence runs now
  std::deque<std::size_t> fenceWaiting_;  // leases whose fence waits for it, in order
  std::shared_ptr<LeaseHooks*> alive_;    // for posted handlers
};

}  // namespace quorate::server::hooks
