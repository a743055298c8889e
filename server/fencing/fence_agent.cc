// Fence actions: the config section, the agents' stdin, and the retry loop. The password is read
// from its file at each attempt (so a rotated secret is picked up) and only ever written to the
// agent's stdin pipe.
#include "server/fencing/fence_agent.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <optional>
#include <set>

namespace quorate::server::fencing {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

// Option names as the agents spell them: getopt long names with '-' or '_'.
bool isOptionName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string trim(const std::string& s) {
  std::size_t b = 0;
  std::size_t e = s.size();
  while (b < e && isSpace(s[b])) ++b;
  while (e > b && isSpace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// The value of one option: a scalar the agent reads back unchanged.
std::string optionValue(const config::Value& v) {
  if (!v.node().IsScalar()) v.fail("expected a single value (a string or number)");
  const std::string& s = v.node().Scalar();
  if (s.find('\n') != std::string::npos || s.find('\r') != std::string::npos) {
    v.fail("must not contain a newline (each option is one line on the agent's stdin)");
  }
  if (s.empty()) v.fail("must not be empty");
  if (isSpace(s.front()) || isSpace(s.back())) {
    v.fail("must not begin or end with whitespace (the agent would strip it)");
  }
  return v.asString();  // refuses other control characters
}

// The password file's content for the agent, or why it cannot be used.
Result<std::string> readPassword(const std::string& path) {
  std::string error;
  const auto content = config::readFile(path, config::kMaxSecretBytes, error);
  if (!content) return Status::fail(0, "cannot read password file " + path + ": " + error);
  std::string password = trim(*content);
  if (password.empty()) return Status::fail(0, "password file " + path + " is empty");
  if (password.find_first_of("\r\n") != std::string::npos) {
    return Status::fail(0, "password file " + path + " holds more than one line");
  }
  return password;
}

// `text` with every occurrence of `secret` replaced: an agent that echoes its input (a verbose
// one, or a wrapper script) must not carry the password into our log or status.
std::string redact(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (std::size_t at = text.find(secret); at != std::string::npos;
       at = text.find(secret, at + 10)) {
    text.replace(at, secret.size(), "[password]");
  }
  return text;
}

std::string tail(const std::string& s, std::size_t max) {
  return s.size() <= max ? s : s.substr(s.size() - max);
}

}  // namespace

FenceAction parseFenceAction(const config::Value& section) {
  const config::Map m = section.asMap(
      {"command", "agent", "options", "timeout_ms", "retries", "retry_delay_ms", "user"});
  FenceAction a;
  // Checked against the host's users with the other programs (server/privileges.cc).
  if (const auto u = m.optional("user")) a.user = u->asId();
  const auto command = m.optional("command");
  const auto agent = m.optional("agent");
  if (command && agent) {
    agent->fail("give either command or agent, not both (command is at line " +
                std::to_string(command->line()) + ")");
  }
  if (!command && !agent) {
    section.fail(
        "missing required key: command (a program and its arguments) or agent (a fence "
        "agent such as /usr/sbin/fence_ipmilan)");
  }
  if (command) {
    a.command = command->asCommand();
    if (const auto o = m.optional("options")) {
      o->fail("options are for a fence agent (agent:); a command takes its arguments in command");
    }
  } else {
    a.agent = agent->asString();
    if (a.agent.front() != '/') {
      agent->fail("expected an absolute program path, got " + config::quote(a.agent));
    }
    if (const auto o = m.optional("options")) {
      if (!o->node().IsMap()) o->fail("expected a mapping of agent options (ip: ..., plug: ...)");
      std::set<std::string> seen;
      for (const auto& pair : o->node()) {
        const YAML::Node key = pair.first;
        const YAML::Node value = pair.second;
        const int line = key.Mark().line >= 0 ? key.Mark().line + 1 : o->line();
        const std::string name = key.IsScalar() ? key.Scalar() : std::string();
        const config::Value v(section.document(), value, o->key() + "." + name, line);
        if (!isOptionName(name)) {
          o->fail("option names are made of letters, digits, '_' and '-', got " +
                  config::quote(name));
        }
        if (!seen.insert(name).second) v.fail("given twice");
        if (name == "password" || name == "passwd") {
          v.fail(
              "a password is not written in the config: put it in a file and give password_file");
        }
        if (name == "password_file") {
          a.passwordFile = v.asPath();
          if (const auto p = readPassword(a.passwordFile); !p) v.fail(p.status().what());
          continue;
        }
        std::string text = optionValue(v);
        // Anything else (on, status, list, monitor) would report success without fencing.
        if (name == "action" && text != "off" && text != "reboot") {
          v.fail("a fence action must be off or reboot, got " + config::quote(text));
        }
        a.options.emplace_back(name, std::move(text));
      }
    }
  }
  if (const auto x = m.optional("timeout_ms")) a.timeout = x->asMillis(1);
  if (const auto x = m.optional("retries"))
    a.retries = static_cast<int>(x->asInt(0, 100, "retries"));
  if (const auto x = m.optional("retry_delay_ms")) a.retryDelay = x->asMillis(0);
  return a;
}

Result<std::string> agentInput(const FenceAction& action, const std::string& password) {
  std::string in;
  bool hasAction = false;
  for (const auto& [key, value] : action.options) {
    if (key.find_first_of("=\r\n") != std::string::npos ||
        value.find_first_of("\r\n") != std::string::npos) {
      return Status::fail(0, "fence option " + key + " holds a newline");
    }
    hasAction = hasAction || key == "action";
    in += key + "=" + value + "\n";
  }
  if (!hasAction) in += "action=off\n";
  if (!password.empty()) {
    if (password.find_first_of("\r\n") != std::string::npos) {
      return Status::fail(0, "the fence password holds a newline");
    }
    in += "password=" + password + "\n";
  }
  return in;
}

std::string FenceOutcome::toString() const {
  const std::string who = target + " (epoch " + std::to_string(epoch) + ")";
  const std::string n =
      std::to_string(attempts.size()) + (attempts.size() == 1 ? " attempt" : " attempts");
  if (ok) return "fenced " + who + " after " + n;
  std::string s = "fencing " + who + " failed: " + n;
  const char* sep = ": ";
  for (const auto& a : attempts) {
    s += sep;
    s += a.error.empty() ? a.exit.toString() : a.error;
    s += " (" + std::to_string(a.duration.count()) + " ms)";
    sep = ", ";
  }
  return s;
}

// One fence() call: its attempts so far, the running program or the retry timer.
struct FenceRunner::Operation {
  FenceOutcome outcome;
  Done done;
  std::unique_ptr<ScriptRunner::Handle> run;
  std::optional<asio::steady_timer> retryTimer;
  std::chrono::steady_clock::time_point started;
};

FenceRunner::FenceRunner(asio::io_context& io, ScriptRunner& scripts, FenceAction action)
    : io_(io), scripts_(scripts), action_(std::move(action)) {}

FenceRunner::~FenceRunner() {
  for (auto& op : operations_) {
    op->done = nullptr;
    op->run.reset();  // kills its process group
    op->retryTimer.reset();
  }
}

std::size_t FenceRunner::running() const { return operations_.size(); }

void FenceRunner::fence(const std::string& target, std::uint64_t epoch, Done done) {
  auto op = std::make_shared<Operation>();
  op->outcome.target = target;
  op->outcome.epoch = epoch;
  op->done = std::move(done);
  operations_.push_back(op);
  spdlog::info("fence: fencing {} for epoch {} with {}", target, epoch,
               action_.isAgent() ? action_.agent : action_.command.front());
  // Never from inside fence(): the first attempt starts from the io_context.
  asio::post(io_, [this, weak = std::weak_ptr<Operation>(op)] {
    if (auto o = weak.lock()) attempt(o);
  });
}

void FenceRunner::attempt(const std::shared_ptr<Operation>& op) {
  const int number = static_cast<int>(op->outcome.attempts.size()) + 1;
  ScriptRun run;
  run.user = action_.user;  // empty: script_user
  run.timeout = action_.timeout;
  run.captureBytes = 64 * 1024;
  run.env = {"QUORATE_FENCE_TARGET=" + op->outcome.target,
             "QUORATE_EPOCH=" + std::to_string(op->outcome.epoch)};
  std::string error;
  std::string password;
  if (action_.isAgent()) {
    run.argv = {action_.agent};  // no arguments: the agent reads its options from stdin
    if (!action_.passwordFile.empty()) {
      auto p = readPassword(action_.passwordFile);
      if (p) {
        password = std::move(p).value();
      } else {
        error = p.status().what();
      }
    }
    if (error.empty()) {
      auto in = agentInput(action_, password);
      if (in) {
        run.input = std::move(in).value();
      } else {
        error = in.status().what();
      }
    }
  } else {
    run.argv = action_.command;
  }
  op->started = std::chrono::steady_clock::now();

  auto onExit = [this, weak = std::weak_ptr<Operation>(op), number, password](ScriptExit exit,
                                                                              std::string why) {
    auto o = weak.lock();
    if (!o) return;
    FenceAttempt a;
    a.duration =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - o->started);
    a.error = std::move(why);
    o->outcome.output = tail(redact(std::move(exit.output), password), kOutputTail);
    exit.output.clear();
    a.exit = std::move(exit);
    const bool ok = a.error.empty() && a.exit.ok();
    const int attempts = 1 + action_.retries;
    if (ok) {
      spdlog::info("fence: {}: attempt {}/{} succeeded in {} ms", o->outcome.target, number,
                   attempts, a.duration.count());
    } else {
      spdlog::warn("fence: {}: attempt {}/{} failed: {} ({} ms){}{}", o->outcome.target, number,
                   attempts, a.error.empty() ? a.exit.toString() : a.error, a.duration.count(),
                   o->outcome.output.empty() ? "" : "; output: ",
                   config::escapeControl(tail(o->outcome.output, 512)));
    }
    o->outcome.attempts.push_back(std::move(a));
    if (ok || number >= attempts) {
      finish(o, ok);
      return;
    }
    o->run.reset();
    o->retryTimer.emplace(io_, action_.retryDelay);
    o->retryTimer->async_wait([this, weak](const boost::system::error_code& ec) {
      auto locked = weak.lock();
      if (ec || !locked) return;
      attempt(locked);
    });
  };

  if (!error.empty()) {
    // Counted as a failed attempt: the file may be fixed before the next one.
    asio::post(io_, [onExit, error] {
      ScriptExit none;
      none.error = error;
      onExit(std::move(none), error);
    });
    return;
  }
  op->run = scripts_.start(run, [onExit](ScriptExit exit) { onExit(std::move(exit), {}); });
}

void FenceRunner::finish(const std::shared_ptr<Operation>& op, bool ok) {
  op->outcome.ok = ok;
  if (ok) {
    spdlog::info("fence: {}", op->outcome.toString());
  } else {
    spdlog::error("fence: {}", op->outcome.toString());
  }
  std::erase(operations_, op);
  auto done = std::move(op->done);
  op->done = nullptr;
  // `op` (kept alive by the caller's reference) still holds the handle whose callback this is;
  // it is released when the last reference goes, after the callback returns.
  if (done) done(std::move(op->outcome));
}

}  // namespace quorate::server::fencing
