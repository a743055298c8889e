// One attempt of one health check against one real server, asynchronous on Boost.Asio with a
// single deadline. The timing (interval, retries, rise/fall) lives above, in checker.h.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "server/check/spec.h"

namespace quorate::server {
class ScriptRunner;  // server/script_runner.h
}

namespace quorate::server::check {

// How an attempt ended. `reason` is short and names the cause for the log and Status:
// "connected", "status 200", "banner 220", "answer of 1 record", "exit 0" on success;
// "timeout", "connection refused", "connection reset", "status 500", "digest mismatch",
// "TLS handshake: certificate verify failed", "exit 1", "killed by signal 9" on failure.
struct Outcome {
  bool ok = false;
  std::string reason;
  std::optional<int> weight;  // misc_dynamic: the weight to use while up (exit code - 2)
};

class Probe {
 public:
  using Done = std::function<void(Outcome)>;
  // Destroying a probe abandons an attempt in flight: its `done` is then never called.
  virtual ~Probe() = default;
  // Starts one attempt, which ends within the spec's timeout (the deadline covers everything:
  // resolve, connect, TLS, request, reply, a script's run). `done` runs exactly once, on the
  // io_context's thread, never from inside start(). One attempt at a time.
  virtual void start(Done done) = 0;
};

// What probes share on one io_context: the TLS contexts (one SSL_CTX for many checks) and the
// script runner.
class ProbeContext {
 public:
  ProbeContext(boost::asio::io_context& io, ScriptRunner& scripts);
  ~ProbeContext();
  boost::asio::io_context& io() { return io_; }
  ScriptRunner& scripts() { return scripts_; }
  // Opaque cache of TLS client contexts keyed by (verify, caFile); see probe.cc.
  struct Tls;
  Tls& tls() { return *tls_; }
  // Forgets the TLS contexts: the next attempts make them again, reading their CA files anew
  // (a reload's way to pick up a rotated CA bundle). Attempts in flight keep theirs.
  void forgetTlsContexts();

 private:
  boost::asio::io_context& io_;
  ScriptRunner& scripts_;
  std::unique_ptr<Tls> tls_;
};

// The probe for `spec` against `target` (unused by scripts). Never fails: a problem found at
// run time (e.g. an unknown user) is the outcome of each attempt.
std::unique_ptr<Probe> makeProbe(const CheckSpec& spec, const Target& target, ProbeContext& ctx);

}  // namespace quorate::server::check
