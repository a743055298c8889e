// Addresses and VIPs as values: parsed, compared and formatted without the kernel.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace quorate::net {

struct IpAddress {
  int family = 0;                        // AF_INET or AF_INET6; 0 = unset
  std::array<std::uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4

  static std::optional<IpAddress> parse(std::string_view text);  // "198.18.0.1", "2001:db8::1"
  bool isV4() const;
  bool isV6() const;
  std::size_t size() const { return isV4() ? 4 : 16; }
  std::string toString() const;
  auto operator<=>(const IpAddress&) const = default;
};

struct IpPrefix {
  IpAddress address;
  int length = 0;  // 0..32 or 0..128

  // "198.18.1.10/24"; a bare address gets /32 or /128.
  static std::optional<IpPrefix> parse(std::string_view text);
  std::string toString() const;
  auto operator<=>(const IpPrefix&) const = default;
};

using MacAddress = std::array<std::uint8_t, 6>;
std::string toString(const MacAddress& mac);  // "02:00:00:00:00:01"
std::optional<MacAddress> parseMac(std::string_view text);

// One virtual address as the director puts it on an interface.
struct Vip {
  IpPrefix prefix;
  std::string device;  // interface name, e.g. "eth0"
  std::string label;   // IPv4 only, optional: "eth0:web" (must start with the device name)
  auto operator<=>(const Vip&) const = default;
  std::string toString() const;  // "198.18.1.10/24 dev eth0 label eth0:web"
};

}  // namespace quorate::net
