// Announcement frames against golden bytes written out by hand from RFC 826, RFC 4861 and
// RFC 5798, and against tshark's dissectors (which verify the checksums on their own).
#include "server/kernel/packets.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "tests/server/kernel/command_output.h"
#include "tests/support/temp_dir.h"

namespace quorate::kernel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// "01 0a ff" -> {0x01, 0x0a, 0xff}; spaces and line breaks are ignored.
Frame hex(std::string_view text) {
  Frame out;
  int nibbles = 0;
  unsigned v = 0;
  for (char c : text) {
    if (c == ' ' || c == '\n') continue;
    unsigned d = (c >= '0' && c <= '9') ? static_cast<unsigned>(c - '0')
                                        : static_cast<unsigned>(c - 'a' + 10);
    v = v * 16 + d;
    if (++nibbles % 2 == 0) {
      out.push_back(static_cast<std::uint8_t>(v));
      v = 0;
    }
  }
  return out;
}

std::string dump(const Frame& f) {
  std::string s;
  char buf[4];
  for (std::size_t i = 0; i < f.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%02x", f[i]);
    s += (i % 16 == 0 ? "\n" : " ");
    s += buf;
  }
  return s;
}

net::IpAddress ip(const char* text) { return *net::IpAddress::parse(text); }

constexpr net::MacAddress kMac{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};

// A second, deliberately plain one's-complement sum (RFC 1071), independent of packets.cc:
// adds up bytes as 16-bit big-endian words and folds at the end.
std::uint16_t onesComplementSum(const std::vector<std::uint8_t>& bytes) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    sum += (i % 2 == 0) ? static_cast<std::uint64_t>(bytes[i]) * 256 : bytes[i];
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

// True when the upper-layer message f[at, end) checksums correctly over its pseudo-header.
bool pseudoHeaderChecksumOk(const Frame& f, std::size_t at, const net::IpAddress& src,
                            const net::IpAddress& dst, std::uint8_t proto) {
  std::vector<std::uint8_t> all(src.bytes.begin(), src.bytes.begin() + src.size());
  all.insert(all.end(), dst.bytes.begin(), dst.bytes.begin() + dst.size());
  const std::size_t len = f.size() - at;
  if (src.isV4()) {
    all.insert(all.end(),
               {0, proto, static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)});
  } else {
    all.insert(all.end(), {0, 0, static_cast<std::uint8_t>(len >> 8),
                           static_cast<std::uint8_t>(len), 0, 0, 0, proto});
  }
  all.insert(all.end(), f.begin() + static_cast<long>(at), f.end());
  return onesComplementSum(all) == 0xffff;
}

TEST(GratuitousArp, MatchesGoldenBytes) {
  Frame want = hex(
      // Ethernet: broadcast, from kMac, ARP
      "ff ff ff ff ff ff  02 00 00 00 00 01  08 06"
      // Ethernet/IPv4, 6/4, request
      "00 01 08 00 06 04 00 01"
      // sender 02:00:00:00:00:01 198.18.1.10, target ff:ff:ff:ff:ff:ff 198.18.1.10
      "02 00 00 00 00 01  c6 12 01 0a  ff ff ff ff ff ff  c6 12 01 0a");
  Frame got = gratuitousArp(kMac, ip("198.18.1.10"));
  EXPECT_EQ(got, want) << dump(got);
  EXPECT_TRUE(gratuitousArp(kMac, ip("2001:db8::10")).empty());
}

TEST(UnsolicitedNa, MatchesGoldenBytes) {
  Frame want = hex(
      // Ethernet: 33:33:00:00:00:01 (ff02::1), from kMac, IPv6
      "33 33 00 00 00 01  02 00 00 00 00 01  86 dd"
      // IPv6: version 6, payload 32, next header 58, hop limit 255
      "60 00 00 00  00 20 3a ff"
      "20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 10"  // from 2001:db8::10
      "ff 02 00 00 00 00 00 00 00 00 00 00 00 00 00 01"  // to ff02::1
      // ICMPv6: type 136 code 0, checksum, flags O, reserved
      "88 00 f9 0c  20 00 00 00"
      "20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 10"  // target 2001:db8::10
      // option 2 (target link-layer address), length 1, kMac
      "02 01 02 00 00 00 00 01");
  Frame got = unsolicitedNa(kMac, ip("2001:db8::10"));
  EXPECT_EQ(got, want) << dump(got);
  EXPECT_TRUE(pseudoHeaderChecksumOk(got, 54, ip("2001:db8::10"), ip("ff02::1"), 58));

  Frame router = unsolicitedNa(kMac, ip("2001:db8::10"), /*router=*/true);
  want[54 + 2] = 0x79;  // checksum changes with the flags byte
  want[54 + 4] = 0xa0;  // R and O
  EXPECT_EQ(router, want) << dump(router);
  EXPECT_TRUE(pseudoHeaderChecksumOk(router, 54, ip("2001:db8::10"), ip("ff02::1"), 58));
  EXPECT_TRUE(unsolicitedNa(kMac, ip("198.18.1.10")).empty());
}

VrrpAdvert v4Advert() {
  VrrpAdvert a;
  a.vrid = 51;
  a.priority = 200;
  a.interval = std::chrono::milliseconds(1000);
  a.source = ip("198.18.0.1");
  a.addresses = {ip("198.18.1.10"), ip("198.18.1.11")};
  return a;
}

VrrpAdvert v6Advert() {
  VrrpAdvert a;
  a.vrid = 51;
  a.priority = 100;
  a.interval = std::chrono::milliseconds(250);
  a.source = ip("fe80::1");
  a.addresses = {ip("2001:db8::10")};
  return a;
}

TEST(VrrpAdvert, V4MatchesGoldenBytes) {
  Frame want = hex(
      // Ethernet: 01:00:5e:00:00:12 (224.0.0.18), from the virtual MAC of vrid 51, IPv4
      "01 00 5e 00 00 12  00 00 5e 00 01 33  08 00"
      // IPv4: 0x45, tos 0xc0, length 36, id 0, DF, TTL 255, protocol 112, header checksum
      "45 c0 00 24  00 00 40 00  ff 70 d4 83"
      "c6 12 00 01  e0 00 00 12"  // 198.18.0.1 -> 224.0.0.18
      // VRRP: v3 type 1, vrid 51, priority 200, count 2, max advert int 100 cs, checksum
      "31 33 c8 02  00 64 d1 84"
      "c6 12 01 0a  c6 12 01 0b");  // 198.18.1.10, 198.18.1.11
  Frame got = vrrpAdvert(vrrpVirtualMac(AF_INET, 51), v4Advert());
  EXPECT_EQ(got, want) << dump(got);
  EXPECT_EQ(onesComplementSum({got.begin() + 14, got.begin() + 34}), 0xffff);
  EXPECT_TRUE(pseudoHeaderChecksumOk(got, 34, ip("198.18.0.1"), ip("224.0.0.18"), 112));
}

TEST(VrrpAdvert, V6MatchesGoldenBytes) {
  Frame want = hex(
      // Ethernet: 33:33:00:00:00:12 (ff02::12), from the IPv6 virtual MAC of vrid 51
      "33 33 00 00 00 12  00 00 5e 00 02 33  86 dd"
      // IPv6: payload 24, next header 112, hop limit 255
      "60 00 00 00  00 18 70 ff"
      "fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 01"  // from fe80::1
      "ff 02 00 00 00 00 00 00 00 00 00 00 00 00 00 12"  // to ff02::12
      // VRRP: v3 type 1, vrid 51, priority 100, count 1, max advert int 25 cs, checksum
      "31 33 64 01  00 19 3e ca"
      "20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 10");  // 2001:db8::10
  Frame got = vrrpAdvert(vrrpVirtualMac(AF_INET6, 51), v6Advert());
  EXPECT_EQ(got, want) << dump(got);
  EXPECT_TRUE(pseudoHeaderChecksumOk(got, 54, ip("fe80::1"), ip("ff02::12"), 112));
}

TEST(VrrpAdvert, IntervalIsTwelveBitsOfCentiseconds) {
  auto a = v4Advert();
  a.interval = std::chrono::milliseconds(40950);
  Frame f = vrrpAdvert(kMac, a);
  EXPECT_EQ(f[38], 0x0f);
  EXPECT_EQ(f[39], 0xff);
  a.interval = std::chrono::hours(1);  // capped, never spilling into the reserved bits
  f = vrrpAdvert(kMac, a);
  EXPECT_EQ(f[38], 0x0f);
  EXPECT_EQ(f[39], 0xff);
  EXPECT_TRUE(pseudoHeaderChecksumOk(f, 34, a.source, ip("224.0.0.18"), 112));
  a.interval = std::chrono::milliseconds(1234);  // truncated to 123 cs
  f = vrrpAdvert(kMac, a);
  EXPECT_EQ(f[38], 0x00);
  EXPECT_EQ(f[39], 123);
}

TEST(VrrpAdvert, RejectsWhatItCannotEncode) {
  auto mixed = v4Advert();
  mixed.addresses.push_back(ip("2001:db8::10"));
  EXPECT_TRUE(vrrpAdvert(kMac, mixed).empty());
  auto unset = v4Advert();
  unset.source = net::IpAddress{};
  EXPECT_TRUE(vrrpAdvert(kMac, unset).empty());
  auto many = v4Advert();
  many.addresses.assign(256, ip("198.18.1.10"));
  EXPECT_TRUE(vrrpAdvert(kMac, many).empty());
  many.addresses.resize(255);
  Frame f = vrrpAdvert(kMac, many);
  ASSERT_EQ(f.size(), 14u + 20 + 8 + 255 * 4);
  EXPECT_EQ(f[37], 255);
  EXPECT_TRUE(pseudoHeaderChecksumOk(f, 34, many.source, ip("224.0.0.18"), 112));
  auto none = v4Advert();
  none.addresses.clear();
  f = vrrpAdvert(kMac, none);
  ASSERT_EQ(f.size(), 14u + 20 + 8);
  EXPECT_TRUE(pseudoHeaderChecksumOk(f, 34, none.source, ip("224.0.0.18"), 112));
}

TEST(VrrpVirtualMac, FollowsRfc5798Section7_3) {
  EXPECT_EQ(net::toString(vrrpVirtualMac(AF_INET, 1)), "00:00:5e:00:01:01");
  EXPECT_EQ(net::toString(vrrpVirtualMac(AF_INET, 255)), "00:00:5e:00:01:ff");
  EXPECT_EQ(net::toString(vrrpVirtualMac(AF_INET6, 51)), "00:00:5e:00:02:33");
}

// --- tshark ---------------------------------------------------------------------------------

void writePcap(const std::filesystem::path& file, const std::vector<Frame>& frames) {
  std::ofstream out(file, std::ios::binary);
  auto u32 = [&](std::uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](std::uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  u32(0xa1b2c3d4);  // host byte order; readers detect it
  u16(2);
  u16(4);
  u32(0);
  u32(0);
  u32(65535);
  u32(1);  // LINKTYPE_ETHERNET
  std::uint32_t second = 1;
  for (const auto& f : frames) {
    u32(second++);
    u32(0);
    u32(static_cast<std::uint32_t>(f.size()));
    u32(static_cast<std::uint32_t>(f.size()));
    out.write(reinterpret_cast<const char*>(f.data()), static_cast<std::streamsize>(f.size()));
  }
}

std::string run(const std::string& command) { return testing::commandOutput(command); }

bool haveTshark() { return std::system("command -v tshark >/dev/null 2>&1") == 0; }

// tshark's verbose decode of `frames`, one string per frame. The IPv4 header checksum is only
// verified on request; the VRRP and ICMPv6 dissectors always verify theirs, VRRPv3 over the
// pseudo-header unless vrrp.v3_checksum_as_in_v2 is set, which we pin off.
std::vector<std::string> tsharkDecode(const std::vector<Frame>& frames) {
  const testutil::TempDir dir("quorate-packets");
  const std::filesystem::path file = dir.file("frames.pcap");
  writePcap(file, frames);
  std::string text = run("tshark -r '" + file.string() +
                         "' -V -o ip.check_checksum:TRUE -o vrrp.v3_checksum_as_in_v2:FALSE 2>&1");
  std::vector<std::string> perFrame;
  std::regex start("(^|\n)Frame [0-9]+:");
  std::vector<std::size_t> starts;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), start);
       it != std::sregex_iterator(); ++it) {
    starts.push_back(static_cast<std::size_t>(it->position()));
  }
  for (std::size_t i = 0; i < starts.size(); ++i) {
    std::size_t end = i + 1 < starts.size() ? starts[i + 1] : text.size();
    perFrame.push_back(text.substr(starts[i], end - starts[i]));
  }
  if (perFrame.size() != frames.size())
    perFrame.assign(frames.size(), text);  // show all on failure
  return perFrame;
}

// The part of a decode from the line starting with `header` up to the next protocol layer
// (the next line that is not indented), or "" if there is none.
std::string layer(const std::string& decode, std::string_view header) {
  std::size_t at = decode.find("\n" + std::string(header));
  if (at == std::string::npos) return "";
  std::size_t end = at + 1;
  while ((end = decode.find('\n', end)) != std::string::npos && end + 1 < decode.size() &&
         decode[end + 1] == ' ') {
    ++end;
  }
  return decode.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
}

// The one verdict used for good and for corrupted frames: the layer's checksum is reported
// correct, with status Good, and nothing in it is flagged incorrect.
// (IPv4 says "[Header checksum status: Good]", the others "[Checksum Status: Good]".)
bool checksumGood(const std::string& layerText) {
  std::string lower = layerText;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("[correct]") != std::string::npos &&
         lower.find("checksum status: good]") != std::string::npos &&
         lower.find("incorrect") == std::string::npos &&
         lower.find("status: bad]") == std::string::npos;
}

#define REQUIRE_TSHARK()                                                                      \
  if (!haveTshark()) {                                                                        \
    FAIL() << "tshark is not installed: install it (apt-get install tshark); CI installs it " \
              "and these tests check the frames against its dissectors";                      \
  }

TEST(Tshark, DecodesEveryFrameWithCorrectChecksums) {
  REQUIRE_TSHARK();
  auto d =
      tsharkDecode({gratuitousArp(kMac, ip("198.18.1.10")), unsolicitedNa(kMac, ip("2001:db8::10")),
                    vrrpAdvert(vrrpVirtualMac(AF_INET, 51), v4Advert()),
                    vrrpAdvert(vrrpVirtualMac(AF_INET6, 51), v6Advert())});
  ASSERT_EQ(d.size(), 4u);

  const auto garp = layer(d[0], "Address Resolution Protocol");
  EXPECT_THAT(garp, HasSubstr("Address Resolution Protocol (request/gratuitous ARP)")) << d[0];
  EXPECT_THAT(garp, HasSubstr("[Is gratuitous: True]")) << d[0];
  EXPECT_THAT(garp, HasSubstr("Sender MAC address: 02:00:00:00:00:01")) << d[0];
  EXPECT_THAT(garp, HasSubstr("Sender IP address: 198.18.1.10")) << d[0];
  EXPECT_THAT(garp, HasSubstr("Target MAC address: Broadcast (ff:ff:ff:ff:ff:ff)")) << d[0];
  EXPECT_THAT(garp, HasSubstr("Target IP address: 198.18.1.10")) << d[0];

  const auto na = layer(d[1], "Internet Control Message Protocol v6");
  EXPECT_THAT(na, HasSubstr("Type: Neighbor Advertisement (136)")) << d[1];
  EXPECT_TRUE(checksumGood(na)) << d[1];
  EXPECT_THAT(na, HasSubstr("..1. .... .... .... .... .... .... .... = Override: Set")) << d[1];
  EXPECT_THAT(na, HasSubstr(".0.. .... .... .... .... .... .... .... = Solicited: Not set"))
      << d[1];
  EXPECT_THAT(na, HasSubstr("Target Address: 2001:db8::10")) << d[1];
  EXPECT_THAT(na, HasSubstr("Link-layer address: 02:00:00:00:00:01")) << d[1];
  EXPECT_THAT(layer(d[1], "Internet Protocol Version 6"), HasSubstr("Hop Limit: 255")) << d[1];

  const auto v4 = layer(d[2], "Virtual Router Redundancy Protocol");
  EXPECT_THAT(v4, HasSubstr("0011 .... = VRRP protocol version: 3")) << d[2];
  EXPECT_THAT(v4, HasSubstr(".... 0001 = VRRP packet type: Advertisement (1)")) << d[2];
  EXPECT_THAT(v4, HasSubstr("Virtual Rtr ID: 51")) << d[2];
  EXPECT_THAT(v4, HasSubstr("Priority: 200")) << d[2];
  EXPECT_THAT(v4, HasSubstr("Addr Count: 2")) << d[2];
  EXPECT_THAT(v4, HasSubstr("Adver Int: 100")) << d[2];
  EXPECT_THAT(v4, HasSubstr("IP Address: 198.18.1.10\n    IP Address: 198.18.1.11")) << d[2];
  EXPECT_THAT(v4, HasSubstr("Checksum: 0xd184 [correct]")) << d[2];
  EXPECT_TRUE(checksumGood(v4)) << d[2];
  const auto ip4 = layer(d[2], "Internet Protocol Version 4");
  EXPECT_TRUE(checksumGood(ip4)) << d[2];
  EXPECT_THAT(ip4, HasSubstr("Time to Live: 255")) << d[2];
  EXPECT_THAT(ip4, HasSubstr(".1.. .... = Don't fragment: Set")) << d[2];
  EXPECT_THAT(ip4, HasSubstr("Protocol: VRRP (112)")) << d[2];
  EXPECT_THAT(ip4, HasSubstr("Destination Address: 224.0.0.18")) << d[2];

  const auto v6 = layer(d[3], "Virtual Router Redundancy Protocol");
  EXPECT_THAT(v6, HasSubstr("0011 .... = VRRP protocol version: 3")) << d[3];
  EXPECT_THAT(v6, HasSubstr("Virtual Rtr ID: 51")) << d[3];
  EXPECT_THAT(v6, HasSubstr("Priority: 100")) << d[3];
  EXPECT_THAT(v6, HasSubstr("Adver Int: 25")) << d[3];
  EXPECT_THAT(v6, HasSubstr("IPv6 Address: 2001:db8::10")) << d[3];
  EXPECT_TRUE(checksumGood(v6)) << d[3];
  const auto ip6 = layer(d[3], "Internet Protocol Version 6");
  EXPECT_THAT(ip6, HasSubstr("Destination Address: ff02::12")) << d[3];
  EXPECT_THAT(ip6, HasSubstr("Hop Limit: 255")) << d[3];
}

// The same verdict must be able to fail: each corrupted checksum is reported bad.
TEST(Tshark, ReportsCorruptedChecksums) {
  REQUIRE_TSHARK();
  Frame v4 = vrrpAdvert(vrrpVirtualMac(AF_INET, 51), v4Advert());
  v4[34 + 7] ^= 0x01;  // VRRP checksum
  Frame v6 = vrrpAdvert(vrrpVirtualMac(AF_INET6, 51), v6Advert());
  v6[54 + 6] ^= 0x80;
  Frame na = unsolicitedNa(kMac, ip("2001:db8::10"));
  na[54 + 3] ^= 0x01;  // ICMPv6 checksum
  Frame ipHeader = vrrpAdvert(vrrpVirtualMac(AF_INET, 51), v4Advert());
  ipHeader[14 + 11] ^= 0x01;  // IPv4 header checksum
  auto d = tsharkDecode({v4, v6, na, ipHeader});
  ASSERT_EQ(d.size(), 4u);
  const auto v4Vrrp = layer(d[0], "Virtual Router Redundancy Protocol");
  EXPECT_FALSE(checksumGood(v4Vrrp)) << d[0];
  EXPECT_THAT(v4Vrrp, HasSubstr("Checksum: 0xd185 incorrect, should be 0xd184")) << d[0];
  EXPECT_TRUE(checksumGood(layer(d[0], "Internet Protocol Version 4"))) << d[0];
  EXPECT_FALSE(checksumGood(layer(d[1], "Virtual Router Redundancy Protocol"))) << d[1];
  EXPECT_FALSE(checksumGood(layer(d[2], "Internet Control Message Protocol v6"))) << d[2];
  EXPECT_FALSE(checksumGood(layer(d[3], "Internet Protocol Version 4"))) << d[3];
  EXPECT_TRUE(checksumGood(layer(d[3], "Virtual Router Redundancy Protocol"))) << d[3];
}

}  // namespace
}  // namespace quorate::kernel
