// Echo requests built and replies judged; every read is bounds-checked against the packet.
#include "server/check/icmp_wire.h"

#include <algorithm>
#include <string>

namespace quorate::server::check {
namespace {

constexpr std::uint8_t kEchoRequest4 = 8;
constexpr std::uint8_t kEchoReply4 = 0;
constexpr std::uint8_t kUnreachable4 = 3;
constexpr std::uint8_t kEchoRequest6 = 128;
constexpr std::uint8_t kEchoReply6 = 129;
constexpr std::uint8_t kUnreachable6 = 1;
constexpr std::size_t kIcmpHeader = 8;  // type, code, checksum, identifier, sequence
constexpr std::size_t kIpv6Header = 40;
constexpr std::uint8_t kNextHeaderIcmp6 = 58;
constexpr std::uint8_t kProtocolIcmp = 1;

std::uint16_t read16(std::span<const std::uint8_t> p, std::size_t at) {
  return static_cast<std::uint16_t>(p[at] << 8 | p[at + 1]);
}

// The length of the IPv4 header at the start of `p`; 0 if there is none whole.
std::size_t ipv4HeaderLength(std::span<const std::uint8_t> p) {
  if (p.empty() || p[0] >> 4 != 4) return 0;
  const std::size_t length = static_cast<std::size_t>(p[0] & 0x0f) * 4;
  return length >= 20 && length <= p.size() ? length : 0;
}

// Whether `quoted` (an error's copy of the packet that caused it) is our echo request.
bool quotesOurRequest(std::span<const std::uint8_t> quoted, const EchoExpectation& e) {
  std::size_t header = 0;
  if (e.v6) {
    if (quoted.size() < kIpv6Header || quoted[0] >> 4 != 6 || quoted[6] != kNextHeaderIcmp6) {
      return false;
    }
    header = kIpv6Header;
  } else {
    header = ipv4HeaderLength(quoted);
    if (header == 0 || quoted[9] != kProtocolIcmp) return false;
  }
  const auto icmp = quoted.subspan(header);
  return icmp.size() >= kIcmpHeader && icmp[0] == (e.v6 ? kEchoRequest6 : kEchoRequest4) &&
         read16(icmp, 4) == e.id && read16(icmp, 6) == e.sequence;
}

std::string unreachableReason(bool v6, std::uint8_t code) {
  if (v6) {
    if (code == 0) return "network unreachable";  // no route to destination
    if (code == 3) return "host unreachable";     // address unreachable
  } else {
    if (code == 0) return "network unreachable";
    if (code == 1) return "host unreachable";
  }
  return "destination unreachable (code " + std::to_string(code) + ")";
}

}  // namespace

std::uint16_t internetChecksum(std::span<const std::uint8_t> bytes) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) sum += read16(bytes, i);
  if (bytes.size() % 2 == 1) sum += static_cast<std::uint32_t>(bytes.back()) << 8;
  while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

std::vector<std::uint8_t> makeEchoRequest(bool v6, std::uint16_t id, std::uint16_t sequence,
                                          std::span<const std::uint8_t> payload) {
  // Sized once and filled (GCC 12 misreads an insert after an initializer list as overflowing).
  std::vector<std::uint8_t> out(kIcmpHeader + payload.size(), 0);
  out[0] = v6 ? kEchoRequest6 : kEchoRequest4;
  out[4] = static_cast<std::uint8_t>(id >> 8);
  out[5] = static_cast<std::uint8_t>(id);
  out[6] = static_cast<std::uint8_t>(sequence >> 8);
  out[7] = static_cast<std::uint8_t>(sequence);
  std::copy(payload.begin(), payload.end(), out.begin() + kIcmpHeader);
  if (!v6) {
    const std::uint16_t sum = internetChecksum(out);
    out[2] = static_cast<std::uint8_t>(sum >> 8);
    out[3] = static_cast<std::uint8_t>(sum);
  }
  return out;
}

std::optional<Outcome> judgeEchoReply(std::span<const std::uint8_t> packet,
                                      const EchoExpectation& expected) {
  std::span<const std::uint8_t> icmp = packet;
  if (expected.ipHeader) {
    const std::size_t header = ipv4HeaderLength(packet);
    if (header == 0) return std::nullopt;
    icmp = packet.subspan(header);
  }
  if (icmp.size() < kIcmpHeader) return std::nullopt;
  const std::uint8_t type = icmp[0];
  if (type == (expected.v6 ? kEchoReply6 : kEchoReply4)) {
    if (icmp[1] != 0 || read16(icmp, 4) != expected.id || read16(icmp, 6) != expected.sequence) {
      return std::nullopt;
    }
    const auto data = icmp.subspan(kIcmpHeader);
    if (!std::equal(data.begin(), data.end(), expected.payload.begin(), expected.payload.end())) {
      return Outcome{false, "echo reply with another payload", {}};
    }
    return Outcome{true, "echo reply", {}};
  }
  if (type == (expected.v6 ? kUnreachable6 : kUnreachable4) &&
      quotesOurRequest(icmp.subspan(kIcmpHeader), expected)) {
    return Outcome{false, unreachableReason(expected.v6, icmp[1]), {}};
  }
  return std::nullopt;
}

}  // namespace quorate::server::check
