// Parsing of the `hooks:` settings.
#include "server/hooks/hooks_config.h"

#include <pwd.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <vector>

namespace quorate::server::hooks {
namespace {

using config::Map;
using config::Value;

constexpr std::int64_t kMaxHookTimeoutMs = 3'600'000;

bool userExists(const std::string& user) {
  const long hint = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(hint > 0 ? static_cast<std::size_t>(hint) : 16384);
  struct passwd pw {};
  struct passwd* found = nullptr;
  int rc = 0;
  while ((rc = ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE) {
    buf.resize(buf.size() * 2);
  }
  // A lookup that failed for another reason (NSS down) is not taken as "no such user".
  return found != nullptr || (rc != 0 && rc != ENOENT && rc != ESRCH);
}

HookCommand parseCommand(const Value& v, bool keepalivedArgs) {
  HookCommand c;
  c.keepalivedArgs = keepalivedArgs;
  if (v.node().IsScalar()) {
    std::string error;
    const auto words = splitWords(v.asString(), error);
    if (!words) v.fail(error);
    if (words->empty()) v.fail("expected a program");
    c.program = *words;
  } else {
    const Map m = v.asMap({"command", "shell", "timeout_ms", "user"});
    const auto command = m.optional("command");
    const auto shell = m.optional("shell");
    if (command && shell) v.fail("give either command or shell, not both");
    if (command) {
      c.program = command->asCommand();
    } else if (shell) {
      // A shell only when asked: the text is run by /bin/sh -c, QUORATE_* in its environment.
      // The word after the text is the shell's $0, so keepalived's arguments are $1..$4.
      c.program = {"/bin/sh", "-c", shell->asString(), "quorate-hook"};
    } else {
      v.fail("expected command: [\"/program\", ...] or shell: \"...\"");
    }
    if (const auto t = m.optional("timeout_ms")) c.timeout = t->asMillis(1, kMaxHookTimeoutMs);
    if (const auto u = m.optional("user")) {
      c.user = u->asId();
      // Checked now, not at each run: an unknown user fails every run (a pre-claim hook every
      // claim, on both directors alike).
      if (!userExists(c.user)) {
        u->fail("no user " + config::quote(c.user) + " on this host (the hook runs as it)");
      }
    }
  }
  if (c.program[0].empty() || c.program[0][0] != '/') {
    v.fail("expected an absolute program path (it runs without a shell), got " +
           config::quote(c.program[0]));
  }
  return c;
}

std::vector<HookCommand> parseCommands(const Value& v, bool keepalivedArgs) {
  std::vector<HookCommand> out;
  if (v.node().IsSequence()) {
    for (const Value& item : v.asList()) out.push_back(parseCommand(item, keepalivedArgs));
    if (out.empty()) v.fail("expected at least one command (or leave the key out)");
  } else {
    out.push_back(parseCommand(v, keepalivedArgs));
  }
  return out;
}

}  // namespace

std::chrono::milliseconds HooksConfig::budget(const std::vector<HookCommand>& commands) {
  std::chrono::milliseconds total{0};
  for (const auto& c : commands) total += c.timeout;
  return total;
}

std::optional<std::vector<std::string>> splitWords(const std::string& line, std::string& error) {
  std::vector<std::string> words;
  std::string word;
  bool inWord = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (ch == '\'' || ch == '"') {
      const std::size_t close = line.find(ch, i + 1);
      if (close == std::string::npos) {
        error = std::string("unclosed ") + (ch == '"' ? "double" : "single") + " quote";
        return std::nullopt;
      }
      word.append(line, i + 1, close - i - 1);
      inWord = true;
      i = close;
    } else if (std::isspace(static_cast<unsigned char>(ch))) {
      if (inWord) words.push_back(std::move(word));
      word.clear();
      inWord = false;
    } else {
      word.push_back(ch);
      inWord = true;
    }
  }
  if (inWord) words.push_back(std::move(word));
  return words;
}

HooksConfig parseHooks(const Value& v, const HooksConfig& defaults) {
  const Map m = v.asMap({"notify", "notify_master", "notify_backup", "notify_fault", "notify_stop",
                         "on_quorum_loss", "pre_claim", "pre_release", "notify_fifo"});
  HooksConfig h = defaults;
  auto take = [&](std::string_view key, std::vector<HookCommand>& into, bool keepalivedArgs) {
    if (const auto x = m.optional(key)) into = parseCommands(*x, keepalivedArgs);
  };
  take("notify", h.notify, true);
  take("notify_master", h.notifyMaster, false);
  take("notify_backup", h.notifyBackup, false);
  take("notify_fault", h.notifyFault, false);
  take("notify_stop", h.notifyStop, false);
  take("on_quorum_loss", h.onQuorumLoss, false);
  take("pre_claim", h.preClaim, false);
  take("pre_release", h.preRelease, false);
  if (const auto f = m.optional("notify_fifo")) h.notifyFifo = f->asPath();
  return h;
}

}  // namespace quorate::server::hooks
