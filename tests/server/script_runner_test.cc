// Unit tests of ScriptRunner with real /bin/sh scripts in a temporary directory: exit codes,
// signals, the deadline (which kills the whole process group), start failures, the environment,
// running as another user (as root only), abandoned handles, many runs at once, stdin and
// captured output.
#include "server/script_runner.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/common/config_test_util.h"

namespace quorate::server {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using Kind = ScriptExit::Kind;

using testutil::readFile;
using testutil::waitGone;

class ScriptRunnerTest : public ::testing::Test {
 protected:
  // Runs `run` to its end and returns how it ended.
  ScriptExit runToEnd(const ScriptRun& run) {
    std::optional<ScriptExit> got;
    auto handle = runner.start(run, [&](ScriptExit e) { got = std::move(e); });
    EXPECT_FALSE(got) << "done called from inside start()";
    io.restart();  // a previous run may have left it out of work, hence stopped
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!got && std::chrono::steady_clock::now() < end) io.run_one_for(milliseconds(100));
    EXPECT_TRUE(got) << "no report within 30 s";
    EXPECT_EQ(runner.running(), 0u);
    return got.value_or(ScriptExit{});
  }
  ScriptExit runScript(const std::string& body, milliseconds timeout = milliseconds(10000)) {
    ScriptRun run;
    run.argv = {dir.script("s" + std::to_string(++counter) + ".sh", body)};
    run.timeout = timeout;
    return runToEnd(run);
  }

  boost::asio::io_context io;
  ScriptRunner runner{io};
  testutil::TempDir dir;
  int counter = 0;
};

TEST_F(ScriptRunnerTest, ReportsExitCodes) {
  for (int code : {0, 1, 2, 3, 255}) {
    const ScriptExit e = runScript("exit " + std::to_string(code));
    EXPECT_EQ(e.kind, Kind::kExited) << code;
    EXPECT_EQ(e.code, code);
    EXPECT_EQ(e.ok(), code == 0);
    EXPECT_EQ(e.toString(), "exit " + std::to_string(code));
  }
}

TEST_F(ScriptRunnerTest, PassesArgumentsWithoutAShell) {
  const std::string out = dir.file("args");
  ScriptRun run;
  run.argv = {dir.script("args.sh", "printf '%s|' \"$@\" > \"$1\""), out, "a b", "$HOME", "*"};
  EXPECT_TRUE(runToEnd(run).ok());
  EXPECT_EQ(readFile(out), out + "|a b|$HOME|*|");
}

TEST_F(ScriptRunnerTest, SearchesPathForABareName) {
  ScriptRun run;
  run.argv = {"sh", "-c", "exit 4"};
  const ScriptExit e = runToEnd(run);
  EXPECT_EQ(e.kind, Kind::kExited);
  EXPECT_EQ(e.code, 4);
}

TEST_F(ScriptRunnerTest, ReportsTheKillingSignal) {
  const ScriptExit e = runScript("kill -9 $$");
  EXPECT_EQ(e.kind, Kind::kSignalled);
  EXPECT_EQ(e.code, 9);
  EXPECT_EQ(e.toString(), "killed by signal 9");
}

TEST_F(ScriptRunnerTest, DeadlineKillsTheWholeProcessGroup) {
  const std::string pidFile = dir.file("child.pid");
  const auto start = std::chrono::steady_clock::now();
  const ScriptExit e = runScript(
      "sleep 30 &\necho $! > " + pidFile + ".tmp\nmv " + pidFile + ".tmp " + pidFile + "\nwait",
      milliseconds(1500));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(e.kind, Kind::kTimedOut);
  EXPECT_EQ(e.code, 1500);
  EXPECT_EQ(e.toString(), "timed out after 1500 ms");
  const auto child = readFile(pidFile);
  ASSERT_TRUE(child) << "the script did not start its child in time";
  EXPECT_TRUE(waitGone(std::stoi(*child))) << "grandchild " << *child << " survived";
}

TEST_F(ScriptRunnerTest, MissingProgramIsNotStarted) {
  const std::string missing = dir.file("no-such-program");
  ScriptRun run;
  run.argv = {missing};
  ScriptExit e = runToEnd(run);
  EXPECT_EQ(e.kind, Kind::kFailedToStart);
  EXPECT_EQ(e.error, "no such file: " + missing);
  EXPECT_EQ(e.toString(), "not started: no such file: " + missing);

  run.argv = {"quorate-no-such-program-on-path"};
  e = runToEnd(run);
  EXPECT_EQ(e.kind, Kind::kFailedToStart);
  EXPECT_NE(e.error.find("quorate-no-such-program-on-path"), std::string::npos) << e.error;

  run.argv = {};
  e = runToEnd(run);
  EXPECT_EQ(e.kind, Kind::kFailedToStart);
}

TEST_F(ScriptRunnerTest, NonExecutableFileIsNotStarted) {
  ScriptRun run;
  run.argv = {dir.script("plain.sh", "exit 0", 0644)};
  const ScriptExit e = runToEnd(run);
  EXPECT_EQ(e.kind, Kind::kFailedToStart);
  EXPECT_EQ(e.error, "not executable: " + run.argv[0]);

  run.argv = {dir.path()};
  EXPECT_EQ(runToEnd(run).kind, Kind::kFailedToStart);
}

TEST_F(ScriptRunnerTest, ExecFailureIsNotStarted) {
  // Executable, but neither ELF nor "#!": exec fails with ENOEXEC.
  const std::string p = dir.file("garbage");
  std::ofstream(p) << "\x01\x02garbage\n";
  ::chmod(p.c_str(), 0755);
  ScriptRun run;
  run.argv = {p};
  const ScriptExit e = runToEnd(run);
  EXPECT_EQ(e.kind, Kind::kFailedToStart);
  EXPECT_NE(e.error.find(p), std::string::npos) << e.error;
}

// Nothing of the director's environment reaches a program (a variable planted in ours, HOME,
// our PATH): only PATH, LANG and the run's own entries, which may replace those two.
TEST_F(ScriptRunnerTest, EnvironmentIsMinimalPlusTheRunsOwn) {
  ::setenv("QUORATE_TEST_PLANTED", "leaked", 1);
  ::setenv("PATH", "/nonexistent/planted:/usr/bin:/bin", 1);
  const std::string out = dir.file("env");
  ScriptRun run;
  run.argv = {dir.script("env.sh", "/usr/bin/env > " + out)};
  run.env = {"QUORATE_TEST_NEW=fresh value", "QUORATE_TEST_NEW=last wins"};
  EXPECT_TRUE(runToEnd(run).ok());
  std::vector<std::string> lines;
  std::istringstream in(readFile(out).value_or(""));
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::sort(lines.begin(), lines.end());
  // sh may add PWD (and SHLVL, _) of its own; everything else is ours.
  std::vector<std::string> ours;
  for (const auto& l : lines) {
    if (l.rfind("PWD=", 0) != 0 && l.rfind("SHLVL=", 0) != 0 && l.rfind("_=", 0) != 0) {
      ours.push_back(l);
    }
  }
  EXPECT_EQ(ours, (std::vector<std::string>{"LANG=C", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                                            "QUORATE_TEST_NEW=last wins"}))
      << readFile(out).value_or("");
  run.env = {"LANG=C.UTF-8"};
  EXPECT_TRUE(runToEnd(run).ok());
  const std::string again = "\n" + readFile(out).value_or("") + "\n";
  EXPECT_NE(again.find("\nLANG=C.UTF-8\n"), std::string::npos) << again;
  EXPECT_EQ(again.find("LANG=C\n"), std::string::npos) << again;
  ::unsetenv("QUORATE_TEST_PLANTED");
  ::setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
}

// A bare program name is looked up on the scripts' PATH, not on the director's.
TEST_F(ScriptRunnerTest, BareNamesAreFoundOnTheScriptsPath) {
  fs::create_directories(dir.file("planted"));
  std::ofstream(dir.file("planted/quorate-planted-tool")) << "#!/bin/sh\nexit 0\n";
  ::chmod(dir.file("planted/quorate-planted-tool").c_str(), 0755);
  const char* old = ::getenv("PATH");
  const std::string saved = old ? old : "";
  ::setenv("PATH", (dir.file("planted") + ":" + saved).c_str(), 1);
  ScriptRun run;
  run.argv = {"quorate-planted-tool"};
  const ScriptExit e = runToEnd(run);
  EXPECT_EQ(e.kind, Kind::kFailedToStart);
  EXPECT_EQ(e.error, "no such program on PATH: quorate-planted-tool");
  run.argv = {"true"};
  EXPECT_TRUE(runToEnd(run).ok());
  ::setenv("PATH", saved.c_str(), 1);
}

// setDefaultUser (the config's script_user) applies to runs that name no user.
TEST_F(ScriptRunnerTest, RunsWithoutAUserRunAsTheDefaultUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  const struct passwd* pw = ::getpwnam("nobody");
  if (pw == nullptr) GTEST_SKIP() << "no user nobody";
  const uid_t nobody = pw->pw_uid;
  ::chmod(dir.path().c_str(), 0777);
  const std::string out = dir.file("id");
  ScriptRun run;
  run.argv = {dir.script("id.sh", "id -u > " + out)};
  EXPECT_TRUE(runToEnd(run).ok());
  EXPECT_EQ(readFile(out), "0");  // no default: as we are
  ::unlink(out.c_str());           // root's file: nobody could not write it
  runner.setDefaultUser("nobody");
  EXPECT_TRUE(runToEnd(run).ok());
  EXPECT_EQ(readFile(out), std::to_string(nobody));
  run.user = "root";  // asked for by name
  EXPECT_TRUE(runToEnd(run).ok());
  EXPECT_EQ(readFile(out), "0");
}

// The program's open files: fd number -> target; empty when they cannot be read.
std::map<int, std::string> openFiles(pid_t pid) {
  std::map<int, std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    out[std::stoi(it->path().filename().string())] = fs::read_symlink(it->path(), ec).string();
  }
  return ec ? std::map<int, std::string>{} : out;
}

// Only stdin, stdout and stderr, all /dev/null, and its own process group; as root, the same
// for a run as another user (the fork path).
TEST_F(ScriptRunnerTest, StdioIsDevNullNothingElseIsInheritedAndTheProgramLeadsItsGroup) {
  ScriptRun run;
  run.argv = {"/bin/sleep", "30"};
  std::vector<std::string> users = {""};
  if (::geteuid() == 0 && ::getpwnam("nobody") != nullptr) users.push_back("nobody");
  for (const auto& user : users) {
    run.user = user;
    bool called = false;
    auto handle = runner.start(run, [&](ScriptExit) { called = true; });
    const pid_t pid = handle->pid();
    ASSERT_GT(pid, 0) << user;
    EXPECT_EQ(::getpgid(pid), pid) << user;
    const std::map<int, std::string> expected = {
        {0, "/dev/null"}, {1, "/dev/null"}, {2, "/dev/null"}};
    // start() returns once the kernel has begun the exec, which may still be closing the
    // close-on-exec files: wait for it to settle.
    std::map<int, std::string> files;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while ((files = openFiles(pid)) != expected && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    EXPECT_EQ(files, expected) << user;
    handle.reset();
    EXPECT_FALSE(called);
  }
}

TEST_F(ScriptRunnerTest, UnknownUserIsNotStarted) {
  ScriptRun run;
  run.argv = {dir.script("u.sh", "exit 0")};
  run.user = "quorate-no-such-user";
  const ScriptExit e = runToEnd(run);
  EXPECT_EQ(e.kind, Kind::kFailedToStart);
  EXPECT_EQ(e.error, "unknown user 'quorate-no-such-user'");
}

TEST_F(ScriptRunnerTest, RunsAsAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (::getpwnam("nobody") == nullptr) GTEST_SKIP() << "no user nobody";
  ::chmod(dir.path().c_str(), 0777);
  const std::string out = dir.file("id");
  ScriptRun run;
  run.argv = {dir.script("id.sh", "echo $(id -u) $(id -g) > " + out + "\nexit 5")};
  run.user = "nobody";
  const ScriptExit e = runToEnd(run);
  EXPECT_EQ(e.kind, Kind::kExited);
  EXPECT_EQ(e.code, 5);
  const struct passwd* pw = ::getpwnam("nobody");
  EXPECT_EQ(readFile(out), std::to_string(pw->pw_uid) + " " + std::to_string(pw->pw_gid));
  EXPECT_EQ(pw->pw_uid, 65534u);
}

TEST_F(ScriptRunnerTest, ExecFailureAsAnotherUserIsNotStarted) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (::getpwnam("nobody") == nullptr) GTEST_SKIP() << "no user nobody";
  // The directory is 0700 root's: root sees an executable, nobody cannot exec it.
  ::chmod(dir.path().c_str(), 0700);
  ScriptRun run;
  run.argv = {dir.script("private.sh", "exit 0")};
  run.user = "nobody";
  const ScriptExit e = runToEnd(run);
  EXPECT_EQ(e.kind, Kind::kFailedToStart);
  EXPECT_EQ(e.error, "cannot run " + run.argv[0] + ": Permission denied");
}

TEST_F(ScriptRunnerTest, DestroyedHandleKillsTheGroupAndNeverReports) {
  const std::string pidFile = dir.file("child.pid");
  ScriptRun run;
  run.argv = {dir.script("hang.sh", "sleep 30 &\necho $! > " + pidFile + ".tmp\nmv " + pidFile +
                                        ".tmp " + pidFile + "\nwait")};
  run.timeout = milliseconds(60000);
  bool called = false;
  auto handle = runner.start(run, [&](ScriptExit) { called = true; });
  const pid_t pid = handle->pid();
  ASSERT_GT(pid, 0);
  EXPECT_EQ(::getpgid(pid), pid);
  EXPECT_EQ(runner.running(), 1u);
  // Let the script start its child.
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!fs::exists(pidFile) && std::chrono::steady_clock::now() < end) {
    io.run_one_for(milliseconds(10));
  }
  const auto child = readFile(pidFile);
  ASSERT_TRUE(child);
  handle.reset();
  EXPECT_TRUE(::kill(pid, 0) != 0 && errno == ESRCH) << "not reaped";
  EXPECT_EQ(runner.running(), 0u);
  EXPECT_TRUE(waitGone(std::stoi(*child)));
  io.restart();
  io.run_for(milliseconds(200));
  EXPECT_FALSE(called);
}

TEST_F(ScriptRunnerTest, DestroyedHandleOfAFailedStartNeverReports) {
  ScriptRun run;
  run.argv = {dir.file("missing")};
  bool called = false;
  auto handle = runner.start(run, [&](ScriptExit) { called = true; });
  handle.reset();
  io.run_for(milliseconds(50));
  EXPECT_FALSE(called);
}

TEST_F(ScriptRunnerTest, HandleMayBeDestroyedFromItsOwnCallback) {
  ScriptRun run;
  run.argv = {dir.script("ok.sh", "exit 0")};
  std::unique_ptr<ScriptRunner::Handle> handle;
  bool called = false;
  handle = runner.start(run, [&](ScriptExit e) {
    called = true;
    EXPECT_TRUE(e.ok());
    handle.reset();
  });
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!called && std::chrono::steady_clock::now() < end) io.run_one_for(milliseconds(100));
  EXPECT_TRUE(called);
  EXPECT_FALSE(handle);
}

TEST_F(ScriptRunnerTest, DestroyedRunnerKillsEverythingAndNeverReports) {
  std::vector<std::unique_ptr<ScriptRunner::Handle>> handles;
  std::vector<pid_t> pids;
  bool called = false;
  {
    ScriptRunner local(io);
    ScriptRun run;
    run.argv = {dir.script("sleep.sh", "exec sleep 30")};
    for (int i = 0; i < 3; ++i) {
      handles.push_back(local.start(run, [&](ScriptExit) { called = true; }));
      pids.push_back(handles.back()->pid());
    }
    EXPECT_EQ(local.running(), 3u);
  }
  for (pid_t pid : pids) EXPECT_TRUE(::kill(pid, 0) != 0 && errno == ESRCH) << pid;
  handles.clear();  // after the runner: harmless
  io.run_for(milliseconds(100));
  EXPECT_FALSE(called);
}

TEST_F(ScriptRunnerTest, ManyConcurrentRunsAreAllReported) {
  constexpr int kRuns = 200;
  std::vector<std::optional<ScriptExit>> got(kRuns);
  std::vector<std::unique_ptr<ScriptRunner::Handle>> handles;
  int reported = 0;
  for (int i = 0; i < kRuns; ++i) {
    ScriptRun run;
    run.argv = {"/bin/sh", "-c", "exit " + std::to_string(i % 7)};
    run.timeout = milliseconds(60000);
    handles.push_back(runner.start(run, [&, i](ScriptExit e) {
      got[static_cast<std::size_t>(i)] = std::move(e);
      ++reported;
    }));
  }
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (reported < kRuns && std::chrono::steady_clock::now() < end) {
    io.run_one_for(milliseconds(100));
  }
  ASSERT_EQ(reported, kRuns);
  for (int i = 0; i < kRuns; ++i) {
    const auto& e = got[static_cast<std::size_t>(i)];
    ASSERT_TRUE(e);
    EXPECT_EQ(e->kind, Kind::kExited) << i << ": " << e->toString();
    EXPECT_EQ(e->code, i % 7);
  }
  EXPECT_EQ(runner.running(), 0u);
}

// The users to try a run as: ourselves (posix_spawn) and, as root, nobody (the fork path).
std::vector<std::string> spawnPaths() {
  std::vector<std::string> users = {""};
  if (::geteuid() == 0 && ::getpwnam("nobody") != nullptr) users.push_back("nobody");
  return users;
}

TEST_F(ScriptRunnerTest, InputReachesTheProgramAndOutputComesBack) {
  ::chmod(dir.path().c_str(), 0755);
  // Larger than a pipe's buffer both ways: the writes and reads resume on the io_context.
  std::string big;
  for (int i = 0; big.size() < (1u << 20); ++i) big += "line " + std::to_string(i) + "\n";
  for (const auto& user : spawnPaths()) {
    for (const std::string& input : {std::string("action=off\nplug=3\n"), big}) {
      ScriptRun run;
      run.argv = {"/bin/cat"};
      run.user = user;
      run.input = input;
      run.captureBytes = 4u << 20;
      const ScriptExit e = runToEnd(run);
      EXPECT_TRUE(e.ok()) << user << ": " << e.toString();
      EXPECT_EQ(e.output.size(), input.size()) << user;
      EXPECT_TRUE(e.output == input) << user;
      EXPECT_FALSE(e.outputTruncated);
      EXPECT_EQ(e.outputDiscarded, 0u);
    }
  }
}

TEST_F(ScriptRunnerTest, WithoutInputStdinIsEmpty) {
  ScriptRun run;
  run.argv = {dir.script("count.sh", "wc -c")};
  run.captureBytes = 100;
  const ScriptExit e = runToEnd(run);
  EXPECT_TRUE(e.ok()) << e.toString();
  EXPECT_EQ(e.output, "0\n");
}

TEST_F(ScriptRunnerTest, CapturesStdoutAndStderrInOrder) {
  ScriptRun run;
  run.argv = {dir.script("both.sh", "printf 'out1 '\nprintf 'err1 ' >&2\nprintf 'out2'\nexit 3")};
  run.captureBytes = 100;
  const ScriptExit e = runToEnd(run);
  EXPECT_EQ(e.kind, Kind::kExited);
  EXPECT_EQ(e.code, 3);
  EXPECT_EQ(e.output, "out1 err1 out2");
  EXPECT_FALSE(e.outputTruncated);

  run.captureBytes = 0;  // as before: nothing kept
  EXPECT_EQ(runToEnd(run).output, "");
}

TEST_F(ScriptRunnerTest, OutputIsTruncatedAtTheLimitAndTheRestIsDrained) {
  // 300 KB: more than a pipe holds, so the program finishes only if we keep reading.
  ScriptRun run;
  run.argv = {dir.script("loud.sh",
                         "printf 'HEAD'\ni=0\nwhile [ $i -lt 3000 ]; do\n"
                         "  printf '%0100d' $i\n  i=$((i+1))\ndone\nprintf 'TAIL' >&2")};
  run.captureBytes = 10;
  run.timeout = milliseconds(30000);
  const ScriptExit e = runToEnd(run);
  EXPECT_TRUE(e.ok()) << e.toString();
  EXPECT_EQ(e.output, "HEAD" + std::string(6, '0'));
  EXPECT_TRUE(e.outputTruncated);
  EXPECT_EQ(e.outputDiscarded, 4u + 300000u + 4u - 10u);

  run.captureBytes = 4 + 300000 + 4;  // exactly all of it: not truncated
  const ScriptExit all = runToEnd(run);
  EXPECT_EQ(all.output.size(), run.captureBytes);
  EXPECT_EQ(all.output.substr(all.output.size() - 4), "TAIL");
  EXPECT_FALSE(all.outputTruncated);
  EXPECT_EQ(all.outputDiscarded, 0u);
}

// The stdin pipe's writer must neither block the io_context nor die of SIGPIPE (the test binary
// keeps SIGPIPE's default action, which terminates) when the program does not read.
TEST_F(ScriptRunnerTest, ProgramIgnoringItsInputNeitherHangsNorKillsUs) {
  const auto previous = std::signal(SIGPIPE, SIG_DFL);
  const std::string input(1u << 20, 'x');
  // Exits at once without reading: the write fails with EPIPE.
  ScriptRun run;
  run.argv = {dir.script("deaf.sh", "exit 3")};
  run.input = input;
  ScriptExit e = runToEnd(run);
  EXPECT_EQ(e.kind, Kind::kExited);
  EXPECT_EQ(e.code, 3);

  // Closes stdin and keeps running.
  run.argv = {dir.script("closer.sh", "exec 0<&-\nsleep 0.5\nexit 4")};
  e = runToEnd(run);
  EXPECT_EQ(e.kind, Kind::kExited);
  EXPECT_EQ(e.code, 4);

  // Never reads and never exits: start() returns with the program running, the io_context
  // serves other work meanwhile, and the deadline ends it.
  run.argv = {dir.script("sleeper.sh", "exec sleep 30")};
  run.timeout = milliseconds(1000);
  std::optional<ScriptExit> got;
  bool otherWorkRan = false;
  auto handle = runner.start(run, [&](ScriptExit x) { got = std::move(x); });
  ASSERT_GT(handle->pid(), 0);
  EXPECT_EQ(::kill(handle->pid(), 0), 0) << "start() returned only after the program ended";
  boost::asio::post(io, [&] { otherWorkRan = !got; });
  io.restart();
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!got && std::chrono::steady_clock::now() < end) io.run_one_for(milliseconds(100));
  ASSERT_TRUE(got);
  EXPECT_TRUE(otherWorkRan) << "the io_context was blocked while the program ran";
  EXPECT_EQ(got->kind, Kind::kTimedOut);
  std::signal(SIGPIPE, previous);
}

// `done` comes at the main process's exit with what it wrote, while a background child it left
// behind still holds the output pipe open (and is left running); what that child writes later is
// not waited for.
TEST_F(ScriptRunnerTest, BackgroundChildHoldingTheOutputPipeDoesNotDelayDone) {
  const std::string pgidFile = dir.file("bg.pgid");
  ScriptRun run;
  run.argv = {dir.script("bg.sh", "echo $$ > " + pgidFile +
                                      "\nsh -c 'sleep 3; echo late; exec sleep 30' &\n"
                                      "echo main done\nexit 0")};
  run.captureBytes = 1000;
  run.timeout = milliseconds(60000);
  const ScriptExit e = runToEnd(run);
  EXPECT_TRUE(e.ok()) << e.toString();
  EXPECT_EQ(e.output, "main done\n");
  const auto group = readFile(pgidFile);
  ASSERT_TRUE(group);
  EXPECT_EQ(::kill(-std::stoi(*group), SIGKILL), 0) << "the background child was killed";
}

// A background child that writes without pause cannot keep the final read going.
TEST_F(ScriptRunnerTest, BackgroundChildrenWritingWithoutPauseDoNotDelayDone) {
  const std::string pgidFile = dir.file("yes.pgid");
  ScriptRun run;
  run.argv = {dir.script("yes.sh", "echo $$ > " + pgidFile +
                                       "\nfor i in 1 2 3 4; do cat /dev/zero & done\n"
                                       "sleep 0.3\nexit 0")};
  run.captureBytes = 100;
  run.timeout = milliseconds(60000);
  const ScriptExit e = runToEnd(run);
  EXPECT_TRUE(e.ok()) << e.toString();
  EXPECT_EQ(e.output, std::string(100, '\0'));
  EXPECT_TRUE(e.outputTruncated);
  const auto group = readFile(pgidFile);
  ASSERT_TRUE(group);
  ::kill(-std::stoi(*group), SIGKILL);  // they may be dead already of SIGPIPE
}

TEST_F(ScriptRunnerTest, TimedOutRunKeepsWhatItCaptured) {
  ScriptRun run;
  run.argv = {dir.script("slow.sh", "echo started\nexec sleep 30")};
  run.captureBytes = 100;
  run.input = "ignored\n";
  run.timeout = milliseconds(1000);
  const ScriptExit e = runToEnd(run);
  EXPECT_EQ(e.kind, Kind::kTimedOut);
  EXPECT_EQ(e.output, "started\n");
}

// With input and capture the program holds two pipes (stdout and stderr the same one) and
// nothing else; our ends do not leak into it (else it would never see EOF on stdin).
TEST_F(ScriptRunnerTest, PipesAreTheOnlyFilesTheProgramGets) {
  ScriptRun run;
  run.argv = {"/bin/sleep", "30"};
  run.input = "x";
  run.captureBytes = 10;
  for (const auto& user : spawnPaths()) {
    run.user = user;
    auto handle = runner.start(run, [](ScriptExit) {});
    const pid_t pid = handle->pid();
    ASSERT_GT(pid, 0) << user;
    std::map<int, std::string> files;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while ((files = openFiles(pid)).size() != 3 && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    ASSERT_EQ(files.size(), 3u) << user;
    EXPECT_EQ(files[0].rfind("pipe:", 0), 0u) << files[0];
    EXPECT_EQ(files[1].rfind("pipe:", 0), 0u) << files[1];
    EXPECT_EQ(files[1], files[2]);
    EXPECT_NE(files[0], files[1]);
  }
}

TEST_F(ScriptRunnerTest, DestroyedHandleWithPipesNeverReports) {
  ScriptRun run;
  run.argv = {dir.script("chatty.sh", "yes")};
  run.input = std::string(1u << 20, 'y');
  run.captureBytes = 100;
  run.timeout = milliseconds(60000);
  bool called = false;
  auto handle = runner.start(run, [&](ScriptExit) { called = true; });
  ASSERT_GT(handle->pid(), 0);
  io.restart();
  io.run_for(milliseconds(100));  // reads and writes under way
  handle.reset();
  EXPECT_EQ(runner.running(), 0u);
  io.run_for(milliseconds(100));
  EXPECT_FALSE(called);
}

ScriptExit exitOf(Kind kind, int code, std::string error) {
  ScriptExit e;
  e.kind = kind;
  e.code = code;
  e.error = std::move(error);
  return e;
}

TEST(ScriptExitTest, Texts) {
  EXPECT_EQ(exitOf(Kind::kExited, 0, "").toString(), "exit 0");
  EXPECT_EQ(exitOf(Kind::kSignalled, 15, "").toString(), "killed by signal 15");
  EXPECT_EQ(exitOf(Kind::kTimedOut, 1000, "").toString(), "timed out after 1000 ms");
  EXPECT_EQ(exitOf(Kind::kFailedToStart, 0, "unknown user 'x'").toString(),
            "not started: unknown user 'x'");
  EXPECT_TRUE(exitOf(Kind::kExited, 0, "").ok());
  EXPECT_FALSE(exitOf(Kind::kSignalled, 0, "").ok());
}

}  // namespace
}  // namespace quorate::server
