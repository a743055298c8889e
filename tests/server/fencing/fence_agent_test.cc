// Fence actions end to end with a real agent: Debian's fence_ipmilan, driven through its stdin
// protocol, against a fake ipmitool (fake_ipmitool.sh) that keeps a chassis power state in files.
// Also commands, retries, timeouts, the password's path, and the config section.
#include "server/fencing/fence_agent.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/config_error.h"
#include "tests/common/config_test_util.h"

namespace quorate::server::fencing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using testutil::readFile;
using testutil::splitLines;
using testutil::waitGone;

constexpr const char* kIpmilan = "/usr/sbin/fence_ipmilan";
constexpr const char* kPassword = "s3cret-Pw";

// Everything logged while it lives, as text.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  std::string text() const { return text_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream text_;
};

class FenceAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::copy_file(QUORATE_FAKE_IPMITOOL, dir.file("ipmitool"));
    fs::permissions(dir.file("ipmitool"), fs::perms::owner_all, fs::perm_options::add);
    dir.write("credentials", std::string("admin ") + kPassword + "\n");
    dir.write("ipmi.pass", std::string(kPassword) + "\n");
  }

  // fence_ipmilan at the fake BMC 198.18.0.10 (never contacted: the fake ipmitool answers).
  FenceAction ipmilan() const {
    FenceAction a;
    a.agent = kIpmilan;
    a.options = {{"ip", "198.18.0.10"},
                 {"username", "admin"},
                 {"ipmitool_path", dir.file("ipmitool")},
                 {"power_wait", "0"}};
    a.passwordFile = dir.file("ipmi.pass");
    a.timeout = milliseconds(20000);
    a.retries = 0;
    a.retryDelay = milliseconds(10);
    return a;
  }

  FenceOutcome fence(FenceRunner& runner, const std::string& target = "node-b",
                     std::uint64_t epoch = 7) {
    std::optional<FenceOutcome> got;
    runner.fence(target, epoch, [&](FenceOutcome o) { got = std::move(o); });
    EXPECT_FALSE(got) << "done called from inside fence()";
    io.restart();
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (!got && std::chrono::steady_clock::now() < end) io.run_one_for(milliseconds(100));
    EXPECT_TRUE(got) << "no outcome within 90 s";
    EXPECT_EQ(runner.running(), 0u);
    return got.value_or(FenceOutcome{});
  }

  std::vector<std::string> calls() const {
    const auto text = readFile(dir.file("calls"));
    return text ? splitLines(*text) : std::vector<std::string>{};
  }

  static bool haveAgent() { return ::access(kIpmilan, X_OK) == 0; }

  boost::asio::io_context io;
  ScriptRunner scripts{io};
  testutil::TempDir dir{"quorate-fence"};
};

#define REQUIRE_AGENT() \
  if (!haveAgent()) GTEST_SKIP() << kIpmilan << " missing: install Debian's fence-agents"

TEST_F(FenceAgentTest, IpmilanPowersTheTargetOffWithTheConfiguredHostAndCredentials) {
  REQUIRE_AGENT();
  FenceRunner runner(io, scripts, ipmilan());
  const FenceOutcome o = fence(runner);
  EXPECT_TRUE(o.ok) << o.toString() << "\n" << o.output;
  ASSERT_EQ(o.attempts.size(), 1u);
  EXPECT_TRUE(o.attempts[0].exit.ok());
  EXPECT_EQ(o.target, "node-b");
  EXPECT_EQ(o.epoch, 7u);
  EXPECT_EQ(readFile(dir.file("power")), "off");
  // The agent checks the state, powers off, checks again.
  const std::string who = std::string("198.18.0.10 admin ") + kPassword;
  EXPECT_EQ(calls(), (std::vector<std::string>{who + " status", who + " off", who + " status"}));
  EXPECT_NE(o.output.find("Success: Powered OFF"), std::string::npos) << o.output;
  EXPECT_EQ(o.toString(), "fenced node-b (epoch 7) after 1 attempt");

  // Already off: still a success, and no second power-off.
  const FenceOutcome again = fence(runner);
  EXPECT_TRUE(again.ok) << again.toString();
  EXPECT_EQ(calls().size(), 4u);
}

TEST_F(FenceAgentTest, WrongPasswordFailsEveryAttempt) {
  REQUIRE_AGENT();
  dir.write("ipmi.pass", "not-the-password\n");
  FenceAction a = ipmilan();
  a.retries = 2;
  FenceRunner runner(io, scripts, a);
  const FenceOutcome o = fence(runner);
  EXPECT_FALSE(o.ok);
  ASSERT_EQ(o.attempts.size(), 3u);
  for (const auto& attempt : o.attempts) {
    EXPECT_EQ(attempt.exit.kind, ScriptExit::Kind::kExited);
    EXPECT_NE(attempt.exit.code, 0);
  }
  EXPECT_EQ(readFile(dir.file("power")), std::nullopt) << "never powered off";
  EXPECT_NE(o.output.find("Failed"), std::string::npos) << o.output;
}

TEST_F(FenceAgentTest, FailingDeviceGivesAFailedOutcomeAfterTheConfiguredRetries) {
  REQUIRE_AGENT();
  dir.write("mode", "fail\n");
  for (int retries : {0, 2}) {
    std::filesystem::remove(dir.file("calls"));
    FenceAction a = ipmilan();
    a.retries = retries;
    FenceRunner runner(io, scripts, a);
    const FenceOutcome o = fence(runner);
    EXPECT_FALSE(o.ok);
    ASSERT_EQ(o.attempts.size(), static_cast<std::size_t>(retries + 1));
    EXPECT_EQ(calls().size(), static_cast<std::size_t>(retries + 1)) << "one status per attempt";
    for (const auto& attempt : o.attempts) {
      EXPECT_EQ(attempt.exit.kind, ScriptExit::Kind::kExited);
      EXPECT_NE(attempt.exit.code, 0);
    }
    EXPECT_EQ(
        o.toString().rfind(
            "fencing node-b (epoch 7) failed: " + std::to_string(retries + 1) + " attempt", 0),
        0u)
        << o.toString();
  }
}

TEST_F(FenceAgentTest, HangingDeviceIsKilledAtTheTimeout) {
  REQUIRE_AGENT();
  dir.write("mode", "hang\n");
  FenceAction a = ipmilan();
  a.timeout = milliseconds(1500);  // well inside fence_ipmilan's own 20 s power timeout
  a.retries = 1;
  FenceRunner runner(io, scripts, a);
  const FenceOutcome o = fence(runner);
  EXPECT_FALSE(o.ok);
  ASSERT_EQ(o.attempts.size(), 2u);
  for (const auto& attempt : o.attempts) {
    EXPECT_EQ(attempt.exit.kind, ScriptExit::Kind::kTimedOut) << attempt.exit.toString();
    EXPECT_EQ(attempt.exit.code, 1500);
  }
  // The agent's child (the hanging ipmitool) went with the agent's process group.
  const auto stub = readFile(dir.file("ipmitool.pid"));
  ASSERT_TRUE(stub);
  EXPECT_TRUE(waitGone(std::stoi(*stub)));
}

// The password reaches the device (fence_ipmilan itself passes it to ipmitool as -P, visible in
// that process's argv: the agent's behaviour, not ours) but never the agent's argv or environment,
// nor our log.
TEST_F(FenceAgentTest, PasswordIsNeverInTheAgentsArgvEnvironmentOrTheLog) {
  REQUIRE_AGENT();
  LogCapture log;
  dir.write("mode", "block\n");
  FenceRunner runner(io, scripts, ipmilan());
  std::optional<FenceOutcome> got;
  runner.fence("node-b", 9, [&](FenceOutcome o) { got = std::move(o); });
  io.restart();
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(dir.file("ipmitool.pid")) && std::chrono::steady_clock::now() < end) {
    io.run_one_for(milliseconds(20));
  }
  const auto agentPid = readFile(dir.file("agent.pid"));
  ASSERT_TRUE(agentPid) << "the agent never ran ipmitool";
  const std::string proc = "/proc/" + *agentPid;
  std::ifstream cmdlineFile(proc + "/cmdline");
  const std::string cmdline{std::istreambuf_iterator<char>(cmdlineFile), {}};
  std::ifstream environFile(proc + "/environ");
  const std::string environ{std::istreambuf_iterator<char>(environFile), {}};
  EXPECT_NE(cmdline.find("fence_ipmilan"), std::string::npos) << "not the agent: " << cmdline;
  EXPECT_EQ(cmdline.find(kPassword), std::string::npos) << cmdline;
  EXPECT_NE(environ.find("QUORATE_FENCE_TARGET=node-b"), std::string::npos);
  EXPECT_NE(environ.find("QUORATE_EPOCH=9"), std::string::npos);
  EXPECT_EQ(environ.find(kPassword), std::string::npos);
  dir.write("release", "");
  while (!got && std::chrono::steady_clock::now() < end) io.run_one_for(milliseconds(100));
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->ok) << got->toString();
  // fence_ipmilan's own doing: ipmitool gets the password as -P (the fake records it).
  EXPECT_NE(calls().at(0).find(kPassword), std::string::npos);
  EXPECT_EQ(log.text().find(kPassword), std::string::npos) << log.text();
  EXPECT_NE(log.text().find("fenced node-b (epoch 9)"), std::string::npos) << log.text();
}

// Our side of the protocol, seen by a stand-in agent: no arguments (so a real agent reads stdin),
// the options, action and password on stdin, the target and epoch in the environment.
TEST_F(FenceAgentTest, AgentGetsNoArgumentsAndItsOptionsOnStdin) {
  FenceAction a = ipmilan();
  a.agent = dir.script("fake_agent", "echo \"$# $QUORATE_FENCE_TARGET $QUORATE_EPOCH\" > " +
                                         dir.file("argv") + "\ncat > " + dir.file("stdin"));
  FenceRunner runner(io, scripts, a);
  const FenceOutcome o = fence(runner, "node-c", 42);
  EXPECT_TRUE(o.ok) << o.toString();
  EXPECT_EQ(readFile(dir.file("argv")), "0 node-c 42");
  std::ifstream in(dir.file("stdin"));
  const std::string input{std::istreambuf_iterator<char>(in), {}};
  EXPECT_EQ(input, "ip=198.18.0.10\nusername=admin\nipmitool_path=" + dir.file("ipmitool") +
                       "\npower_wait=0\naction=off\npassword=" + kPassword + "\n");
}

// An agent that echoes its input (a wrapper script, a verbose agent) does not carry the password
// into the outcome or the log.
TEST_F(FenceAgentTest, EchoedPasswordIsRedacted) {
  LogCapture log;
  FenceAction a = ipmilan();
  a.agent = dir.script("echo_agent", "cat\ncat >&2 < /dev/null\nexit 1");
  FenceRunner runner(io, scripts, a);
  const FenceOutcome o = fence(runner);
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.output.find(kPassword), std::string::npos) << o.output;
  EXPECT_NE(o.output.find("action=off\npassword=[password]\n"), std::string::npos) << o.output;
  EXPECT_EQ(log.text().find(kPassword), std::string::npos) << log.text();
}

TEST_F(FenceAgentTest, PasswordFileIsReadAtEachAttempt) {
  REQUIRE_AGENT();
  FenceAction a = ipmilan();
  a.retries = 0;
  FenceRunner runner(io, scripts, a);
  fs::remove(dir.file("ipmi.pass"));
  FenceOutcome o = fence(runner);
  EXPECT_FALSE(o.ok);
  ASSERT_EQ(o.attempts.size(), 1u);
  EXPECT_NE(o.attempts[0].error.find("cannot read password file " + dir.file("ipmi.pass")),
            std::string::npos)
      << o.attempts[0].error;
  EXPECT_TRUE(calls().empty()) << "the agent ran without its password";

  dir.write("ipmi.pass", "two\nlines\n");
  o = fence(runner);
  EXPECT_FALSE(o.ok);
  EXPECT_TRUE(calls().empty());

  dir.write("ipmi.pass", std::string(kPassword) + "\n");  // fixed: the next fence uses it
  o = fence(runner);
  EXPECT_TRUE(o.ok) << o.toString();
}

TEST_F(FenceAgentTest, CommandGetsTargetAndEpochInItsEnvironment) {
  const std::string out = dir.file("env");
  FenceAction a;
  a.command = {dir.script("fence.sh", "echo \"$QUORATE_FENCE_TARGET $QUORATE_EPOCH $#\" > " + out +
                                          "\necho fenced it\nexit 0"),
               "--hard"};
  FenceRunner runner(io, scripts, a);
  const FenceOutcome o = fence(runner, "node-a", 12345678901234ull);
  EXPECT_TRUE(o.ok) << o.toString();
  EXPECT_EQ(readFile(out), "node-a 12345678901234 1");
  EXPECT_EQ(o.output, "fenced it\n");
}

TEST_F(FenceAgentTest, FailingCommandIsRetriedThenFails) {
  const std::string count = dir.file("count");
  FenceAction a;
  a.command = {dir.script("fail.sh", "echo x >> " + count + "\necho nope >&2\nexit 4")};
  a.retries = 3;
  a.retryDelay = milliseconds(1);
  FenceRunner runner(io, scripts, a);
  const FenceOutcome o = fence(runner);
  EXPECT_FALSE(o.ok);
  ASSERT_EQ(o.attempts.size(), 4u);
  EXPECT_EQ(splitLines(readFile(count).value_or("")).size(), 4u);
  EXPECT_EQ(o.attempts[3].exit.code, 4);
  EXPECT_EQ(o.output, "nope\n");
  EXPECT_EQ(o.toString().rfind("fencing node-b (epoch 7) failed: 4 attempts: exit 4 (", 0), 0u)
      << o.toString();
}

TEST_F(FenceAgentTest, SucceedsOnALaterAttempt) {
  const std::string count = dir.file("count");
  FenceAction a;
  // Fails twice, then succeeds.
  a.command = {
      dir.script("flaky.sh", "echo x >> " + count + "\n[ $(wc -l < " + count + ") -ge 3 ]")};
  a.retries = 5;
  a.retryDelay = milliseconds(1);
  FenceRunner runner(io, scripts, a);
  const FenceOutcome o = fence(runner);
  EXPECT_TRUE(o.ok) << o.toString();
  EXPECT_EQ(o.attempts.size(), 3u);
}

TEST_F(FenceAgentTest, DestroyedRunnerKillsTheAttemptAndNeverReports) {
  const std::string pidFile = dir.file("pid");
  FenceAction a;
  a.command = {dir.script("slow.sh", "echo $$ > " + pidFile + "\nexec sleep 60")};
  bool called = false;
  {
    FenceRunner runner(io, scripts, a);
    runner.fence("node-b", 1, [&](FenceOutcome) { called = true; });
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!fs::exists(pidFile) && std::chrono::steady_clock::now() < end) {
      io.run_one_for(milliseconds(10));
    }
    EXPECT_EQ(runner.running(), 1u);
  }
  const auto pid = readFile(pidFile);
  ASSERT_TRUE(pid);
  EXPECT_TRUE(waitGone(std::stoi(*pid)));
  io.restart();
  io.run_for(milliseconds(100));
  EXPECT_FALSE(called);
}

TEST(AgentInputTest, OneLinePerOptionThenActionAndPassword) {
  FenceAction a;
  a.agent = kIpmilan;
  a.options = {{"ip", "198.18.0.10"}, {"username", "admin"}, {"lanplus", "1"}};
  EXPECT_EQ(agentInput(a, "pw=with=equals").value(),
            "ip=198.18.0.10\nusername=admin\nlanplus=1\naction=off\npassword=pw=with=equals\n");
  EXPECT_EQ(agentInput(a, "").value(), "ip=198.18.0.10\nusername=admin\nlanplus=1\naction=off\n");
  a.options.emplace_back("action", "reboot");
  EXPECT_EQ(agentInput(a, "").value(),
            "ip=198.18.0.10\nusername=admin\nlanplus=1\naction=reboot\n");
  EXPECT_FALSE(agentInput(a, "two\nlines"));
  a.options.emplace_back("plug", "a\nplug=other");
  EXPECT_FALSE(agentInput(a, ""));
}

// Parses `yaml` (the value of key `fence`) from a config file in `dir`.
FenceAction parse(const testutil::TempDir& dir, const std::string& yaml) {
  const config::Document doc(dir.file("director.yaml"), "fence:\n" + yaml);
  return parseFenceAction(doc.root({"fence"}).required("fence"));
}

// The error text parse() throws, or "" when it parses.
std::string parseError(const testutil::TempDir& dir, const std::string& yaml) {
  try {
    parse(dir, yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ParseFenceActionTest, AgentWithOptions) {
  testutil::TempDir dir;
  dir.write("ipmi.pass", "  secret \n");
  const FenceAction a = parse(dir,
                              "  agent: /usr/sbin/fence_ipmilan\n"
                              "  options:\n"
                              "    ip: 198.18.0.10\n"
                              "    username: admin\n"
                              "    password_file: ipmi.pass\n"
                              "    lanplus: 1\n"
                              "    plug: \"node b=2\"\n"
                              "  timeout_ms: 30000\n"
                              "  retries: 4\n"
                              "  retry_delay_ms: 250\n");
  EXPECT_EQ(a.agent, "/usr/sbin/fence_ipmilan");
  EXPECT_TRUE(a.command.empty());
  EXPECT_EQ(
      a.options,
      (std::vector<std::pair<std::string, std::string>>{
          {"ip", "198.18.0.10"}, {"username", "admin"}, {"lanplus", "1"}, {"plug", "node b=2"}}));
  EXPECT_EQ(a.passwordFile, dir.file("ipmi.pass"));
  EXPECT_EQ(a.timeout, milliseconds(30000));
  EXPECT_EQ(a.retries, 4);
  EXPECT_EQ(a.retryDelay, milliseconds(250));
}

TEST(ParseFenceActionTest, CommandAndDefaults) {
  testutil::TempDir dir;
  const FenceAction a = parse(dir, "  command: [/usr/local/sbin/fence-peer, --hard]\n");
  EXPECT_EQ(a.command, (std::vector<std::string>{"/usr/local/sbin/fence-peer", "--hard"}));
  EXPECT_FALSE(a.isAgent());
  EXPECT_EQ(a.timeout, milliseconds(60000));
  EXPECT_EQ(a.retries, 2);
  EXPECT_EQ(a.retryDelay, milliseconds(1000));
}

TEST(ParseFenceActionTest, RefusesBadSections) {
  testutil::TempDir dir;
  dir.write("ipmi.pass", "secret\n");
  dir.write("two.pass", "one\ntwo\n");
  const std::string agent = "  agent: /usr/sbin/fence_ipmilan\n";
  const std::string f = dir.file("director.yaml");
  struct Case {
    std::string yaml;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"  retries: 1\n", f + ":1: fence: missing required key: command"},
      {agent + "  command: [/bin/true]\n", f + ":2: fence.agent: give either command or agent"},
      {"  agent: fence_ipmilan\n", f + ":2: fence.agent: expected an absolute program path"},
      {agent + "  options: {password: hunter2}\n",
       f + ":3: fence.options.password: a password is not written in the config"},
      {agent + "  options: {plug: \"a\\nb\"}\n",
       f + ":3: fence.options.plug: must not contain a newline"},
      {agent + "  options: {plug: \" a\"}\n",
       f + ":3: fence.options.plug: must not begin or end with whitespace"},
      {agent + "  options: {plug: \"\"}\n", f + ":3: fence.options.plug: must not be empty"},
      {agent + "  options: {action: status}\n",
       f + ":3: fence.options.action: a fence action must be off or reboot, got \"status\""},
      {agent + "  options: {plug: [1, 2]}\n", f + ":3: fence.options.plug: expected a single"},
      {agent + "  options: {\"a=b\": 1}\n", f + ":3: fence.options: option names are made of"},
      {agent + "  options: [ip]\n", f + ":3: fence.options: expected a mapping"},
      {agent + "  options: {password_file: missing.pass}\n",
       f + ":3: fence.options.password_file: cannot read password file " +
           dir.file("missing.pass")},
      {agent + "  options: {password_file: two.pass}\n",
       f + ":3: fence.options.password_file: password file " + dir.file("two.pass") +
           " holds more than one line"},
      {"  command: [/bin/true]\n  options: {ip: 1}\n",
       f + ":3: fence.options: options are for a fence agent"},
      {"  command: [true]\n", f + ":2: fence.command: expected an absolute program path"},
      {agent + "  retries: -1\n", f + ":3: fence.retries:"},
      {agent + "  timeout_ms: 0\n", f + ":3: fence.timeout_ms:"},
      {agent + "  colour: red\n", f + ":3: fence.colour:"},
  };
  for (const auto& c : cases) {
    const std::string error = parseError(dir, c.yaml);
    EXPECT_EQ(error.rfind(c.error, 0), 0u) << c.yaml << "gave: " << error;
  }
}

}  // namespace
}  // namespace quorate::server::fencing
