// The health checks of every real server, run on one io_context: each check's probe is
// started by its Schedule (interval, retries, rise/fall, warm-up spread); a real server is
// alive while all its checks are up. Verdicts go to a callback; notify_up / notify_down
// programs run through the ScriptRunner. A new configuration is applied by difference: a check
// that did not change keeps its state and timing (keepalived's compare/migrate on reload).
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "server/check/probe.h"
#include "server/check/targets.h"
#include "server/script_runner.h"

namespace quorate::server::check {

// A real server's health as its checks see it.
struct Verdict {
  ServerKey server;
  bool alive = true;
  std::optional<std::int32_t> weight;  // a dynamic script check's weight; unset: the configured
  // The check that decided and its outcome: "http check: status 500", "all 2 checks pass".
  std::string reason;
  bool operator==(const Verdict&) const = default;
};

class HealthChecks {
 public:
  using OnVerdict = std::function<void(const Verdict&)>;
  // Everything runs on `io`'s thread: construct, apply, stop and destroy there too.
  HealthChecks(boost::asio::io_context& io, ScriptRunner& scripts, OnVerdict onVerdict,
               std::uint64_t seed);
  ~HealthChecks();
  HealthChecks(const HealthChecks&) = delete;
  HealthChecks& operator=(const HealthChecks&) = delete;

  // Runs the checks of `servers` from now on (a real server without checks is not checked). A real
  // server with the same key as before keeps the state of each check whose spec and target did not
  // change; new checks start up (down if alpha), spread over their warm-up. Returns the verdict of
  // every checked real server as it stands now, in the order given; later changes go to onVerdict.
  std::vector<Verdict> apply(const std::vector<CheckedServer>& servers);
  // Stops every check and notify program. Idempotent.
  void stop();

  std::size_t checkCount() const;
  std::uint64_t attempts() const { return attempts_; }  // probes started so far
  // Per checked real server, for the metrics: the verdict, the last probe's duration (the
  // slowest of its checks' last probes) and the verdict's changes, kept across reloads.
  struct ServerStats {
    ServerKey server;
    bool alive = true;
    std::optional<std::chrono::nanoseconds> lastLatency;  // none before a probe has ended
    std::uint64_t wentUp = 0, wentDown = 0;
  };
  std::vector<ServerStats> stats() const;

  struct RealServer;
  struct Runner;

 private:
  using Key = ServerKey;
  void startRunner(const std::shared_ptr<Runner>& r, std::chrono::milliseconds delay);
  void attempt(const std::shared_ptr<Runner>& r);
  void onOutcome(const std::shared_ptr<Runner>& r, Outcome outcome);
  Verdict verdictOf(const RealServer& rs) const;
  void report(RealServer& rs, const std::string& why);
  // Queues the notify program of the transition to `v`; each real server's run one at a time,
  // in the order of its transitions (a quick down-then-up must not reach the program reversed).
  void notify(const RealServer& rs, const Verdict& v);
  void startNotify(const Key& key);

  boost::asio::io_context& io_;
  ScriptRunner& scripts_;
  OnVerdict onVerdict_;
  std::mt19937_64 random_;
  ProbeContext probes_;
  std::map<Key, std::unique_ptr<RealServer>> servers_;
  struct Notifier {
    std::deque<std::pair<ScriptRun, std::string>> queue;  // the run, and its name for the log
    std::unique_ptr<ScriptRunner::Handle> running;
  };
  std::map<Key, Notifier> notifiers_;
  std::uint64_t attempts_ = 0;
};

}  // namespace quorate::server::check
