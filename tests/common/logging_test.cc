// Log targets: the journal-stream check, lines that pass any log_level, and the journal sink's
// fields and priorities.
#include "common/logging.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "common/logging_journal.h"

namespace quorate {
namespace {

// Points the default logger at a string stream for one test, at `level`.
class CapturedLog {
 public:
  explicit CapturedLog(spdlog::level::level_enum level) : old_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    sink->set_pattern("%l: %v");
    auto logger = std::make_shared<spdlog::logger>("test", sink);
    logger->set_level(level);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(old_); }
  std::string text() const { return out_.str(); }

 private:
  std::shared_ptr<spdlog::logger> old_;
  std::ostringstream out_;
};

TEST(Logging, TargetNames) {
  EXPECT_EQ(logTargetFromName("auto"), LogTarget::kAuto);
  EXPECT_EQ(logTargetFromName("journal"), LogTarget::kJournal);
  EXPECT_EQ(logTargetFromName("syslog"), LogTarget::kSyslog);
  EXPECT_EQ(logTargetFromName("stderr"), LogTarget::kStderr);
  EXPECT_FALSE(logTargetFromName("journald"));
  EXPECT_FALSE(setupLogging("x", "info", "kmsg").isOk());
}

TEST(Logging, StderrIsTheJournalOnlyWhenJournalStreamNamesIt) {
  const char* old = std::getenv("JOURNAL_STREAM");
  const std::string saved = old ? old : "";
  struct stat st {};
  ASSERT_EQ(::fstat(STDERR_FILENO, &st), 0);
  const std::string mine = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  ::setenv("JOURNAL_STREAM", mine.c_str(), 1);
  EXPECT_TRUE(stderrIsJournal());
  EXPECT_EQ(resolveLogTarget(LogTarget::kAuto), LogTarget::kJournal);
  EXPECT_EQ(resolveLogTarget(LogTarget::kStderr), LogTarget::kStderr);
  // Another file (stderr redirected by a shell in the unit, say) is not the journal.
  const std::string other = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
  ::setenv("JOURNAL_STREAM", other.c_str(), 1);
  EXPECT_FALSE(stderrIsJournal());
  EXPECT_EQ(resolveLogTarget(LogTarget::kAuto), LogTarget::kStderr);
  ::setenv("JOURNAL_STREAM", (mine + "x").c_str(), 1);
  EXPECT_FALSE(stderrIsJournal());
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_FALSE(stderrIsJournal());
  if (old) ::setenv("JOURNAL_STREAM", saved.c_str(), 1);
}

TEST(Logging, AnAlwaysLineIsWrittenWhateverTheLevel) {
  CapturedLog log(spdlog::level::err);
  const LogFields fields{"c1", "web", 7, "holder", "won"};
  logEvent(spdlog::level::info, fields, "filtered line");
  logEvent(spdlog::level::info, fields, "role line", LogAlways::kYes);
  logEvent(spdlog::level::err, fields, "error line");
  spdlog::info("plain info line");
  EXPECT_EQ(log.text(), "info: role line\nerror: error line\n");
}

TEST(Logging, PrioritiesFollowSyslog) {
  EXPECT_EQ(syslogPriority(spdlog::level::trace), 7);
  EXPECT_EQ(syslogPriority(spdlog::level::debug), 7);
  EXPECT_EQ(syslogPriority(spdlog::level::info), 6);
  EXPECT_EQ(syslogPriority(spdlog::level::warn), 4);
  EXPECT_EQ(syslogPriority(spdlog::level::err), 3);
  EXPECT_EQ(syslogPriority(spdlog::level::critical), 2);
}

}  // namespace
}  // namespace quorate
