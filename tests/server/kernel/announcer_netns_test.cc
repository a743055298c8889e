// The AF_PACKET announcer against the real kernel: frames sent on one end of a veth pair arrive
// byte for byte on the other, and a Linux peer takes over the VIP from a gratuitous ARP or an
// unsolicited NA. Runs as root in a private network namespace (netns_main.cc).
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "server/kernel/announcer.h"
#include "server/kernel/packets.h"
#include "tests/server/kernel/command_output.h"

namespace quorate::kernel {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = std::chrono::seconds(5);
constexpr net::MacAddress kAnnounced{0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
constexpr net::MacAddress kStale{0x02, 0x00, 0x00, 0x00, 0x00, 0x99};

int sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

std::string output(const std::string& cmd) { return testing::commandOutput(cmd + " 2>&1"); }

std::string hexDump(const Frame& f) {
  std::string s;
  char buf[4];
  for (auto b : f) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    s += buf;
  }
  return s;
}

net::IpAddress ip(const char* text) { return *net::IpAddress::parse(text); }

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Every frame arriving on one interface, from an AF_PACKET socket bound to it.
class Capture {
 public:
  explicit Capture(int ifindex)
      : fd_(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) {
    sockaddr_ll at{};
    at.sll_family = AF_PACKET;
    at.sll_protocol = htons(ETH_P_ALL);
    at.sll_ifindex = ifindex;
    bound_ =
        fd_.get() >= 0 && ::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&at), sizeof at) == 0;
  }
  bool ok() const { return bound_; }

  // Waits until `want` arrives; false if it has not by the deadline. Other traffic (IPv6
  // autoconfiguration, MLD) is skipped, as is anything this interface sent itself.
  bool waitFor(const Frame& want) {
    const auto deadline = Clock::now() + kDeadline;
    std::vector<std::uint8_t> buf(65536);
    for (;;) {
      sockaddr_ll from{};
      socklen_t fromLen = sizeof from;
      ssize_t n = ::recvfrom(fd_.get(), buf.data(), buf.size(), 0,
                             reinterpret_cast<sockaddr*>(&from), &fromLen);
      if (n >= 0) {
        if (from.sll_pkttype == PACKET_OUTGOING) continue;
        Frame got(buf.begin(), buf.begin() + n);
        if (got == want) return true;
        seen_ += "\n  " + hexDump(got);
        continue;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return false;
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, remainingMs(deadline)) == 0) return false;
    }
  }
  // The other frames seen, for failure messages.
  const std::string& seen() const { return seen_; }

 private:
  Fd fd_;
  bool bound_ = false;
  std::string seen_;
};

// Neighbour-table change notifications (RTM_NEWNEIGH) from rtnetlink.
class NeighbourEvents {
 public:
  NeighbourEvents()
      : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE)) {
    sockaddr_nl at{};
    at.nl_family = AF_NETLINK;
    at.nl_groups = RTMGRP_NEIGH;
    bound_ =
        fd_.get() >= 0 && ::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&at), sizeof at) == 0;
  }
  bool ok() const { return bound_; }

  // Waits until the kernel reports `dst` on `ifindex` with link-layer address `mac`.
  bool waitFor(int ifindex, const net::IpAddress& dst, const net::MacAddress& mac) {
    const auto deadline = Clock::now() + kDeadline;
    std::vector<std::uint8_t> buf(1 << 16);
    for (;;) {
      ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
      if (n > 0 && matches(buf.data(), static_cast<std::size_t>(n), ifindex, dst, mac)) return true;
      if (n >= 0) continue;
      if (errno == EINTR || errno == ENOBUFS) continue;  // ENOBUFS: events lost, keep reading
      if (errno != EAGAIN) return false;
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, remainingMs(deadline)) == 0) return false;
    }
  }

 private:
  static bool matches(const std::uint8_t* data, std::size_t len, int ifindex,
                      const net::IpAddress& dst, const net::MacAddress& mac) {
    std::size_t off = 0;
    while (off + sizeof(nlmsghdr) <= len) {
      nlmsghdr h;
      std::memcpy(&h, data + off, sizeof h);
      if (h.nlmsg_len < sizeof h || off + h.nlmsg_len > len) break;
      if (h.nlmsg_type == RTM_NEWNEIGH && h.nlmsg_len >= NLMSG_HDRLEN + sizeof(ndmsg)) {
        ndmsg nd;
        std::memcpy(&nd, data + off + NLMSG_HDRLEN, sizeof nd);
        bool dstOk = false;
        bool macOk = false;
        std::size_t a = off + NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ndmsg));
        while (a + sizeof(rtattr) <= off + h.nlmsg_len) {
          rtattr attr;
          std::memcpy(&attr, data + a, sizeof attr);
          if (attr.rta_len < sizeof attr || a + attr.rta_len > off + h.nlmsg_len) break;
          const std::uint8_t* payload = data + a + RTA_LENGTH(0);
          const std::size_t payloadLen = attr.rta_len - RTA_LENGTH(0);
          if (attr.rta_type == NDA_DST) {
            dstOk =
                payloadLen == dst.size() && std::memcmp(payload, dst.bytes.data(), dst.size()) == 0;
          } else if (attr.rta_type == NDA_LLADDR) {
            macOk = payloadLen == mac.size() && std::memcmp(payload, mac.data(), mac.size()) == 0;
          }
          a += RTA_ALIGN(attr.rta_len);
        }
        if (nd.ndm_ifindex == ifindex && dstOk && macOk) return true;
      }
      off += NLMSG_ALIGN(h.nlmsg_len);
    }
    return false;
  }

  Fd fd_;
  bool bound_ = false;
};

// A veth pair: the director's end "qa0" (sends) and a peer's end "qa1" (198.18.0.2/24,
// 2001:db8::2/64), both in this test's private namespace.
class AnnouncerNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    sh("ip link del dev qa0");
    ASSERT_EQ(sh("ip link set lo up"), 0);
    ASSERT_EQ(sh("ip link add qa0 address 02:00:00:00:00:a0 type veth peer name qa1 address "
                 "02:00:00:00:00:a1"),
              0);
    ASSERT_EQ(sh("ip addr add 198.18.0.1/24 dev qa0"), 0);
    ASSERT_EQ(sh("ip addr add 198.18.0.2/24 dev qa1"), 0);
    ASSERT_EQ(sh("ip addr add 2001:db8::2/64 dev qa1 nodad"), 0);
    ASSERT_EQ(sh("ip link set qa0 up && ip link set qa1 up"), 0);
    // A veth sends nothing until the kernel's link watcher has activated it (it runs
    // deferred, late on a busy machine); it then reports the link as operationally up.
    for (int i = 0; i < 500 && !(operUp("qa0") && operUp("qa1")); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(operUp("qa0") && operUp("qa1")) << "the veth pair never came up";
    sender_ = static_cast<int>(::if_nametoindex("qa0"));
    peer_ = static_cast<int>(::if_nametoindex("qa1"));
    ASSERT_GT(sender_, 0);
    ASSERT_GT(peer_, 0);
    auto a = makePacketAnnouncer();
    ASSERT_TRUE(a) << a.status().message();
    announcer_ = std::move(a).value();
  }
  void TearDown() override { sh("ip link del dev qa0"); }

  // IFF_RUNNING: operationally up, which the link watcher sets right after activating the
  // device. (Asked with an ioctl: /sys shows the namespace it was mounted in, not ours.)
  static bool operUp(const std::string& dev) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    ifreq req{};
    std::snprintf(req.ifr_name, sizeof req.ifr_name, "%s", dev.c_str());
    const bool up = ::ioctl(fd, SIOCGIFFLAGS, &req) == 0 && (req.ifr_flags & IFF_RUNNING) != 0;
    ::close(fd);
    return up;
  }

  // Sends `frame` on qa0 and expects exactly these bytes on qa1.
  void expectDelivered(const Frame& frame) {
    Capture capture(peer_);
    ASSERT_TRUE(capture.ok()) << std::strerror(errno);
    Status s = announcer_->send(sender_, frame);
    ASSERT_TRUE(s) << s.message();
    EXPECT_TRUE(capture.waitFor(frame))
        << "never arrived on qa1: " << hexDump(frame) << "\nother frames:" << capture.seen();
  }

  int sender_ = 0;
  int peer_ = 0;
  std::unique_ptr<Announcer> announcer_;
};

TEST_F(AnnouncerNetns, DeliversEachFrameByteForByte) {
  expectDelivered(gratuitousArp(kAnnounced, ip("198.18.0.10")));
  expectDelivered(unsolicitedNa(kAnnounced, ip("2001:db8::10")));
  VrrpAdvert v4;
  v4.vrid = 7;
  v4.priority = 150;
  v4.source = ip("198.18.0.1");
  v4.addresses = {ip("198.18.0.10"), ip("198.18.0.11")};
  expectDelivered(vrrpAdvert(vrrpVirtualMac(AF_INET, 7), v4));
  VrrpAdvert v6;
  v6.vrid = 7;
  v6.source = ip("fe80::a0");
  v6.addresses = {ip("2001:db8::10")};
  expectDelivered(vrrpAdvert(vrrpVirtualMac(AF_INET6, 7), v6));
}

// The peer already has a (stale) entry for the VIP pointing at the old holder; the gratuitous
// ARP moves it to the announced MAC. Linux does this for existing entries even with
// arp_accept=0, and only because the ARP is gratuitous: the entry is younger than locktime.
TEST_F(AnnouncerNetns, LinuxPeerUpdatesItsEntryFromGratuitousArp) {
  ASSERT_EQ(output("cat /proc/sys/net/ipv4/conf/qa1/arp_accept"), "0\n");
  ASSERT_EQ(sh("ip neigh add 198.18.0.10 lladdr " + net::toString(kStale) + " dev qa1 nud stale"),
            0);
  ASSERT_THAT(output("ip neigh show 198.18.0.10 dev qa1"), HasSubstr(net::toString(kStale)));
  NeighbourEvents events;
  ASSERT_TRUE(events.ok()) << std::strerror(errno);

  Status s = announcer_->send(sender_, gratuitousArp(kAnnounced, ip("198.18.0.10")));
  ASSERT_TRUE(s) << s.message();

  EXPECT_TRUE(events.waitFor(peer_, ip("198.18.0.10"), kAnnounced));
  std::string entry = output("ip neigh show 198.18.0.10 dev qa1");
  EXPECT_THAT(entry, HasSubstr("lladdr " + net::toString(kAnnounced))) << entry;
  EXPECT_THAT(entry, Not(HasSubstr(net::toString(kStale)))) << entry;
}

// The same for IPv6: the override flag makes the peer replace its cached address.
TEST_F(AnnouncerNetns, LinuxPeerUpdatesItsEntryFromUnsolicitedNa) {
  ASSERT_EQ(
      sh("ip -6 neigh add 2001:db8::10 lladdr " + net::toString(kStale) + " dev qa1 nud stale"), 0);
  ASSERT_THAT(output("ip -6 neigh show 2001:db8::10 dev qa1"), HasSubstr(net::toString(kStale)));
  NeighbourEvents events;
  ASSERT_TRUE(events.ok()) << std::strerror(errno);

  Status s = announcer_->send(sender_, unsolicitedNa(kAnnounced, ip("2001:db8::10")));
  ASSERT_TRUE(s) << s.message();

  EXPECT_TRUE(events.waitFor(peer_, ip("2001:db8::10"), kAnnounced));
  std::string entry = output("ip -6 neigh show 2001:db8::10 dev qa1");
  EXPECT_THAT(entry, HasSubstr("lladdr " + net::toString(kAnnounced))) << entry;
}

TEST_F(AnnouncerNetns, ErrorsAreStatusValues) {
  const Frame garp = gratuitousArp(kAnnounced, ip("198.18.0.10"));

  Status s = announcer_->send(999999, garp);
  EXPECT_FALSE(s);
  EXPECT_EQ(s.err(), ENXIO) << s.message();
  EXPECT_THAT(s.message(), HasSubstr("ifindex 999999"));

  for (int bad : {0, -1}) {
    s = announcer_->send(bad, garp);
    EXPECT_FALSE(s);
    EXPECT_EQ(s.err(), ENODEV) << s.message();
  }

  s = announcer_->send(sender_, Frame{});  // e.g. a builder given the wrong family
  EXPECT_FALSE(s);
  EXPECT_EQ(s.err(), EINVAL) << s.message();

  Frame huge = garp;
  huge.resize(ETH_HLEN + 1500 + 1);
  s = announcer_->send(sender_, huge);
  EXPECT_FALSE(s);
  EXPECT_EQ(s.err(), EMSGSIZE) << s.message();

  ASSERT_EQ(sh("ip link add qa2 type veth peer name qa3"), 0);  // left down
  s = announcer_->send(static_cast<int>(::if_nametoindex("qa2")), garp);
  EXPECT_FALSE(s);
  EXPECT_EQ(s.err(), ENETDOWN) << s.message();
  sh("ip link del dev qa2");

  // Still usable after the failures.
  s = announcer_->send(sender_, garp);
  EXPECT_TRUE(s) << s.message();
}

}  // namespace
}  // namespace quorate::kernel
