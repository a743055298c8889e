// Announcement frames (gratuitous ARP, unsolicited NA, VRRPv3 advert) built byte by byte.
#include "server/kernel/packets.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstddef>

namespace quorate::kernel {
namespace {

constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
constexpr std::uint16_t kEtherTypeArp = 0x0806;
constexpr std::uint16_t kEtherTypeIpv6 = 0x86dd;
constexpr std::uint8_t kProtoIcmpv6 = 58;
constexpr std::uint8_t kProtoVrrp = 112;
constexpr std::size_t kEthHeaderLen = 14;
constexpr std::size_t kIpv4HeaderLen = 20;
constexpr std::size_t kIpv6HeaderLen = 40;
constexpr std::size_t kVrrpHeaderLen = 8;
constexpr std::size_t kMaxVrrpAddresses = 255;   // the count field is one byte
constexpr long kMaxAdvertCentiseconds = 0x0fff;  // 12 bits

// Appends big-endian fields to a frame.
class Writer {
 public:
  explicit Writer(Frame& f) : f_(f) {}
  void u8(std::uint8_t v) { f_.push_back(v); }
  void u16(std::uint16_t v) {
    f_.push_back(static_cast<std::uint8_t>(v >> 8));
    f_.push_back(static_cast<std::uint8_t>(v));
  }
  void u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v >> 16));
    u16(static_cast<std::uint16_t>(v));
  }
  void mac(const net::MacAddress& m) { f_.insert(f_.end(), m.begin(), m.end()); }
  void ip(const net::IpAddress& a) {
    f_.insert(f_.end(), a.bytes.begin(), a.bytes.begin() + a.size());
  }
  void zeros(std::size_t n) { f_.insert(f_.end(), n, 0); }

 private:
  Frame& f_;
};

void putU16(Frame& f, std::size_t at, std::uint16_t v) {
  f[at] = static_cast<std::uint8_t>(v >> 8);
  f[at + 1] = static_cast<std::uint8_t>(v);
}

// RFC 1071 running sum: 16-bit big-endian words, an odd last byte padded with zero.
std::uint32_t sumWords(std::uint32_t sum, const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 0; i + 1 < n; i += 2)
    sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  if (n % 2 != 0) sum += static_cast<std::uint32_t>(p[n - 1] << 8);
  return sum;
}

std::uint16_t finish(std::uint32_t sum) {
  while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

// Checksum of the upper-layer message at f[at, at+len) over the IPv4 (RFC 768) or IPv6
// (RFC 8200 8.1) pseudo-header; the checksum field inside must be zero.
std::uint16_t upperLayerChecksum(const Frame& f, std::size_t at, std::size_t len,
                                 const net::IpAddress& src, const net::IpAddress& dst,
                                 std::uint8_t proto) {
  std::uint32_t sum = 0;
  sum = sumWords(sum, src.bytes.data(), src.size());
  sum = sumWords(sum, dst.bytes.data(), dst.size());
  // IPv4 puts {0, proto, 16-bit length}, IPv6 {32-bit length, 0, 0, 0, proto}: the same sum.
  sum += proto;
  sum += static_cast<std::uint32_t>(len >> 16) + static_cast<std::uint32_t>(len & 0xffff);
  return finish(sumWords(sum, f.data() + at, len));
}

void ethernetHeader(Writer& w, const net::MacAddress& dst, const net::MacAddress& src,
                    std::uint16_t type) {
  w.mac(dst);
  w.mac(src);
  w.u16(type);
}

// Writes an IPv6 header (traffic class and flow label 0) from `src` to `dst`.
void ipv6Header(Writer& w, std::size_t payloadLen, std::uint8_t next, const net::IpAddress& src,
                const net::IpAddress& dst) {
  w.u32(0x60000000);
  w.u16(static_cast<std::uint16_t>(payloadLen));
  w.u8(next);
  w.u8(255);  // hop limit: receivers of NA and VRRP drop anything that crossed a router
  w.ip(src);
  w.ip(dst);
}

net::IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  net::IpAddress ip;
  ip.family = AF_INET;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}

net::IpAddress v6LinkScopeMulticast(std::uint8_t group) {
  net::IpAddress ip;
  ip.family = AF_INET6;
  ip.bytes[0] = 0xff;
  ip.bytes[1] = 0x02;
  ip.bytes[15] = group;
  return ip;
}

// The Ethernet multicast address of an IPv6 multicast group (RFC 2464 7).
net::MacAddress v6MulticastMac(const net::IpAddress& group) {
  return {0x33, 0x33, group.bytes[12], group.bytes[13], group.bytes[14], group.bytes[15]};
}

}  // namespace

Frame gratuitousArp(const net::MacAddress& mac, const net::IpAddress& vip) {
  if (!vip.isV4()) return {};
  constexpr net::MacAddress kBroadcast{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  Frame f;
  f.reserve(kEthHeaderLen + 28);
  Writer w(f);
  ethernetHeader(w, kBroadcast, mac, kEtherTypeArp);
  w.u16(1);  // hardware type: Ethernet
  w.u16(kEtherTypeIpv4);
  w.u8(6);
  w.u8(4);
  w.u16(1);  // request: every Linux peer updates an existing entry from it, even with arp_accept=0
  w.mac(mac);
  w.ip(vip);
  w.mac(kBroadcast);  // keepalived fills the target hardware address with ff:ff:ff:ff:ff:ff
  w.ip(vip);
  return f;
}

Frame unsolicitedNa(const net::MacAddress& mac, const net::IpAddress& vip, bool router) {
  if (!vip.isV6()) return {};
  constexpr std::size_t kIcmpLen = 8 + 16 + 8;  // header + flags, target, link-layer option
  const net::IpAddress allNodes = v6LinkScopeMulticast(0x01);
  Frame f;
  f.reserve(kEthHeaderLen + kIpv6HeaderLen + kIcmpLen);
  Writer w(f);
  ethernetHeader(w, v6MulticastMac(allNodes), mac, kEtherTypeIpv6);
  ipv6Header(w, kIcmpLen, kProtoIcmpv6, vip, allNodes);
  const std::size_t icmp = f.size();
  w.u8(136);  // Neighbor Advertisement
  w.u8(0);
  w.u16(0);  // checksum, filled below
  // R(outer) 0x80, S(olicited) 0x40 (never in an unsolicited NA), O(verride) 0x20: replace the
  // peers' cached address for `vip`.
  w.u8(static_cast<std::uint8_t>((router ? 0x80 : 0) | 0x20));
  w.zeros(3);
  w.ip(vip);
  w.u8(2);  // option: target link-layer address
  w.u8(1);  // length in units of 8 octets
  w.mac(mac);
  putU16(f, icmp + 2, upperLayerChecksum(f, icmp, kIcmpLen, vip, allNodes, kProtoIcmpv6));
  return f;
}

Frame vrrpAdvert(const net::MacAddress& mac, const VrrpAdvert& advert) {
  const net::IpAddress& src = advert.source;
  if (!src.isV4() && !src.isV6()) return {};
  if (advert.addresses.size() > kMaxVrrpAddresses) return {};
  for (const auto& a : advert.addresses) {
    if (a.family != src.family) return {};
  }
  const bool isV4 = src.isV4();
  const net::IpAddress dst = isV4 ? v4(224, 0, 0, 18) : v6LinkScopeMulticast(0x12);
  const std::size_t vrrpLen = kVrrpHeaderLen + advert.addresses.size() * src.size();
  const long centis = std::clamp<long>(advert.interval.count() / 10, 0, kMaxAdvertCentiseconds);

  Frame f;
  f.reserve(kEthHeaderLen + kIpv6HeaderLen + vrrpLen);
  Writer w(f);
  if (isV4) {
    ethernetHeader(w, net::MacAddress{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12}, mac, kEtherTypeIpv4);
    const std::size_t ip = f.size();
    w.u8(0x45);  // version 4, 5-word header
    w.u8(0xc0);  // precedence "internetwork control", as keepalived sets it
    w.u16(static_cast<std::uint16_t>(kIpv4HeaderLen + vrrpLen));
    w.u16(0);       // identification: unused, the packet may not be fragmented (RFC 6864)
    w.u16(0x4000);  // don't fragment, as keepalived sends it
    w.u8(255);      // TTL: receivers drop adverts that crossed a router (RFC 5798 5.1.1.3)
    w.u8(kProtoVrrp);
    w.u16(0);  // header checksum, filled below
    w.ip(src);
    w.ip(dst);
    putU16(f, ip + 10, finish(sumWords(0, f.data() + ip, kIpv4HeaderLen)));
  } else {
    ethernetHeader(w, v6MulticastMac(dst), mac, kEtherTypeIpv6);
    ipv6Header(w, vrrpLen, kProtoVrrp, src, dst);
  }
  const std::size_t vrrp = f.size();
  w.u8(0x31);  // version 3, type 1 (advertisement)
  w.u8(advert.vrid);
  w.u8(advert.priority);
  w.u8(static_cast<std::uint8_t>(advert.addresses.size()));
  w.u16(static_cast<std::uint16_t>(centis));  // the 4 reserved bits stay zero
  w.u16(0);                                   // checksum, filled below
  for (const auto& a : advert.addresses) w.ip(a);
  putU16(f, vrrp + 6, upperLayerChecksum(f, vrrp, vrrpLen, src, dst, kProtoVrrp));
  return f;
}

net::MacAddress vrrpVirtualMac(int family, std::uint8_t vrid) {
  return {0x00, 0x00, 0x5e, 0x00, static_cast<std::uint8_t>(family == AF_INET6 ? 0x02 : 0x01),
          vrid};
}

}  // namespace quorate::kernel
