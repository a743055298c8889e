// quoratectl events: the director's event log (server/events) shown as readable lines or raw JSON
// lines, the last N records and, with --follow, new ones as they come, across rotations.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "client/interrupt.h"

namespace quorate::client {

inline constexpr std::string_view kDefaultEventsFile = "/var/lib/quorate/events.jsonl";
inline constexpr std::uint64_t kDefaultEventLines = 20;

struct EventsOptions {
  std::string file = std::string(kDefaultEventsFile);
  bool follow = false;
  std::uint64_t lines = kDefaultEventLines;  // the last N records first; 0: none
  bool json = false;                         // the records' lines as they are
  std::chrono::milliseconds poll{100};       // --follow: how often the file is looked at
};

// One record as "TIME NODE LEASE EVENT key=value ...": the other fields in key order, strings
// that are not plain words quoted as JSON strings (no control character reaches the terminal),
// "-" for a missing leading field. nullopt when `line` is not a JSON object.
std::optional<std::string> formatEvent(std::string_view line);

// Prints the last options.lines records of options.file to `out` and, with follow, goes on until
// `canceller` is cancelled (Ctrl-C: exit status 0). A corrupt line is reported on `err` with its
// byte offset and skipped. Returns kExitOk, or kExitFailure when the file cannot be read (the
// reason on `err`).
int runEvents(const EventsOptions& options, std::ostream& out, std::ostream& err,
              const CallCanceller* canceller = nullptr);

}  // namespace quorate::client
