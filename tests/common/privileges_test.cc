// common/privileges: decoding /proc status lines, naming capabilities, comparing a task with
// what it should keep, and (as root, in a forked child, since a drop cannot be undone) the drop
// in every thread, with the calling-thread-only variant caught by the same check.
#include "common/privileges.h"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace quorate::privileges {
namespace {

constexpr CapMask kNet = capBit(CAP_NET_ADMIN) | capBit(CAP_NET_RAW);

TEST(Privileges, NamesCapabilities) {
  EXPECT_EQ(capNames(0), "none");
  EXPECT_EQ(capNames(kNet), "cap_net_admin,cap_net_raw");
  EXPECT_EQ(capNames(capBit(CAP_CHOWN) | capBit(40)), "cap_chown,cap_checkpoint_restore");
  EXPECT_EQ(capNames(capBit(63)), "cap_63");
}

TEST(Privileges, ParsesAStatusFile) {
  const std::string text =
      "Name:\tquorate-director\nUid:\t0\t0\t0\t0\nCapInh:\t0000000000000000\n"
      "CapPrm:\t0000000000003000\nCapEff:\t0000000000003000\nCapBnd:\t000001ffffffffff\n"
      "CapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t0\n";
  const auto t = parseTaskStatus(text);
  ASSERT_TRUE(t) << t.status().message();
  EXPECT_EQ(t->permitted, kNet);
  EXPECT_EQ(t->effective, kNet);
  EXPECT_EQ(t->bounding, 0x1ffffffffffULL);
  EXPECT_EQ(t->inheritable, 0u);
  EXPECT_TRUE(t->noNewPrivs);
  EXPECT_EQ(differencesFrom(*t, kNet),
            "CapBnd has " + capNames(0x1ffffffffffULL & ~kNet) + " (not kept)");
}

TEST(Privileges, RefusesABrokenStatusFile) {
  EXPECT_FALSE(parseTaskStatus("CapInh:\t0\nCapPrm:\t0\n"));  // lines missing
  EXPECT_FALSE(parseTaskStatus(
      "CapInh:\t0\nCapPrm:\tzz\nCapEff:\t0\nCapBnd:\t0\nCapAmb:\t0\nNoNewPrivs:\t1\n"));
  EXPECT_FALSE(parseTaskStatus(
      "CapInh:\t0\nCapPrm:\t0\nCapEff:\t0\nCapBnd:\t0\nCapAmb:\t0\nNoNewPrivs:\t2\n"));
}

TEST(Privileges, ComparesEverySet) {
  TaskCaps good{0, kNet, kNet, kNet, 0, true};
  EXPECT_EQ(differencesFrom(good, kNet), "");
  TaskCaps t = good;
  t.effective |= capBit(CAP_SYS_ADMIN);
  EXPECT_EQ(differencesFrom(t, kNet), "CapEff has cap_sys_admin (not kept)");
  t = good;
  t.permitted = capBit(CAP_NET_RAW);
  EXPECT_EQ(differencesFrom(t, kNet), "CapPrm lacks cap_net_admin");
  t = good;
  t.ambient = capBit(CAP_NET_RAW);
  t.inheritable = capBit(CAP_NET_RAW);
  t.noNewPrivs = false;
  EXPECT_EQ(
      differencesFrom(t, kNet),
      "CapInh has cap_net_raw (not kept); CapAmb has cap_net_raw (not kept); NoNewPrivs is 0");
}

// Forks a child that starts `threads` threads (idle until told to end), restricts itself with
// `options`, and waits; the parent checks the child's threads through /proc like the process
// tests do. Returns checkProcess()'s report.
std::string dropInChild(CapMask kept, RestrictOptions options, int threads) {
  std::array<int, 2> ready{};
  std::array<int, 2> finish{};
  if (::pipe(ready.data()) != 0 || ::pipe(finish.data()) != 0) return "pipe failed";
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) {
      pool.emplace_back([&] {
        while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      });
    }
    const Status st = restrictAllThreads(kept, options);
    const char ok = st ? 'y' : 'n';
    [[maybe_unused]] auto w = ::write(ready[1], &ok, 1);
    char c = 0;
    [[maybe_unused]] auto r = ::read(finish[0], &c, 1);
    stop = true;
    for (auto& t : pool) t.join();
    ::_exit(0);
  }
  char ok = 0;
  if (::read(ready[0], &ok, 1) != 1) ok = 'x';
  std::string report = ok == 'y' ? checkProcess(pid, kept) : "restrictAllThreads failed";
  const char c = 'q';
  [[maybe_unused]] auto w = ::write(finish[1], &c, 1);
  ::waitpid(pid, nullptr, 0);
  for (const int fd : {ready[0], ready[1], finish[0], finish[1]}) ::close(fd);
  return report;
}

TEST(Privileges, EveryThreadKeepsOnlyWhatIsKept) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (capabilities to drop)";
  EXPECT_EQ(dropInChild(kNet, {}, 8), "");
  EXPECT_EQ(dropInChild(0, {}, 3), "");
}

TEST(Privileges, CheckCatchesADropInTheCallingThreadOnly) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (capabilities to drop)";
  const std::string report = dropInChild(kNet, {.callingThreadOnly = true}, 4);
  // The four idle threads keep full root, and say so.
  std::size_t lines = 0;
  for (const char ch : report) lines += ch == '\n';
  EXPECT_EQ(lines, 4u) << report;
  EXPECT_NE(report.find("CapEff has"), std::string::npos) << report;
  EXPECT_NE(report.find("NoNewPrivs is 0"), std::string::npos) << report;
}

}  // namespace
}  // namespace quorate::privileges
