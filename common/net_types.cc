// Parsing and formatting of addresses.
#include "common/net_types.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstdio>
#include <string>

namespace quorate::net {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  return std::nullopt;
}

bool IpAddress::isV4() const { return family == AF_INET; }
bool IpAddress::isV6() const { return family == AF_INET6; }

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family != AF_INET && family != AF_INET6) return "(unset)";
  inet_ntop(family, bytes.data(), buf, sizeof buf);
  return buf;
}

std::optional<IpPrefix> IpPrefix::parse(std::string_view text) {
  auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  int max = addr->isV4() ? 32 : 128;
  int len = max;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    len = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      len = len * 10 + (c - '0');
    }
    if (len > max) return std::nullopt;
  }
  return IpPrefix{*addr, len};
}

std::string IpPrefix::toString() const { return address.toString() + "/" + std::to_string(length); }

std::string toString(const MacAddress& mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
                mac[4], mac[5]);
  return buf;
}

std::optional<MacAddress> parseMac(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  MacAddress mac{};
  for (int i = 0; i < 6; ++i) {
    if (i > 0 && text[i * 3 - 1] != ':') return std::nullopt;
    int v = 0;
    for (int j = 0; j < 2; ++j) {
      char c = text[i * 3 + j];
      int d = (c >= '0' && c <= '9')   ? c - '0'
              : (c >= 'a' && c <= 'f') ? c - 'a' + 10
              : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                       : -1;
      if (d < 0) return std::nullopt;
      v = v * 16 + d;
    }
    mac[i] = static_cast<std::uint8_t>(v);
  }
  return mac;
}

std::string Vip::toString() const {
  std::string s = prefix.toString() + " dev " + device;
  if (!label.empty()) s += " label " + label;
  return s;
}

}  // namespace quorate::net
