// The nftables fence against the real kernel: ARP and neighbour-discovery answers for a VIP on one
// end of a veth pair, probed through AF_PACKET from the other end, in a private network namespace.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netfilter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/kernel/fence.h"
#include "server/kernel/netlink_channel.h"
#include "server/kernel/nft_messages.h"

namespace quorate::kernel {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kTable = "qfence_test";
const net::IpAddress kVip4 = *net::IpAddress::parse("198.18.0.10");
const net::IpAddress kVip6 = *net::IpAddress::parse("2001:db8::10");
const net::IpAddress kProxied6 = *net::IpAddress::parse("2001:db8::11");  // proxy NDP, not on `a`
// The fence's groups (leases) as SetUp installs them: kVip4 alone, kVip6 alone.
constexpr std::size_t k4 = 0;
constexpr std::size_t k6 = 1;
constexpr std::size_t kProxiedLease = 2;  // ProxiedAdvertisementsAreFencedByTarget adds it
// The kernel counts set-element timeouts in whole jiffies (CONFIG_HZ=250 here: 4 ms): the
// timeout is truncated to jiffies and starts at the last tick, so an element expires up to two
// jiffies early, never late. 20 ms covers HZ=100.
constexpr milliseconds kJiffySlack{20};
// Under qemu TCG on a loaded host the guest's tick drifts from CLOCK_MONOTONIC by tens of
// milliseconds and more (docs/vm.md, tests/vm/jiffies_drift.py: -49..+42 ms at load 2-4; at load
// 7-9 a VIP went dark 88 ms early or was answered 246 ms late). The relative gate's timing is
// judged with that allowance in the VM and exactly on real hardware (the host run); the absolute
// gate, compared against real time on every packet, keeps its exact bounds in both.
const milliseconds kTickDrift =
    std::getenv("QUORATE_IN_VM") != nullptr ? milliseconds(400) : milliseconds(0);

int sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// CLOCK_REALTIME since the epoch, the clock of nftables' `meta time`.
std::chrono::nanoseconds realNow() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

double msSince(Clock::time_point t0, Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(t - t0).count();
}

// Runs nft commands directly (to look at or damage the fence behind its back).
std::optional<std::string> nftRun(const std::string& cmd) {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) return std::nullopt;
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  std::optional<std::string> out;
  if (nft_run_cmd_from_buffer(ctx, cmd.c_str()) == 0) out = nft_ctx_get_output_buffer(ctx);
  nft_ctx_free(ctx);
  return out;
}

std::uint16_t checksum(const std::uint8_t* data, std::size_t len, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += (data[i] << 8) | data[i + 1];
  if (len % 2) sum += data[len - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// Sends ARP requests and neighbour solicitations on one interface and waits for the answers.
class Prober {
 public:
  explicit Prober(const std::string& dev) {
    ifindex_ = static_cast<int>(if_nametoindex(dev.c_str()));
    arp_ = open(ETH_P_ARP);
    ip6_ = open(ETH_P_IPV6);
    ifreq req{};
    std::snprintf(req.ifr_name, IFNAMSIZ, "%s", dev.c_str());
    if (arp_ >= 0 && ioctl(arp_, SIOCGIFHWADDR, &req) == 0) {
      std::memcpy(mac_.data(), req.ifr_hwaddr.sa_data, 6);
    }
  }
  ~Prober() {
    if (arp_ >= 0) ::close(arp_);
    if (ip6_ >= 0) ::close(ip6_);
  }
  bool ok() const { return ifindex_ > 0 && arp_ >= 0 && ip6_ >= 0; }

  // True if an ARP request for `target` gets a reply within `wait`. Each probe asks from another
  // sender address, so a late reply to an earlier probe is never taken for this one's.
  // `probe`: an RFC 5227 probe, from sender 0.0.0.0 (answered by Linux from the target).
  bool arp(const net::IpAddress& target, milliseconds wait = milliseconds(50), bool probe = false) {
    std::array<std::uint8_t, 4> sender = {198, 18, 0, static_cast<std::uint8_t>(100 + next())};
    if (probe) sender = {0, 0, 0, 0};
    std::vector<std::uint8_t> f(42, 0);
    std::memset(f.data(), 0xff, 6);
    std::memcpy(&f[6], mac_.data(), 6);
    f[12] = 0x08, f[13] = 0x06;                     // ARP
    f[14] = 0, f[15] = 1, f[16] = 0x08, f[17] = 0;  // Ethernet, IPv4
    f[18] = 6, f[19] = 4, f[20] = 0, f[21] = 1;     // request
    std::memcpy(&f[22], mac_.data(), 6);
    std::memcpy(&f[28], sender.data(), 4);
    std::memcpy(&f[38], target.bytes.data(), 4);
    drain(arp_);
    if (!send(arp_, ETH_P_ARP, f)) return false;
    return await(arp_, wait, [&](const std::vector<std::uint8_t>& r) {
      return r.size() >= 42 && r[12] == 0x08 && r[13] == 0x06 && r[20] == 0 && r[21] == 2 &&
             std::memcmp(&r[28], target.bytes.data(), 4) == 0 &&
             std::memcmp(&r[38], sender.data(), 4) == 0;
    });
  }

  // True if a neighbour solicitation for `target` gets an advertisement within `wait`; the
  // advertisement's IPv6 source goes to `source`.
  bool ns(const net::IpAddress& target, milliseconds wait = milliseconds(50),
          net::IpAddress* source = nullptr) {
    net::IpAddress sender = *net::IpAddress::parse("2001:db8::100");
    sender.bytes[15] = static_cast<std::uint8_t>(next());
    std::vector<std::uint8_t> f(14 + 40 + 32, 0);
    // Solicited-node multicast group of the target: ff02::1:ffXX:XXXX, MAC 33:33:ff:XX:XX:XX.
    std::array<std::uint8_t, 16> group = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
    std::memcpy(&group[13], &target.bytes[13], 3);
    f[0] = 0x33, f[1] = 0x33;
    std::memcpy(&f[2], &group[12], 4);
    std::memcpy(&f[6], mac_.data(), 6);
    f[12] = 0x86, f[13] = 0xdd;
    std::uint8_t* ip = &f[14];
    ip[0] = 0x60, ip[5] = 32, ip[6] = 58, ip[7] = 255;  // payload 32, ICMPv6, hop limit 255
    std::memcpy(&ip[8], sender.bytes.data(), 16);
    std::memcpy(&ip[24], group.data(), 16);
    std::uint8_t* icmp = &ip[40];
    icmp[0] = 135;  // neighbour solicitation
    std::memcpy(&icmp[8], target.bytes.data(), 16);
    icmp[24] = 1, icmp[25] = 1;  // source link-layer address option
    std::memcpy(&icmp[26], mac_.data(), 6);
    std::uint32_t pseudo = 32 + 58;
    for (int i = 0; i < 32; i += 2) pseudo += (ip[8 + i] << 8) | ip[9 + i];
    std::uint16_t c = checksum(icmp, 32, pseudo);
    icmp[2] = static_cast<std::uint8_t>(c >> 8), icmp[3] = static_cast<std::uint8_t>(c);
    drain(ip6_);
    if (!send(ip6_, ETH_P_IPV6, f)) return false;
    return await(ip6_, wait, [&](const std::vector<std::uint8_t>& r) {
      if (r.size() < 14 + 40 + 24 || r[12] != 0x86 || r[13] != 0xdd || r[14 + 6] != 58) {
        return false;
      }
      const std::uint8_t* rip = &r[14];
      const std::uint8_t* ricmp = &r[54];
      if (ricmp[0] != 136 || std::memcmp(&ricmp[8], target.bytes.data(), 16) != 0 ||
          std::memcmp(&rip[24], sender.bytes.data(), 16) != 0) {
        return false;
      }
      if (source != nullptr) {
        source->family = AF_INET6;
        std::memcpy(source->bytes.data(), &rip[8], 16);
      }
      return true;
    });
  }

 private:
  int next() { return counter_ = (counter_ + 1) % 100; }

  int open(int proto) {
    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(proto));
    if (fd < 0) return -1;
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(proto);
    sll.sll_ifindex = ifindex_;
    if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  bool send(int fd, int proto, const std::vector<std::uint8_t>& frame) {
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(proto);
    sll.sll_ifindex = ifindex_;
    sll.sll_halen = 6;
    std::memcpy(sll.sll_addr, frame.data(), 6);
    return sendto(fd, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&sll),
                  sizeof sll) == static_cast<ssize_t>(frame.size());
  }

  static void drain(int fd) {
    std::uint8_t buf[2048];
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
  }

  template <class Match>
  static bool await(int fd, milliseconds wait, Match match) {
    auto deadline = Clock::now() + wait;
    std::vector<std::uint8_t> buf(2048);
    for (;;) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
      if (left < 0) return false;
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left) + 1) <= 0) continue;
      sockaddr_ll from{};
      socklen_t len = sizeof from;
      ssize_t n = recvfrom(fd, buf.data(), buf.size(), MSG_DONTWAIT,
                           reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0 || from.sll_pkttype == PACKET_OUTGOING) continue;
      if (match(std::vector<std::uint8_t>(buf.begin(), buf.begin() + n))) return true;
    }
  }

  int ifindex_ = 0;
  int arp_ = -1;
  int ip6_ = -1;
  net::MacAddress mac_{};
  int counter_ = 0;
};

// Polls `probe` until it returns `want` or `deadline` passes (for the first answer after setup
// and for expiries: generous, so a slow machine only makes the test slower).
template <class Probe>
bool eventually(Probe probe, bool want, milliseconds deadline = milliseconds(3000)) {
  auto end = Clock::now() + deadline;
  while (Clock::now() < end) {
    if (probe() == want) return true;
  }
  return false;
}

class FenceNetns : public ::testing::Test {
 protected:
  void SetUp() override {
    sh("ip link del dev a");
    ASSERT_EQ(sh("ip link set lo up"), 0);
    ASSERT_EQ(sh("ip link add name a type veth peer name b"), 0);
    ASSERT_EQ(sh("ip addr add 198.18.0.10/24 dev a"), 0);
    ASSERT_EQ(sh("ip -6 addr add 2001:db8::10/64 dev a nodad"), 0);
    ASSERT_EQ(sh("ip link set dev a up"), 0);
    ASSERT_EQ(sh("ip link set dev b up"), 0);
    prober_.emplace("b");
    ASSERT_TRUE(prober_->ok()) << std::strerror(errno);
    fence_ = makeNftFence(kTable);
    // Before any fence both answer (also waits for the link to come up).
    ASSERT_TRUE(eventually([&] { return arpAnswered(); }, true));
    ASSERT_TRUE(eventually([&] { return nsAnswered(); }, true));
    ASSERT_TRUE(fence_->install({{kVip4}, {kVip6}}).isOk());
  }
  void TearDown() override {
    if (fence_) (void)fence_->uninstall();
    prober_.reset();
    sh("ip link del dev a");
  }

  // Arms both gates of `groups` the way the data plane does: the deadline is real time now plus
  // the time left.
  Status arm(const std::vector<std::size_t>& groups, milliseconds remaining) {
    return armWith(groups, remaining, realNow() + remaining);
  }
  Status armWith(const std::vector<std::size_t>& groups, milliseconds remaining,
                 std::chrono::nanoseconds deadline) {
    for (std::size_t g : groups) {
      if (auto s = fence_->arm(g, remaining, deadline); !s) return s;
    }
    return Status::ok();
  }
  Status close(const std::vector<std::size_t>& groups) {
    for (std::size_t g : groups) {
      if (auto s = fence_->close(g); !s) return s;
    }
    return Status::ok();
  }

  bool arpAnswered(milliseconds wait = milliseconds(50)) { return prober_->arp(kVip4, wait); }
  bool nsAnswered(milliseconds wait = milliseconds(50)) { return prober_->ns(kVip6, wait); }
  // A probe that stays unanswered is asked once more with a long wait, so a reply delayed by a
  // busy machine is not taken for a closed fence.
  bool arpDark() { return !arpAnswered(milliseconds(10)) && !arpAnswered(milliseconds(200)); }
  bool nsDark() { return !nsAnswered(milliseconds(10)) && !nsAnswered(milliseconds(200)); }

  // When a probe of an armed VIP stops being answered: the send time of its last answer and of
  // its first unanswered probe (asked again with a long wait, so a slow reply is not taken for
  // a closed fence). Empty if it was still answered at `limit`.
  template <class Answered>
  std::optional<std::pair<Clock::time_point, Clock::time_point>> watchExpiry(
      Answered answered, Clock::time_point start, milliseconds limit) {
    Clock::time_point lastAnswered = start;
    while (Clock::now() < start + limit) {
      auto sent = Clock::now();
      if (answered(milliseconds(10))) {
        lastAnswered = sent;
      } else if (!answered(milliseconds(200))) {
        return std::make_pair(lastAnswered, sent);
      }
    }
    return std::nullopt;
  }

  // Elements of one set as nft lists them ("" if none).
  static std::string elementsOf(const std::string& family, const std::string& set) {
    auto out = nftRun("list set " + family + " " + kTable + " " + set);
    if (!out) return "<no set>";
    auto at = out->find("elements = ");
    if (at == std::string::npos) return "";
    return out->substr(at, out->find('}', at) - at + 1);
  }

  // What a stream of probes saw while renewals ran back to back on another thread.
  struct UnderRenewals {
    int renewals = 0;
    int probes = 0;
    int lostArp = 0;
    int lostNs = 0;
    bool renewFailed = false;
  };
  // Calls `renew(i)` (false: a fence call failed) for i = 0, 1, ... on a thread of its own for
  // 1.5 s, while this thread probes kVip4 by ARP (and kVip6 by NS too, with `alsoNs`) again and
  // again. A probe unanswered in 100 ms is asked about no more: the reply would come to its own
  // sender address, which no later probe uses for a while.
  template <class Renew>
  UnderRenewals probeUnderRenewals(Renew renew, bool alsoNs = false) {
    std::atomic<bool> stop{false};
    std::atomic<int> renewals{0};
    std::atomic<bool> failed{false};
    std::thread renewer([&] {
      for (int i = 0; !stop.load(); ++i) {
        if (!renew(i)) failed = true;
        renewals.fetch_add(1);
      }
    });
    UnderRenewals r;
    const auto end = Clock::now() + milliseconds(1500);
    while (Clock::now() < end) {
      ++r.probes;
      if (!arpAnswered(milliseconds(100))) ++r.lostArp;
      if (alsoNs) {
        ++r.probes;
        if (!nsAnswered(milliseconds(100))) ++r.lostNs;
      }
    }
    stop = true;
    renewer.join();
    r.renewals = renewals.load();
    r.renewFailed = failed.load();
    return r;
  }

  std::optional<Prober> prober_;
  std::unique_ptr<Fence> fence_;
};

TEST_F(FenceNetns, ArpAnsweredWhileArmedAndNotAfterExpiry) {
  EXPECT_FALSE(arpAnswered(milliseconds(200))) << "installed fence starts closed";
  // The second round is the re-arm after expiry, with a timeout that is not a whole number of
  // jiffies.
  for (int round = 0; round < 2; ++round) {
    const milliseconds timeout(round == 0 ? 300 : 303);
    auto t0 = Clock::now();
    // Only the relative gate is measured here: the deadline is far away.
    ASSERT_TRUE(armWith({k4}, timeout, realNow() + std::chrono::seconds(60)).isOk());
    auto t1 = Clock::now();
    EXPECT_TRUE(arpAnswered(milliseconds(200)));
    Clock::time_point lastAnswered = t1, firstDark{};
    auto end = t0 + milliseconds(5000);
    while (Clock::now() < end) {
      auto sent = Clock::now();
      if (arpAnswered(milliseconds(10))) {
        lastAnswered = sent;
      } else if (!arpAnswered(milliseconds(200))) {
        firstDark = sent;
        break;
      }
    }
    ASSERT_NE(firstDark, Clock::time_point{}) << "fence never expired";
    std::printf(
        "round %d: arm took %.2f ms; last answer sent at %.2f ms, first dark at %.2f ms "
        "after the arm() call began (timeout %lld ms)\n",
        round, msSince(t0, t1), msSince(t0, lastAnswered), msSince(t0, firstDark),
        static_cast<long long>(timeout.count()));
    EXPECT_GE(firstDark, t0 + timeout - kJiffySlack - kTickDrift) << "expired before its timeout";
    // The safety property: never answered after the lease.
    EXPECT_LE(lastAnswered, t1 + timeout + kTickDrift) << "answered after its timeout";
    EXPECT_LE(firstDark, t1 + timeout + milliseconds(500) + kTickDrift) << "expired far too late";
    EXPECT_TRUE(arpDark());
  }
}

TEST_F(FenceNetns, ReArmExtendsExpiry) {
  auto t0 = Clock::now();
  ASSERT_TRUE(arm({k4}, milliseconds(300)).isOk());
  EXPECT_TRUE(arpAnswered());
  std::this_thread::sleep_until(t0 + milliseconds(200));
  ASSERT_TRUE(arm({k4}, milliseconds(2000)).isOk());
  std::this_thread::sleep_until(t0 + milliseconds(600));
  EXPECT_TRUE(arpAnswered(milliseconds(200))) << "re-arm did not extend the expiry";
  // And a shorter re-arm shortens it again (the element is replaced, not kept).
  auto t1 = Clock::now();
  ASSERT_TRUE(arm({k4}, milliseconds(100)).isOk());
  EXPECT_TRUE(eventually([&] { return arpDark(); }, true, milliseconds(1000)));
  EXPECT_LT(Clock::now(), t1 + milliseconds(1000));
}

TEST_F(FenceNetns, CloseStopsAnswersAtOnce) {
  ASSERT_TRUE(arm({k4, k6}, milliseconds(10000)).isOk());
  EXPECT_TRUE(arpAnswered());
  EXPECT_TRUE(nsAnswered());
  ASSERT_TRUE(close({k4, k6}).isOk());
  EXPECT_FALSE(arpAnswered(milliseconds(200)));
  EXPECT_FALSE(nsAnswered(milliseconds(200)));
  // Closing what is already closed is fine.
  EXPECT_TRUE(close({k4, k6}).isOk());
  // So is arming with no time left: it closes.
  ASSERT_TRUE(arm({k4}, milliseconds(10000)).isOk());
  EXPECT_TRUE(arpAnswered());
  ASSERT_TRUE(arm({k4}, milliseconds(0)).isOk());
  EXPECT_FALSE(arpAnswered(milliseconds(200)));
}

TEST_F(FenceNetns, NeighbourAdvertisementsStopWhenFenced) {
  EXPECT_FALSE(nsAnswered(milliseconds(200)));
  ASSERT_TRUE(arm({k6}, milliseconds(10000)).isOk());
  net::IpAddress source;
  ASSERT_TRUE(prober_->ns(kVip6, milliseconds(200), &source));
  // Linux answers from the target address itself: the ip6 saddr rule is what drops it.
  EXPECT_EQ(source, kVip6);
  ASSERT_TRUE(close({k6}).isOk());
  EXPECT_FALSE(nsAnswered(milliseconds(200)));
  // The IPv4 VIP is independent of the IPv6 one.
  ASSERT_TRUE(arm({k4}, milliseconds(10000)).isOk());
  EXPECT_TRUE(arpAnswered());
  EXPECT_FALSE(nsAnswered(milliseconds(200)));
}

// A proxy-NDP answer leaves from another address of the interface: only the rule on the NA
// target (a raw payload match) can stop it.
TEST_F(FenceNetns, ProxiedAdvertisementsAreFencedByTarget) {
  ASSERT_EQ(sh("ip -6 addr add 2001:db8::5/64 dev a nodad"), 0);
  ASSERT_EQ(sh("sysctl -w net.ipv6.conf.a.forwarding=1"), 0);
  ASSERT_EQ(sh("sysctl -w net.ipv6.conf.a.proxy_ndp=1"), 0);
  ASSERT_EQ(sh("sysctl -w net.ipv6.neigh.a.proxy_delay=0"), 0);
  ASSERT_EQ(sh("ip -6 neigh add proxy 2001:db8::11 dev a"), 0);
  // Unfenced, the proxy answers from 2001:db8::5.
  ASSERT_TRUE(fence_->uninstall().isOk());
  net::IpAddress source;
  ASSERT_TRUE(eventually([&] { return prober_->ns(kProxied6, milliseconds(50), &source); }, true));
  EXPECT_NE(source, kProxied6);
  ASSERT_TRUE(fence_->install({{kVip4}, {kVip6}, {kProxied6}}).isOk());
  EXPECT_FALSE(prober_->ns(kProxied6, milliseconds(200)));
  ASSERT_TRUE(arm({kProxiedLease}, milliseconds(10000)).isOk());
  EXPECT_TRUE(prober_->ns(kProxied6, milliseconds(200)));
  ASSERT_TRUE(close({kProxiedLease}).isOk());
  EXPECT_FALSE(prober_->ns(kProxied6, milliseconds(200)));
}

// The freeze-before-commit case: the holder read its clocks, then stalled before the commit, so
// the relative timeout (2000 ms) starts late. The absolute deadline, computed before the stall
// (300 ms from the clock read), still closes both families on time, to the packet: the kernel
// compares its real-time clock with the deadline on every lookup, no jiffies involved.
// This is the test that fails without the absolute gate.
TEST_F(FenceNetns, AbsoluteDeadlineClosesBeforeALateTimeout) {
  const milliseconds deadlineIn(300);
  // The deadline's real time is read first: a probe sent after t0 + deadlineIn is sent after
  // the deadline (the deadline is no longer rounded, so microseconds count; under qemu TCG a
  // clock read takes several).
  const auto deadline = realNow() + deadlineIn;
  const auto t0 = Clock::now();
  ASSERT_TRUE(armWith({k4, k6}, milliseconds(2000), deadline).isOk());
  const auto t1 = Clock::now();
  EXPECT_TRUE(arpAnswered(milliseconds(200)));
  EXPECT_TRUE(nsAnswered(milliseconds(200)));
  auto arp = watchExpiry([&](milliseconds w) { return arpAnswered(w); }, t0, milliseconds(1500));
  ASSERT_TRUE(arp) << "ARP still answered 1500 ms after a 300 ms deadline";
  std::printf("ARP: last answer sent at %.2f ms, first dark at %.2f ms (deadline %lld ms)\n",
              msSince(t0, arp->first), msSince(t0, arp->second),
              static_cast<long long>(deadlineIn.count()));
  EXPECT_LE(arp->first, t0 + deadlineIn) << "answered after the deadline";
  EXPECT_GE(arp->second, t1 + deadlineIn - milliseconds(60)) << "closed well before the deadline";
  EXPECT_LE(arp->second, t0 + deadlineIn + milliseconds(300)) << "closed far too late";
  // IPv6: neighbour solicitations stop being answered too.
  EXPECT_TRUE(nsDark());
  EXPECT_LT(Clock::now(), t0 + milliseconds(2000)) << "too slow to tell the gates apart";
  // The relative element is still there: only the absolute gate is closed.
  EXPECT_NE(elementsOf("arp", "lease0_a"), "");
  EXPECT_NE(elementsOf("inet", "lease1_a"), "");
}

// The other way round: a deadline far ahead does not keep a VIP open past its timeout.
TEST_F(FenceNetns, TimeoutClosesBeforeAFarDeadline) {
  const milliseconds timeout(300);
  const auto t0 = Clock::now();
  ASSERT_TRUE(armWith({k4, k6}, timeout, realNow() + std::chrono::seconds(60)).isOk());
  const auto t1 = Clock::now();
  EXPECT_TRUE(nsAnswered(milliseconds(200)));
  auto arp = watchExpiry([&](milliseconds w) { return arpAnswered(w); }, t0, milliseconds(1500));
  ASSERT_TRUE(arp) << "ARP still answered 1500 ms after a 300 ms timeout";
  EXPECT_LE(arp->first, t1 + timeout + kTickDrift);
  EXPECT_GE(arp->second, t0 + timeout - kJiffySlack - kTickDrift);
  EXPECT_TRUE(nsDark());
  EXPECT_LT(Clock::now(), t0 + milliseconds(1500) + kTickDrift);
}

// Re-arming moves both limits, in either direction: later by writing the other slot (the
// previous one stays, ending earlier), earlier by shutting the previous slot in the same
// transaction, so nothing older keeps the gate open past what the last arm asked for.
TEST_F(FenceNetns, ReArmMovesBothGates) {
  auto t0 = Clock::now();
  ASSERT_TRUE(arm({k4, k6}, milliseconds(1000)).isOk());
  std::this_thread::sleep_until(t0 + milliseconds(200));
  ASSERT_TRUE(arm({k4, k6}, milliseconds(4000)).isOk());
  // Both slots are written: the renewal went to the second while the first still ran.
  for (const auto& [family, set] : {std::pair{"arp", "lease0_a"}, std::pair{"arp", "lease0_b"},
                                    std::pair{"inet", "lease1_a"}, std::pair{"inet", "lease1_b"}}) {
    EXPECT_NE(elementsOf(family, set), "") << family << " " << set;
  }
  std::this_thread::sleep_until(t0 + milliseconds(1300));
  EXPECT_TRUE(arpAnswered(milliseconds(200))) << "re-arm did not move both gates";
  EXPECT_TRUE(nsAnswered(milliseconds(200)));
  // The deadline moves earlier while the timeout stays long: dark at the deadline.
  auto t1 = Clock::now();
  ASSERT_TRUE(armWith({k4, k6}, milliseconds(5000), realNow() + milliseconds(100)).isOk());
  EXPECT_TRUE(eventually([&] { return arpDark(); }, true, milliseconds(1000)));
  EXPECT_TRUE(nsDark());
  EXPECT_LT(Clock::now(), t1 + milliseconds(1000));
  // The deadline moves later again: open again at once.
  ASSERT_TRUE(arm({k4, k6}, milliseconds(5000)).isOk());
  EXPECT_TRUE(arpAnswered(milliseconds(200)));
  EXPECT_TRUE(nsAnswered(milliseconds(200)));
  // The timeout moves earlier while the deadline stays late: dark at the timeout.
  auto t2 = Clock::now();
  ASSERT_TRUE(armWith({k4, k6}, milliseconds(100), realNow() + std::chrono::seconds(60)).isOk());
  EXPECT_TRUE(eventually([&] { return arpDark(); }, true, milliseconds(1000)));
  EXPECT_TRUE(nsDark());
  EXPECT_LT(Clock::now(), t2 + milliseconds(1000));
}

// close() shuts both slots: no element, and the lease chain is the drop alone.
TEST_F(FenceNetns, CloseRemovesBothGates) {
  ASSERT_TRUE(arm({k4, k6}, milliseconds(10000)).isOk());
  ASSERT_TRUE(arm({k4, k6}, milliseconds(10000)).isOk());
  EXPECT_TRUE(arpAnswered());
  EXPECT_NE(elementsOf("arp", "lease0_b"), "");
  ASSERT_TRUE(close({k4, k6}).isOk());
  for (const auto& [family, set] : {std::pair{"arp", "lease0_a"}, std::pair{"arp", "lease0_b"},
                                    std::pair{"inet", "lease0_a"}, std::pair{"inet", "lease0_b"},
                                    std::pair{"inet", "lease1_a"}, std::pair{"inet", "lease1_b"}}) {
    EXPECT_EQ(elementsOf(family, set), "") << family << " " << set;
  }
  for (const char* family : {"arp", "inet"}) {
    auto chain = nftRun(std::string("list chain ") + family + " " + kTable + " lease0");
    ASSERT_TRUE(chain);
    EXPECT_NE(chain->find("drop"), std::string::npos) << *chain;
  }
  EXPECT_FALSE(arpAnswered(milliseconds(200)));
  // Re-armed after a close: both gates open again.
  ASSERT_TRUE(arm({k4}, milliseconds(10000)).isOk());
  EXPECT_TRUE(arpAnswered());
  // A deadline already past closes at once (the relative element alone does not open it).
  ASSERT_TRUE(armWith({k4}, milliseconds(10000), realNow() - milliseconds(1)).isOk());
  EXPECT_FALSE(arpAnswered(milliseconds(200)));
}

// The point of the two slots: while one is being rewritten, the other alone lets the VIP
// through. Emptying a slot's set by hand (what a lookup could see mid-commit on a kernel that
// misses elements then) leaves the VIP answered; emptying both shuts it; the next arm() writes
// its slot whole again, whatever it finds.
TEST_F(FenceNetns, EitherSlotAloneKeepsTheVipOpen) {
  for (const char* slot : {"_a", "_b"}) {
    ASSERT_TRUE(arm({k4, k6}, milliseconds(10000)).isOk());  // one slot
    ASSERT_TRUE(arm({k4, k6}, milliseconds(10000)).isOk());  // the other
    ASSERT_TRUE(nftRun(std::string("flush set arp ") + kTable + " lease0" + slot));
    ASSERT_TRUE(nftRun(std::string("flush set inet ") + kTable + " lease1" + slot));
    EXPECT_TRUE(arpAnswered(milliseconds(200))) << "slot" << slot << " emptied";
    EXPECT_TRUE(nsAnswered(milliseconds(200))) << "slot" << slot << " emptied";
  }
  ASSERT_TRUE(nftRun(std::string("flush set arp ") + kTable + " lease0_a"));
  ASSERT_TRUE(nftRun(std::string("flush set arp ") + kTable + " lease0_b"));
  EXPECT_FALSE(arpAnswered(milliseconds(200))) << "no slot open: the gate is shut";
  ASSERT_TRUE(arm({k4}, milliseconds(10000)).isOk());
  EXPECT_TRUE(arpAnswered(milliseconds(200)));
}

// Renewals back to back under a stream of probes: not one probe may go unanswered. The check is
// shown to catch a gap: the same stream against renewals made as close() then arm() (two
// transactions, so the gate is shut between them) loses probes.
TEST_F(FenceNetns, RenewalsNeverDropAProbe) {
  ASSERT_TRUE(arm({k4}, milliseconds(5000)).isOk());
  const auto r = probeUnderRenewals([&](int) { return arm({k4}, milliseconds(5000)).isOk(); });
  std::printf("two-slot renewals: %d renewals, %d probes, %d lost\n", r.renewals, r.probes,
              r.lostArp);
  EXPECT_FALSE(r.renewFailed);
  EXPECT_GT(r.renewals, 100);
  EXPECT_GT(r.probes, 100);
  EXPECT_EQ(r.lostArp, 0) << "a renewal let probes go unanswered";
  const auto g = probeUnderRenewals(
      [&](int) { return fence_->close(k4).isOk() && arm({k4}, milliseconds(5000)).isOk(); });
  std::printf("renewals with a gap (close, then arm): %d renewals, %d probes, %d lost\n",
              g.renewals, g.probes, g.lostArp);
  EXPECT_FALSE(g.renewFailed);
  EXPECT_GT(g.lostArp, 0) << "the probe stream cannot see a shut gate between two transactions";
}

// For docs/fence.md: the ruleset as installed, with one VIP of each family armed and renewed.
TEST_F(FenceNetns, PrintRuleset) {
  ASSERT_TRUE(arm({k4, k6}, milliseconds(10000)).isOk());
  std::this_thread::sleep_for(milliseconds(500));  // a renewal: both slots open
  ASSERT_TRUE(arm({k4, k6}, milliseconds(10000)).isOk());
  for (const char* family : {"arp", "inet"}) {
    auto out = nftRun(std::string("list table ") + family + " " + kTable);
    ASSERT_TRUE(out);
    std::printf("%s", out->c_str());
  }
}

TEST_F(FenceNetns, InstallTwiceLeavesOneSetOfTablesAllClosed) {
  ASSERT_TRUE(arm({k4, k6}, milliseconds(10000)).isOk());
  EXPECT_TRUE(arpAnswered());
  // A second object (a restarted daemon) replaces what the first left.
  auto again = makeNftFence(kTable);
  ASSERT_TRUE(again->install({{kVip4}, {kVip6}}).isOk());
  EXPECT_FALSE(arpAnswered(milliseconds(200)));
  EXPECT_FALSE(nsAnswered(milliseconds(200)));
  auto tables = nftRun("list tables");
  ASSERT_TRUE(tables);
  EXPECT_EQ(*tables, std::string("table arp ") + kTable + "\ntable inet " + kTable + "\n");
  auto live = nftRun(std::string("list set inet ") + kTable + " lease0_a");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->find("elements"), std::string::npos) << *live;
  ASSERT_TRUE(again->arm(k4, milliseconds(10000), realNow() + std::chrono::seconds(10)).isOk());
  EXPECT_TRUE(arpAnswered());
}

TEST_F(FenceNetns, UninstallRemovesTablesAndTheFence) {
  EXPECT_FALSE(arpAnswered(milliseconds(200)));
  ASSERT_TRUE(fence_->uninstall().isOk());
  EXPECT_EQ(nftRun("list tables"), std::optional<std::string>(""));
  EXPECT_TRUE(arpAnswered());
  EXPECT_TRUE(fence_->uninstall().isOk()) << "uninstall twice is fine";
}

TEST_F(FenceNetns, ArmingAnUnknownLeaseFails) {
  auto s = fence_->arm(2, milliseconds(1000), realNow() + std::chrono::seconds(1));
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.err(), EINVAL);
  EXPECT_NE(s.what().find("no lease 2"), std::string::npos) << s.message();
  EXPECT_FALSE(arpAnswered(milliseconds(200))) << "nothing of a refused arm() is applied";
  EXPECT_EQ(fence_->close(2).err(), EINVAL);
  // A fresh object knows no lease until install().
  auto fresh = makeNftFence(kTable);
  s = fresh->arm(k4, milliseconds(1000), realNow() + std::chrono::seconds(1));
  EXPECT_EQ(s.err(), EINVAL) << s.message();
  EXPECT_NE(s.what().find("install() not called"), std::string::npos) << s.message();
  // One address in two leases is refused, and the installed fence stays as it was.
  s = fence_->install({{kVip4}, {kVip6, kVip4}});
  EXPECT_EQ(s.err(), EINVAL) << s.message();
  EXPECT_NE(s.what().find("198.18.0.10 is in two leases"), std::string::npos) << s.message();
  ASSERT_TRUE(arm({k4}, milliseconds(10000)).isOk());
  EXPECT_TRUE(arpAnswered());
}

TEST_F(FenceNetns, NftFailuresCarryNftsErrorText) {
  // The tables vanish behind the fence's back (someone ran "nft flush ruleset").
  ASSERT_TRUE(nftRun(std::string("delete table arp ") + kTable));
  ASSERT_TRUE(nftRun(std::string("delete table inet ") + kTable));
  auto s = arm({k4}, milliseconds(1000));
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.err(), ENOENT) << s.message();
  EXPECT_NE(s.message().find("No such file or directory"), std::string::npos) << s.message();
  EXPECT_NE(s.what().find("flush set arp qfence_test lease0_a"), std::string::npos)
      << "the failed command, in nft syntax: " << s.message();
  std::printf("arm() without tables: %s\n", s.message().c_str());
  // Closing a fence that is not there is an error too: with no tables the VIP is open.
  auto other = makeNftFence("qfence_absent");
  ASSERT_TRUE(other->install({{kVip4}}).isOk());
  ASSERT_TRUE(nftRun("delete table arp qfence_absent"));
  s = other->close(0);
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.err(), ENOENT) << s.message();
  // ... after which the fence is back, closed.
  EXPECT_TRUE(nftRun("list chain arp qfence_absent lease0")) << s.message();
  ASSERT_TRUE(other->uninstall().isOk());
  // A bad table name is refused before nft sees it.
  s = makeNftFence("bad name; flush ruleset")->install({{kVip4}});
  EXPECT_EQ(s.err(), EINVAL) << s.message();
  // The fence object still works afterwards.
  ASSERT_TRUE(fence_->install({{kVip4}}).isOk());
  ASSERT_TRUE(arm({k4}, milliseconds(10000)).isOk());
  EXPECT_TRUE(arpAnswered());
}

// arm() runs on every lease renewal: measure it for leases of 1, 8 and 64 VIPs (and fail only if
// absurdly slow). bench/fence_bench.cc measures it properly.
TEST_F(FenceNetns, ArmCost) {
  std::vector<std::vector<net::IpAddress>> groups;
  int next = 0;
  for (int n : {1, 8, 64}) {
    std::vector<net::IpAddress> g;
    for (int i = 0; i < n; ++i, ++next) {
      g.push_back(i % 2 == 0 ? *net::IpAddress::parse("198.18.1." + std::to_string(next % 250 + 1))
                             : *net::IpAddress::parse("2001:db8:1::" + std::to_string(next + 1)));
    }
    groups.push_back(g);
  }
  ASSERT_TRUE(fence_->install(groups).isOk());
  for (std::size_t i = 0; i < groups.size(); ++i) {
    std::vector<double> us;
    for (int k = 0; k < 1000; ++k) {
      auto t0 = Clock::now();
      ASSERT_TRUE(arm({i}, milliseconds(500 + k)).isOk());
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    std::sort(us.begin(), us.end());
    std::printf("arm() with %zu VIP(s): median %.0f us, p90 %.0f us, p99 %.0f us, max %.0f us\n",
                groups[i].size(), us[500], us[900], us[990], us[999]);
    RecordProperty("arm_median_us_" + std::to_string(groups[i].size()), static_cast<int>(us[500]));
    EXPECT_LT(us[500], 20000.0);
  }
}

// IPv4 frames seen on `dev` (AF_PACKET) whose source address is `from`, within `wait`.
int framesFrom(int fd, const net::IpAddress& from, milliseconds wait) {
  int seen = 0;
  const auto end = Clock::now() + wait;
  std::uint8_t buf[2048];
  while (Clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10) <= 0) continue;
    sockaddr_ll sll{};
    socklen_t len = sizeof sll;
    ssize_t n =
        recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&sll), &len);
    if (n < 34 || sll.sll_pkttype == PACKET_OUTGOING) continue;
    if (std::memcmp(&buf[14 + 12], from.bytes.data(), 4) == 0) ++seen;
  }
  return seen;
}

// Traffic that gets the VIP as its source after the output hook (source NAT in postrouting, or
// IPVS masquerading, which rewrites a real server's reply in forward) never met the `out` chain:
// it must still be gated, or a fenced director keeps sending from the VIP. Shown here with a
// local datagram from another address, SNATed to the VIP by someone else's nat table.
TEST_F(FenceNetns, TrafficNattedToAVipIsFenced) {
  ASSERT_EQ(sh("ip addr add 198.18.0.5/24 dev a"), 0);
  ifreq req{};
  std::snprintf(req.ifr_name, IFNAMSIZ, "b");
  const int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP));
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ioctl(fd, SIOCGIFHWADDR, &req), 0);
  char mac[18];
  const auto* m = reinterpret_cast<const std::uint8_t*>(req.ifr_hwaddr.sa_data);
  std::snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                m[5]);
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_IP);
  sll.sll_ifindex = static_cast<int>(if_nametoindex("b"));
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll), 0);
  ASSERT_EQ(sh(std::string("ip neigh replace 198.18.0.20 lladdr ") + mac + " dev a nud permanent"),
            0);
  ASSERT_TRUE(
      nftRun("table ip qnat {\n chain post {\n type nat hook postrouting priority srcnat;\n"
             " ip saddr 198.18.0.5 ip daddr 198.18.0.20 snat to 198.18.0.10\n }\n}\n"));
  const int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(udp, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, "198.18.0.5", &src.sin_addr);
  ASSERT_EQ(bind(udp, reinterpret_cast<sockaddr*>(&src), sizeof src), 0);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(9);
  inet_pton(AF_INET, "198.18.0.20", &dst.sin_addr);
  auto sendSome = [&] {
    for (int i = 0; i < 5; ++i) {
      (void)sendto(udp, "x", 1, 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
    }
  };
  // Open: the datagrams leave from the VIP (the observer works).
  ASSERT_TRUE(arm({k4}, milliseconds(10000)).isOk());
  sendSome();
  EXPECT_GT(framesFrom(fd, kVip4, milliseconds(200)), 0) << "the SNAT setup does not work";
  // Closed: nothing leaves from the VIP.
  ASSERT_TRUE(close({k4}).isOk());
  sendSome();
  EXPECT_EQ(framesFrom(fd, kVip4, milliseconds(200)), 0) << "frames from a fenced VIP left";
  ::close(udp);
  ::close(fd);
  (void)nftRun("delete table ip qnat");
}

// A timeout shorter than one jiffy rounds to zero jiffies in the kernel; the element must still
// expire (not become an element without a timeout), or the relative gate is gone for that slot.
TEST_F(FenceNetns, TimeoutShorterThanAJiffyStillExpires) {
  for (int ms : {1, 3, 9}) {
    ASSERT_TRUE(armWith({k4}, milliseconds(ms), realNow() + std::chrono::seconds(60)).isOk());
    std::this_thread::sleep_for(milliseconds(100));
    EXPECT_TRUE(arpDark()) << ms << " ms";
    ASSERT_TRUE(close({k4}).isOk());
  }
}

// `nft flush ruleset` (the first line of Debian's /etc/nftables.conf, so a restart of the
// nftables service does it) takes the fence away: every VIP is unfenced. The next arm() must
// not leave it so: afterwards the VIP goes dark when that arm's time is up, whatever arm()
// returned, and a close() shuts it.
TEST_F(FenceNetns, FlushedRulesetIsFencedAgainByTheNextArm) {
  ASSERT_TRUE(arm({k4, k6}, milliseconds(10000)).isOk());
  ASSERT_TRUE(nftRun("flush ruleset"));
  const auto t0 = Clock::now();
  const Status s = arm({k4}, milliseconds(300));
  std::printf("arm() after flush ruleset: %s\n", s ? "ok" : s.message().c_str());
  // The errno text ends the message: it must follow the attempt that failed, not the one applied
  // again after the reinstall (which succeeded).
  EXPECT_EQ(s.err(), ENOENT);
  EXPECT_NE(s.message().find("this call applied again"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("applied again: "), std::string::npos) << s.message();
  std::this_thread::sleep_until(t0 + milliseconds(300) + kJiffySlack + kTickDrift);
  EXPECT_TRUE(arpDark()) << "answered after the last arm's time, with no fence";
  // close() of the other lease: shut too.
  (void)close({k6});
  EXPECT_TRUE(nsDark()) << "answered after close(), with no fence";
  // And the fence works as before.
  ASSERT_TRUE(arm({k4, k6}, milliseconds(10000)).isOk());
  EXPECT_TRUE(arpAnswered(milliseconds(200)));
  EXPECT_TRUE(nsAnswered(milliseconds(200)));
}

// A huge time left (here 10^13 ms, which the kernel still takes) must not overflow the fence's
// own bookkeeping of the slot's end: a later, shorter arm would keep that slot and the gate would
// stay open past what the last arm asked for.
TEST_F(FenceNetns, HugeTimeLeftDoesNotOutliveAShorterRearm) {
  const auto s = armWith({k4}, milliseconds(10'000'000'000'000LL), realNow() + milliseconds(3000));
  std::printf("arm() of 10^13 ms: %s\n", s ? "ok" : s.message().c_str());
  const auto t0 = Clock::now();
  ASSERT_TRUE(armWith({k4}, milliseconds(200), realNow() + milliseconds(4000)).isOk());
  std::this_thread::sleep_until(t0 + milliseconds(200) + kJiffySlack + kTickDrift);
  EXPECT_TRUE(arpDark()) << "open past the last arm's 200 ms";
  EXPECT_LT(Clock::now(), t0 + milliseconds(2500)) << "too slow to tell";
}

// Another table's `accept` ends only its own chain: the packet still meets the fence's chain at
// the same hook, so nothing another table accepts reaches a closed VIP.
TEST_F(FenceNetns, AnotherTablesAcceptDoesNotOpenAClosedVip) {
  ASSERT_TRUE(nftRun(
      "table arp qother {\n chain in {\n type filter hook input priority -500;\n accept\n }\n}\n"
      "table inet qother {\n chain out {\n type filter hook output priority -500;\n accept\n "
      "}\n}\n"));
  EXPECT_FALSE(arpAnswered(milliseconds(200)));
  EXPECT_FALSE(nsAnswered(milliseconds(200)));
  (void)nftRun("delete table arp qother\ndelete table inet qother");
}

// Renewals of two leases of both families, alternately, with a few thousand other VIPs in the
// table (longer commits), under a stream of ARP and NS probes: not one probe is lost.
TEST_F(FenceNetns, AlternateRenewalsOfTwoBigLeasesNeverDropAProbe) {
  std::vector<std::vector<net::IpAddress>> groups{{kVip4}, {kVip6}};
  for (int i = 0; i < 2000; ++i) {
    groups[static_cast<std::size_t>(i % 2)].push_back(
        i % 2 == 0 ? *net::IpAddress::parse("198.19." + std::to_string(i / 250) + "." +
                                            std::to_string(i % 250 + 1))
                   : *net::IpAddress::parse("2001:db8:2::" + std::to_string(i + 1)));
  }
  ASSERT_TRUE(fence_->install(groups).isOk());
  // `gapped`: every renewal made as close() then arm(), the mutant that shuts the gate between
  // two transactions; the probes must see it.
  auto run = [&](bool gapped) {
    EXPECT_TRUE(arm({k4, k6}, milliseconds(5000)).isOk());
    const auto r = probeUnderRenewals(
        [&](int i) {
          const std::size_t lease = static_cast<std::size_t>(i % 2);
          if (gapped && !fence_->close(lease)) return false;
          return arm({lease}, milliseconds(5000)).isOk();
        },
        /*alsoNs=*/true);
    std::printf("%s: %d renewals, %d probes, %d ARP and %d NS lost\n",
                gapped ? "close+arm renewals" : "renewals", r.renewals, r.probes, r.lostArp,
                r.lostNs);
    EXPECT_FALSE(r.renewFailed);
    EXPECT_GT(r.renewals, 20);
    return r.lostArp + r.lostNs;
  };
  EXPECT_EQ(run(false), 0) << "a renewal let probes go unanswered";
  EXPECT_GT(run(true), 0) << "the probes cannot see a gate shut between two transactions";
}

// ARP probes (sender 0.0.0.0, what a host doing duplicate address detection sends) are gated
// like any request for the VIP: unanswered while the gate is shut.
TEST_F(FenceNetns, ArpProbesAreFenced) {
  EXPECT_FALSE(prober_->arp(kVip4, milliseconds(200), true));
  ASSERT_TRUE(arm({k4}, milliseconds(10000)).isOk());
  EXPECT_TRUE(prober_->arp(kVip4, milliseconds(200), true)) << "the probe is not answered at all";
  ASSERT_TRUE(close({k4}).isOk());
  std::this_thread::sleep_for(milliseconds(100));  // a late answer to the last probe
  EXPECT_FALSE(prober_->arp(kVip4, milliseconds(200), true));
}

// A batch whose sequence numbers wrap past 2^32 is acknowledged like any other (the socket
// matched acks to [base, base + messages] without the wrap, and took such a batch for lost).
TEST_F(FenceNetns, BatchAcrossTheSequenceWrapIsAcknowledged) {
  netlink::Channel sock(NETLINK_NETFILTER);
  ASSERT_TRUE(sock.open("test").isOk());
  for (std::uint32_t base : {0xfffffff0u, 0xfffffffdu, 0xffffffffu}) {
    nft::TransactionBuilder b(base);
    for (int i = 0; i < 8; ++i) {
      b.setElements(false, NFPROTO_INET, kTable, "lease0_a", {}, "flush set");
    }
    const nft::Transaction tx = std::move(b).finish();
    auto acks = sock.sendBatch(tx.bytes, tx.first, tx.messages() + 1, netlink::Acks::Queued,
                               "flush", /*quietHead=*/1);
    ASSERT_TRUE(acks.isOk()) << "base " << base << ": " << acks.status().message();
    EXPECT_TRUE(acks->complete()) << "base " << base;
    EXPECT_EQ(acks->failures(), 0u) << "base " << base;
  }
}

// A renewal writes set elements only: a transaction that adds a rule makes the kernel revalidate
// the whole table, walking every VIP's map element, so renewals would cost time in the number of
// VIPs. The lease chains, with their rule handles, stay exactly as install() wrote them.
TEST_F(FenceNetns, RenewalsAndClosesLeaveTheLeaseChainsAlone) {
  auto chains = [] {
    nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_HANDLE);
    nft_ctx_buffer_output(ctx);
    nft_ctx_buffer_error(ctx);
    std::string out;
    for (const char* c :
         {"arp qfence_test lease0", "inet qfence_test lease0", "inet qfence_test lease1"}) {
      if (nft_run_cmd_from_buffer(ctx, (std::string("list chain ") + c).c_str()) == 0) {
        out += nft_ctx_get_output_buffer(ctx);
      }
    }
    nft_ctx_free(ctx);
    return out;
  };
  const std::string installed = chains();
  ASSERT_NE(installed.find("handle"), std::string::npos) << installed;
  ASSERT_TRUE(arm({k4, k6}, milliseconds(10000)).isOk());
  ASSERT_TRUE(arm({k4, k6}, milliseconds(10000)).isOk());
  ASSERT_TRUE(armWith({k4}, milliseconds(100), realNow() + milliseconds(100)).isOk());  // shorter
  ASSERT_TRUE(close({k4, k6}).isOk());
  ASSERT_TRUE(arm({k4, k6}, milliseconds(10000)).isOk());
  EXPECT_EQ(chains(), installed);
  EXPECT_TRUE(arpAnswered(milliseconds(200)));
}

// An expired slot stays shut while the kernel collects it: on 6.1 the interval's start element
// carries the timeout and its end element none, and the set's garbage collector (every second or
// so) and the lookup's own expiry check must agree that nothing is left open. Both slots expire
// (a renewal 100 ms later than the first arm) with a deadline a minute ahead, then the VIPs are
// probed for six seconds: several collector runs. Fails if an element outlives its timeout.
TEST_F(FenceNetns, ExpiredSlotsStayShutWhileTheKernelCollectsThem) {
  const auto deadline = realNow() + std::chrono::seconds(60);
  ASSERT_TRUE(armWith({k4, k6}, milliseconds(300), deadline).isOk());
  ASSERT_TRUE(armWith({k4, k6}, milliseconds(400), deadline).isOk());
  for (const auto& [family, set] : {std::pair{"arp", "lease0_a"}, std::pair{"arp", "lease0_b"}}) {
    ASSERT_NE(elementsOf(family, set), "") << family << " " << set << ": both slots open";
  }
  ASSERT_TRUE(eventually([&] { return arpDark(); }, true, milliseconds(1500) + kTickDrift));
  ASSERT_TRUE(nsDark());
  int answered = 0, probes = 0;
  const auto end = Clock::now() + std::chrono::seconds(6);
  while (Clock::now() < end) {
    answered += arpAnswered(milliseconds(20)) ? 1 : 0;
    answered += nsAnswered(milliseconds(20)) ? 1 : 0;
    probes += 2;
  }
  std::printf("after expiry: %d of %d probes answered; lease0_a now \"%s\"\n", answered, probes,
              elementsOf("arp", "lease0_a").c_str());
  EXPECT_EQ(answered, 0) << "an expired slot admitted again";
  EXPECT_GT(probes, 20);
}

// The absolute gate at and past its edge: an arm whose deadline is now, in the past or at the
// epoch's first nanosecond leaves the VIPs dark at once, even over an open slot that a longer
// arm left (the interval [0, deadline) is empty for every later packet); an arm that writes the
// same deadline into a slot again is accepted and open.
TEST_F(FenceNetns, DeadlineNowOrPastShutsAnOpenGate) {
  const std::chrono::nanoseconds past[] = {realNow(), realNow() - std::chrono::seconds(1),
                                           std::chrono::nanoseconds(1)};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(arm({k4, k6}, milliseconds(10000)).isOk());
    ASSERT_TRUE(arpAnswered(milliseconds(200))) << i;
    const auto deadline = i == 0 ? realNow() : past[i];
    ASSERT_TRUE(armWith({k4, k6}, milliseconds(10000), deadline).isOk()) << i;
    EXPECT_TRUE(arpDark()) << "case " << i << ": answered with the deadline behind us";
    EXPECT_TRUE(nsDark()) << "case " << i;
  }
  // From closed, a deadline in the past stays dark; the next good arm opens.
  ASSERT_TRUE(close({k4, k6}).isOk());
  ASSERT_TRUE(armWith({k4, k6}, milliseconds(10000), realNow() - milliseconds(1)).isOk());
  EXPECT_TRUE(arpDark());
  const auto same = realNow() + std::chrono::seconds(30);
  for (int i = 0; i < 3; ++i) {  // the third writes slot a again with the interval it held
    ASSERT_TRUE(armWith({k4, k6}, milliseconds(10000), same).isOk()) << i;
    EXPECT_TRUE(arpAnswered(milliseconds(200))) << i;
    EXPECT_TRUE(nsAnswered(milliseconds(200))) << i;
  }
}

// A slot whose element expired and whose deadline passed is written again while the expired
// element may still sit in the set (a flush skips expired elements; the kernel collects them on
// insert or later). Whatever is left of it (an interval end with no timeout of its own, at a
// deadline now behind us) must not shut the new, later interval: the VIPs answer at once and
// keep answering through several collector runs.
TEST_F(FenceNetns, ReArmOverAnExpiredSlotOpensFully) {
  for (int round = 0; round < 2; ++round) {
    const auto t0 = Clock::now();
    ASSERT_TRUE(armWith({k4, k6}, milliseconds(200), realNow() + milliseconds(300)).isOk());
    ASSERT_TRUE(armWith({k4, k6}, milliseconds(250), realNow() + milliseconds(300)).isOk());
    // Round 0 re-arms right after the expiry, round 1 after the collector had its turn.
    std::this_thread::sleep_until(t0 + (round == 0 ? milliseconds(400) : milliseconds(2500)));
    ASSERT_TRUE(arpDark()) << round;
    ASSERT_TRUE(arm({k4, k6}, milliseconds(20000)).isOk()) << round;
    int missed = 0, probes = 0;
    const auto end = Clock::now() + std::chrono::seconds(3);
    while (Clock::now() < end) {
      missed += arpAnswered(milliseconds(200)) ? 0 : 1;
      missed += nsAnswered(milliseconds(200)) ? 0 : 1;
      probes += 2;
      if (probes == 20) {
        ASSERT_TRUE(arm({k4, k6}, milliseconds(20000)).isOk());  // the other slot
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
    std::printf("round %d: %d of %d probes unanswered\n", round, missed, probes);
    EXPECT_EQ(missed, 0) << "round " << round << ": an armed VIP went unanswered";
    ASSERT_TRUE(close({k4, k6}).isOk());
  }
}

// Renewals that move the lease end earlier (a shorter grant, or the real-time clock stepped back)
// must shut the other slot without a packet ever depending on a commit: writing their own slot
// and emptying the other in one transaction let a packet whose two lookups straddled the commit
// pass neither. Not one probe may be lost to them.
TEST_F(FenceNetns, ShorteningRenewalsNeverDropAProbe) {
  const auto base = realNow() + std::chrono::seconds(60);
  ASSERT_TRUE(armWith({k4}, milliseconds(60000), base).isOk());
  ASSERT_TRUE(arpAnswered(milliseconds(200)));
  const auto r = probeUnderRenewals([&](int i) {
    // Each arm ends 1 ms earlier on both clocks than the one before.
    const auto deadline = base - milliseconds(i + 1);
    return fence_->arm(k4, milliseconds(59999 - i % 50000), deadline).isOk();
  });
  std::printf("shortening renewals: %d renewals, %d probes, %d lost\n", r.renewals, r.probes,
              r.lostArp);
  EXPECT_FALSE(r.renewFailed);
  EXPECT_GT(r.renewals, 100);
  EXPECT_GT(r.probes, 100);
  EXPECT_EQ(r.lostArp, 0) << "a shortening renewal let probes go unanswered";
  // And the shortened limits hold: a last arm ending 100 ms from now, with a long timeout,
  // leaves the VIP dark from then on, whatever the earlier arms asked for.
  const auto t0 = Clock::now();
  ASSERT_TRUE(armWith({k4}, milliseconds(30000), realNow() + milliseconds(100)).isOk());
  EXPECT_TRUE(eventually([&] { return arpDark(); }, true, milliseconds(1000)));
  EXPECT_LT(Clock::now(), t0 + milliseconds(1000)) << "open past the last, shorter arm";
}

// Damage that leaves every object in place: `nft flush table` (or `flush chain`) empties the
// fence's chains, so a closed VIP answers, while arm() and close(), which write set elements
// only, keep succeeding and never notice. Disabled: it fails on the current fence (the heal
// looks for ENOENT only); enable it with a fix (docs/fence.md, "Someone flushed the ruleset").
TEST_F(FenceNetns, DISABLED_FlushedTablesAreFencedAgainByTheNextCall) {
  for (const char* damage :
       {"flush table arp qfence_test\nflush table inet qfence_test",
        "flush chain arp qfence_test lease0\nflush chain inet qfence_test lease0"}) {
    ASSERT_TRUE(arm({k4}, milliseconds(10000)).isOk());
    ASSERT_TRUE(nftRun(damage)) << damage;
    const Status a = arm({k4}, milliseconds(10000));
    const Status c = close({k4});
    std::printf("after \"%s\": arm %s, close %s\n", damage, a ? "ok" : a.message().c_str(),
                c ? "ok" : c.message().c_str());
    EXPECT_TRUE(arpDark()) << "closed, yet answered after: " << damage;
    ASSERT_TRUE(fence_->install({{kVip4}, {kVip6}}).isOk());
  }
}

// update(): a reload's VIP added to or removed from one lease. kNew4 is on `a` from the start
// (answered unfenced until a group takes it); the IPv6-only group k6 gets an IPv4 address, which
// needs an ARP gate it did not have.
const net::IpAddress kNew4 = *net::IpAddress::parse("198.18.0.12");

TEST_F(FenceNetns, UpdateAddsAnAddressUnderTheGroupsGateAndNeverShutsTheOthers) {
  ASSERT_EQ(sh("ip addr add 198.18.0.12/24 dev a"), 0);
  ASSERT_TRUE(eventually([&] { return prober_->arp(kNew4, milliseconds(50)); }, true));
  ASSERT_TRUE(arm({k4, k6}, milliseconds(20000)).isOk());
  ASSERT_TRUE(arpAnswered(milliseconds(200)));
  // Added and removed back to back while both leases' VIPs are probed: no probe of the VIPs that
  // stay may be lost (a rebuild of the group, or of the fence, shuts them until the next arm).
  std::atomic<bool> stop{false};
  std::atomic<int> updates{0};
  std::atomic<bool> failed{false};
  std::thread changer([&] {
    for (int i = 0; !stop.load(); ++i) {
      const bool add = i % 2 == 0;
      if (!fence_->update(k4, add ? std::vector{kVip4, kNew4} : std::vector{kVip4})) failed = true;
      if (!add && !fence_->release({kNew4})) failed = true;
      updates.fetch_add(1);
    }
  });
  int probes = 0, lostArp = 0, lostNs = 0;
  const auto end = Clock::now() + milliseconds(1500);
  while (Clock::now() < end) {
    ++probes;
    if (!arpAnswered(milliseconds(100))) ++lostArp;
    if (!nsAnswered(milliseconds(100))) ++lostNs;
  }
  stop = true;
  changer.join();
  std::printf("%d updates, %d probes of each: %d ARP and %d NS lost\n", updates.load(), probes,
              lostArp, lostNs);
  EXPECT_FALSE(failed.load());
  EXPECT_GT(updates.load(), 2);
  EXPECT_EQ(lostArp, 0) << "the lease's other VIP stopped answering during the update";
  EXPECT_EQ(lostNs, 0) << "another lease's VIP stopped answering during the update";

  // Added to an open group: answered, and shut with the group.
  ASSERT_TRUE(fence_->update(k4, {kVip4, kNew4}).isOk());
  EXPECT_TRUE(prober_->arp(kNew4, milliseconds(200)));
  ASSERT_TRUE(close({k4}).isOk());
  EXPECT_FALSE(prober_->arp(kNew4, milliseconds(200))) << "the added VIP outlived the close";
  EXPECT_TRUE(arpDark());
  EXPECT_TRUE(nsAnswered(milliseconds(200))) << "closing one lease shut another";
  // Removed from a closed group and added again: still closed, until the group is armed.
  ASSERT_TRUE(fence_->update(k4, {kVip4}).isOk());
  ASSERT_TRUE(fence_->update(k4, {kVip4, kNew4}).isOk());
  EXPECT_FALSE(prober_->arp(kNew4, milliseconds(200))) << "added to a closed group, yet answered";
  ASSERT_TRUE(arm({k4}, milliseconds(20000)).isOk());
  EXPECT_TRUE(prober_->arp(kNew4, milliseconds(200)));
  // Removed from an open group: retired, dark although still on the device and the group open.
  ASSERT_TRUE(fence_->update(k4, {kVip4}).isOk());
  EXPECT_FALSE(prober_->arp(kNew4, milliseconds(200))) << "a removed VIP answered";
  EXPECT_FALSE(prober_->arp(kNew4, milliseconds(200)));
  EXPECT_TRUE(arpAnswered(milliseconds(200)));
  // A reinstall after a flush keeps it retired.
  ASSERT_TRUE(nftRun("flush ruleset"));
  (void)arm({k4}, milliseconds(20000));  // reinstalls (and reports the damage)
  EXPECT_FALSE(prober_->arp(kNew4, milliseconds(200))) << "a retired VIP answered after a heal";
  EXPECT_TRUE(arpAnswered(milliseconds(200)));
  // Released: the fence lets it go (on the device, it answers as any address the fence never
  // knew).
  ASSERT_TRUE(fence_->release({kNew4}).isOk());
  EXPECT_TRUE(prober_->arp(kNew4, milliseconds(200)));
}

TEST_F(FenceNetns, UpdateGivesAGroupItsFirstIpv4AddressWithTheGroupsLimits) {
  ASSERT_EQ(sh("ip addr add 198.18.0.12/24 dev a"), 0);
  ASSERT_TRUE(eventually([&] { return prober_->arp(kNew4, milliseconds(50)); }, true));
  // k6 has no ARP gate yet: the update creates it and copies the open slot into it.
  const auto t0 = Clock::now();
  ASSERT_TRUE(arm({k6}, milliseconds(1500)).isOk());
  ASSERT_TRUE(fence_->update(k6, {kVip6, kNew4}).isOk());
  EXPECT_TRUE(prober_->arp(kNew4, milliseconds(200))) << "the new ARP gate was left shut";
  EXPECT_TRUE(nsAnswered(milliseconds(200)));
  // ... no later than the group's own gate: dark when the lease's time is up.
  const auto expiry =
      watchExpiry([&](milliseconds w) { return prober_->arp(kNew4, w); }, t0, milliseconds(5000));
  ASSERT_TRUE(expiry.has_value()) << "the new address never went dark";
  EXPECT_LE(expiry->first, t0 + milliseconds(1500) + kTickDrift) << "answered after the lease";
  EXPECT_TRUE(eventually([&] { return !nsAnswered(milliseconds(10)); }, true));
  // Re-armed and closed with the group.
  ASSERT_TRUE(arm({k6}, milliseconds(20000)).isOk());
  EXPECT_TRUE(prober_->arp(kNew4, milliseconds(200)));
  ASSERT_TRUE(close({k6}).isOk());
  EXPECT_FALSE(prober_->arp(kNew4, milliseconds(200)));
  // A group's first IPv4 address while it is closed stays shut.
  ASSERT_TRUE(fence_->install({{kVip4}, {kVip6}}).isOk());
  ASSERT_TRUE(fence_->update(k6, {kVip6, kNew4}).isOk());
  EXPECT_FALSE(prober_->arp(kNew4, milliseconds(200)));
}

TEST_F(FenceNetns, UpdateRefusesAnAddressOfAnotherGroupAndChangesNothing) {
  ASSERT_TRUE(arm({k4, k6}, milliseconds(20000)).isOk());
  const Status s = fence_->update(k6, {kVip6, kVip4});
  EXPECT_EQ(s.err(), EINVAL);
  EXPECT_NE(s.message().find("198.18.0.10"), std::string::npos) << s.message();
  EXPECT_EQ(fence_->update(7, {kNew4}).err(), EINVAL);
  EXPECT_EQ(fence_->update(k4, {net::IpAddress{}}).err(), EINVAL);
  EXPECT_TRUE(arpAnswered(milliseconds(200)));
  EXPECT_TRUE(nsAnswered(milliseconds(200)));
  ASSERT_TRUE(close({k4}).isOk());
  EXPECT_TRUE(arpDark()) << "the refused update moved kVip4 out of its lease";
}

// A reload's lease added (the next index, appended closed) and removed (its slot kept, every
// address retired): no other lease's index or gate moves.
TEST_F(FenceNetns, UpdateAppendsALeaseClosedAndRetiresOneWithoutMovingTheOthers) {
  ASSERT_EQ(sh("ip addr add 198.18.0.12/24 dev a"), 0);
  ASSERT_TRUE(eventually([&] { return prober_->arp(kNew4, milliseconds(50)); }, true));
  ASSERT_TRUE(arm({k4, k6}, milliseconds(20000)).isOk());
  EXPECT_EQ(fence_->update(3, {kNew4}).err(), EINVAL) << "an index past the next one";
  constexpr std::size_t kAdded = 2;
  ASSERT_TRUE(fence_->update(kAdded, {kNew4}).isOk());
  EXPECT_FALSE(prober_->arp(kNew4, milliseconds(200))) << "a new lease starts closed";
  EXPECT_TRUE(arpAnswered(milliseconds(200)));
  EXPECT_TRUE(nsAnswered(milliseconds(200)));
  ASSERT_TRUE(arm({kAdded}, milliseconds(20000)).isOk());
  EXPECT_TRUE(prober_->arp(kNew4, milliseconds(200)));
  ASSERT_TRUE(close({kAdded}).isOk());
  EXPECT_FALSE(prober_->arp(kNew4, milliseconds(200)));
  EXPECT_TRUE(arpAnswered(milliseconds(200))) << "closing the new lease shut another";
  // Lease k4 removed: its VIP dark although its gate is open; the others as they were.
  ASSERT_TRUE(fence_->update(k4, {}).isOk());
  EXPECT_TRUE(arpDark()) << "a removed lease's VIP answered";
  EXPECT_TRUE(nsAnswered(milliseconds(200)));
  ASSERT_TRUE(arm({kAdded}, milliseconds(20000)).isOk());
  EXPECT_TRUE(prober_->arp(kNew4, milliseconds(200)));
  // Healed after a flush: every lease closed, the appended one too, the retired VIP still dark.
  ASSERT_TRUE(nftRun("flush ruleset"));
  (void)arm({k6}, milliseconds(20000));
  EXPECT_TRUE(nsAnswered(milliseconds(200)));
  EXPECT_FALSE(prober_->arp(kNew4, milliseconds(200))) << "the heal left the new lease open";
  EXPECT_TRUE(arpDark());
}

TEST_F(FenceNetns, UpdateGatesAnAddedIpv6AddressAndItsAdvertisements) {
  const net::IpAddress new6 = *net::IpAddress::parse("2001:db8::12");
  ASSERT_EQ(sh("ip -6 addr add 2001:db8::12/64 dev a nodad"), 0);
  ASSERT_TRUE(eventually([&] { return prober_->ns(new6, milliseconds(50)); }, true));
  ASSERT_TRUE(close({k6}).isOk());
  ASSERT_TRUE(fence_->update(k6, {kVip6, new6}).isOk());
  EXPECT_FALSE(prober_->ns(new6, milliseconds(200))) << "added to a closed lease, yet answered";
  ASSERT_TRUE(arm({k6}, milliseconds(20000)).isOk());
  EXPECT_TRUE(prober_->ns(new6, milliseconds(200)));
  EXPECT_TRUE(nsAnswered(milliseconds(200)));
  ASSERT_TRUE(fence_->update(k6, {kVip6}).isOk());
  EXPECT_FALSE(prober_->ns(new6, milliseconds(200))) << "a removed IPv6 VIP answered";
  EXPECT_TRUE(nsAnswered(milliseconds(200)));
  ASSERT_TRUE(fence_->release({new6}).isOk());
  EXPECT_TRUE(prober_->ns(new6, milliseconds(200))) << "released, the fence no longer gates it";
}

}  // namespace
}  // namespace quorate::kernel
