// UDP_CHECK's reply judged by a pure function (no sockets), and bytes made printable for the
// reasons the log shows.
#pragma once

#include <cstddef>
#include <regex>
#include <string>
#include <string_view>

#include "server/check/probe.h"
#include "server/check/spec.h"

namespace quorate::server::check {

// A regex sees the reply's first this many bytes: std::regex recurses per character, so a long
// reply must not decide how deep the checker's stack goes.
constexpr std::size_t kUdpRegexWindow = 512;

// `bytes` (its first `max`) as text: printable ASCII as is, the rest as \xNN, and "..." after
// a cut.
std::string printable(std::string_view bytes, std::size_t max = 32);

// Judges a reply against `spec` (`pattern`: spec.expect compiled, for Match::kRegex). "reply of
// N bytes" passes; "unexpected reply: <its start>" fails.
Outcome judgeUdpReply(const UdpSpec& spec, const std::regex* pattern, std::string_view reply);

}  // namespace quorate::server::check
