// DNS_CHECK's messages as bytes (RFC 1035): the query built and the reply judged by pure
// functions, no sockets, so that the dns probe's parsing is tested on any input.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "server/check/probe.h"

namespace quorate::server::check {

// Appends `name` as labels ("." or "" is the root). Returns "" or why it cannot be encoded
// ("bad name: empty label", "... longer than 63 bytes", "... longer than 255 bytes").
std::string encodeDnsName(std::string_view name, std::vector<std::uint8_t>& out);

struct DnsQuery {
  std::vector<std::uint8_t> bytes;  // id 0 (setDnsId), RD, one question of class IN
  std::string error;                // not empty: the name cannot be encoded; bytes are unusable
};
DnsQuery makeDnsQuery(std::string_view name, std::uint16_t type);
void setDnsId(std::vector<std::uint8_t>& message, std::uint16_t id);

// Judges a datagram received for the query with `id` and `type`. nullopt: it is not a reply to
// that query (too short to hold an id, or another id), so the probe keeps waiting. Otherwise
// the outcome: "1 answer" / "N answers" of the type (any type for 255), "rcode NXDOMAIN",
// "no answer of type 6", or "malformed reply" for anything short, lying or not a reply. Names
// are stepped over, never followed: a compression pointer cannot make it loop.
std::optional<Outcome> judgeDnsReply(std::span<const std::uint8_t> reply, std::uint16_t id,
                                     std::uint16_t type);

}  // namespace quorate::server::check
