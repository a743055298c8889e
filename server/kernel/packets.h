// Announcement frames built as values (Ethernet header included), tested against golden bytes.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "common/net_types.h"

namespace quorate::kernel {

using Frame = std::vector<std::uint8_t>;

// Gratuitous ARP as keepalived sends it: broadcast, ARP request, sender = target = `vip`,
// sender MAC = `mac`, target MAC ff:ff:ff:ff:ff:ff. Empty if `vip` is not IPv4.
Frame gratuitousArp(const net::MacAddress& mac, const net::IpAddress& vip);

// Unsolicited neighbour advertisement for `vip` (RFC 4861 7.2.6): to ff02::1 (33:33:00:00:00:01),
// from `vip`, hop limit 255, override flag set (router flag if `router`), target link-layer
// address option = `mac`, ICMPv6 checksum filled. Empty if `vip` is not IPv6.
Frame unsolicitedNa(const net::MacAddress& mac, const net::IpAddress& vip, bool router = false);

struct VrrpAdvert {
  std::uint8_t vrid = 1;                     // 1..255
  std::uint8_t priority = 100;               // 255 = address owner; 0 = giving up
  std::chrono::milliseconds interval{1000};  // sent in centiseconds, 12 bits
  net::IpAddress source;                     // primary address of the sending interface
  std::vector<net::IpAddress> addresses;     // all of one family, the same as `source`
};

// VRRPv3 advertisement (RFC 5798): IPv4 to 224.0.0.18 (01:00:5e:00:00:12) protocol 112 TTL 255,
// or IPv6 to ff02::12 (33:33:00:00:00:12) hop limit 255; source MAC = `mac` (the virtual MAC
// 00:00:5e:00:01:vrid / 00:00:5e:00:02:vrid, or the interface's). Checksum over the pseudo-header.
// The interval is truncated to centiseconds and capped at 4095. Empty if `source` is unset, an
// address is of another family, or there are more than 255 addresses.
Frame vrrpAdvert(const net::MacAddress& mac, const VrrpAdvert& advert);

// The virtual router MAC of RFC 5798 7.3 for `vrid` and the family of `family` (AF_INET/AF_INET6).
net::MacAddress vrrpVirtualMac(int family, std::uint8_t vrid);

}  // namespace quorate::kernel
