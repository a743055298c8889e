// An spdlog sink that writes to the systemd journal with structured fields.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "common/logging.h"

namespace quorate {

// syslog(3)'s priority for an spdlog level (trace and debug: LOG_DEBUG; critical: LOG_CRIT).
int syslogPriority(spdlog::level::level_enum level);

// Sends each line with sd_journal_sendv as MESSAGE (the bare text: the journal stamps time, pid
// and priority itself), PRIORITY, SYSLOG_IDENTIFIER, QUORATE_NODE and, for logEvent() lines,
// the QUORATE_* fields. A line the journal refuses goes to stderr instead, so nothing is lost
// silently; the refusals are counted.
class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  JournalSink(std::string identifier, std::string node);

  // One line with fields (logEvent()).
  void logWithFields(const spdlog::details::log_msg& msg, const LogFields& fields);
  std::uint64_t refusals() const { return refusals_.load(std::memory_order_relaxed); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  void send(const spdlog::details::log_msg& msg, const LogFields* fields);

  std::string identifier_;
  std::string node_;
  std::atomic<std::uint64_t> refusals_{0};
};

}  // namespace quorate
