// Runs the notify programs of ONE lease strictly one at a time, in event order, on ScriptRunner;
// enqueue never blocks, the queue is bounded, and every run's outcome goes to a callback.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/hooks/hook_event.h"
#include "server/hooks/hooks_config.h"
#include "server/script_runner.h"

namespace quorate::server::hooks {

// How one run of one command for one event ended.
struct HookOutcome {
  HookEvent event;
  std::vector<std::string> argv;  // exactly what was started
  ScriptExit exit;                // exit code, signal, timeout or start failure
  std::chrono::milliseconds duration{0};
  std::uint64_t sequence = 0;  // the event's place in this queue's order (from 1)
};

// What the hooks keep of a program's stdout and stderr, for the log.
inline constexpr std::size_t kHookOutputBytes = 4096;

// How `command` runs for `event`: keepalived's arguments when it takes them, the QUORATE_*
// environment, its user and timeout, its output captured. Notify and gating runs alike.
ScriptRun hookRun(const HookCommand& command, const HookEvent& event);

class HookQueue {
 public:
  struct Options {
    // Pending events (not counting the one running). When a new event finds the queue full, the
    // oldest pending non-gating event is dropped and counted; the new one is always kept.
    std::size_t capacity = 32;
  };
  using Report = std::function<void(const HookOutcome&)>;
  using Dropped = std::function<void(const HookEvent&, std::uint64_t sequence)>;

  // All calls, and both callbacks, on `io`'s thread. `runner` must outlive the queue.
  HookQueue(boost::asio::io_context& io, ScriptRunner& runner, Options options, Report report,
            Dropped dropped = {});
  // Kills the running program (through its handle) and forgets what is pending.
  ~HookQueue();
  HookQueue(const HookQueue&) = delete;
  HookQueue& operator=(const HookQueue&) = delete;

  // Queues `commands` for `event` and returns at once: nothing is started from inside this call.
  // The commands of one event run one after the other, in the given order; the next event's
  // start only after the last of them ended. `gating` marks an event that is never dropped (the
  // kind of hook the next step makes the lease loop wait for). Returns the event's sequence.
  std::uint64_t enqueue(HookEvent event, std::vector<HookCommand> commands, bool gating = false);

  std::size_t pending() const { return pending_.size(); }  // events not yet started
  bool running() const { return static_cast<bool>(handle_); }
  std::uint64_t dropped() const { return dropped_; }  // events dropped because the queue was full
  std::uint64_t completed() const { return completed_; }  // command runs reported

 private:
  struct Entry {
    HookEvent event;
    std::vector<HookCommand> commands;
    bool gating = false;
    std::uint64_t sequence = 0;
  };

  void schedule();  // posts startNext() unless a run is under way or already posted
  void startNext();
  void runCommand();
  void finished(ScriptExit exit);

  boost::asio::io_context& io_;
  ScriptRunner& runner_;
  Options options_;
  Report report_;
  Dropped onDropped_;
  std::deque<Entry> pending_;
  std::unique_ptr<Entry> current_;  // the event whose commands are running
  std::size_t nextCommand_ = 0;     // index into current_->commands
  std::vector<std::string> currentArgv_;
  std::chrono::steady_clock::time_point started_{};
  std::unique_ptr<ScriptRunner::Handle> handle_;
  bool posted_ = false;
  std::uint64_t nextSequence_ = 1;
  std::uint64_t dropped_ = 0;
  std::uint64_t completed_ = 0;
  // Posted handlers hold a weak_ptr to this, so that one run after destruction does nothing.
  std::shared_ptr<HookQueue*> alive_;
};

}  // namespace quorate::server::hooks
