// The journal sink: one sd_journal_sendv per line, fields as KEY=VALUE entries.
#include "common/logging_journal.h"

#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <vector>

namespace quorate {

int syslogPriority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return LOG_DEBUG;
    case spdlog::level::info:
      return LOG_INFO;
    case spdlog::level::warn:
      return LOG_WARNING;
    case spdlog::level::err:
      return LOG_ERR;
    case spdlog::level::critical:
      return LOG_CRIT;
    default:
      return LOG_INFO;
  }
}

JournalSink::JournalSink(std::string identifier, std::string node)
    : identifier_(std::move(identifier)), node_(std::move(node)) {}

void JournalSink::logWithFields(const spdlog::details::log_msg& msg, const LogFields& fields) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!should_log(msg.level)) return;
  send(msg, &fields);
}

void JournalSink::sink_it_(const spdlog::details::log_msg& msg) { send(msg, nullptr); }

void JournalSink::send(const spdlog::details::log_msg& msg, const LogFields* fields) {
  // The journal's native protocol carries any bytes (newlines too) in a value.
  std::vector<std::string> entries;
  entries.reserve(10);
  entries.push_back("MESSAGE=" + std::string(msg.payload.data(), msg.payload.size()));
  entries.push_back("PRIORITY=" + std::to_string(syslogPriority(msg.level)));
  entries.push_back("SYSLOG_IDENTIFIER=" + identifier_);
  if (!node_.empty()) entries.push_back("QUORATE_NODE=" + node_);
  if (fields) {
    if (!fields->cluster.empty()) entries.push_back("QUORATE_CLUSTER=" + fields->cluster);
    if (!fields->lease.empty()) entries.push_back("QUORATE_LEASE=" + fields->lease);
    if (fields->epoch) entries.push_back("QUORATE_EPOCH=" + std::to_string(*fields->epoch));
    if (!fields->role.empty()) entries.push_back("QUORATE_ROLE=" + fields->role);
    if (!fields->reason.empty()) entries.push_back("QUORATE_REASON=" + fields->reason);
  }
  std::vector<iovec> iov;
  iov.reserve(entries.size());
  for (auto& e : entries) iov.push_back({e.data(), e.size()});
  if (sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) >= 0) return;
  refusals_.fetch_add(1, std::memory_order_relaxed);
  std::string line = identifier_ + ": (journal unreachable) " + entries.front().substr(8) + "\n";
  (void)!::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace quorate
