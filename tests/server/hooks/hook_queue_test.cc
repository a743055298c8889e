// Unit tests of HookQueue with real /bin/sh scripts in a temporary directory: order under a
// burst, one at a time per lease, a hanging hook killed at its timeout, leases in parallel, the
// bounded queue's drop rule, and what an unmodified keepalived notify script sees.
#include "server/hooks/hook_queue.h"

#include <gtest/gtest.h>
#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "tests/common/config_test_util.h"

namespace quorate::server::hooks {
namespace {

using std::chrono::milliseconds;
using testutil::readFile;
using Kind = ScriptExit::Kind;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class HookQueueTest : public ::testing::Test {
 protected:
  HookEvent event(std::uint64_t epoch, HookKind kind = HookKind::kBecameHolder,
                  std::string lease = "web") {
    HookEvent e;
    e.lease = std::move(lease);
    e.kind = kind;
    e.epoch = epoch;
    e.priority = 100;
    return e;
  }
  HookCommand command(const std::string& name, const std::string& body,
                      milliseconds timeout = milliseconds(20000)) {
    HookCommand c;
    c.program = {dir.script(name, body)};
    c.timeout = timeout;
    return c;
  }
  // Runs the io_context until `done` holds; false after 30 s.
  template <typename Pred>
  bool runUntil(Pred done, milliseconds within = milliseconds(30000)) {
    io.restart();
    const auto end = std::chrono::steady_clock::now() + within;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      io.run_one_for(milliseconds(50));
      io.restart();
    }
    return true;
  }
  HookQueue::Report recorder() {
    return [this](const HookOutcome& o) { outcomes.push_back(o); };
  }

  boost::asio::io_context io;
  ScriptRunner runner{io};
  testutil::TempDir dir{"quorate-hooks"};
  std::vector<HookOutcome> outcomes;
};

// 50 events enqueued back to back run in order, and never two at once: each run takes a lock
// directory that a concurrent run would find taken.
TEST_F(HookQueueTest, BurstOfFiftyRunsInOrderOneAtATime) {
  const std::string log = dir.file("log");
  const std::string lock = dir.file("lock");
  const HookCommand c =
      command("order.sh", "mkdir '" + lock + "' 2>/dev/null || echo OVERLAP >> '" + log +
                              "'\n"
                              "echo \"$QUORATE_EPOCH\" >> '" +
                              log +
                              "'\n"
                              "sleep 0.01\n"
                              "rmdir '" +
                              lock + "'");
  HookQueue queue(io, runner, {.capacity = 64}, recorder());
  for (std::uint64_t epoch = 1; epoch <= 50; ++epoch) {
    EXPECT_EQ(queue.enqueue(event(epoch), {c}), epoch);
  }
  // enqueue() starts nothing itself: the caller (the lease loop) is never held up by a spawn.
  EXPECT_FALSE(queue.running());
  EXPECT_EQ(runner.running(), 0u);
  EXPECT_EQ(queue.pending(), 50u);
  ASSERT_TRUE(runUntil([&] { return queue.completed() == 50; }));
  std::vector<std::string> want;
  for (int epoch = 1; epoch <= 50; ++epoch) want.push_back(std::to_string(epoch));
  EXPECT_EQ(lines(readFile(log).value_or("")), want);
  ASSERT_EQ(outcomes.size(), 50u);
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    EXPECT_TRUE(outcomes[i].exit.ok()) << outcomes[i].exit.toString();
    EXPECT_EQ(outcomes[i].sequence, i + 1);
    EXPECT_EQ(outcomes[i].event.epoch, i + 1);
  }
  EXPECT_EQ(queue.dropped(), 0u);
}

// The commands of one event run one after the other, in their configured order.
TEST_F(HookQueueTest, CommandsOfOneEventRunInTheirOrder) {
  const std::string log = dir.file("log");
  HookQueue queue(io, runner, {}, recorder());
  queue.enqueue(event(1), {command("a.sh", "sleep 0.05; echo a >> '" + log + "'"),
                           command("b.sh", "echo b >> '" + log + "'")});
  queue.enqueue(event(2), {command("c.sh", "echo c >> '" + log + "'")});
  ASSERT_TRUE(runUntil([&] { return queue.completed() == 3; }));
  EXPECT_EQ(lines(readFile(log).value_or("")), (std::vector<std::string>{"a", "b", "c"}));
}

// A hook that hangs (with a child of its own) is killed at its timeout, with its process group,
// and the next event's hook runs.
TEST_F(HookQueueTest, HangingHookIsKilledAtItsTimeoutAndTheNextRuns) {
  const std::string pids = dir.file("pids");
  const std::string next = dir.file("next");
  HookQueue queue(io, runner, {}, recorder());
  queue.enqueue(event(1), {command("hang.sh",
                                   "sleep 60 & echo $! > '" + pids +
                                       "'\n"
                                       "echo $$ >> '" +
                                       pids +
                                       "'\n"
                                       "wait",
                                   milliseconds(300))});
  queue.enqueue(event(2), {command("next.sh", "echo ran > '" + next + "'")});
  ASSERT_TRUE(runUntil([&] { return queue.completed() == 2; }));
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(outcomes[0].exit.kind, Kind::kTimedOut) << outcomes[0].exit.toString();
  EXPECT_EQ(outcomes[0].exit.code, 300);
  EXPECT_GE(outcomes[0].duration, milliseconds(300));
  EXPECT_TRUE(outcomes[1].exit.ok()) << outcomes[1].exit.toString();
  EXPECT_EQ(readFile(next), "ran");
  const auto started = lines(readFile(pids).value_or(""));
  ASSERT_EQ(started.size(), 2u);
  for (const std::string& pid : started) {
    EXPECT_TRUE(testutil::waitGone(static_cast<pid_t>(std::stoi(pid)))) << pid;
  }
}

// Two leases' queues run at the same time: each hook waits for the other's to have started,
// which only a parallel run satisfies before its own 10 s patience runs out.
TEST_F(HookQueueTest, TwoLeasesRunInParallel) {
  auto body = [&](const std::string& me, const std::string& other) {
    return "touch '" + dir.file(me + ".started") +
           "'\n"
           "i=0\n"
           "while [ ! -e '" +
           dir.file(other + ".started") +
           "' ] && [ $i -lt 1000 ]; do\n"
           "  sleep 0.01; i=$((i+1))\n"
           "done\n"
           "[ -e '" +
           dir.file(other + ".started") + "' ] && echo together > '" + dir.file(me + ".result") +
           "'\n"
           "exit 0";
  };
  HookQueue web(io, runner, {}, recorder());
  HookQueue dns(io, runner, {}, recorder());
  web.enqueue(event(1, HookKind::kBecameHolder, "web"), {command("web.sh", body("web", "dns"))});
  dns.enqueue(event(1, HookKind::kBecameHolder, "dns"), {command("dns.sh", body("dns", "web"))});
  ASSERT_TRUE(runUntil([&] { return web.completed() == 1 && dns.completed() == 1; }));
  EXPECT_EQ(readFile(dir.file("web.result")), "together");
  EXPECT_EQ(readFile(dir.file("dns.result")), "together");
}

// Full queue: the oldest pending non-gating event is dropped and counted; a gating event and the
// newest event are kept.
TEST_F(HookQueueTest, FullQueueDropsTheOldestNonGatingEvent) {
  const std::string go = dir.file("go");
  const std::string log = dir.file("log");
  const HookCommand blocker =
      command("block.sh", "i=0; while [ ! -e '" + go +
                              "' ] && [ $i -lt 2000 ]; do sleep 0.01; "
                              "i=$((i+1)); done\necho \"$QUORATE_EPOCH\" >> '" +
                              log + "'");
  const HookCommand logEpoch = command("log.sh", "echo \"$QUORATE_EPOCH\" >> '" + log + "'");
  std::vector<std::uint64_t> droppedSequences;
  HookQueue queue(io, runner, {.capacity = 3}, recorder(),
                  [&](const HookEvent&, std::uint64_t seq) { droppedSequences.push_back(seq); });
  queue.enqueue(event(1), {blocker});
  ASSERT_TRUE(runUntil([&] { return queue.running(); }));
  queue.enqueue(event(2, HookKind::kBecameStandby), {logEpoch}, /*gating=*/true);
  queue.enqueue(event(3), {logEpoch});
  queue.enqueue(event(4), {logEpoch});
  EXPECT_EQ(queue.dropped(), 0u);
  queue.enqueue(event(5), {logEpoch});  // full: 3 goes, not the gating 2
  queue.enqueue(event(6), {logEpoch});  // full: 4 goes
  EXPECT_EQ(queue.dropped(), 2u);
  EXPECT_EQ(droppedSequences, (std::vector<std::uint64_t>{3, 4}));
  EXPECT_EQ(queue.pending(), 3u);
  dir.write("go", "");
  ASSERT_TRUE(runUntil([&] { return queue.completed() == 4 && !queue.running(); }));
  EXPECT_EQ(lines(readFile(log).value_or("")), (std::vector<std::string>{"1", "2", "5", "6"}));
}

// What an unmodified keepalived notify script (the usual "TYPE=$1 NAME=$2 STATE=$3" kind) sees,
// as a generic `notify` and as `notify_master "/x.sh arg"` with an argument of its own.
TEST_F(HookQueueTest, KeepalivedNotifyScriptSeesItsArguments) {
  const std::string out = dir.file("out");
  const std::string script = dir.script("notify.sh",
                                        "TYPE=$1\nNAME=$2\nSTATE=$3\nPRIO=$4\n"
                                        "case $STATE in\n"
                                        "  MASTER) what=master ;;\n"
                                        "  BACKUP) what=backup ;;\n"
                                        "  FAULT) what=fault ;;\n"
                                        "  *) what=unknown ;;\n"
                                        "esac\n"
                                        "echo \"$# $TYPE $NAME $what $PRIO\" >> '" +
                                            out +
                                            "'\n"
                                            "echo \"$QUORATE_LEASE $QUORATE_EPOCH "
                                            "$QUORATE_PREVIOUS_HOLDER $QUORATE_EVENT "
                                            "$QUORATE_REASON\" >> '" +
                                            out + "'");
  HookQueue queue(io, runner, {}, recorder());
  HookEvent e = event(7);
  e.previousHolder = "beta";
  e.reason = "won";
  queue.enqueue(e, {HookCommand{{script}, "", milliseconds(10000)}});
  HookEvent lost = event(8, HookKind::kQuorumLost);
  lost.syncGroup = "lvs";
  lost.reason = "no quorum";
  lost.priority = 90;
  // `notify` for the group, then a notify_fault-style "/x.sh fault" that gets no arguments added.
  queue.enqueue(lost, {HookCommand{{script}, "", milliseconds(10000)},
                       HookCommand{{script, "fault"}, "", milliseconds(10000), false}});
  ASSERT_TRUE(runUntil([&] { return queue.completed() == 3; }));
  const auto got = lines(readFile(out).value_or(""));
  ASSERT_EQ(got.size(), 6u);
  EXPECT_EQ(got[0], "4 INSTANCE web master 100");
  EXPECT_EQ(got[1], "web 7 beta became-holder won");
  EXPECT_EQ(got[2], "4 GROUP lvs fault 0");
  EXPECT_EQ(got[3], "web 8  quorum-lost no quorum");
  EXPECT_EQ(got[4].substr(0, 8), "1 fault ");
  EXPECT_EQ(got[5], got[3]);
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_EQ(outcomes[2].argv, (std::vector<std::string>{script, "fault"}));
}

// A lease name built to break out of a line-oriented script (newline, quotes, $(...), ;) is one
// argument of one line, and nothing in it is run.
TEST_F(HookQueueTest, HostileLeaseNameCannotInject) {
  const std::string out = dir.file("out");
  const std::string pwned = dir.file("pwned");
  const std::string script =
      dir.script("notify.sh",
                 "echo \"$# $1 $2 $3\" >> '" + out + "'\necho \"$QUORATE_LEASE\" >> '" + out + "'");
  HookQueue queue(io, runner, {}, recorder());
  const std::string hostile = "x\nINSTANCE y MASTER 100\n$(touch " + pwned + ")\";touch " + pwned +
                              ";\"`touch " + pwned + "`";
  queue.enqueue(event(1, HookKind::kBecameHolder, hostile),
                {HookCommand{{script}, "", milliseconds(10000)}});
  ASSERT_TRUE(runUntil([&] { return queue.completed() == 1; }));
  const auto got = lines(readFile(out).value_or(""));
  ASSERT_EQ(got.size(), 2u) << readFile(out).value_or("");
  EXPECT_EQ(got[0].substr(0, 11), "4 INSTANCE ");
  EXPECT_NE(got[0].find("%0AINSTANCE y MASTER 100%0A"), std::string::npos) << got[0];
  EXPECT_EQ(got[0].substr(got[0].size() - 7), " MASTER");
  EXPECT_EQ(got[1], escapeControl(hostile));
  EXPECT_FALSE(std::filesystem::exists(pwned));
}

// Destroying a queue kills its running hook and starts nothing more.
TEST_F(HookQueueTest, DestroyingTheQueueKillsItsHook) {
  const std::string pidFile = dir.file("pid");
  const std::string later = dir.file("later");
  pid_t pid = 0;
  {
    HookQueue queue(io, runner, {}, recorder());
    queue.enqueue(event(1), {command("hang.sh", "echo $$ > '" + pidFile + "'\nexec sleep 60")});
    queue.enqueue(event(2), {command("later.sh", "touch '" + later + "'")});
    ASSERT_TRUE(runUntil([&] { return readFile(pidFile).value_or("") != ""; }));
    pid = static_cast<pid_t>(std::stoi(*readFile(pidFile)));
  }
  EXPECT_TRUE(testutil::waitGone(pid));
  EXPECT_EQ(runner.running(), 0u);
  io.restart();
  io.poll();
  EXPECT_FALSE(std::filesystem::exists(later));
  EXPECT_TRUE(outcomes.empty());
}

}  // namespace
}  // namespace quorate::server::hooks
