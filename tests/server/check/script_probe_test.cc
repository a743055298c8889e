// Unit tests of the MISC_CHECK probe with real /bin/sh scripts: exit codes plain and with
// misc_dynamic weights, signals, the deadline, start failures, running as another user (as root
// only), and a probe destroyed mid-run.
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "server/check/probe.h"
#include "server/script_runner.h"
#include "tests/common/config_test_util.h"

namespace quorate::server::check {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

using testutil::readFile;
using testutil::waitGone;

class ScriptProbeTest : public ::testing::Test {
 protected:
  CheckSpec spec(std::vector<std::string> argv, bool dynamic = false,
                 milliseconds timeout = milliseconds(10000), std::string user = "") {
    CheckSpec s;
    s.kind = ScriptSpec{std::move(argv), std::move(user), dynamic};
    s.timeout = timeout;
    return s;
  }
  CheckSpec scriptSpec(const std::string& body, bool dynamic = false,
                       milliseconds timeout = milliseconds(10000)) {
    return spec({dir.script("s" + std::to_string(++counter) + ".sh", body)}, dynamic, timeout);
  }

  // One attempt, to its end.
  Outcome attempt(const CheckSpec& s) {
    auto probe = makeProbe(s, Target{}, ctx);
    std::optional<Outcome> got;
    probe->start([&](Outcome o) { got = std::move(o); });
    EXPECT_FALSE(got) << "done called from inside start()";
    io.restart();
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!got && std::chrono::steady_clock::now() < end) io.run_one_for(milliseconds(100));
    EXPECT_TRUE(got) << "no outcome within 30 s";
    return got.value_or(Outcome{false, "none", {}});
  }

  boost::asio::io_context io;
  ScriptRunner runner{io};
  ProbeContext ctx{io, runner};
  testutil::TempDir dir;
  int counter = 0;
};

TEST_F(ScriptProbeTest, PlainExitZeroPassesAnythingElseFails) {
  for (int code : {0, 1, 2, 3, 255}) {
    const Outcome o = attempt(scriptSpec("exit " + std::to_string(code)));
    EXPECT_EQ(o.ok, code == 0) << code;
    EXPECT_EQ(o.reason, "exit " + std::to_string(code));
    EXPECT_FALSE(o.weight) << code;
  }
}

TEST_F(ScriptProbeTest, DynamicExitCodesSetTheWeight) {
  Outcome o = attempt(scriptSpec("exit 0", true));
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(o.reason, "exit 0");
  EXPECT_FALSE(o.weight);  // keep the configured weight

  o = attempt(scriptSpec("exit 1", true));
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.reason, "exit 1");
  EXPECT_FALSE(o.weight);

  o = attempt(scriptSpec("exit 2", true));
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(o.reason, "exit 2: weight 0");
  EXPECT_EQ(o.weight, 0);

  o = attempt(scriptSpec("exit 3", true));
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(o.reason, "exit 3: weight 1");
  EXPECT_EQ(o.weight, 1);

  o = attempt(scriptSpec("exit 255", true));
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(o.reason, "exit 255: weight 253");
  EXPECT_EQ(o.weight, 253);
}

TEST_F(ScriptProbeTest, KilledBySignalFails) {
  for (bool dynamic : {false, true}) {
    const Outcome o = attempt(scriptSpec("kill -9 $$", dynamic));
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.reason, "killed by signal 9");
    EXPECT_FALSE(o.weight);
  }
}

TEST_F(ScriptProbeTest, TimeoutKillsTheScriptAndItsChildren) {
  const std::string pidFile = dir.file("child.pid");
  const Outcome o = attempt(scriptSpec(
      "sleep 30 &\necho $! > " + pidFile + ".tmp\nmv " + pidFile + ".tmp " + pidFile + "\nwait",
      true, milliseconds(1000)));
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.reason, "timed out after 1000 ms");
  const auto child = readFile(pidFile);
  ASSERT_TRUE(child);
  EXPECT_TRUE(waitGone(std::stoi(*child)));
}

TEST_F(ScriptProbeTest, ProblemsStartingAreTheOutcome) {
  const std::string missing = dir.file("missing");
  Outcome o = attempt(spec({missing}));
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.reason, "not started: no such file: " + missing);

  o = attempt(
      spec({dir.script("u.sh", "exit 0")}, false, milliseconds(1000), "quorate-no-such-user"));
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.reason, "not started: unknown user 'quorate-no-such-user'");

  o = attempt(spec({}));
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.reason.rfind("not started: ", 0), 0u) << o.reason;
}

TEST_F(ScriptProbeTest, RunsAsTheConfiguredUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (::getpwnam("nobody") == nullptr) GTEST_SKIP() << "no user nobody";
  ::chmod(dir.path().c_str(), 0777);
  const std::string out = dir.file("uid");
  const Outcome o =
      attempt(spec({dir.script("id.sh", "id -u > " + out)}, false, milliseconds(10000), "nobody"));
  EXPECT_TRUE(o.ok) << o.reason;
  EXPECT_EQ(readFile(out), "65534");
}

TEST_F(ScriptProbeTest, DestroyedProbeKillsTheScriptAndNeverReports) {
  const std::string pidFile = dir.file("pid");
  auto probe = makeProbe(
      scriptSpec("echo $$ > " + pidFile + ".tmp\nmv " + pidFile + ".tmp " + pidFile + "\nsleep 30"),
      Target{}, ctx);
  bool called = false;
  probe->start([&](Outcome) { called = true; });
  EXPECT_EQ(runner.running(), 1u);
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!fs::exists(pidFile) && std::chrono::steady_clock::now() < end) {
    io.run_one_for(milliseconds(10));
  }
  const auto pid = readFile(pidFile);
  ASSERT_TRUE(pid);
  probe.reset();
  EXPECT_EQ(runner.running(), 0u);
  EXPECT_TRUE(::kill(std::stoi(*pid), 0) != 0 && errno == ESRCH);
  io.restart();
  io.run_for(milliseconds(200));
  EXPECT_FALSE(called);
}

TEST_F(ScriptProbeTest, ProbeMayBeDestroyedFromItsCallbackAndStartedAgain) {
  auto probe = makeProbe(scriptSpec("exit 0"), Target{}, ctx);
  int outcomes = 0;
  // Two attempts in a row on one probe, then the probe destroyed from the last callback.
  std::function<void(Outcome)> onDone = [&](Outcome o) {
    EXPECT_TRUE(o.ok);
    if (++outcomes < 2) {
      probe->start(onDone);
    } else {
      probe.reset();
    }
  };
  probe->start(onDone);
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (probe && std::chrono::steady_clock::now() < end) io.run_one_for(milliseconds(100));
  EXPECT_EQ(outcomes, 2);
  EXPECT_FALSE(probe);
}

}  // namespace
}  // namespace quorate::server::check
