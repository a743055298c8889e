// HookQueue: a per-lease FIFO of events, each a list of commands, started one at a time.
#include "server/hooks/hook_queue.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <utility>

namespace quorate::server::hooks {

ScriptRun hookRun(const HookCommand& command, const HookEvent& event) {
  ScriptRun run;
  run.argv = command.keepalivedArgs ? notifyArgv(command.program, event) : command.program;
  run.env = notifyEnvironment(event);
  run.user = command.user;
  run.timeout = command.timeout;
  run.captureBytes = kHookOutputBytes;
  return run;
}

HookQueue::HookQueue(boost::asio::io_context& io, ScriptRunner& runner, Options options,
                     Report report, Dropped dropped)
    : io_(io),
      runner_(runner),
      options_(options),
      report_(std::move(report)),
      onDropped_(std::move(dropped)),
      alive_(std::make_shared<HookQueue*>(this)) {}

HookQueue::~HookQueue() {
  alive_.reset();
  handle_.reset();  // SIGKILLs the process group and reaps; its done is then never called
}

std::uint64_t HookQueue::enqueue(HookEvent event, std::vector<HookCommand> commands, bool gating) {
  const std::uint64_t sequence = nextSequence_++;
  if (pending_.size() >= options_.capacity) {
    // The oldest pending non-gating event goes: the newest says where the lease is now, and a
    // notify script that missed a middle step still ends in the right state.
    const auto victim =
        std::find_if(pending_.begin(), pending_.end(), [](const Entry& e) { return !e.gating; });
    if (victim != pending_.end()) {
      Entry gone = std::move(*victim);
      pending_.erase(victim);
      ++dropped_;
      if (onDropped_) onDropped_(gone.event, gone.sequence);
    }
    // Only gating events pending: the queue grows past capacity rather than lose one of them or
    // the newest event; gating events are bounded by the lease loop, which waits for each.
  }
  pending_.push_back(Entry{std::move(event), std::move(commands), gating, sequence});
  schedule();
  return sequence;
}

void HookQueue::schedule() {
  if (current_ || posted_ || pending_.empty()) return;
  posted_ = true;
  // Never start from inside enqueue(): spawning is the caller's latency, and a report callback
  // that enqueues again would recurse.
  boost::asio::post(io_, [weak = std::weak_ptr<HookQueue*>(alive_)] {
    if (auto self = weak.lock()) {
      (*self)->posted_ = false;
      (*self)->startNext();
    }
  });
}

void HookQueue::startNext() {
  if (current_ || pending_.empty()) return;
  current_ = std::make_unique<Entry>(std::move(pending_.front()));
  pending_.pop_front();
  nextCommand_ = 0;
  runCommand();
}

void HookQueue::runCommand() {
  if (nextCommand_ >= current_->commands.size()) {
    current_.reset();
    schedule();
    return;
  }
  const ScriptRun run = hookRun(current_->commands[nextCommand_], current_->event);
  currentArgv_ = run.argv;
  started_ = std::chrono::steady_clock::now();
  // ScriptRunner calls `done` later on the io_context (never from inside start()), also for a
  // program that could not be started; so the handle is set before finished() can run.
  handle_ = runner_.start(run, [weak = std::weak_ptr<HookQueue*>(alive_)](ScriptExit exit) {
    if (auto self = weak.lock()) (*self)->finished(std::move(exit));
  });
}

void HookQueue::finished(ScriptExit exit) {
  handle_.reset();
  HookOutcome outcome;
  outcome.event = current_->event;
  outcome.argv = std::move(currentArgv_);
  outcome.exit = std::move(exit);
  outcome.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started_);
  outcome.sequence = current_->sequence;
  ++completed_;
  ++nextCommand_;
  // A report callback may enqueue: the entry stays current until the next command is started,
  // so schedule() does not start a second run meanwhile.
  if (report_) report_(outcome);
  runCommand();
}

}  // namespace quorate::server::hooks
