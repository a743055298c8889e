// The dns probe's query and reply as bytes, every read bounds-checked.
#include "server/check/dns_wire.h"

namespace quorate::server::check {

std::string encodeDnsName(std::string_view name, std::vector<std::uint8_t>& out) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::size_t encoded = 1;
  while (!name.empty()) {
    const std::size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (label.empty()) return "bad name: empty label";
    if (label.size() > 63) return "bad name: label longer than 63 bytes";
    encoded += 1 + label.size();
    if (encoded > 255) return "bad name: longer than 255 bytes";
    out.push_back(static_cast<std::uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
    name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  }
  out.push_back(0);
  return {};
}

DnsQuery makeDnsQuery(std::string_view name, std::uint16_t type) {
  DnsQuery query;
  // Header: id, flags RD, QDCOUNT 1, AN/NS/AR 0.
  query.bytes = {0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  query.error = encodeDnsName(name, query.bytes);
  query.bytes.push_back(static_cast<std::uint8_t>(type >> 8));
  query.bytes.push_back(static_cast<std::uint8_t>(type & 0xff));
  query.bytes.push_back(0);
  query.bytes.push_back(1);  // class IN
  return query;
}

void setDnsId(std::vector<std::uint8_t>& message, std::uint16_t id) {
  if (message.size() < 2) return;
  message[0] = static_cast<std::uint8_t>(id >> 8);
  message[1] = static_cast<std::uint8_t>(id & 0xff);
}

namespace {

std::string rcodeName(int rcode) {
  switch (rcode) {
    case 1:
      return "FORMERR";
    case 2:
      return "SERVFAIL";
    case 3:
      return "NXDOMAIN";
    case 4:
      return "NOTIMP";
    case 5:
      return "REFUSED";
    default:
      return std::to_string(rcode);
  }
}

}  // namespace

std::optional<Outcome> judgeDnsReply(std::span<const std::uint8_t> reply, std::uint16_t id,
                                     std::uint16_t type) {
  const std::uint8_t* data = reply.data();
  const std::size_t size = reply.size();
  auto u16 = [data](std::size_t at) {
    return static_cast<std::uint16_t>((data[at] << 8) | data[at + 1]);
  };
  if (size < 2 || u16(0) != id) return std::nullopt;  // not ours

  const Outcome malformed{false, "malformed reply", {}};
  if (size < 12) return malformed;
  const std::uint16_t flags = u16(2);
  if ((flags & 0x8000) == 0) return malformed;  // not a reply
  if (const int rcode = flags & 0xf; rcode != 0) {
    return Outcome{false, "rcode " + rcodeName(rcode), {}};
  }
  // Each question takes at least 5 bytes and each answer 11, so a huge count runs out of bytes
  // (and ends as malformed) within the datagram.
  const int questions = u16(4);
  const int answers = u16(6);
  std::size_t at = 12;
  // Steps over a name (labels ending in the root label or a compression pointer).
  auto skipName = [&]() {
    while (at < size) {
      const std::uint8_t length = data[at];
      if (length == 0) {
        at += 1;
        return true;
      }
      if ((length & 0xc0) == 0xc0) {
        at += 2;
        return at <= size;
      }
      if ((length & 0xc0) != 0) return false;  // obsolete label types
      at += 1 + length;
    }
    return false;
  };
  for (int i = 0; i < questions; ++i) {
    if (!skipName() || at + 4 > size) return malformed;
    at += 4;
  }
  int matching = 0;
  for (int i = 0; i < answers; ++i) {
    if (!skipName() || at + 10 > size) return malformed;
    const std::uint16_t answerType = u16(at);
    const std::size_t dataLength = u16(at + 8);
    at += 10 + dataLength;
    if (at > size) return malformed;
    if (answerType == type || type == 255) ++matching;
  }
  if (matching == 0) return Outcome{false, "no answer of type " + std::to_string(type), {}};
  return Outcome{true, std::to_string(matching) + (matching == 1 ? " answer" : " answers"), {}};
}

}  // namespace quorate::server::check
