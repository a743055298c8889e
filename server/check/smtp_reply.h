// SMTP replies (RFC 5321 4.2) read from the bytes a server sent: pure functions, no sockets, so
// that the smtp probe's parsing is tested on any input.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace quorate::server::check {

// One reply line: "250-first" (more to come) or "250 last" (or a bare "250").
struct SmtpLine {
  int code = 0;
  bool last = true;
  bool operator==(const SmtpLine&) const = default;
};

// Parses one line, without its "\n"; a trailing "\r" is dropped. nullopt: not a reply line
// (fewer than three digits, or no ' ' / '-' after them).
std::optional<SmtpLine> parseSmtpLine(std::string_view line);

// Where the first reply in `input` stands.
struct SmtpScan {
  enum class State {
    kIncomplete,  // its last line has not arrived yet
    kComplete,    // `code` is the reply's (its last line's)
    kBad,         // a line that is not a reply line
  };
  State state = State::kIncomplete;
  int code = 0;
  // The bytes of whole lines used: the reply's when complete; when incomplete, the continuation
  // lines read so far (the caller may drop them and read on).
  std::size_t consumed = 0;
};

// Scans the whole lines at the start of `input` for one reply (all its lines: "220-a", "220 b").
SmtpScan scanSmtpReply(std::string_view input);

}  // namespace quorate::server::check
