// SMTP reply lines parsed without a socket.
#include "server/check/smtp_reply.h"

#include <algorithm>

namespace quorate::server::check {

std::optional<SmtpLine> parseSmtpLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const bool valid =
      line.size() >= 3 &&
      std::all_of(line.begin(), line.begin() + 3, [](char c) { return c >= '0' && c <= '9'; }) &&
      (line.size() == 3 || line[3] == ' ' || line[3] == '-');
  if (!valid) return std::nullopt;
  const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  return SmtpLine{code, !(line.size() > 3 && line[3] == '-')};
}

SmtpScan scanSmtpReply(std::string_view input) {
  SmtpScan scan;
  for (;;) {
    const std::size_t end = input.find('\n', scan.consumed);
    if (end == std::string_view::npos) return scan;  // incomplete
    const auto line = parseSmtpLine(input.substr(scan.consumed, end - scan.consumed));
    if (!line) {
      scan.state = SmtpScan::State::kBad;
      return scan;
    }
    scan.consumed = end + 1;
    if (line->last) {
      scan.state = SmtpScan::State::kComplete;
      scan.code = line->code;
      return scan;
    }
  }
}

}  // namespace quorate::server::check
