// PING_CHECK's messages as bytes (RFC 792 and RFC 4443): the echo request built and what comes
// back judged by pure functions, no sockets, so that the ping probe's matching is tested on any
// input.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "server/check/probe.h"

namespace quorate::server::check {

// The RFC 1071 checksum of `bytes` (an odd last byte padded with zero).
std::uint16_t internetChecksum(std::span<const std::uint8_t> bytes);

// An echo request: ICMP type 8 (ICMPv6 128), code 0, identifier, sequence, payload. The IPv4
// checksum is filled in (a raw socket sends it as is); ICMPv6's is left 0, as the kernel fills
// it in for every ICMPv6 socket (its pseudo-header holds addresses only it knows).
std::vector<std::uint8_t> makeEchoRequest(bool v6, std::uint16_t id, std::uint16_t sequence,
                                          std::span<const std::uint8_t> payload);

// What an attempt waits for: the echo it sent.
struct EchoExpectation {
  bool v6 = false;
  // The packet starts with an IPv4 header (a raw IPv4 socket's receive); never for IPv6, whose
  // sockets get the ICMPv6 message alone, nor for a ping (datagram) socket.
  bool ipHeader = false;
  std::uint16_t id = 0;
  std::uint16_t sequence = 0;
  std::span<const std::uint8_t> payload;
};

// Judges one received packet. nullopt: not about our echo (another program's echo, our own
// request looped back to a raw socket, any other message, anything too short), so the probe
// keeps waiting. Otherwise the outcome: "echo reply"; "echo reply with another payload";
// "host unreachable", "network unreachable", "destination unreachable (code N)" for an error
// that quotes our request (a raw socket receives those as messages).
std::optional<Outcome> judgeEchoReply(std::span<const std::uint8_t> packet,
                                      const EchoExpectation& expected);

}  // namespace quorate::server::check
