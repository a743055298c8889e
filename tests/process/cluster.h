// Harness of the process tests: an arbiter and two directors run as real processes on loopback.
#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "quorate/v1/quorate.grpc.pb.h"
#include "support/ports.h"
#include "support/temp_dir.h"

namespace quorate::proctest {

using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

inline const std::string kAlpha = "alpha";  // director 0
inline const std::string kBeta = "beta";    // director 1
inline const std::string kArbiter = "arbiter";

inline const std::string& otherDirector(const std::string& d) {
  return d == kAlpha ? kBeta : kAlpha;
}

// The entry for `id` in a Status reply's nodes (nullptr if missing).
const v1::NodeStatus* findNode(const v1::StatusReply& reply, const std::string& id);

// Milliseconds between two instants, for printing and comparing.
inline Ms msBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<Ms>(to - from);
}

// The lease timers written into every director's file (the defaults of lease::Timing,
// spelled out) and into the arbiter's (quarantine_ms).
struct Timers {
  Ms holderLease{1500};
  Ms acceptorLease{1700};
  Ms quarantine{1800};
  Ms renewInterval{500};
  int maxDriftPpm = 1000;

  // Unplanned failover (holder killed or frozen): the other director can win only when the
  // acceptors' leases lapse, at most acceptor_lease * (1 + rho) / (1 - rho) (1.7034 s) after the
  // last renewal they accepted, plus one round (a round trip and an fsync). Measured from the
  // kill that is at most about 1.75 s. The bound adds a renewal interval (a round that starts
  // just before the lapse and is refused) and 1 s for a loaded CI machine: 3.2 s.
  Ms failoverBound() const { return acceptorLease + renewInterval + Ms(1000); }
  // From the start of all three nodes to a holder: everyone is silent for the quarantine,
  // the first round may collide with the other director's, then as above.
  Ms startupBound() const { return quarantine + failoverBound(); }
};

struct ClusterOptions {
  std::optional<std::string> preferred;
  std::optional<Ms> preemptDelay;
  Timers timers;
  // A director configured with another secret than the cluster's (the arbiter has the right one).
  std::map<std::string, std::string> wrongSecret;

  ClusterOptions& prefer(const std::string& director) {
    preferred = director;
    return *this;
  }
  ClusterOptions& preemptAfter(Ms delay) {
    preemptDelay = delay;
    return *this;
  }
  ClusterOptions& withWrongSecret(const std::string& director, const std::string& secret) {
    wrongSecret[director] = secret;
    return *this;
  }
  // A director's config text passes through `edit` before it is written (a copied file with the
  // other's name, the directors in another order, another arbiter).
  std::map<std::string, std::function<std::string(const std::string&)>> editConfig;
  ClusterOptions& editing(const std::string& director,
                          std::function<std::string(const std::string&)> edit) {
    editConfig[director] = std::move(edit);
    return *this;
  }
  // The arbiter's config text passes through this before it is written (TLS keys).
  std::function<std::string(const std::string&)> editArbiterConfig;
};

// The outcome of a program run to its end by runProgram.
struct RunResult {
  int exitCode = -1;  // -1 when killed by a signal (or by the timeout)
  bool timedOut = false;
  std::string out;
  std::string err;
};

// Runs argv[0] with argv, stdin from /dev/null, and captures stdout and stderr. Kills it
// after `timeout`.
RunResult runProgram(const std::vector<std::string>& argv, Ms timeout);

// A daemon of the test's own (beside a Cluster's), started with its output appended to
// `logPath`; killed (SIGKILL) and reaped by the destructor.
class ExtraProcess {
 public:
  ExtraProcess(const std::vector<std::string>& argv, const std::string& logPath);
  ~ExtraProcess();
  ExtraProcess(const ExtraProcess&) = delete;
  ExtraProcess& operator=(const ExtraProcess&) = delete;

 private:
  pid_t pid_ = -1;
};

// Writes `text` to `path`, replacing it; throws std::runtime_error on failure.
void writeFile(const std::string& path, const std::string& text);
std::string readFile(const std::string& path);

// Prints a measured duration to stdout and records it as a test property (in the XML report).
void reportMs(const std::string& key, Ms value);

// The lease as one director reported it, and when the test saw that.
struct HolderView {
  std::string holder;
  std::uint64_t epoch = 0;
  Clock::time_point seenAt;
};

// One Status poll of one director.
struct Sample {
  Clock::time_point sent;      // before the call
  Clock::time_point received;  // after the reply; the director built it in between
  std::string node;
  bool ok = false;  // false: the call failed (node down, stopped, deadline)
  std::string role;
  std::string holder;
  std::uint64_t epoch = 0;
  std::int64_t leaseRemainingMs = 0;
};

// An arbiter and two directors (alpha, beta) of one cluster, with their own ports, config
// files, state dirs and logs under a fresh temporary directory. Nodes are started with
// fork/exec; the destructor kills (SIGKILL) every process it started, by pid. It removes the
// directory unless the test failed (then it prints the log paths and the end of each log) or
// QUORATE_PROCESS_KEEP is set in the environment.
class Cluster {
 public:
  explicit Cluster(const std::string& name, ClusterOptions options = {});
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Starts a node that is not running, with its config and state dir (kept across restarts).
  void start(const std::string& node);
  void startAll();  // arbiter, alpha, beta
  // SIGKILL, then reaps it.
  void kill(const std::string& node);
  // SIGTERM, then waits up to `timeout` for the exit. Returns the exit code (-1: killed by a
  // signal; nullopt: still running after `timeout`, then it is killed).
  std::optional<int> terminate(const std::string& node, Ms timeout);
  void signal(const std::string& node, int sig);  // any signal; the node is not reaped
  void pause(const std::string& node);            // SIGSTOP
  void resume(const std::string& node);           // SIGCONT
  void restart(const std::string& node);          // kill -9 and start again
  bool running(const std::string& node) const;
  // When the node was last started (before its fork).
  Clock::time_point startedAt(const std::string& node) const;

  // Rewrites a director's config with the cluster's secret (undoes wrongSecret); takes effect
  // at its next start.
  void fixSecret(const std::string& director);
  // Gives `node` these keys (the first signs) in key files of mode 0600, named by secret_file in
  // its config from now on; takes effect at its next start.
  void useKeys(const std::string& node, const std::vector<std::string>& keys);
  // Writes every config file again (an editConfig that needs the ports runs again).
  void rewriteConfigs() { writeConfigs(); }
  // The harness's own calls to `node` go over `credentials` from now on (a TLS cluster).
  void useCredentials(const std::string& node,
                      std::shared_ptr<grpc::ChannelCredentials> credentials);

  const std::string& clusterId() const { return clusterId_; }
  // The directors' view of who is who, as they send it (common/membership.h).
  std::string membership() const;
  // The key every node has unless useKeys() or wrongSecret says otherwise.
  const std::string& secret() const { return secret_; }
  const Timers& timers() const { return options_.timers; }
  std::string address(const std::string& node) const;  // 127.0.0.1:port
  // A director's operator API: unix:<its state dir>/director.sock.
  std::string operatorEndpoint(const std::string& director) const;
  std::string configPath(const std::string& node) const;
  std::string stateDir(const std::string& node) const;
  std::string logPath(const std::string& node) const;
  // A director's config as written without ClusterOptions::editConfig.
  std::string plainDirectorConfig(const std::string& self) const;
  std::string log(const std::string& node) const { return readFile(logPath(node)); }

  // Operator API of a director; short deadlines, nothing retried.
  std::optional<v1::StatusReply> status(const std::string& director, Ms deadline = Ms(300)) const;
  grpc::Status stepDown(const std::string& director, bool force = false,
                        v1::StepDownReply* reply = nullptr) const;
  // The peer protocol of any node, as a raw call.
  grpc::Status exchange(const std::string& node, const v1::ExchangeRequest& req,
                        v1::ExchangeReply* reply) const;
  std::unique_ptr<v1::Director::Stub> directorStub(const std::string& director) const;

  // The holder as every running director sees it: exactly one of them reports role "holder",
  // and every running director reports that holder with the same epoch. nullopt otherwise.
  std::optional<HolderView> agreedHolder() const;
  // Polls agreedHolder() every 10 ms for up to `timeout`.
  std::optional<HolderView> waitForHolder(Ms timeout) const;
  // Polls `director` until it reports itself as holder; returns when the test saw it.
  std::optional<HolderView> waitForSelfHolder(const std::string& director, Ms timeout) const;
  // Healthy: a holder everyone agrees on, and every running director has heard from every
  // other running node since that node's last start (so also after its quarantine, since
  // nodes are silent in quarantine).
  std::optional<HolderView> waitForHealthy(Ms timeout) const;
  // Healthy, and the same holder at the same epoch over three renewal intervals: when both
  // directors campaign at once the winner may meet the loser's stray grant at its first renewal
  // and step down once (core/lease/director_node.cc, onReject). For tests that then assert the
  // lease did not move.
  std::optional<HolderView> waitForSettled(Ms timeout) const;

 private:
  struct Node {
    std::string name;
    std::string binary;
    int port = 0;
    pid_t pid = -1;
    Clock::time_point startedAt{};
    std::shared_ptr<grpc::Channel> channel;
    std::shared_ptr<grpc::Channel> operatorChannel;  // directors: the operator socket
  };
  Node& node(const std::string& name);
  const Node& node(const std::string& name) const;
  void writeConfigs();
  std::string directorConfig(const std::string& self) const;  // edited, if the options say so

  std::string arbiterConfig() const;
  // `secret: KEY` for `node`, or its secret_file list after useKeys(); each line after `indent`.
  std::string secretLines(const std::string& node, const std::string& inlineKey,
                          const std::string& indent) const;
  bool healthy(const std::map<std::string, std::pair<Clock::time_point, v1::StatusReply>>& s) const;
  void dumpLogs() const;

  ClusterOptions options_;
  std::string clusterId_;
  std::string secret_;
  std::map<std::string, std::vector<std::string>> keyFiles_;  // node -> its key files (useKeys)
  testutil::TempDir tmp_;  // removed at the end unless a test failed or QUORATE_PROCESS_KEEP
  std::string dir_;
  std::array<Node, 3> nodes_;  // arbiter, alpha, beta
};

// Polls `pred` every 10 ms until it is true or `timeout` passes; returns its last value.
bool waitUntil(const std::function<bool()>& pred, Ms timeout);

// An observation window: polls `violation` every 10 ms for `duration` and returns the first
// violation it reports (nullopt: none in the whole window).
std::optional<std::string> observeFor(Ms duration,
                                      const std::function<std::optional<std::string>()>& violation);

// Polls both directors' Status continuously, one thread per director, and keeps every sample.
class Sampler {
 public:
  explicit Sampler(const Cluster& cluster, Ms period = Ms(10));
  ~Sampler() { stop(); }
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  void stop();
  std::vector<Sample> samples() const;
  // Waits until each director has answered `count` polls (so a fault injected next is seen
  // from both sides, before and after).
  bool waitForAnswers(std::size_t count, Ms timeout) const;

 private:
  void run(const std::string& director);

  const Cluster& cluster_;
  Ms period_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<Sample> samples_;
  std::vector<std::thread> threads_;
};

// Checks of a sampler's record. Each returns the violations found, one text each; empty: none.
//
// A holding sample (ok, role "holder") proves that its director held the lease at the instant
// the reply was built, somewhere in [sent, received]. An epoch is one continuous tenure of one
// director (a lost lease is never renewed under the same epoch), so a tenure's samples span
//   [earliest received, latest end]
// where it certainly held, with end = sent + lease_remaining_ms when leases run to their end
// (nobody releases early: crashes, freezes and restarts only), or end = sent when a holder may
// release early (step-down, SIGTERM, preemption). Checked:
//   - no epoch is held by two different directors;
//   - for any two tenures with epochs e1 < e2, the span of e1 ends no later than the span of e2
//     starts: tenures never overlap in time (at most one holder at any instant) and the epochs
//     of successive tenures only grow.
std::vector<std::string> checkTenures(const std::vector<Sample>& samples, bool releasesPossible);

// Every successful sample of `director` reports role "holder" with `epoch`.
std::vector<std::string> checkHeldThroughout(const std::vector<Sample>& samples,
                                             const std::string& director, std::uint64_t epoch);

// The samples sent in [from, to).
std::vector<Sample> between(const std::vector<Sample>& samples, Clock::time_point from,
                            Clock::time_point to);
// How many of `director`'s samples succeeded.
std::size_t okCount(const std::vector<Sample>& samples, const std::string& director);
// The tenures seen, one line each ("epoch 3 alpha: 0..5123 ms"), times from the first sample.
std::string describeTenures(const std::vector<Sample>& samples, bool releasesPossible);
// The first few violations, one per line, and how many there were.
std::string summary(const std::vector<std::string>& violations);

// Streams WatchStatus of one director on a thread and keeps every update with its arrival time.
class StatusWatch {
 public:
  StatusWatch(const Cluster& cluster, const std::string& director);
  ~StatusWatch();
  StatusWatch(const StatusWatch&) = delete;
  StatusWatch& operator=(const StatusWatch&) = delete;

  // Waits up to `timeout` for an update that satisfies `pred`; returns its arrival time.
  std::optional<Clock::time_point> waitFor(const std::function<bool(const v1::StatusReply&)>& pred,
                                           Ms timeout);

 private:
  std::unique_ptr<v1::Director::Stub> stub_;
  grpc::ClientContext ctx_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<Clock::time_point, v1::StatusReply>> updates_;
  bool ended_ = false;
  std::thread thread_;
};

}  // namespace quorate::proctest
