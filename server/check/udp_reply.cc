// UDP_CHECK's reply against its expectation: any, exact bytes, a prefix, or a regex.
#include "server/check/udp_reply.h"

#include <cstdio>

namespace quorate::server::check {

std::string printable(std::string_view bytes, std::size_t max) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  if (bytes.size() > max) out += "...";
  return out;
}

Outcome judgeUdpReply(const UdpSpec& spec, const std::regex* pattern, std::string_view reply) {
  bool ok = true;
  switch (spec.match) {
    case UdpSpec::Match::kAny:
      break;
    case UdpSpec::Match::kExact:
      ok = reply == spec.expect;
      break;
    case UdpSpec::Match::kPrefix:
      ok = reply.starts_with(spec.expect);
      break;
    case UdpSpec::Match::kRegex: {
      const std::string_view window = reply.substr(0, kUdpRegexWindow);
      ok = pattern != nullptr && std::regex_search(window.begin(), window.end(), *pattern);
      break;
    }
  }
  if (!ok) return Outcome{false, "unexpected reply: \"" + printable(reply) + "\"", {}};
  return Outcome{true, "reply of " + std::to_string(reply.size()) + " bytes", {}};
}

}  // namespace quorate::server::check
