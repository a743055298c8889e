// A frozen holder sends no frame after its lease end: real directors announce the VIPs (GARP,
// unsolicited NA, VRRPv3 adverts, one instance on the virtual MAC) many times a lease, the holder
// is SIGSTOPped at several phases of its frame timers and kept frozen past its lease end, and a
// capture on the switch ports (kernel receive time stamps) must find none of its frames after
// that end. The same check on the test-only build without the frame gate must catch them.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "netns/checker.h"
#include "netns/director_cluster.h"

namespace quorate::netns {
namespace {

const std::string kVip6 = "2001:db8::10";

double toMs(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

std::int64_t clockNs(clockid_t id) {
  timespec ts{};
  ::clock_gettime(id, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The frames a holder sends about its VIPs.
enum class Kind { kArpVip, kNa, kVrrp4, kVrrp6 };
constexpr std::array<Kind, 4> kKinds{Kind::kArpVip, Kind::kNa, Kind::kVrrp4, Kind::kVrrp6};

const char* name(Kind k) {
  switch (k) {
    case Kind::kArpVip:
      return "arp";
    case Kind::kNa:
      return "na";
    case Kind::kVrrp4:
      return "vrrp4";
    case Kind::kVrrp6:
      return "vrrp6";
  }
  return "?";
}

struct CapturedFrame {
  std::int64_t ns = 0;  // CLOCK_MONOTONIC, from the kernel's receive stamp on the switch port
  std::string port;     // the switch port it came in on, named after the host that sent it
  Mac src;
  Kind kind = Kind::kArpVip;
};

// Records every frame about the VIPs that enters the switch from the given hosts' ports: ARP
// whose sender address is the VIP (gratuitous or not), unsolicited NA for the IPv6 VIP, VRRP
// over IPv4 and IPv6. Ports rather than MACs tell the senders apart, since with use_vmac both
// directors send from the same virtual MAC.
//
// Time: the kernel stamps each frame (SO_TIMESTAMPNS, CLOCK_REALTIME) when it enters the port,
// microseconds after the sender's send(); the stamps are moved to CLOCK_MONOTONIC with the offset
// between the two clocks read at the start (NTP slews both alike; only a step would move it, and
// the offset is read again at stop() to report one).
class FrameCapture {
 public:
  FrameCapture(const Topology& topo, const std::vector<std::string>& hosts) {
    if (inet_pton(AF_INET, kVip.c_str(), vip4_.data()) != 1 ||
        inet_pton(AF_INET6, kVip6.c_str(), vip6_.data()) != 1) {
      throw std::runtime_error("bad VIP literal");
    }
    offsetNs_ = realMinusMono();
    for (const auto& h : hosts) {
      const int fd = topo.inHost("switch", [&] {
        const unsigned index = if_nametoindex(h.c_str());
        if (index == 0) throw std::runtime_error("no switch port " + h);
        const int s = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
        if (s < 0) throw std::runtime_error(std::string("AF_PACKET: ") + std::strerror(errno));
        sockaddr_ll a{};
        a.sll_family = AF_PACKET;
        a.sll_protocol = htons(ETH_P_ALL);
        a.sll_ifindex = static_cast<int>(index);
        const int on = 1;
        if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::setsockopt(s, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) != 0) {
          const std::string err = std::strerror(errno);
          ::close(s);
          throw std::runtime_error("capture on port " + h + ": " + err);
        }
        return s;
      });
      ports_.push_back({h, fd});
    }
    thread_ = std::thread([this] { run(); });
  }
  ~FrameCapture() {
    stop();
    for (const auto& p : ports_) ::close(p.fd);
  }
  FrameCapture(const FrameCapture&) = delete;
  FrameCapture& operator=(const FrameCapture&) = delete;

  void stop() {
    if (stop_.exchange(true)) return;
    if (thread_.joinable()) thread_.join();
    offsetDriftNs_ = realMinusMono() - offsetNs_;
  }
  std::vector<CapturedFrame> frames() const {
    std::lock_guard lock(mu_);
    return frames_;
  }
  // The first frame after `sinceNs` that satisfies `pred`, waiting up to `timeout` for it.
  template <class Pred>
  std::optional<CapturedFrame> waitFor(Pred pred, std::int64_t sinceNs, Ms timeout) const {
    std::optional<CapturedFrame> found;
    waitUntil(
        [&] {
          std::lock_guard lock(mu_);
          for (const auto& f : frames_) {
            if (f.ns > sinceNs && pred(f)) {
              found = f;
              return true;
            }
          }
          return false;
        },
        timeout, Ms(1));
    return found;
  }
  std::int64_t offsetDriftNs() const { return offsetDriftNs_; }

 private:
  struct Port {
    std::string host;
    int fd;
  };

  static std::int64_t realMinusMono() {
    const std::int64_t r1 = clockNs(CLOCK_REALTIME);
    const std::int64_t m = clockNs(CLOCK_MONOTONIC);
    const std::int64_t r2 = clockNs(CLOCK_REALTIME);
    return r1 + (r2 - r1) / 2 - m;
  }

  void run() {
    std::vector<pollfd> pfds;
    for (const auto& p : ports_) pfds.push_back({p.fd, POLLIN, 0});
    std::array<std::uint8_t, 2048> buf{};
    std::array<char, 256> control{};
    while (!stop_) {
      if (::poll(pfds.data(), pfds.size(), 20) <= 0) continue;
      for (std::size_t k = 0; k < pfds.size(); ++k) {
        if (!(pfds[k].revents & POLLIN)) continue;
        sockaddr_ll from{};
        iovec iov{buf.data(), buf.size()};
        msghdr msg{};
        msg.msg_name = &from;
        msg.msg_namelen = sizeof from;
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        const ssize_t n = ::recvmsg(pfds[k].fd, &msg, MSG_DONTWAIT);
        if (n <= 0 || from.sll_pkttype == PACKET_OUTGOING) continue;
        std::int64_t stampNs = clockNs(CLOCK_REALTIME);  // if the kernel gave none
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
          if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            timespec ts{};
            std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
            stampNs = static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
          }
        }
        const auto kind = classify(buf.data(), static_cast<std::size_t>(n));
        if (!kind) continue;
        CapturedFrame f;
        f.ns = stampNs - offsetNs_;
        f.port = ports_[k].host;
        std::copy_n(buf.data() + 6, 6, f.src.b.begin());
        f.kind = *kind;
        std::lock_guard lock(mu_);
        frames_.push_back(f);
      }
    }
  }

  std::optional<Kind> classify(const std::uint8_t* p, std::size_t n) const {
    if (n < 14) return std::nullopt;
    const unsigned type = p[12] << 8 | p[13];
    const std::uint8_t* l3 = p + 14;
    const std::size_t len = n - 14;
    if (type == ETH_P_ARP && len >= 28) {
      // Sender protocol address at 14 (after htype, ptype, hlen, plen, op and sha).
      if (std::equal(vip4_.begin(), vip4_.end(), l3 + 14)) return Kind::kArpVip;
    } else if (type == ETH_P_IP && len >= 20) {
      if (l3[9] == 112) return Kind::kVrrp4;
    } else if (type == ETH_P_IPV6 && len >= 40) {
      if (l3[6] == 112) return Kind::kVrrp6;
      // ICMPv6 type 136 (neighbour advertisement), target at 8 into the message.
      if (l3[6] == 58 && len >= 40 + 24 && l3[40] == 136 &&
          std::equal(vip6_.begin(), vip6_.end(), l3 + 48)) {
        return Kind::kNa;
      }
    }
    return std::nullopt;
  }

  std::array<std::uint8_t, 4> vip4_{};
  std::array<std::uint8_t, 16> vip6_{};
  std::int64_t offsetNs_ = 0;
  std::int64_t offsetDriftNs_ = 0;
  std::vector<Port> ports_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<CapturedFrame> frames_;
  std::thread thread_;
};

// The check: `host`'s frames captured after `boundNs`.
std::vector<CapturedFrame> framesAfter(const std::vector<CapturedFrame>& frames,
                                       const std::string& host, std::int64_t boundNs) {
  std::vector<CapturedFrame> out;
  for (const auto& f : frames) {
    if (f.port == host && f.ns > boundNs) out.push_back(f);
  }
  return out;
}

std::string describe(const std::vector<CapturedFrame>& frames, std::int64_t originNs) {
  std::string out;
  for (const auto& f : frames) {
    char line[160];
    std::snprintf(line, sizeof line, "  %s from %s (port %s) at %+.3f ms\n", name(f.kind),
                  f.src.str().c_str(), f.port.c_str(), toMs(f.ns - originNs));
    out += line;
  }
  return out;
}

// True once every thread of `pid` is in the stopped state (SIGSTOP delivered to all of them).
bool allThreadsStopped(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  bool all = true, any = false;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream f(dir + "/" + e->d_name + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), {});
    const auto close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size()) continue;  // the thread ended
    any = true;
    if (stat[close + 2] != 'T') all = false;
  }
  ::closedir(d);
  return any && all;
}

// Timers: the test bed's fast LAN timers on the host; longer in the TCG VM, which stalls now and
// then for longer than a 600 ms lease. Frames are due several times per renewal interval.
struct Timers {
  int holder, acceptor, quarantine, renew;
  int frame;  // VRRP advert interval and GARP / NA refresh (ms)
  Ms ctl;
};
Timers timers() {
  if (std::getenv("QUORATE_IN_VM")) return {3000, 3200, 3400, 500, 100, Ms(20'000)};
  return {600, 650, 700, 150, 50, Ms(5000)};
}

// A frame sent just before the stop may still be on its way into the switch (a softirq
// delayed on a loaded machine) when the stop is seen.
constexpr std::int64_t kInFlightNs = 50'000'000;

// What one freeze showed.
struct Freeze {
  std::string host;
  std::int64_t offsetNs = 0;           // stop sent this long after one of its VRRP adverts arrived
  std::int64_t stopNs = 0;             // every thread of the holder seen stopped
  std::int64_t boundNs = 0;            // stopNs + holder_lease_ms: its lease end is before this
  std::int64_t contNs = 0;             // SIGCONT
  std::int64_t endNs = 0;              // the capture window closes
  std::map<Kind, std::size_t> before;  // the holder's frames in the second before the stop
  std::size_t whileFrozen = 0;         // between stop (+ kInFlightNs) and bound
  std::vector<CapturedFrame> late;     // after the bound
  std::int64_t suppressed = 0, lapses = 0;  // growth of the holder's counters
  std::string next;                         // the holder afterwards
};

class DirectorFreeze : public ::testing::Test {
 protected:
  // Two instances in one lease: web on the virtual MAC (use_vmac: GARP and VRRP from
  // 00:00:5e:00:01:33), web6 plain (NA and VRRPv6 from the host's MAC).
  void start(const std::string& directorBinary) {
    const Timers t = timers();
    ClusterOptions o;
    o.holderLeaseMs = t.holder;
    o.acceptorLeaseMs = t.acceptor;
    o.quarantineMs = t.quarantine;
    o.renewIntervalMs = t.renew;
    o.ctlTimeout = t.ctl;
    InstanceSpec web{"web", {kVip + "/24"}, "", 51, true, t.frame};
    InstanceSpec web6{"web6", {kVip6 + "/64"}, "", 52, false, t.frame};
    o.instances = {web, web6};
    o.syncGroups = {{"all", {"web", "web6"}, kAlpha}};
    o.announceRefreshMs = t.frame;
    o.directorBinary = directorBinary;
    cluster_.emplace(topo_, o);
    capture_.emplace(topo_, std::vector<std::string>{kAlpha, kBeta});
    cluster_->startAll();
    const auto holder = cluster_->waitForHolder(Ms(20'000));
    ASSERT_TRUE(holder) << "nobody holds after a cold start";
    holder_ = *holder;
  }

  std::optional<nlohmann::json> status(const std::string& director) const {
    return cluster_->status(director);
  }
  // (frames_suppressed, lease_lapses) from the director's status.
  std::optional<std::pair<std::int64_t, std::int64_t>> counters(const std::string& director) {
    const auto s = status(director);
    if (!s || !(*s)["frames_suppressed"].is_number() || !(*s)["lease_lapses"].is_number()) {
      return std::nullopt;
    }
    return std::make_pair((*s)["frames_suppressed"].get<std::int64_t>(),
                          (*s)["lease_lapses"].get<std::int64_t>());
  }

  // Freezes the current holder `offset` after one of its VRRPv4 adverts enters the switch, keeps
  // it frozen until `margin` past its lease end bound, thaws it and waits until it has withdrawn
  // and the other director holds.
  void freeze(Ms offset, Ms margin, Freeze& out) {
    // Usually the director the last freeze left holding; a stall of the machine longer than a
    // lease may have moved the lease since.
    const auto current = cluster_->waitForHolder(Ms(20'000));
    ASSERT_TRUE(current) << "nobody holds before the freeze";
    holder_ = *current;
    const std::string h = holder_;
    out.host = h;
    const auto pid = cluster_->pid(h);
    ASSERT_TRUE(pid);
    // Every kind of frame flows from the holder, as far as the check is concerned.
    for (Kind k : kKinds) {
      ASSERT_TRUE(capture_->waitFor(
          [&](const CapturedFrame& f) { return f.port == h && f.kind == k; }, monoNs(), Ms(10'000)))
          << h << " sends no " << name(k) << " frame";
    }
    const auto c0 = counters(h);
    ASSERT_TRUE(c0) << "no frames_suppressed / lease_lapses in " << h << "'s status";
    const auto advert = capture_->waitFor(
        [&](const CapturedFrame& f) { return f.port == h && f.kind == Kind::kVrrp4; }, monoNs(),
        Ms(10'000));
    ASSERT_TRUE(advert);
    const std::int64_t at = advert->ns + offset.count() * 1'000'000;
    while (monoNs() < at) std::this_thread::sleep_for(std::chrono::microseconds(200));
    ASSERT_TRUE(topo_.stop(*pid));
    ASSERT_TRUE(waitUntil([&] { return allThreadsStopped(*pid); }, Ms(2000), Ms(1)));
    out.stopNs = monoNs();
    out.offsetNs = out.stopNs - advert->ns;
    out.boundNs = out.stopNs + std::int64_t{cluster_->options().holderLeaseMs} * 1'000'000;
    const std::int64_t thaw = out.boundNs + margin.count() * 1'000'000;
    while (monoNs() < thaw) std::this_thread::sleep_for(Ms(5));
    out.contNs = monoNs();
    ASSERT_TRUE(topo_.cont(*pid));
    // The thawed holder finds its lease over and withdraws; the other holds.
    const bool withdrawn = waitUntil(
        [&] {
          const auto s = status(h);
          return s && (*s)["leases"][0]["vips_claimed"] == false &&
                 (*s)["leases"][0]["role"] != "holder";
        },
        Ms(20'000), Ms(20));
    ASSERT_TRUE(withdrawn) << cluster_->statusJson(h).value_or("unreachable");
    const auto next = cluster_->waitForHolder(Ms(20'000));
    ASSERT_TRUE(next) << "no holder after the freeze";
    out.next = *next;
    // Long enough for a frame timer of the thawed director to fire several times.
    std::this_thread::sleep_for(Ms(10 * timers().frame));
    out.endNs = monoNs();
    const auto c1 = counters(h);
    ASSERT_TRUE(c1);
    out.suppressed = c1->first - c0->first;
    out.lapses = c1->second - c0->second;
    const auto frames = capture_->frames();
    for (const auto& f : frames) {
      if (f.port != h) continue;
      if (f.ns > out.stopNs - 1'000'000'000 && f.ns <= out.stopNs) ++out.before[f.kind];
      if (f.ns > out.stopNs + kInFlightNs && f.ns <= out.boundNs) ++out.whileFrozen;
    }
    out.late = framesAfter(frames, h, out.boundNs);
    holder_ = out.next;
  }

  static void print(const char* label, std::size_t k, const Freeze& f) {
    std::printf(
        "[%s %zu] %s stopped %.1f ms after a VRRP advert; frozen %.0f ms (bound: stop + lease, "
        "thawed %.0f ms after it); its frames in the second before: arp %zu, na %zu, vrrp4 %zu, "
        "vrrp6 %zu; stop+50ms..bound: %zu; after the bound: %zu; frames_suppressed +%lld, "
        "lease_lapses +%lld; then %s holds\n",
        label, k, f.host.c_str(), toMs(f.offsetNs), toMs(f.contNs - f.stopNs),
        toMs(f.contNs - f.boundNs), f.before.count(Kind::kArpVip) ? f.before.at(Kind::kArpVip) : 0,
        f.before.count(Kind::kNa) ? f.before.at(Kind::kNa) : 0,
        f.before.count(Kind::kVrrp4) ? f.before.at(Kind::kVrrp4) : 0,
        f.before.count(Kind::kVrrp6) ? f.before.at(Kind::kVrrp6) : 0, f.whileFrozen, f.late.size(),
        static_cast<long long>(f.suppressed), static_cast<long long>(f.lapses), f.next.c_str());
    std::fflush(stdout);
  }

  // Freeze offsets after an advert: spread over one frame interval.
  static std::vector<Ms> offsets(std::size_t count) {
    std::vector<Ms> out;
    for (std::size_t k = 0; k < count; ++k) out.push_back(Ms(timers().frame * k / count));
    return out;
  }

  Topology topo_;
  std::optional<DirectorCluster> cluster_;
  std::optional<FrameCapture> capture_;
  std::string holder_;
};

// Five freezes of whichever director holds, at five phases of its frame timers, each longer than
// a lease: no frame of the frozen holder enters the switch after its lease end, the thawed
// director counts the frames it held back, and the check itself, pointed at a bound before the
// freeze, does find the holder's frames.
TEST_F(DirectorFreeze, FrozenHolderSendsNoFrameAfterItsLeaseEnd) {
  ASSERT_NO_FATAL_FAILURE(start("quorate-director"));
  const Ms margin(std::max(300, 4 * timers().frame));
  std::size_t k = 0;
  for (const Ms offset : offsets(5)) {
    Freeze f;
    ASSERT_NO_FATAL_FAILURE(freeze(offset, margin, f)) << "freeze " << k;
    print("freeze", k, f);
    EXPECT_TRUE(f.late.empty()) << f.host << " sent frames after its lease end bound:\n"
                                << describe(f.late, f.boundNs);
    EXPECT_EQ(f.whileFrozen, 0u) << "frames from a stopped process";
    // The thawed director held back at least its resign advert (due after the lease end).
    EXPECT_GE(f.suppressed, 1) << "freeze " << k;
    EXPECT_NE(f.next, f.host) << "freeze " << k;
    for (Kind kind : kKinds) {
      EXPECT_GT(f.before.count(kind) ? f.before.at(kind) : 0, 0u) << name(kind) << ", freeze " << k;
    }
    // The check must be able to fail: pointed at a bound two frame intervals before the freeze,
    // it finds the holder's last frames.
    const auto frames = capture_->frames();
    const auto early = framesAfter(frames, f.host, f.stopNs - 2'000'000 * timers().frame);
    EXPECT_FALSE(early.empty()) << "the capture misses the holder's frames, freeze " << k;
    ++k;
  }
  capture_->stop();
  EXPECT_LT(std::abs(capture_->offsetDriftNs()), 1'000'000)
      << "CLOCK_REALTIME stepped during the test: capture times are off by "
      << toMs(capture_->offsetDriftNs()) << " ms";
}

// The test-only build whose frames ignore the lease end (DirectorConfig::testFaults.ungatedFrames):
// the same freezes and the same check must find frames of the thawed holder after its lease end
// (at least the resign advert, which the gated build holds back), and nothing counted as held
// back.
TEST_F(DirectorFreeze, CheckCatchesTheBuildWithoutTheFrameGate) {
  ASSERT_NO_FATAL_FAILURE(start("quorate-director-ungated-frames"));
  const Ms margin(std::max(300, 4 * timers().frame));
  std::size_t k = 0;
  for (const Ms offset : offsets(2)) {
    Freeze f;
    ASSERT_NO_FATAL_FAILURE(freeze(offset, margin, f)) << "freeze " << k;
    print("ungated freeze", k, f);
    EXPECT_FALSE(f.late.empty()) << "the check missed the ungated build's late frames, freeze "
                                 << k;
    EXPECT_EQ(f.suppressed, 0) << "freeze " << k;
    for (const auto& late : f.late) EXPECT_GT(late.ns, f.contNs) << "sent while stopped?";
    std::printf("%s", describe(f.late, f.boundNs).c_str());
    ++k;
  }
}

}  // namespace
}  // namespace quorate::netns
