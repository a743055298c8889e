// Fuzz target: the smtp probe's reading of what a server sent (scanSmtpReply, parseSmtpLine).
#include <cstdint>
#include <string_view>

#include "fuzz_support.h"
#include "server/check/smtp_reply.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace quorate::server::check;
  namespace fuzz = quorate::fuzz;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const SmtpScan scan = scanSmtpReply(input);
  fuzz::check(scan.consumed <= input.size(), "consumed more than the input");
  if (scan.state == SmtpScan::State::kComplete) {
    fuzz::check(scan.code >= 0 && scan.code <= 999, "a reply code of more than three digits");
    // The reply ends with a whole line: what was consumed ends with its newline.
    fuzz::check(scan.consumed > 0 && input[scan.consumed - 1] == '\n',
                "a complete reply without its last newline");
  }
  const std::string_view line = input.substr(0, input.find('\n'));
  if (const auto parsed = parseSmtpLine(line)) {
    fuzz::check(parsed->code >= 0 && parsed->code <= 999, "a line code of more than three digits");
  }
  return 0;
}
