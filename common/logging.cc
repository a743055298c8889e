// Logging set-up: the level from the config file, the target (stderr, journal, syslog), and
// lines with structured fields.
#include "common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "common/logging_journal.h"

namespace quorate {

std::optional<LogTarget> logTargetFromName(std::string_view name) {
  if (name == "auto") return LogTarget::kAuto;
  if (name == "journal") return LogTarget::kJournal;
  if (name == "syslog") return LogTarget::kSyslog;
  if (name == "stderr") return LogTarget::kStderr;
  return std::nullopt;
}

bool stderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  unsigned long long device = 0, inode = 0;
  char tail = 0;
  if (std::sscanf(stream, "%llu:%llu%c", &device, &inode, &tail) != 2) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return st.st_dev == device && st.st_ino == inode;
}

LogTarget resolveLogTarget(LogTarget target) {
  if (target != LogTarget::kAuto) return target;
  return stderrIsJournal() ? LogTarget::kJournal : LogTarget::kStderr;
}

Status setupLogging(const std::string& name, const std::string& level, const std::string& target) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off")
    return Status::fail(0, "unknown log level \"" + level + "\"");
  const auto wanted = logTargetFromName(target);
  if (!wanted) return Status::fail(0, "unknown log target \"" + target + "\"");
  // The program, not the node: what `journalctl -t quorate-director` looks for.
  const std::string identifier = program_invocation_short_name;
  std::shared_ptr<spdlog::logger> logger;
  switch (resolveLogTarget(*wanted)) {
    case LogTarget::kJournal:
      logger =
          std::make_shared<spdlog::logger>(name, std::make_shared<JournalSink>(identifier, name));
      break;
    case LogTarget::kSyslog:
      // LOG_PID: several daemons on one host share the identifier.
      logger = std::make_shared<spdlog::logger>(
          name,
          std::make_shared<spdlog::sinks::syslog_sink_mt>(identifier, LOG_PID, LOG_DAEMON, false));
      break;
    default:
      logger = spdlog::stderr_color_mt(name);
      logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %n[%P] %^%l%$: %v");
      break;
  }
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  return Status::ok();
}

void logEvent(spdlog::level::level_enum level, const LogFields& fields, std::string_view text,
              LogAlways always) {
  spdlog::logger* logger = spdlog::default_logger_raw();
  if (logger == nullptr) return;
  if (always == LogAlways::kNo && !logger->should_log(level)) return;
  // Past the logger's level check on purpose: each sink formats and filters by its own level.
  const spdlog::details::log_msg msg(logger->name(), level,
                                     spdlog::string_view_t(text.data(), text.size()));
  for (const auto& sink : logger->sinks()) {
    try {
      if (!sink->should_log(level)) continue;
      if (auto* journal = dynamic_cast<JournalSink*>(sink.get())) {
        journal->logWithFields(msg, fields);
      } else {
        sink->log(msg);
      }
      if (level >= logger->flush_level()) sink->flush();
    } catch (const std::exception&) {
      // A sink that cannot write (a closed stderr) loses this line; the daemon goes on.
    }
  }
}

}  // namespace quorate
