#!/bin/sh
# Breaks each property of server/hooks on purpose (one sed mutant at a time, restored from git
# afterwards) and checks that the named test catches it, by failing or by hanging past 120 s.
# Usage: mutants.sh BUILD_DIR [NAME...]
set -u
build=${1:?usage: mutants.sh BUILD_DIR [NAME...]}
shift

# name@file@sed expression@gtest filter that must fail. fire-and-forget is what keepalived does
# (every notify started at once); lifo and sync-start break order and the non-blocking enqueue.
mutants='
lifo@server/hooks/hook_queue.cc@s/pending_.front()/pending_.back()/; s/pending_.pop_front()/pending_.pop_back()/@*BurstOfFifty*
fire-and-forget@server/hooks/hook_queue.cc@s/^  pending_.push_back(Entry/  { ScriptRun r; r.argv = notifyArgv(commands[0].program, event); r.env = notifyEnvironment(event); r.timeout = commands[0].timeout; boost::asio::post(io_, [this, r] { (void)runner_.start(r, [this](ScriptExit) { ++completed_; }).release(); }); return sequence; }\n  pending_.push_back(Entry/@*BurstOfFifty*
sync-start@server/hooks/hook_queue.cc@/pending_.push_back(Entry{/{n;s/schedule();/startNext();/}@*BurstOfFifty*
no-timeout@server/hooks/hook_queue.cc@s/run.timeout = command.timeout;/run.timeout = std::chrono::milliseconds(60000);/@*HangingHook*
one-lane@server/hooks/hook_queue.cc@s/if (current_ || pending_.empty()) return;/if (current_ || pending_.empty() || runner_.running() > 0) return;/@*TwoLeasesRunInParallel*
drop-newest@server/hooks/hook_queue.cc@s/if (pending_.size() >= options_.capacity) {/if (pending_.size() >= options_.capacity) return sequence;\n  if (false) {/@*FullQueueDrops*
drop-gating@server/hooks/hook_queue.cc@s/return !e.gating;/return e.gating || true;/@*FullQueueDrops*
no-escape@server/hooks/hook_event.cc@s/out.reserve(text.size());/if (!quote) return std::string(text);/@*Hostile*
no-priority@server/hooks/hook_event.cc@s/argv.push_back(std::to_string(event.priority));//@*Keepalived*
'
printf '%s\n' "$mutants" |
  sh "$(dirname "$0")/../../support/mutants.sh" "$build" quorate_hooks_tests 120 "$@"
