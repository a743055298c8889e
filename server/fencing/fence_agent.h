// Fencing another node before claiming what it held: a configured command, or a standard fence
// agent (Debian's fence-agents: fence_ipmilan, fence_virsh, ...) driven by its stdin protocol,
// with a timeout per attempt and retries, on the io_context through ScriptRunner.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/yaml_config.h"
#include "server/script_runner.h"

namespace quorate::server::fencing {

// How to fence one node. Exactly one of `command` and `agent` is set.
//
// A command runs as given, with QUORATE_FENCE_TARGET (the node's name) and QUORATE_EPOCH (the
// epoch of the lease being claimed) added to its environment; exit 0 means fenced.
//
// An agent runs with no arguments (so it reads its options from stdin) and the same
// environment. Its stdin is the fence-agents protocol: one `key=value` line per option in config
// order, `action=off` unless the options name another action, `password=<the file's content>`
// when `passwordFile` is set, and a final newline. Exit 0 means fenced, anything else failed
// (fence-agents' convention: 1 generic error, 3 login denied, 5 timed out, 8 status unknown...).
// What the agent does with the password is its own affair: fence_ipmilan, for one, passes it to
// ipmitool as `-P <password>`, so it shows in that child's argv for the call's duration (its log
// line masks it as "-P [set]"). quorate keeps it out of the agent's own argv and environment.
struct FenceAction {
  std::vector<std::string> command;
  std::string agent;                                         // absolute path
  std::vector<std::pair<std::string, std::string>> options;  // without the password
  // Read at each run, trimmed of surrounding whitespace, sent as `password=` on stdin: never in
  // argv, the environment or the log. Empty: none.
  std::string passwordFile;
  std::chrono::milliseconds timeout{60000};  // per attempt; then the process group is killed
  int retries = 2;                           // attempts after the first failed one
  std::chrono::milliseconds retryDelay{1000};
  // Run as this user; empty: the director's script_user. The password is read by the director
  // and given on stdin, so the agent needs no access to the file: only an agent that needs
  // root's own files (fence_virsh with root's ssh key) asks for user: root.
  std::string user;

  bool isAgent() const { return !agent.empty(); }
};

// Parses a fence section:
//   command: [/usr/local/sbin/fence-peer, --hard]
// or
//   agent: /usr/sbin/fence_ipmilan
//   options: {ip: 198.18.0.10, username: admin, password_file: ipmi.pass, lanplus: 1}
// plus optional timeout_ms, retries, retry_delay_ms, user. Option names are [A-Za-z0-9_-]; values
// are scalars with no newline or other control character and no surrounding whitespace (the agents
// trim it); `password` is refused (use password_file, resolved against the config's directory
// and checked readable now); `action`, when given, must be off or reboot. Throws
// config::ConfigError naming the file, line and key (like the other config parsers).
FenceAction parseFenceAction(const config::Value& section);

// The stdin an agent gets for `action`, with `password` (empty: none). Fails when an option
// value or the password holds a newline (it would start another option).
Result<std::string> agentInput(const FenceAction& action, const std::string& password);

// One run of the action.
struct FenceAttempt {
  ScriptExit exit;                        // output not kept here; see FenceOutcome::output
  std::chrono::milliseconds duration{0};  // start to exit
  std::string error;  // set when the attempt could not run the action (password file unreadable)
};

struct FenceOutcome {
  bool ok = false;
  std::string target;
  std::uint64_t epoch = 0;
  std::vector<FenceAttempt> attempts;
  // The last attempt's stdout and stderr (the last kOutputTail bytes of its first 64 KiB), with
  // the password, should the program echo it, replaced by "[password]".
  std::string output;
  // "fenced node-b (epoch 7) after 2 attempts" / "fencing node-b (epoch 7) failed: 3 attempts:
  // exit 1 (120 ms), timed out after 2000 ms (2001 ms), ...".
  std::string toString() const;
};

// Runs a FenceAction on the io_context. Not thread-safe: use it on the io_context's thread.
class FenceRunner {
 public:
  static constexpr std::size_t kOutputTail = 4096;
  using Done = std::function<void(FenceOutcome)>;

  FenceRunner(boost::asio::io_context& io, ScriptRunner& scripts, FenceAction action);
  ~FenceRunner();  // kills what still runs; no `done` is called after

  // Fences `target` (a node name) for the lease of `epoch`: runs the action until an attempt
  // succeeds or 1 + retries attempts failed, retryDelay apart. `done` is called once, on the
  // io_context's thread, never from inside fence(). Never blocks. Several fences may run at once.
  void fence(const std::string& target, std::uint64_t epoch, Done done);

  // Fences under way.
  std::size_t running() const;

  const FenceAction& action() const { return action_; }

 private:
  struct Operation;
  void attempt(const std::shared_ptr<Operation>& op);
  void finish(const std::shared_ptr<Operation>& op, bool ok);

  boost::asio::io_context& io_;
  ScriptRunner& scripts_;
  FenceAction action_;
  std::vector<std::shared_ptr<Operation>> operations_;
};

}  // namespace quorate::server::fencing
