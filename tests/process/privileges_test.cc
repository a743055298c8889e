// Least privilege of the real daemons: the capability sets of every thread after start-up, read
// from /proc and checked against what server/privileges.h keeps (and two broken builds caught by
// the same check), notify hooks run as the script user with a minimal environment, and scripts
// that others could change refused at load.
#include "common/privileges.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "process/cluster.h"

namespace quorate::proctest {
namespace {

using namespace std::chrono_literals;
using privileges::capBit;
using privileges::CapMask;

constexpr CapMask kNetwork = capBit(CAP_NET_ADMIN) | capBit(CAP_NET_RAW);
constexpr CapMask kScriptUsers = capBit(CAP_SETUID) | capBit(CAP_SETGID) | capBit(CAP_KILL);

// The pid of the process started with `--config path` (0: none).
pid_t pidWithConfig(const std::string& path) {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return 0;
  pid_t found = 0;
  while (const dirent* e = ::readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    std::string arg;
    bool previousWasConfig = false;
    while (std::getline(in, arg, '\0')) {
      if (previousWasConfig && arg == path) found = pid;
      previousWasConfig = arg == "--config";
    }
    if (found != 0) break;
  }
  ::closedir(proc);
  return found;
}

std::size_t threadCount(pid_t pid) {
  std::size_t n = 0;
  if (DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/task").c_str())) {
    while (const dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

// Waits up to `timeout` for every thread of `pid` to show exactly `kept`; returns what differs
// at the end (empty: all threads match). The drop comes right after start-up, so a short wait.
std::string settledCaps(pid_t pid, CapMask kept, Ms timeout) {
  std::string last;
  waitUntil(
      [&] {
        last = privileges::checkProcess(pid, kept);
        return last.empty();
      },
      timeout);
  return last;
}

#define REQUIRE_ROOT()                                                                        \
  if (::geteuid() != 0) {                                                                     \
    GTEST_SKIP() << "needs root: only a root daemon has capabilities to drop or users to be"; \
  }

TEST(Privileges, DirectorsKeepOnlyNetworkCapabilitiesInEveryThread) {
  REQUIRE_ROOT();
  Cluster c("caps");
  c.startAll();
  ASSERT_TRUE(c.waitForHealthy(c.timers().startupBound())) << "no healthy cluster";
  for (const auto& d : {kAlpha, kBeta}) {
    const pid_t pid = pidWithConfig(c.configPath(d));
    ASSERT_GT(pid, 0) << d;
    // The check covers gRPC's, the loop's and the event log's threads, not only the main one.
    EXPECT_GT(threadCount(pid), 3u) << d;
    EXPECT_EQ(settledCaps(pid, kNetwork, 5000ms), "") << d << " (pid " << pid << ")";
  }
}

TEST(Privileges, ArbiterKeepsNoCapability) {
  REQUIRE_ROOT();
  Cluster c("caps-arbiter");
  c.start(kArbiter);
  waitUntil([&] { return pidWithConfig(c.configPath(kArbiter)) > 0; }, 5000ms);
  const pid_t pid = pidWithConfig(c.configPath(kArbiter));
  ASSERT_GT(pid, 0);
  // Listening and dropped: the log says so once both are done.
  ASSERT_TRUE(
      waitUntil([&] { return c.log(kArbiter).find("listening") != std::string::npos; }, 5000ms));
  EXPECT_GT(threadCount(pid), 1u);
  EXPECT_EQ(settledCaps(pid, 0, 5000ms), "");
}

// The check must see a director that keeps everything, and one that drops in its main thread
// only (the others, gRPC's included, keep full root), as the broken builds of tests/process do.
void expectCaught(const std::string& binary, const std::string& name, bool mainThreadFine) {
  Cluster c(name);
  c.start(kArbiter);
  c.start(kBeta);
  ExtraProcess alpha({binary, "--config", c.configPath(kAlpha)}, c.logPath(kAlpha));
  // Both started (no lease needed: the drop, or its absence, comes right after start-up).
  ASSERT_TRUE(waitUntil(
      [&] {
        return c.log(kAlpha).find("TEST BUILD") != std::string::npos &&
               c.log(kBeta).find("capabilities kept") != std::string::npos;
      },
      10'000ms))
      << c.log(kAlpha) << c.log(kBeta);
  const pid_t pid = pidWithConfig(c.configPath(kAlpha));
  ASSERT_GT(pid, 0);
  const std::string found = settledCaps(pid, kNetwork, 1000ms);
  EXPECT_NE(found.find("CapEff has"), std::string::npos) << found;
  EXPECT_NE(found.find("cap_sys_admin"), std::string::npos) << found;
  const std::string mainLine = "task " + std::to_string(pid) + ":";
  EXPECT_EQ(found.find(mainLine) == std::string::npos, mainThreadFine) << found;
  // The real director in the same cluster passes the same check.
  EXPECT_EQ(settledCaps(pidWithConfig(c.configPath(kBeta)), kNetwork, 5000ms), "");
}

TEST(Privileges, CheckCatchesADirectorThatKeepsEverything) {
  REQUIRE_ROOT();
  expectCaught(QUORATE_DIRECTOR_KEEP_CAPS, "caps-mutant-keep", false);
}

TEST(Privileges, CheckCatchesADropInTheMainThreadOnly) {
  REQUIRE_ROOT();
  expectCaught(QUORATE_DIRECTOR_MAIN_THREAD_DROP, "caps-mutant-main", true);
}

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool hasLine(const std::vector<std::string>& lines, const std::string& want) {
  return std::find(lines.begin(), lines.end(), want) != lines.end();
}

bool hasPrefix(const std::vector<std::string>& lines, const std::string& prefix) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.rfind(prefix, 0) == 0; });
}

// A holder's notify_master runs as the default script user (quorate_script, else nobody) and
// sees PATH, LANG and its QUORATE_* variables, nothing of the director's environment; the same
// hook with user: root prints 0 (the probe tells users apart). The director with a hook keeps
// CAP_SETUID, CAP_SETGID and CAP_KILL besides the network ones.
TEST(Privileges, NotifyHookRunsAsTheScriptUserWithAMinimalEnvironment) {
  REQUIRE_ROOT();
  const std::string user = ::getpwnam("quorate_script") ? "quorate_script" : "nobody";
  const passwd* pw = ::getpwnam(user.c_str());
  ASSERT_NE(pw, nullptr) << "no user " << user;
  const uid_t scriptUid = pw->pw_uid;
  ASSERT_NE(scriptUid, 0u);

  testutil::TempDir dir("quorate-script-user");
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);  // the script user may enter, not write
  const std::string bin = dir.file("bin");
  const std::string out = dir.file("out");
  ASSERT_EQ(::mkdir(bin.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(out.c_str(), 0755), 0);
  // Both hooks write here: the script user, and root without CAP_DAC_OVERRIDE (dropped).
  ASSERT_EQ(::chmod(out.c_str(), 0777), 0);
  const std::string hook = bin + "/hook.sh";
  { std::ofstream(hook) << "#!/bin/sh\n{ id -u; env; } > " << out << "/$1-$QUORATE_LEASE.txt\n"; }
  ASSERT_EQ(::chmod(hook.c_str(), 0755), 0);

  ClusterOptions o;
  o.prefer(kAlpha);
  const std::string hooks = "hooks:\n  notify_master:\n    - {command: [" + hook +
                            ", as-default]}\n    - {command: [" + hook +
                            ", as-root], user: root}\n";
  o.editing(kAlpha, [&](const std::string& text) { return text + hooks; });
  Cluster c("script-user", o);
  ::setenv("PLANTED_DAEMON_SECRET", "leaked", 1);
  ::setenv("QUORATE_PLANTED", "leaked", 1);
  c.startAll();
  ::unsetenv("PLANTED_DAEMON_SECRET");
  ::unsetenv("QUORATE_PLANTED");
  ASSERT_TRUE(c.waitForSelfHolder(kAlpha, c.timers().startupBound()));
  const std::string asDefault = out + "/as-default-default.txt";
  const std::string asRoot = out + "/as-root-default.txt";
  ASSERT_TRUE(waitUntil(
      [&] {
        struct stat st {};
        return ::stat(asRoot.c_str(), &st) == 0 && st.st_size > 0;
      },
      5000ms))
      << "the hooks did not run; alpha's log:\n"
      << c.log(kAlpha);

  const auto lines = linesOf(readFile(asDefault));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front(), std::to_string(scriptUid)) << "as " << user;
  EXPECT_TRUE(hasLine(lines, "PATH=/usr/sbin:/usr/bin:/sbin:/bin")) << readFile(asDefault);
  EXPECT_TRUE(hasLine(lines, "LANG=C")) << readFile(asDefault);
  EXPECT_TRUE(hasLine(lines, "QUORATE_EVENT=became-holder")) << readFile(asDefault);
  EXPECT_FALSE(hasPrefix(lines, "PLANTED_DAEMON_SECRET=")) << readFile(asDefault);
  EXPECT_FALSE(hasPrefix(lines, "QUORATE_PLANTED=")) << readFile(asDefault);
  // The director's own HOME, for one, is not passed on either.
  EXPECT_FALSE(hasPrefix(lines, "HOME=")) << readFile(asDefault);

  const auto rootLines = linesOf(readFile(asRoot));
  ASSERT_FALSE(rootLines.empty());
  EXPECT_EQ(rootLines.front(), "0");
  EXPECT_FALSE(hasPrefix(rootLines, "PLANTED_DAEMON_SECRET=")) << readFile(asRoot);

  EXPECT_EQ(settledCaps(pidWithConfig(c.configPath(kAlpha)), kNetwork | kScriptUsers, 5000ms), "");
  EXPECT_EQ(settledCaps(pidWithConfig(c.configPath(kBeta)), kNetwork, 5000ms), "");
}

// A hook in a directory anyone may write, or itself writable by anyone, is refused at load by
// the director and by --check, naming the path and its mode; the same hook kept safe passes.
TEST(Privileges, ScriptsOthersCouldChangeAreRefusedAtLoad) {
  Cluster c("script-security");
  testutil::TempDir dir("quorate-script-security");
  ASSERT_EQ(::chmod(dir.path().c_str(), 0755), 0);
  const std::string open = dir.file("open");
  const std::string safe = dir.file("safe");
  ASSERT_EQ(::mkdir(open.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(open.c_str(), 0777), 0);  // umask-proof
  ASSERT_EQ(::mkdir(safe.c_str(), 0755), 0);
  auto script = [](const std::string& path, mode_t mode) {
    std::ofstream(path) << "#!/bin/sh\nexit 0\n";
    EXPECT_EQ(::chmod(path.c_str(), mode), 0);
    return path;
  };
  const std::string inOpenDir = script(open + "/hook.sh", 0755);
  const std::string worldWritable = script(safe + "/writable.sh", 0757);
  const std::string fine = script(safe + "/fine.sh", 0755);
  const std::string valid = readFile(c.configPath(kAlpha));

  struct Case {
    std::string hook;
    std::string expect;  // in stderr; empty: accepted
  };
  const std::vector<Case> cases = {
      {inOpenDir, "directory " + open + " is writable by others (mode 0777)"},
      {worldWritable, "file " + worldWritable + " is writable by others (mode 0757)"},
      {fine, ""},
  };
  int index = 0;
  for (const auto& k : cases) {
    SCOPED_TRACE(k.hook);
    const std::string path = c.configPath(kAlpha) + ".hook" + std::to_string(index++) + ".yaml";
    writeFile(path, valid + "hooks:\n  notify: " + k.hook + "\n");
    for (const bool check : {true, false}) {
      if (!check && k.expect.empty()) continue;  // a valid file would start a director
      std::vector<std::string> argv = {QUORATE_DIRECTOR, "--config", path};
      if (check) argv.emplace_back("--check");
      const RunResult r = runProgram(argv, 5000ms);
      if (k.expect.empty()) {
        EXPECT_EQ(r.exitCode, 0) << r.err;
        continue;
      }
      EXPECT_EQ(r.exitCode, 2) << r.err;
      EXPECT_NE(r.err.find(path + ": hooks.notify of lease \"default\": script " + k.hook),
                std::string::npos)
          << r.err;
      EXPECT_NE(r.err.find(k.expect), std::string::npos) << r.err;
    }
  }
}

}  // namespace
}  // namespace quorate::proctest
