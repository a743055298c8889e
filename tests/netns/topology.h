// Multi-host test bed: hosts in network namespaces on one bridge, their processes, net faults.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace quorate::netns {

using Ms = std::chrono::milliseconds;

inline const std::string kAlpha = "alpha";  // director 0
inline const std::string kBeta = "beta";    // director 1
inline const std::string kArbiter = "arbiter";
inline const std::string kClient = "client";
inline const std::string kRs1 = "rs1";
inline const std::string kRs2 = "rs2";

// The test VIP (in the hosts' /24, so clients reach it without a router).
inline const std::string kVip = "198.18.0.10";

// One host to create: its name ([a-z0-9], at most 15 characters: it names the switch port)
// and its addresses on the shared /24 (and /64).
struct HostSpec {
  std::string name;
  std::string ipv4;  // inside 198.18.0.0/24
  std::string ipv6;  // inside 2001:db8::/64; empty: none
};

// alpha .1, beta .2, arbiter .3, rs1 .11, rs2 .12, client .100 (2001:db8::<same>).
std::vector<HostSpec> defaultHosts();

// A host as created.
struct Host {
  std::string name;
  std::string ns;      // the namespace, /run/netns/<ns>
  std::string ifname;  // its only interface besides lo (always "eth0")
  int ifindex = 0;
  std::string ipv4;  // "198.18.0.1"
  std::string ipv6;  // "2001:db8::1" or empty
  std::string mac;   // lower case, "02:71:00:00:00:01"
};

// The outcome of a command run to its end (or killed at its timeout).
struct CommandResult {
  int exitCode = -1;  // -1: killed by a signal or by the timeout
  bool timedOut = false;
  std::string out;
  std::string err;
  bool ok() const { return exitCode == 0; }
};

// How a spawned process ended: exit code, or the signal that killed it (code -1).
struct ExitStatus {
  int code = -1;
  int signal = 0;
};

struct TopologyOptions {
  std::vector<HostSpec> hosts = defaultHosts();
  // Permanent neighbour entries for every other host's addresses (not for the VIP, which keeps
  // using ARP). Without them an asymmetric partition A->B also blocks B->A traffic, since B
  // never learns A's MAC (A's ARP replies are dropped).
  bool staticNeighbours = true;
  // Deletes stale namespaces of dead earlier runs first (see sweepStale).
  bool sweep = true;
};

// A set of hosts, each in its own network namespace named "qtb<pid>-<seq>-<host>", with one
// veth ("eth0" inside the host) into a bridge "br0" that lives in a namespace of its own
// ("qtb<pid>-<seq>-switch", where the port of each host is named after it). Addresses come only
// from 198.18.0.0/24 (and 2001:db8::/64); there is no default route, so hosts reach each other
// and nothing else. Every method throws std::runtime_error when the kernel refuses something
// that should work; queries about unknown hosts throw std::out_of_range.
//
// The destructor (also after a partial set-up, when the constructor throws) SIGKILLs and reaps
// every process spawned and deletes every namespace it created, by their exact names.
class Topology {
 public:
  explicit Topology(TopologyOptions options = {});
  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  // "qtb<pid>-<seq>": every namespace of this topology starts with it and a '-'.
  const std::string& prefix() const { return prefix_; }
  const Host& host(const std::string& name) const;
  std::vector<std::string> hostNames() const;
  const std::string& switchNamespace() const { return switchNs_; }
  // How long the constructor took.
  Ms setupTime() const { return setupTime_; }

  // --- Commands (set-up and inspection) ---
  // Runs `/bin/sh -c shell` in the host's namespace ("switch" names the switch namespace),
  // capturing stdout and stderr; kills it after `timeout`.
  CommandResult run(const std::string& host, const std::string& shell, Ms timeout = Ms(5000)) const;
  CommandResult runArgv(const std::string& host, const std::vector<std::string>& argv,
                        Ms timeout = Ms(5000), const std::string& input = "") const;
  // Like run, but throws (with stderr) unless the command exits 0; returns stdout.
  std::string check(const std::string& host, const std::string& shell, Ms timeout = Ms(5000)) const;

  // Runs `fn` on a new thread that has entered the host's namespace ("switch" too), waits for
  // it and returns its result (rethrows its exception). Sockets opened in `fn` stay in that
  // namespace after the thread ends, so fn may return a file descriptor for the caller to use.
  template <class F>
  auto inHost(const std::string& host, F&& fn) const -> decltype(fn()) {
    using R = decltype(fn());
    if constexpr (std::is_void_v<R>) {
      runInNamespace(nsPath(host), [&] { fn(); });
    } else {
      std::optional<R> result;
      runInNamespace(nsPath(host), [&] { result.emplace(fn()); });
      return std::move(*result);
    }
  }
  // /run/netns/<namespace of host> ("switch" too).
  std::string nsPath(const std::string& host) const;

  // --- Processes ---
  // Starts argv[0] (a path, or a name looked up on PATH) with argv inside the host's namespace,
  // stdin from /dev/null, stdout and stderr appended to `logFile`. `env` entries ("K=V") are added
  // to the inherited environment. The child gets SIGKILL if the thread that spawned it ends (
  // PR_SET_PDEATHSIG), so spawn from a thread that outlives it (the test's main thread).
  pid_t spawn(const std::string& host, const std::vector<std::string>& argv,
              const std::string& logFile, const std::vector<std::string>& env = {});
  // Sends `sig` to a process spawned here and not yet reaped; false otherwise.
  bool kill(pid_t pid, int sig);
  bool stop(pid_t pid);  // SIGSTOP
  bool cont(pid_t pid);  // SIGCONT
  // Waits up to `timeout` for the process to exit and reaps it; nullopt: still running. A
  // process reaped before answers at once with its recorded status.
  std::optional<ExitStatus> waitExit(pid_t pid, Ms timeout);
  // Spawned, and not exited (a stopped process is running).
  bool running(pid_t pid);

  // --- Faults, all idempotent and undoable. ---
  // Enforced in the switch namespace (a bridge-family nftables table "qtb_fault" on the forward
  // hook, one rule per blocked ordered pair): a frame from `from` is never delivered to `to`,
  // whatever it carries (ARP, IPv4, IPv6, VIP traffic; broadcasts too). Dropping in the switch
  // rather than in the hosts keeps the drop invisible to packet sockets on the receiver (an
  // ingress hook runs after AF_PACKET taps), so the ARP prober sees what the client's kernel sees.
  void block(const std::string& from, const std::string& to);    // one way: from -> to
  void unblock(const std::string& from, const std::string& to);  // one way
  // Every host of `a` is cut from every host of `b`, both ways.
  void partition(const std::vector<std::string>& a, const std::vector<std::string>& b);
  // The host is cut from every other host, both ways.
  void isolate(const std::string& host);
  // Removes every block.
  void heal();
  bool blocked(const std::string& from, const std::string& to) const;
  // Sets the host's eth0 down / up. linkUp waits until the host's switch port forwards again.
  void linkDown(const std::string& host);
  void linkUp(const std::string& host);

  // Deletes the namespaces left by earlier runs of this harness ("qtb<pid>-<seq>-<name>") whose
  // <pid> no longer exists, SIGKILLing the processes still inside them first. Returns the names
  // deleted. Namespaces of live processes (this one included) are left alone.
  // Sweeps are serialised across processes by an exclusive lock on a file under /run; a test
  // that plants a stale namespace holds the lock while it does, so that no parallel sweep
  // deletes the namespace half-made.
  static std::vector<std::string> sweepStale();
  class SweepLock {
   public:
    SweepLock();
    ~SweepLock();
    SweepLock(const SweepLock&) = delete;
    SweepLock& operator=(const SweepLock&) = delete;

   private:
    int fd_;
  };

 private:
  static void runInNamespace(const std::string& path, const std::function<void()>& fn);
  void setUp();
  void tearDown() noexcept;
  void applyFaults();
  void waitForPorts(const std::vector<std::string>& hosts, Ms timeout) const;
  const std::string& nsOf(const std::string& host) const;

  TopologyOptions options_;
  std::string prefix_;
  std::string switchNs_;
  std::vector<std::string> created_;  // namespaces, in creation order
  std::map<std::string, Host> hosts_;
  std::vector<std::string> order_;  // host names as given
  std::set<std::pair<std::string, std::string>> blocked_;
  std::map<pid_t, std::optional<ExitStatus>> spawned_;  // value: once reaped
  Ms setupTime_{0};
};

// Reachability, with real sockets inside the namespaces. Each returns within `timeout`.
// ICMP echo from `from` to `dst` (IPv4 or IPv6 literal): true once a reply comes back. Sends one
// echo every 50 ms. False at once when there is no route.
bool ping(const Topology& topo, const std::string& from, const std::string& dst, Ms timeout);
// A TCP connection from `from` to a listener in `to` on to's IPv4 address completes.
bool tcpConnects(const Topology& topo, const std::string& from, const std::string& to, Ms timeout);
// A UDP datagram sent from `from` reaches a socket in `to` (one datagram every 20 ms): one-way.
bool udpDelivered(const Topology& topo, const std::string& from, const std::string& to, Ms timeout);

// CLOCK_MONOTONIC in nanoseconds: the time base of every record of this harness.
std::int64_t monoNs();

// Polls `pred` every `step` until it is true or `timeout` passes; returns its last value.
bool waitUntil(const std::function<bool()>& pred, Ms timeout, Ms step = Ms(2));

}  // namespace quorate::netns
