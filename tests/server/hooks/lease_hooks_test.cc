// LeaseHooks with real /bin/sh scripts: which programs a transition runs and in which order, the
// output kept for the log and the event log, the claim gate (fence then pre-claim hooks; a
// failure; a cancel that kills the program), pre-release, and notify_fifo with and without a
// reader.
#include "server/hooks/lease_hooks.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <csignal>
#include <sstream>
#include <string>
#include <vector>

#include "tests/common/config_test_util.h"

namespace quorate::server::hooks {
namespace {

using std::chrono::milliseconds;
// The file's text, "" when it does not exist (yet).
std::string readFile(const std::string& path) { return testutil::readFile(path).value_or(""); }

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    while (!l.empty() && l.back() == ' ') l.pop_back();  // "$*" may be empty
    out.push_back(l);
  }
  return out;
}

// A fencer the test answers by hand.
struct ManualFencer : Fencer {
  std::vector<std::string> asked;
  Done pending;
  int cancels = 0;
  void fence(const std::string& target, std::uint64_t epoch, Done done) override {
    asked.push_back(target + " " + std::to_string(epoch));
    pending = std::move(done);
  }
  void cancel() override {
    ++cancels;
    pending = nullptr;
  }
};

class LeaseHooksTest : public ::testing::Test {
 protected:
  HookCommand cmd(const std::string& name, const std::string& body, bool keepalivedArgs = false,
                  milliseconds timeout = milliseconds(20000)) {
    HookCommand c;
    c.program = {dir.script(name, body)};
    c.keepalivedArgs = keepalivedArgs;
    c.timeout = timeout;
    return c;
  }
  std::unique_ptr<LeaseHooks> make(HooksConfig h, Fencer* fencer = nullptr) {
    LeaseHookSettings s;
    s.lease = "web";
    s.priority = 100;
    s.hooks = std::move(h);
    return std::make_unique<LeaseHooks>(io, runner, std::vector<LeaseHookSettings>{s}, fencer,
                                        [this](nlohmann::json r) { records.push_back(r); });
  }
  template <typename Pred>
  bool runUntil(Pred done, milliseconds within = milliseconds(20000)) {
    const auto end = std::chrono::steady_clock::now() + within;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      io.restart();
      io.run_one_for(milliseconds(20));
    }
    return true;
  }
  Transition to(LeaseState state, std::uint64_t epoch, bool quorumLost = false) {
    Transition t;
    t.lease = 0;
    t.to = state;
    t.epoch = epoch;
    t.quorumLost = quorumLost;
    t.reason = "test";
    return t;
  }
  std::string appender(const std::string& tag) {
    return "echo \"" + tag + " $QUORATE_EVENT $QUORATE_EPOCH $*\" >> '" + dir.file("log") + "'\n";
  }

  boost::asio::io_context io;
  ScriptRunner runner{io};
  testutil::TempDir dir{"quorate-lease-hooks"};
  std::vector<nlohmann::json> records;
};

// Each state's own program first, then keepalived's generic notify with its four arguments; a
// loss of quorum runs on_quorum_loss before notify_fault; the event log gets a role record per
// transition and a hook record per program, with its output.
TEST_F(LeaseHooksTest, EachTransitionRunsItsProgramsInOrderAndRecordsThem) {
  HooksConfig h;
  h.notify = {cmd("notify.sh", appender("notify"), true)};
  h.notifyMaster = {cmd("master.sh", appender("master") + "echo to-the-log")};
  h.notifyFault = {cmd("fault.sh", appender("fault"))};
  h.onQuorumLoss = {cmd("loss.sh", appender("loss"))};
  auto hooks = make(h);
  hooks->transition(to(LeaseState::kHolder, 7));
  hooks->transition(to(LeaseState::kFault, 7, true));
  EXPECT_FALSE(hooks->idle());
  ASSERT_TRUE(runUntil([&] { return hooks->idle(); }));
  const std::vector<std::string> want{
      "master became-holder 7", "notify became-holder 7 INSTANCE web MASTER 100",
      "loss quorum-lost 7", "fault quorum-lost 7", "notify quorum-lost 7 INSTANCE web FAULT 100"};
  EXPECT_EQ(lines(readFile(dir.file("log"))), want);
  EXPECT_EQ(hooks->counters().runs, 5u);
  int roles = 0, runs = 0;
  for (const auto& r : records) {
    roles += r["event"] == "role";
    runs += r["event"] == "hook";
    if (r["event"] == "hook" &&
        r["argv"][0].get<std::string>().find("master.sh") != std::string::npos) {
      EXPECT_EQ(r["output"], "to-the-log\n");
      EXPECT_EQ(r["ok"], true);
    }
  }
  EXPECT_EQ(roles, 2);
  EXPECT_EQ(runs, 5);
}

// A `shell:` notify (as hooks_config builds it: the text, then the shell's $0) sees keepalived's
// arguments as $1..$4.
TEST_F(LeaseHooksTest, AShellNotifySeesKeepalivedsArgumentsAsOneToFour) {
  HooksConfig h;
  HookCommand c;
  c.program = {"/bin/sh", "-c", "echo \"$1|$2|$3|$4\" >> '" + dir.file("log") + "'",
               "quorate-hook"};
  h.notify = {c};
  auto hooks = make(h);
  hooks->transition(to(LeaseState::kHolder, 2));
  ASSERT_TRUE(runUntil([&] { return hooks->idle(); }));
  EXPECT_EQ(lines(readFile(dir.file("log"))),
            (std::vector<std::string>{"INSTANCE|web|MASTER|100"}));
}

// The gate: the fence first, then each pre-claim program; done(true) only after all of them, and
// never from inside beforeClaim.
TEST_F(LeaseHooksTest, TheGateFencesThenRunsThePreClaimHooksInOrder) {
  ManualFencer fencer;
  HooksConfig h;
  h.preClaim = {cmd("a.sh", appender("a")), cmd("b.sh", appender("b"))};
  auto hooks = make(h, &fencer);
  EXPECT_TRUE(hooks->gates(0, std::string("beta")));
  EXPECT_TRUE(hooks->gates(0, std::nullopt));
  std::optional<std::pair<bool, std::string>> done;
  hooks->beforeClaim(0, 9, std::string("beta"),
                     [&](bool ok, const std::string& why) { done.emplace(ok, why); });
  EXPECT_FALSE(done);
  ASSERT_EQ(fencer.asked, (std::vector<std::string>{"beta 9"}));
  runUntil([] { return false; }, milliseconds(200));
  EXPECT_FALSE(done) << "the claim passed while the fence ran";
  EXPECT_TRUE(readFile(dir.file("log")).empty()) << "a pre-claim hook ran before the fence ended";
  auto fenced = std::move(fencer.pending);
  fenced(Fencer::Outcome{true, 1, milliseconds(5), "fenced"});
  ASSERT_TRUE(runUntil([&] { return done.has_value(); }));
  EXPECT_TRUE(done->first) << done->second;
  EXPECT_EQ(lines(readFile(dir.file("log"))),
            (std::vector<std::string>{"a pre-claim 9", "b pre-claim 9"}));
}

TEST_F(LeaseHooksTest, AFailingPreClaimHookOrFenceFailsTheGateAndStopsThere) {
  ManualFencer fencer;
  HooksConfig h;
  h.preClaim = {cmd("a.sh", appender("a") + "exit 3"), cmd("b.sh", appender("b"))};
  auto hooks = make(h, &fencer);
  std::optional<std::pair<bool, std::string>> done;
  hooks->beforeClaim(0, 9, std::nullopt,
                     [&](bool ok, const std::string& why) { done.emplace(ok, why); });
  EXPECT_TRUE(fencer.asked.empty()) << "fenced with nobody to fence";
  ASSERT_TRUE(runUntil([&] { return done.has_value(); }));
  EXPECT_FALSE(done->first);
  EXPECT_NE(done->second.find("exit 3"), std::string::npos) << done->second;
  EXPECT_EQ(lines(readFile(dir.file("log"))), (std::vector<std::string>{"a pre-claim 9"}));

  done.reset();
  hooks->beforeClaim(0, 10, std::string("beta"),
                     [&](bool ok, const std::string& why) { done.emplace(ok, why); });
  auto fenced = std::move(fencer.pending);
  fenced(Fencer::Outcome{false, 3, milliseconds(5), "exit 1"});
  ASSERT_TRUE(done.has_value());
  EXPECT_FALSE(done->first);
  EXPECT_NE(done->second.find("fence of beta failed"), std::string::npos) << done->second;
  runUntil([] { return false; }, milliseconds(200));
  EXPECT_EQ(lines(readFile(dir.file("log"))).size(), 1u)
      << "a pre-claim hook ran after a failed fence";
  EXPECT_EQ(hooks->counters().fenceFailures, 1u);
  EXPECT_EQ(hooks->counters().gatesFailed, 2u);
}

// A lease lost while its gate runs: the program is killed (its process group), done never comes.
TEST_F(LeaseHooksTest, ACancelledGateKillsItsProgramAndNeverReports) {
  HooksConfig h;
  h.preClaim = {cmd("hang.sh", "echo $$ > '" + dir.file("pid") + "'\nexec sleep 600")};
  auto hooks = make(h);
  bool called = false;
  hooks->beforeClaim(0, 4, std::nullopt, [&](bool, const std::string&) { called = true; });
  ASSERT_TRUE(runUntil([&] { return !readFile(dir.file("pid")).empty(); }));
  const pid_t pid = std::stoi(readFile(dir.file("pid")));
  hooks->cancel(0);
  ASSERT_TRUE(runUntil([&] { return ::kill(pid, 0) != 0; }, milliseconds(5000)))
      << "the gating program survived its cancel";
  runUntil([] { return false; }, milliseconds(200));
  EXPECT_FALSE(called);
  EXPECT_TRUE(hooks->idle());
}

// pre-release programs run, and then the release goes on whatever they returned.
TEST_F(LeaseHooksTest, PreReleaseRunsItsProgramsThenReleasesWhateverTheyReturn) {
  HooksConfig h;
  h.preRelease = {cmd("drain.sh", appender("drain") + "exit 1")};
  auto hooks = make(h);
  EXPECT_TRUE(hooks->hasPreRelease(0));
  bool released = false;
  hooks->beforeRelease(0, 5, [&] { released = true; });
  EXPECT_FALSE(released);
  ASSERT_TRUE(runUntil([&] { return released; }));
  EXPECT_EQ(lines(readFile(dir.file("log"))), (std::vector<std::string>{"drain pre-release 5"}));
}

// notify_fifo: one keepalived line per transition for a reader; without a reader the line is
// lost and counted, and nothing waits.
TEST_F(LeaseHooksTest, NotifyFifoWritesALinePerTransitionAndNeverWaitsForAReader) {
  HooksConfig h;
  h.notifyFifo = dir.file("notify.fifo");
  auto hooks = make(h);
  struct stat st {};
  ASSERT_EQ(::stat(h.notifyFifo->c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was not created";
  const auto start = std::chrono::steady_clock::now();
  hooks->transition(to(LeaseState::kHolder, 3));  // nobody reads
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(500));
  EXPECT_EQ(hooks->counters().fifoErrors, 1u);
  const int reader = ::open(h.notifyFifo->c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  hooks->transition(to(LeaseState::kStandby, 4));
  hooks->transition(to(LeaseState::kStopping, 4));
  char buf[256] = {};
  const ssize_t n = ::read(reader, buf, sizeof buf - 1);
  ::close(reader);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)),
            "INSTANCE \"web\" BACKUP 100\nINSTANCE \"web\" STOP 100\n");
}

}  // namespace
}  // namespace quorate::server::hooks

namespace quorate::server::hooks {
namespace {

// A reload: the next transition runs the new programs; settings for other leases are refused
// and change nothing.
TEST_F(LeaseHooksTest, UpdatedSettingsRunFromTheNextTransition) {
  HooksConfig before;
  before.notifyMaster = {cmd("old.sh", appender("old"))};
  auto hooks = make(before);
  hooks->transition(to(LeaseState::kHolder, 1));
  ASSERT_TRUE(runUntil([&] { return hooks->idle(); }));

  LeaseHookSettings other;
  other.lease = "db";
  other.hooks.notifyMaster = {cmd("wrong.sh", appender("wrong"))};
  EXPECT_FALSE(hooks->updateSettings({other}));
  EXPECT_FALSE(hooks->updateSettings({}));

  LeaseHookSettings next;
  next.lease = "web";
  next.hooks.notifyMaster = {cmd("new.sh", appender("new"))};
  ASSERT_TRUE(hooks->updateSettings({next}));
  hooks->transition(to(LeaseState::kStandby, 1));
  hooks->transition(to(LeaseState::kHolder, 2));
  ASSERT_TRUE(runUntil([&] { return hooks->idle(); }));
  const std::vector<std::string> want{"old became-holder 1", "new became-holder 2"};
  EXPECT_EQ(lines(readFile(dir.file("log"))), want);
}

// A reload that adds a lease appends its settings at the next index; the leases already there
// must come first, in order (a removed lease keeps its index and settings).
TEST_F(LeaseHooksTest, ALeaseAddedByAReloadGetsTheNextIndexAndItsOwnPrograms) {
  HooksConfig before;
  before.notifyMaster = {cmd("web.sh", appender("web"))};
  auto hooks = make(before);
  LeaseHookSettings web;
  web.lease = "web";
  web.hooks = before;
  LeaseHookSettings mail;
  mail.lease = "mail";
  mail.hooks.notifyMaster = {cmd("mail.sh", appender("mail"))};
  EXPECT_FALSE(hooks->updateSettings({mail, web})) << "web's index moved";
  ASSERT_TRUE(hooks->updateSettings({web, mail}));
  EXPECT_FALSE(hooks->updateSettings({web})) << "an index dropped";
  Transition t = to(LeaseState::kHolder, 7);
  t.lease = 1;
  hooks->transition(t);
  ASSERT_TRUE(runUntil([&] { return hooks->idle(); }));
  EXPECT_EQ(lines(readFile(dir.file("log"))), std::vector<std::string>{"mail became-holder 7"});
}

}  // namespace
}  // namespace quorate::server::hooks
