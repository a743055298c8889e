// spdlog set-up shared by the daemons: where the lines go (stderr, the journal, syslog) and
// lines that carry structured fields about a lease.
#pragma once

#include <spdlog/common.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace quorate {

// Where log lines go (config key log_target).
enum class LogTarget {
  kAuto,     // the journal when stderr is connected to it (stderrIsJournal()), else stderr
  kJournal,  // sd_journal_send: the text plus PRIORITY, SYSLOG_IDENTIFIER and QUORATE_* fields
  kSyslog,   // openlog/syslog, facility LOG_DAEMON
  kStderr,   // timestamped lines on stderr
};

// The target named `name` ("auto", "journal", "syslog", "stderr"); nullopt for anything else.
std::optional<LogTarget> logTargetFromName(std::string_view name);
// Whether stderr is a journal stream: $JOURNAL_STREAM ("<device>:<inode>", set by systemd) names
// the file stderr is (systemd.exec(5)). A stderr redirected elsewhere by the unit or a shell no
// longer matches.
bool stderrIsJournal();
// What kAuto resolves to in this process: kJournal or kStderr.
LogTarget resolveLogTarget(LogTarget target);

// Configures the default logger ("name", e.g. the node, as the logger name; the program's name
// as the syslog/journal identifier). Returns an error for an unknown level or target name.
Status setupLogging(const std::string& name, const std::string& level,
                    const std::string& target = "stderr");

// Structured fields of a line about a lease; empty ones are not sent. The journal gets them as
// QUORATE_CLUSTER, QUORATE_LEASE, QUORATE_EPOCH, QUORATE_ROLE and QUORATE_REASON (so that
// `journalctl QUORATE_LEASE=web` finds a lease's history); other targets see only the text.
struct LogFields {
  std::string cluster;
  std::string lease;
  std::optional<std::uint64_t> epoch;
  std::string role;
  std::string reason;
};

// Whether a line passes the configured log_level or is written whatever it says.
enum class LogAlways : bool { kNo = false, kYes = true };

// Logs `text` at `level` through the default logger's sinks, with `fields` for the journal.
// With LogAlways::kYes the line is written even when log_level is above `level` (a lease's role
// changes: one line each, always). Never throws.
void logEvent(spdlog::level::level_enum level, const LogFields& fields, std::string_view text,
              LogAlways always = LogAlways::kNo);

}  // namespace quorate
