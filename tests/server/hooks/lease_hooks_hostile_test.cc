// LeaseHooks against what the adversarial review of issue 14 tried: notify_fifo paths that are not
// (or stop being) FIFOs, a queue overflowing while a loss of quorum waits, two leases fencing at once.
#include "server/hooks/lease_hooks.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/common/config_test_util.h"

namespace quorate::server::hooks {
namespace {

using testutil::readFile;

class LeaseHooksFifoTest : public ::testing::Test {
 protected:
  std::unique_ptr<LeaseHooks> hooksWithFifo(const std::string& path) {
    LeaseHookSettings s;
    s.lease = "web";
    s.hooks.notifyFifo = path;
    std::vector<LeaseHookSettings> all;
    all.push_back(std::move(s));
    return std::make_unique<LeaseHooks>(io, runner, std::move(all), nullptr, LeaseHooks::Record{});
  }
  static Transition becameHolder() {
    Transition t;
    t.lease = 0;
    t.from = LeaseState::kStandby;
    t.to = LeaseState::kHolder;
    t.epoch = 7;
    return t;
  }

  boost::asio::io_context io;
  ScriptRunner runner{io};
  testutil::TempDir dir{"quorate-lease-hooks"};
};

// The positive case: a FIFO with a reader gets keepalived's line.
TEST_F(LeaseHooksFifoTest, AFifoWithAReaderGetsTheLine) {
  const std::string fifo = dir.file("notify.fifo");
  auto hooks = hooksWithFifo(fifo);  // creates it
  struct stat st {};
  ASSERT_EQ(::stat(fifo.c_str(), &st), 0);
  ASSERT_TRUE(S_ISFIFO(st.st_mode));
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0);
  hooks->transition(becameHolder());
  char buf[256] = {};
  const ssize_t n = ::read(reader, buf, sizeof buf - 1);
  ::close(reader);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "INSTANCE \"web\" MASTER 100\n");
  EXPECT_EQ(hooks->counters().fifoErrors, 0u);
}

// Review (issue 14): the director runs as root; a notify_fifo path that is a regular file, or a
// symlink to one (or to /dev/sda), was opened O_WRONLY and written at offset 0, overwriting the
// start of whatever it named, although the start-up check had logged "nothing will be written".
TEST_F(LeaseHooksFifoTest, ARegularFileOrASymlinkToOneIsNeverWritten) {
  const std::string precious = "precious first bytes of a disk";
  const std::string file = dir.write("not-a-fifo", precious);
  const std::string link = dir.file("link.fifo");
  std::filesystem::create_symlink(file, link);
  for (const std::string& path : {file, link}) {
    auto hooks = hooksWithFifo(path);
    hooks->transition(becameHolder());
    EXPECT_EQ(readFile(file).value_or(""), precious) << path << " was written";
    EXPECT_EQ(hooks->counters().fifoErrors, 1u) << path;
  }
}

// A FIFO at start that an operator (or a package upgrade) later replaced with a file: checked at
// each write, not only at start.
TEST_F(LeaseHooksFifoTest, AFifoReplacedByAFileAfterStartIsNotWritten) {
  const std::string fifo = dir.file("notify.fifo");
  auto hooks = hooksWithFifo(fifo);
  ASSERT_EQ(::unlink(fifo.c_str()), 0);
  const std::string precious = "kept";
  dir.write("notify.fifo", precious);
  hooks->transition(becameHolder());
  EXPECT_EQ(readFile(fifo).value_or(""), precious);
  EXPECT_EQ(hooks->counters().fifoErrors, 1u);
}

// Review (issue 14): on_quorum_loss runs once per loss, and that once must not be lost. The
// queue drops its oldest pending event when 32 wait; the quorum-loss event (the one carrying
// on_quorum_loss) was as droppable as any notify, so a notify program stuck until its timeout
// (up to an hour) and a flapping lease made the loss's program never run.
TEST(LeaseHooksQueue, TheQuorumLossProgramRunsEvenWhenFlapsOverflowTheQueue) {
  boost::asio::io_context io;
  ScriptRunner runner{io};
  testutil::TempDir dir{"quorate-lease-hooks"};
  const std::string go = dir.file("go");
  const std::string ran = dir.file("quorum-loss-ran");
  HookCommand notify;
  // Every notify waits for the test's go: the transitions pile up behind the first one.
  notify.program = {dir.script("notify", "while [ ! -e " + go + " ]; do sleep 0.02; done")};
  notify.timeout = std::chrono::milliseconds(60'000);
  HookCommand onLoss;
  onLoss.keepalivedArgs = false;
  onLoss.program = {dir.script("on-loss", "echo \"$QUORATE_EPOCH\" >> " + ran)};
  LeaseHookSettings s;
  s.lease = "web";
  s.hooks.notify = {notify};
  s.hooks.onQuorumLoss = {onLoss};
  std::vector<LeaseHookSettings> all{s};
  LeaseHooks hooks(io, runner, std::move(all), nullptr, LeaseHooks::Record{});

  auto send = [&](LeaseState from, LeaseState to, bool quorumLost, std::uint64_t epoch) {
    Transition t;
    t.from = from;
    t.to = to;
    t.quorumLost = quorumLost;
    t.epoch = epoch;
    hooks.transition(t);
  };
  send(LeaseState::kNone, LeaseState::kHolder, false, 3);
  io.poll();  // the first notify starts and waits
  send(LeaseState::kHolder, LeaseState::kFault, true, 3);
  for (std::uint64_t e = 4; e < 24; ++e) {  // 40 transitions after it: the queue overflows
    send(LeaseState::kFault, LeaseState::kHolder, false, e);
    send(LeaseState::kHolder, LeaseState::kStandby, false, e);
  }
  EXPECT_GT(hooks.counters().dropped, 0u) << "the queue did not overflow: the test proves nothing";
  std::ofstream(go) << "";
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!hooks.idle() && std::chrono::steady_clock::now() < end) {
    io.run_one_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(hooks.idle());
  EXPECT_EQ(readFile(ran).value_or("(never ran)"), "3");
}

// A Fencer as the contract has it: one run at a time, and cancel() ends the one running.
struct OneAtATimeFencer : Fencer {
  struct Run {
    std::string target;
    std::uint64_t epoch = 0;
    Done done;
  };
  std::vector<Run> running;
  std::size_t mostAtOnce = 0;
  int calls = 0;
  void fence(const std::string& target, std::uint64_t epoch, Done done) override {
    ++calls;
    running.push_back(Run{target, epoch, std::move(done)});
    mostAtOnce = std::max(mostAtOnce, running.size());
  }
  void cancel() override { running.clear(); }
  // Ends the oldest run as the loop thread would see it.
  void succeed() {
    ASSERT_FALSE(running.empty());
    Run r = std::move(running.front());
    running.erase(running.begin());
    Fencer::Outcome o;
    o.ok = true;
    o.attempts = 1;
    r.done(o);
  }
};

// Review (issue 14): beta vanished holding two leases; both gates fence it. LeaseHooks called the
// one-run-at-a-time Fencer for both at once, and cancelling the second lease's gate (its lease
// ended) called Fencer::cancel(), which ended the first lease's fence: that gate never finished,
// and its lease stayed won and dark until it was lost.
TEST(LeaseHooksFence, TwoLeasesFenceOneAtATimeAndCancellingOneLeavesTheOther) {
  boost::asio::io_context io;
  ScriptRunner runner{io};
  OneAtATimeFencer fencer;
  std::vector<LeaseHookSettings> all(2);
  all[0].lease = "web";
  all[1].lease = "db";
  LeaseHooks hooks(io, runner, std::move(all), &fencer, LeaseHooks::Record{});
  ASSERT_TRUE(hooks.gates(0, std::string("beta")));
  std::vector<std::pair<std::size_t, bool>> done;
  hooks.beforeClaim(0, 5, std::string("beta"),
                    [&](bool ok, const std::string&) { done.emplace_back(0, ok); });
  hooks.beforeClaim(1, 6, std::string("beta"),
                    [&](bool ok, const std::string&) { done.emplace_back(1, ok); });
  io.poll();
  EXPECT_EQ(fencer.mostAtOnce, 1u) << "two fences at once on a one-at-a-time fencer";
  fencer.succeed();
  io.poll();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0], std::make_pair(std::size_t{0}, true));
  // Then the second lease's fence runs.
  ASSERT_EQ(fencer.running.size(), 1u);
  EXPECT_EQ(fencer.running[0].epoch, 6u);
  fencer.succeed();
  io.poll();
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[1], std::make_pair(std::size_t{1}, true));

  // Both again; the waiting one's lease ends: the running fence is not touched.
  done.clear();
  hooks.beforeClaim(0, 7, std::string("beta"),
                    [&](bool ok, const std::string&) { done.emplace_back(0, ok); });
  hooks.beforeClaim(1, 8, std::string("beta"),
                    [&](bool ok, const std::string&) { done.emplace_back(1, ok); });
  io.poll();
  hooks.cancel(1);
  ASSERT_EQ(fencer.running.size(), 1u) << "cancelling db ended web's fence";
  fencer.succeed();
  io.poll();
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0], std::make_pair(std::size_t{0}, true));
  EXPECT_TRUE(fencer.running.empty()) << "a cancelled gate's fence started after all";
  EXPECT_TRUE(hooks.idle());
}

}  // namespace
}  // namespace quorate::server::hooks
