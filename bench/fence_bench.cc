// quorate-fence-bench: what one Fence::arm() (a lease renewal) costs in wall time and CPU for N
// VIPs in one lease, against the real kernel in a private network namespace (docs/bench-fence.md;
// bench/run_fence_bench.sh runs it on this host and in the test VM).
//
// Per N (--vips, default 1,8,64,256): a fresh fence over N addresses in ONE group (half IPv4 in
// 198.18.0.0/15, half IPv6 in 2001:db8::/32; N = 1 is one IPv4), install() timed once, then
// --warmup untimed renewals, then --calls renewals as a holder makes them (remaining 1500 ms,
// deadline CLOCK_REALTIME + 1500 ms), each timed by CLOCK_MONOTONIC and by the thread's CPU clock,
// then close() timed once. The kernel validates and commits an nfnetlink batch inside sendmsg(),
// in the caller's thread, so the thread's CPU time holds the kernel's share too; what it defers
// (freeing the old transaction in a kworker, RCU callbacks) runs elsewhere, which the machine-wide
// figure (/proc/stat, minus the same machine's busy rate just before the loop) tries to catch.
//
// The same source builds against the fence interface before issue 12 (arm(vector<IpAddress>, ...))
// and after it (arm(size_t group, ...)): a `requires` check picks the call, so one file measures
// both commits. Needs root; touches only its own network namespace, sends no packet.
#include <sched.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "server/kernel/fence.h"

namespace quorate::bench {
namespace {

using net::IpAddress;
using quorate::Status;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

constexpr milliseconds kLeaseLeft{1500};
constexpr int kMaxVips = 20000;
constexpr int kMinCalls = 100;
// Above this many busy CPUs before the loop (other work on a shared machine), the machine-wide CPU
// per call is not reported: whatever the loop takes from others' share would cancel out.
constexpr double kMaxBaselineCpus = 0.25;

struct Options {
  std::vector<int> vips = {1, 8, 64, 256};
  int calls = 1000;
  int warmup = 20;
  int gapUs = 1000;   // between renewals, so deferred kernel work of one ends before the next
  int budgetS = 120;  // per N: stop the timed loop after this long (but not before kMinCalls)
  std::string table = "qfencebench";
};

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

nanoseconds readClock(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return std::chrono::seconds(ts.tv_sec) + nanoseconds(ts.tv_nsec);
}

double usBetween(nanoseconds a, nanoseconds b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// The two fence interfaces. After issue 12 a fence gates groups (one per lease) and a renewal
// names its group; before, it gated addresses and a renewal listed them. The bench's lease is
// group 0 and holds every VIP.
template <class F>
constexpr bool kGroupInterface = requires(F& f, std::size_t g, milliseconds r, nanoseconds d) {
  f.arm(g, r, d);
};

template <class F>
Status installOne(F& fence, const std::vector<IpAddress>& vips) {
  if constexpr (kGroupInterface<F>) {
    return fence.install(std::vector<std::vector<IpAddress>>{vips});
  } else {
    return fence.install(vips);
  }
}

template <class F>
Status armOne(F& fence, const std::vector<IpAddress>& vips, milliseconds remaining,
              nanoseconds realtimeDeadline) {
  if constexpr (kGroupInterface<F>) {
    (void)vips;
    return fence.arm(std::size_t{0}, remaining, realtimeDeadline);
  } else {
    return fence.arm(vips, remaining, realtimeDeadline);
  }
}

template <class F>
Status closeOne(F& fence, const std::vector<IpAddress>& vips) {
  if constexpr (kGroupInterface<F>) {
    (void)vips;
    return fence.close(std::size_t{0});
  } else {
    return fence.close(vips);
  }
}

constexpr const char* kInterfaceName = kGroupInterface<kernel::Fence>
                                           ? "group (arm(size_t group, ...))"
                                           : "per-address (arm(vector<IpAddress>, ...))";

// N addresses: the first ceil(N/2) IPv4 198.18.a.b (hosts .1 to .200 of each /24), the rest IPv6
// 2001:db8::a:b.
std::vector<IpAddress> vipsFor(int n) {
  std::vector<IpAddress> out;
  const int v4 = (n + 1) / 2;
  for (int i = 0; i < n; ++i) {
    IpAddress a;
    if (i < v4) {
      a.family = AF_INET;
      a.bytes[0] = 198, a.bytes[1] = 18;
      a.bytes[2] = static_cast<std::uint8_t>(i / 200);
      a.bytes[3] = static_cast<std::uint8_t>(i % 200 + 1);
    } else {
      const int k = i - v4 + 1;
      a.family = AF_INET6;
      a.bytes[0] = 0x20, a.bytes[1] = 0x01, a.bytes[2] = 0x0d, a.bytes[3] = 0xb8;
      a.bytes[14] = static_cast<std::uint8_t>(k >> 8);
      a.bytes[15] = static_cast<std::uint8_t>(k & 0xff);
    }
    out.push_back(a);
  }
  return out;
}

// Busy time of the whole machine (all CPUs, all processes and kernel threads) from /proc/stat,
// in clock ticks: user + nice + system + irq + softirq + steal.
double machineBusyTicks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (!(in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) ||
      cpu != "cpu") {
    fail("cannot read /proc/stat");
  }
  return user + nice + system + irq + softirq + steal;
}

// Nearest-rank percentile of sorted samples.
double percentile(const std::vector<double>& sorted, double p) {
  const auto n = sorted.size();
  auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
  return sorted[std::clamp<std::size_t>(rank, 1, n) - 1];
}

double median(const std::vector<double>& sorted) {
  const auto n = sorted.size();
  return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

bool trySh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

void sh(const std::string& cmd) {
  if (!trySh(cmd)) fail("`" + cmd + "` failed");
}

void check(const Status& s, const std::string& what) {
  if (!s.isOk()) fail(what + ": " + s.message());
}

void runOne(const Options& o, int n, double ticksPerUs) {
  const std::vector<IpAddress> vips = vipsFor(n);
  std::unique_ptr<kernel::Fence> fence = kernel::makeNftFence(o.table);

  nanoseconds t0 = readClock(CLOCK_MONOTONIC);
  check(installOne(*fence, vips), "N=" + std::to_string(n) + ", install");
  const double installUs = usBetween(t0, readClock(CLOCK_MONOTONIC));

  auto renew = [&] {
    // As the data plane does: real time first, then the lease clock (here a constant).
    const nanoseconds deadline = readClock(CLOCK_REALTIME) + kLeaseLeft;
    return armOne(*fence, vips, kLeaseLeft, deadline);
  };
  const auto gap = std::chrono::microseconds(o.gapUs);
  for (int i = 0; i < o.warmup; ++i) {
    check(renew(), "N=" + std::to_string(n) + ", arm " + std::to_string(i + 1) + " (warm-up)");
    std::this_thread::sleep_for(gap);
  }

  // The machine's busy rate while this process sleeps, to subtract from the loop's.
  const double idleWindowUs = 500000;
  double b0 = machineBusyTicks();
  std::this_thread::sleep_for(std::chrono::microseconds(static_cast<long>(idleWindowUs)));
  const double baselinePerUs = (machineBusyTicks() - b0) / idleWindowUs;

  std::vector<double> wall, cpu;
  wall.reserve(static_cast<std::size_t>(o.calls));
  cpu.reserve(static_cast<std::size_t>(o.calls));
  b0 = machineBusyTicks();
  const nanoseconds loop0 = readClock(CLOCK_MONOTONIC);
  const nanoseconds budget = std::chrono::seconds(o.budgetS);
  for (int i = 0; i < o.calls; ++i) {
    if (i >= kMinCalls && readClock(CLOCK_MONOTONIC) - loop0 > budget) break;
    const nanoseconds c0 = readClock(CLOCK_THREAD_CPUTIME_ID);
    const nanoseconds w0 = readClock(CLOCK_MONOTONIC);
    const Status s = renew();
    const nanoseconds w1 = readClock(CLOCK_MONOTONIC);
    const nanoseconds c1 = readClock(CLOCK_THREAD_CPUTIME_ID);
    check(s, "N=" + std::to_string(n) + ", timed arm " + std::to_string(i + 1));
    wall.push_back(usBetween(w0, w1));
    cpu.push_back(usBetween(c0, c1));
    if (o.gapUs > 0) std::this_thread::sleep_for(gap);
  }
  const double loopUs = usBetween(loop0, readClock(CLOCK_MONOTONIC));
  const double busyUs = (machineBusyTicks() - b0) / ticksPerUs;
  const int calls = static_cast<int>(wall.size());
  const double baselineCpus = baselinePerUs / ticksPerUs;
  // NaN (printed "nan") when the machine was too busy to tell.
  const double machineCpuPerCall =
      baselineCpus > kMaxBaselineCpus ? std::nan("") : (busyUs - baselineCpus * loopUs) / calls;

  t0 = readClock(CLOCK_MONOTONIC);
  check(closeOne(*fence, vips), "N=" + std::to_string(n) + ", close");
  const double closeUs = usBetween(t0, readClock(CLOCK_MONOTONIC));
  check(fence->uninstall(), "uninstall");

  double cpuSum = 0;
  for (double c : cpu) cpuSum += c;
  const double cpuMean = cpuSum / calls;
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  std::printf(
      "N=%-4d %5d calls: median %8.1f  p90 %8.1f  p99 %8.1f  max %8.1f us wall;  CPU median %8.1f  "
      "p99 "
      "%8.1f  mean %8.1f us (thread), %8.1f us/call (machine);  install %.0f us, close %.0f us\n",
      n, calls, median(wall), percentile(wall, 90), percentile(wall, 99), wall.back(), median(cpu),
      percentile(cpu, 99), cpuMean, machineCpuPerCall, installUs, closeUs);
  std::printf(
      "RESULT vips=%d calls=%d wall_median_us=%.1f wall_p90_us=%.1f wall_p99_us=%.1f "
      "wall_max_us=%.1f cpu_median_us=%.1f cpu_p99_us=%.1f cpu_mean_us=%.1f "
      "machine_cpu_per_call_us=%.1f baseline_cpus=%.2f install_us=%.0f close_us=%.0f\n",
      n, calls, median(wall), percentile(wall, 90), percentile(wall, 99), wall.back(), median(cpu),
      percentile(cpu, 99), cpuMean, machineCpuPerCall, baselineCpus, installUs, closeUs);
  std::fflush(stdout);
}

int run(const Options& o) {
  if (geteuid() != 0) fail("needs root (a private network namespace and nftables)");
  // A namespace of our own: the fence's tables cannot meet the host's, and vanish with us.
  if (unshare(CLONE_NEWNET) != 0) fail(std::string("unshare(CLONE_NEWNET): ") + strerror(errno));
  sh("ip link set lo up");
  // The interface the VIPs would live on. This host's kernel has no dummy driver; a veth pair
  // stands in (the fence matches addresses, not interfaces, so its cost is the same).
  std::string link = "dummy";
  if (!trySh("ip link add name qfb0 type dummy")) {
    link = "veth";
    sh("ip link add name qfb0 type veth peer name qfb1");
    sh("ip link set qfb1 up");
  }
  sh("ip link set qfb0 up");

  utsname u{};
  uname(&u);
  std::string load;
  std::getline(std::ifstream("/proc/loadavg"), load);
  const long ticks = sysconf(_SC_CLK_TCK);
  std::printf("# quorate-fence-bench: kernel %s, fence interface %s, %ld CPUs, load %s, link %s\n",
              u.release, kInterfaceName, sysconf(_SC_NPROCESSORS_ONLN), load.c_str(), link.c_str());
  std::printf(
      "# %d renewals per N (at most %d s, at least %d; after %d untimed), %d us apart; remaining "
      "%lld ms, deadline real time + %lld ms\n",
      o.calls, o.budgetS, kMinCalls, o.warmup, o.gapUs, static_cast<long long>(kLeaseLeft.count()),
      static_cast<long long>(kLeaseLeft.count()));
  std::fflush(stdout);
  for (int n : o.vips) runOne(o, n, static_cast<double>(ticks) / 1e6);
  return 0;
}

}  // namespace
}  // namespace quorate::bench

int main(int argc, char** argv) {
  quorate::bench::Options o;
  CLI::App app{
      "quorate-fence-bench: the cost of Fence::arm() (a lease renewal) for N VIPs, in a private "
      "network namespace (root; docs/bench-fence.md)"};
  app.add_option("--vips", o.vips, "VIP counts to measure, one fence each")
      ->delimiter(',')
      ->check(CLI::Range(1, quorate::bench::kMaxVips))
      ->capture_default_str();
  app.add_option("--calls", o.calls, "timed arm() calls per N")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_option("--warmup", o.warmup, "untimed arm() calls before them")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  app.add_option("--gap-us", o.gapUs, "sleep between calls (0: back to back)")
      ->check(CLI::Range(0, 10000000))
      ->capture_default_str();
  app.add_option("--budget-s", o.budgetS,
                 "per N, stop after this many seconds of renewals (at least 100 are made)")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  app.add_option("--table", o.table, "name of the fence's tables (arp and inet)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    return quorate::bench::run(o);
  } catch (const std::exception& e) {
    std::cerr << "quorate-fence-bench: FAILED: " << e.what() << "\n";
    return 1;
  }
}
