// systemd's notify protocol with the real daemons: READY=1 once they serve, WATCHDOG=1 only while
// they run (a stopped process, or a director whose loop thread alone is frozen, goes silent),
// RELOADING=1/READY=1 around SIGHUP, STOPPING=1 on SIGTERM; and a broken director that pets from
// a thread of its own, caught by the frozen-loop check.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "process/cluster.h"
#include "support/notify_socket.h"

#ifndef QUORATE_DIRECTOR_FREEZABLE
#error "QUORATE_DIRECTOR_FREEZABLE must name the director build whose loop a test can freeze"
#endif
#ifndef QUORATE_DIRECTOR_PETS_ANYWAY
#error "QUORATE_DIRECTOR_PETS_ANYWAY must name the director build that pets from its own thread"
#endif

namespace quorate::proctest {
namespace {

using namespace std::chrono_literals;
using testutil::NotifyRecorder;

// systemd's WatchdogSec as the daemons see it: pets every 200 ms.
constexpr auto kWatchdog = 600ms;
constexpr const char* kWatchdogUsec = "WATCHDOG_USEC=600000";

// A daemon started with extra environment variables (those of a systemd service), its output
// appended to a log; SIGKILLed and reaped at the end.
class Daemon {
 public:
  Daemon(const std::vector<std::string>& argv, std::vector<std::string> extraEnv,
         const std::string& logPath) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string var(*e);
      // gRPC would dial 127.0.0.1 through a proxy.
      if (var.find("proxy=") != std::string::npos || var.find("PROXY=") != std::string::npos) {
        continue;
      }
      env.push_back(var);
    }
    for (auto& v : extraEnv) env.push_back(std::move(v));
    std::vector<std::string> args = argv;
    std::vector<char*> cArgs, cEnv;
    for (auto& a : args) cArgs.push_back(a.data());
    cArgs.push_back(nullptr);
    for (auto& v : env) cEnv.push_back(v.data());
    cEnv.push_back(nullptr);
    const int log = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) throw std::runtime_error("open " + logPath + ": " + std::strerror(errno));
    const int devNull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) _exit(127);
      if (::dup2(devNull, 0) < 0 || ::dup2(log, 1) < 0 || ::dup2(log, 2) < 0) _exit(127);
      ::execve(cArgs[0], cArgs.data(), cEnv.data());
      _exit(127);
    }
    ::close(log);
    ::close(devNull);
    if (pid_ < 0) throw std::runtime_error("fork failed");
  }
  ~Daemon() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }
  void freeze() const {
    ::kill(pid_, SIGSTOP);
    ::waitpid(pid_, nullptr, WUNTRACED);  // returns once it is stopped
  }
  void thaw() const { ::kill(pid_, SIGCONT); }

 private:
  pid_t pid_ = -1;
};

// The cluster's temporary directory, for the test's own files.
std::string dirOf(const Cluster& c) {
  const std::string log = c.logPath(kArbiter);
  return log.substr(0, log.rfind('/'));
}

bool from(const testutil::NotifyMessage& m, pid_t pid, const std::string& text) {
  return m.pid == pid && m.text.find(text) != std::string::npos;
}

// Waits for READY=1 from `d` (start-up: the quarantine does not delay it).
void expectReady(NotifyRecorder& rec, const Daemon& d, const std::string& what) {
  const auto ready = rec.waitFor([&](const auto& m) { return from(m, d.pid(), "READY=1"); }, 15s);
  ASSERT_TRUE(ready) << what << " never sent READY=1";
}

// `d` pets while it runs, not a single time while it is stopped for two watchdog intervals (while
// `other` keeps petting, so the socket was heard all along), and again once continued.
void expectPetsOnlyWhileRunning(NotifyRecorder& rec, const Daemon& d, const Daemon& other,
                                const std::string& what) {
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(1s);
  const std::size_t perSecond = rec.count(d.pid(), "WATCHDOG=1", t0, Clock::now());
  std::cout << what << ": " << perSecond << " pets in 1 s" << std::endl;
  EXPECT_GE(perSecond, 3u) << what << " pets too rarely";
  d.freeze();
  const auto stoppedAt = Clock::now();
  std::this_thread::sleep_for(2 * kWatchdog);
  const auto end = Clock::now();
  // A datagram sent just before the stop may still be read just after it.
  EXPECT_EQ(rec.count(d.pid(), "WATCHDOG=1", stoppedAt + 50ms, end), 0u)
      << what << " petted while stopped";
  EXPECT_GE(rec.count(other.pid(), "WATCHDOG=1", stoppedAt, end), 3u);
  const auto thawedAt = Clock::now();
  d.thaw();
  const auto again =
      rec.waitFor([&](const auto& m) { return m.at > end && from(m, d.pid(), "WATCHDOG=1"); }, 5s);
  ASSERT_TRUE(again) << what << " did not pet again after SIGCONT";
  reportMs(what == "the director" ? "director_first_pet_after_sigcont_ms"
                                  : "arbiter_first_pet_after_sigcont_ms",
           msBetween(thawedAt, again->at));
}

TEST(Notify, DaemonsAreReadyAndPetOnlyWhileRunning) {
  Cluster c("notify");
  NotifyRecorder rec(dirOf(c) + "/notify.sock");
  const std::vector<std::string> env = {"NOTIFY_SOCKET=" + rec.path(), kWatchdogUsec};
  Daemon arbiter({QUORATE_ARBITER, "--config", c.configPath(kArbiter)}, env, c.logPath(kArbiter));
  Daemon director({QUORATE_DIRECTOR, "--config", c.configPath(kAlpha)}, env, c.logPath(kAlpha));
  expectReady(rec, arbiter, "the arbiter");
  expectReady(rec, director, "the director");
  expectPetsOnlyWhileRunning(rec, director, arbiter, "the director");
  expectPetsOnlyWhileRunning(rec, arbiter, director, "the arbiter");

  // A reload is announced, and readiness given back after it (the file is unchanged).
  const auto hupAt = Clock::now();
  director.signal(SIGHUP);
  const auto reloading = rec.waitFor(
      [&](const auto& m) { return m.at >= hupAt && from(m, director.pid(), "RELOADING=1"); }, 5s);
  ASSERT_TRUE(reloading);
  EXPECT_NE(reloading->text.find("MONOTONIC_USEC="), std::string::npos);
  EXPECT_TRUE(rec.waitFor(
      [&](const auto& m) { return m.at >= reloading->at && from(m, director.pid(), "READY=1"); },
      5s));

  const auto termAt = Clock::now();
  director.signal(SIGTERM);
  arbiter.signal(SIGTERM);
  EXPECT_TRUE(rec.waitFor(
      [&](const auto& m) { return m.at >= termAt && from(m, director.pid(), "STOPPING=1"); }, 5s));
  EXPECT_TRUE(rec.waitFor(
      [&](const auto& m) { return m.at >= termAt && from(m, arbiter.pid(), "STOPPING=1"); }, 5s));
}

// Runs `binary` (a director whose loop the test can freeze) alone, freezes its loop thread for
// two watchdog intervals and returns the pets sent meanwhile; expects the pets to come back after.
std::size_t petsWhileTheLoopIsFrozen(const std::string& binary) {
  Cluster c("notify-freeze");
  NotifyRecorder rec(dirOf(c) + "/notify.sock");
  const std::string freezeFile = dirOf(c) + "/freeze-loop";
  Daemon director(
      {binary, "--config", c.configPath(kAlpha)},
      {"NOTIFY_SOCKET=" + rec.path(), kWatchdogUsec, "QUORATE_TEST_FREEZE_LOOP_FILE=" + freezeFile},
      c.logPath(kAlpha));
  EXPECT_TRUE(rec.waitFor([&](const auto& m) { return from(m, director.pid(), "READY=1"); }, 15s));
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(1s);
  EXPECT_GE(rec.count(director.pid(), "WATCHDOG=1", t0, Clock::now()), 3u);

  writeFile(freezeFile, "");
  const bool frozen = waitUntil(
      [&] { return c.log(kAlpha).find("the loop thread is frozen") != std::string::npos; }, 5s);
  EXPECT_TRUE(frozen) << "the loop never froze";
  const auto frozenAt = Clock::now();
  std::this_thread::sleep_for(2 * kWatchdog);
  const auto end = Clock::now();
  const std::size_t pets = rec.count(director.pid(), "WATCHDOG=1", frozenAt + 50ms, end);
  std::cout << binary << ": " << pets << " pets in the " << msBetween(frozenAt, end).count()
            << " ms the loop was frozen" << std::endl;
  // The rest of the daemon ran meanwhile: the main thread still takes a SIGHUP after the thaw.
  ::unlink(freezeFile.c_str());
  EXPECT_TRUE(rec.waitFor(
      [&](const auto& m) { return m.at > end && from(m, director.pid(), "WATCHDOG=1"); }, 5s))
      << "no pet after the loop thawed";
  return pets;
}

TEST(Notify, AFrozenLoopThreadStopsThePets) {
  EXPECT_EQ(petsWhileTheLoopIsFrozen(QUORATE_DIRECTOR_FREEZABLE), 0u)
      << "the director petted systemd's watchdog while its loop thread was frozen";
}

// The broken build pets from a thread of its own: the same observation must see its pets, or the
// test above could not tell a director that watches its loop from one that does not.
TEST(Notify, ACheckOfTheFrozenLoopCatchesPetsFromAnotherThread) {
  EXPECT_GE(petsWhileTheLoopIsFrozen(QUORATE_DIRECTOR_PETS_ANYWAY), 3u)
      << "the broken build's pets went unseen: the frozen-loop check proves nothing";
}

}  // namespace
}  // namespace quorate::proctest
