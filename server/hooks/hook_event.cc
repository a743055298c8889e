// keepalived-compatible renderings of a HookEvent: argv, environment, notify_fifo line.
#include "server/hooks/hook_event.h"

#include <cstdio>

namespace quorate::server::hooks {

std::string_view keepalivedState(HookKind kind) {
  switch (kind) {
    case HookKind::kBecameHolder:
    case HookKind::kPreClaim:
      return "MASTER";
    case HookKind::kBecameStandby:
    case HookKind::kPreRelease:
      return "BACKUP";
    case HookKind::kFault:
    case HookKind::kQuorumLost:
      return "FAULT";
    case HookKind::kStopping:
      return "STOP";
  }
  return "FAULT";  // an out-of-range value: the cautious state
}

std::string_view kindName(HookKind kind) {
  switch (kind) {
    case HookKind::kBecameHolder:
      return "became-holder";
    case HookKind::kBecameStandby:
      return "became-standby";
    case HookKind::kFault:
      return "fault";
    case HookKind::kStopping:
      return "stopping";
    case HookKind::kQuorumLost:
      return "quorum-lost";
    case HookKind::kPreClaim:
      return "pre-claim";
    case HookKind::kPreRelease:
      return "pre-release";
  }
  return "fault";
}

namespace {

std::string escape(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    // A C1 control in UTF-8 (U+0080..U+009F, 0xC2 then 0x80..0x9F): terminals act on it (CSI).
    const bool c1 = u == 0xC2 && i + 1 < text.size() &&
                    (static_cast<unsigned char>(text[i + 1]) & 0xE0) == 0x80;
    if (c1) {
      char buf[7];
      std::snprintf(buf, sizeof buf, "%%C2%%%02X", static_cast<unsigned char>(text[++i]));
      out += buf;
    } else if (u < 0x20 || u == 0x7f || c == '%' || c == '\\' || (quote && c == '"')) {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string_view scope(const HookEvent& event) { return event.syncGroup ? "GROUP" : "INSTANCE"; }
const std::string& scopeName(const HookEvent& event) {
  return event.syncGroup ? *event.syncGroup : event.lease;
}
// keepalived gives a sync group's notify (script and FIFO) priority 0: a group has none of its own.
// QUORATE_PRIORITY still carries the lease's.
int keepalivedPriority(const HookEvent& event) { return event.syncGroup ? 0 : event.priority; }

}  // namespace

std::string escapeControl(std::string_view text) { return escape(text, false); }
std::string escapeQuoted(std::string_view text) { return escape(text, true); }

std::vector<std::string> notifyArgv(const std::vector<std::string>& program,
                                    const HookEvent& event) {
  std::vector<std::string> argv = program;
  argv.emplace_back(scope(event));
  argv.push_back(escapeControl(scopeName(event)));
  argv.emplace_back(keepalivedState(event.kind));
  argv.push_back(std::to_string(keepalivedPriority(event)));
  return argv;
}

std::vector<std::string> notifyEnvironment(const HookEvent& event) {
  return {
      "QUORATE_LEASE=" + escapeControl(event.lease),
      "QUORATE_GROUP=" + (event.syncGroup ? escapeControl(*event.syncGroup) : std::string()),
      "QUORATE_EVENT=" + std::string(kindName(event.kind)),
      "QUORATE_STATE=" + std::string(keepalivedState(event.kind)),
      "QUORATE_EPOCH=" + std::to_string(event.epoch),
      "QUORATE_PREVIOUS_HOLDER=" + escapeControl(event.previousHolder),
      "QUORATE_REASON=" + escapeControl(event.reason),
      "QUORATE_PRIORITY=" + std::to_string(event.priority),
  };
}

std::string notifyFifoLine(const HookEvent& event) {
  std::string line(scope(event));
  line += " \"";
  line += escapeQuoted(scopeName(event));
  line += "\" ";
  line += keepalivedState(event.kind);
  line += ' ';
  line += std::to_string(keepalivedPriority(event));
  line += '\n';
  return line;
}

}  // namespace quorate::server::hooks
