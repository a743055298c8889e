// Observers of VIP ownership (ARP prober, address/fence watcher) and the split-brain checker.
#include "netns/checker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

namespace quorate::netns {
namespace {

[[noreturn]] void failErrno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

void enterNamespace(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) failErrno("open " + path);
  const int r = ::setns(fd, CLONE_NEWNET);
  ::close(fd);
  if (r != 0) failErrno("setns " + path);
}

std::uint32_t parseIpv4(const std::string& ip) {
  in_addr a{};
  if (::inet_pton(AF_INET, ip.c_str(), &a) != 1) throw std::invalid_argument("bad IPv4 " + ip);
  return a.s_addr;
}

std::string ms(std::int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ns) / 1e6);
  return buf;
}

// The ARP payload after the Ethernet header, IPv4 over Ethernet only.
struct __attribute__((packed)) ArpIp4 {
  std::uint16_t htype, ptype;
  std::uint8_t hlen, plen;
  std::uint16_t op;
  std::uint8_t sha[6];
  std::uint32_t spa;
  std::uint8_t tha[6];
  std::uint32_t tpa;
};

}  // namespace

// --- Mac ---

std::optional<Mac> Mac::parse(const std::string& text) {
  Mac m;
  unsigned v[6];
  char tail = 0;
  if (std::sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4],
                  &v[5], &tail) != 6) {
    return std::nullopt;
  }
  for (int i = 0; i < 6; ++i) m.b[i] = static_cast<std::uint8_t>(v[i]);
  return m;
}

std::string Mac::str() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4],
                b[5]);
  return buf;
}

// --- ArpProber ---

ArpProber::ArpProber(const Topology& topo, const std::string& host, ArpProberOptions opts)
    : opts_(std::move(opts)) {
  if (opts_.period.count() <= 0 || opts_.poolSize <= 0 || opts_.poolFirst < 1 ||
      opts_.poolFirst + opts_.poolSize > 255) {
    throw std::invalid_argument("bad ArpProber options");
  }
  const Host& h = topo.host(host);
  mac_ = *Mac::parse(h.mac);
  ifindex_ = h.ifindex;
  vip_ = parseIpv4(opts_.vip);
  poolBase_ = ntohl(parseIpv4(h.ipv4)) & 0xffffff00u;
  history_.periodNs = std::chrono::duration_cast<std::chrono::nanoseconds>(opts_.period).count();
  std::promise<void> ready;
  auto started = ready.get_future();
  const std::string path = topo.nsPath(host);
  thread_ = std::thread([this, path, ready = std::move(ready)]() mutable {
    int fd = -1;
    try {
      enterNamespace(path);
      fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
      if (fd < 0) failErrno("AF_PACKET socket");
      sockaddr_ll ll{};
      ll.sll_family = AF_PACKET;
      ll.sll_protocol = htons(ETH_P_ARP);
      ll.sll_ifindex = ifindex_;
      if (::bind(fd, reinterpret_cast<sockaddr*>(&ll), sizeof ll) != 0) failErrno("bind");
      ready.set_value();
    } catch (...) {
      if (fd >= 0) ::close(fd);
      ready.set_exception(std::current_exception());
      return;
    }
    run(fd);
    ::close(fd);
  });
  try {
    started.get();
  } catch (...) {
    thread_.join();
    throw;
  }
}

ArpProber::~ArpProber() { stop(); }

void ArpProber::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ArpProber::run(int fd) {
  const std::int64_t period = history_.periodNs;
  std::int64_t next = monoNs();
  std::uint64_t round = 0;
  std::uint8_t frame[42]{};
  std::memset(frame, 0xff, 6);  // broadcast
  std::memcpy(frame + 6, mac_.b.data(), 6);
  frame[12] = ETH_P_ARP >> 8;
  frame[13] = ETH_P_ARP & 0xff;
  auto* req = reinterpret_cast<ArpIp4*>(frame + 14);
  req->htype = htons(ARPHRD_ETHER);
  req->ptype = htons(ETH_P_IP);
  req->hlen = 6;
  req->plen = 4;
  req->op = htons(ARPOP_REQUEST);
  std::memcpy(req->sha, mac_.b.data(), 6);
  req->tpa = vip_;
  const std::uint32_t poolLo = poolBase_ + static_cast<std::uint32_t>(opts_.poolFirst);
  const auto poolSize = static_cast<std::uint64_t>(opts_.poolSize);

  while (!stop_) {
    std::int64_t now = monoNs();
    if (now >= next) {
      req->spa = htonl(poolLo + static_cast<std::uint32_t>(round % poolSize));
      const std::int64_t sent = monoNs();
      if (::send(fd, frame, sizeof frame, 0) == static_cast<ssize_t>(sizeof frame)) {
        std::lock_guard lock(mu_);
        history_.rounds.push_back({round, sent});
        ++round;
      }
      next += period;
      if (next <= now) next = now + period;  // late (descheduled): no burst to catch up
      now = monoNs();
    }
    const std::int64_t wait = std::max<std::int64_t>(0, next - now);
    timespec ts{static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
    pollfd p{fd, POLLIN, 0};
    if (::ppoll(&p, 1, &ts, nullptr) <= 0) continue;
    for (;;) {
      std::uint8_t buf[128];
      sockaddr_ll from{};
      socklen_t fromLen = sizeof from;
      const ssize_t n = ::recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&from), &fromLen);
      if (n < 0) break;
      const std::int64_t at = monoNs();
      if (from.sll_pkttype == PACKET_OUTGOING || n < 14 + static_cast<ssize_t>(sizeof(ArpIp4))) {
        continue;
      }
      ArpIp4 a;
      std::memcpy(&a, buf + 14, sizeof a);
      if (a.htype != htons(ARPHRD_ETHER) || a.ptype != htons(ETH_P_IP) || a.hlen != 6 ||
          a.plen != 4 || a.spa != vip_) {
        continue;
      }
      Mac sender;
      std::memcpy(sender.b.data(), a.sha, 6);
      const std::uint32_t tpa = ntohl(a.tpa);
      std::lock_guard lock(mu_);
      if (a.op == htons(ARPOP_REPLY) && tpa >= poolLo && tpa < poolLo + poolSize &&
          !history_.rounds.empty()) {
        // The latest round sent with this pool slot.
        const std::uint64_t slot = tpa - poolLo;
        const std::uint64_t last = history_.rounds.back().round;
        if (last >= slot) {
          history_.replies.push_back({at, sender, last - (last - slot) % poolSize});
        } else {
          ++history_.unattributed;
        }
      } else if (a.tpa == vip_ || a.op == htons(ARPOP_REQUEST)) {
        history_.announcements.push_back({at, sender});
      } else {
        ++history_.unattributed;
      }
    }
  }
}

ProbeHistory ArpProber::history() const {
  std::lock_guard lock(mu_);
  return history_;
}

std::uint64_t ArpProber::roundsSent() const {
  std::lock_guard lock(mu_);
  return history_.rounds.size();
}

bool ArpProber::waitForReply(const std::function<bool(const ArpReply&)>& pred, std::int64_t sinceNs,
                             Ms timeout) const {
  std::size_t seen = 0;
  return waitUntil(
      [&] {
        std::lock_guard lock(mu_);
        for (; seen < history_.replies.size(); ++seen) {
          const auto& r = history_.replies[seen];
          if (r.ns >= sinceNs && pred(r)) return true;
        }
        return false;
      },
      timeout, Ms(1));
}

bool ArpProber::waitRounds(std::uint64_t rounds, Ms timeout) const {
  const std::uint64_t target = roundsSent() + rounds;
  return waitUntil([&] { return roundsSent() >= target; }, timeout, Ms(1));
}

// --- AddressWatcher ---

namespace {

// Is `vip` (network order) an address of any interface? One RTM_GETADDR dump.
bool hasAddress(int fd, std::uint32_t vip, std::uint32_t seq) {
  struct {
    nlmsghdr nh;
    ifaddrmsg ifa;
  } req{};
  req.nh.nlmsg_len = sizeof req;
  req.nh.nlmsg_type = RTM_GETADDR;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.nh.nlmsg_seq = seq;
  req.ifa.ifa_family = AF_INET;
  if (::send(fd, &req, sizeof req, 0) < 0) failErrno("netlink send");
  bool found = false;
  alignas(nlmsghdr) char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      failErrno("netlink recv");
    }
    int len = static_cast<int>(n);
    for (auto* nh = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
      if (nh->nlmsg_seq != seq) continue;
      if (nh->nlmsg_type == NLMSG_DONE) return found;
      if (nh->nlmsg_type == NLMSG_ERROR) throw std::runtime_error("netlink dump error");
      if (nh->nlmsg_type != RTM_NEWADDR) continue;
      auto* ifa = static_cast<ifaddrmsg*>(NLMSG_DATA(nh));
      int alen = static_cast<int>(IFA_PAYLOAD(nh));
      for (auto* rta = IFA_RTA(ifa); RTA_OK(rta, alen); rta = RTA_NEXT(rta, alen)) {
        if ((rta->rta_type == IFA_LOCAL || rta->rta_type == IFA_ADDRESS) && RTA_PAYLOAD(rta) == 4 &&
            std::memcmp(RTA_DATA(rta), &vip, 4) == 0) {
          found = true;
        }
      }
    }
  }
}

// libnftables 1.0.6 keeps process-wide state (its JSON output code asserts when two threads
// list sets at once: json.c set_dtype_json), so every use in this process is serialised.
std::mutex& nftMutex() {
  static std::mutex m;
  return m;
}

// A libnftables context in the calling thread's namespace, output buffered as JSON.
class Nft {
 public:
  Nft() : ctx_(newContext()) {
    if (!ctx_) throw std::runtime_error("nft_ctx_new");
    nft_ctx_output_set_flags(ctx_, NFT_CTX_OUTPUT_JSON);
    nft_ctx_buffer_output(ctx_);
    nft_ctx_buffer_error(ctx_);
  }
  ~Nft() {
    std::lock_guard lock(nftMutex());
    nft_ctx_free(ctx_);
  }
  Nft(const Nft&) = delete;
  Nft& operator=(const Nft&) = delete;
  // Runs `cmd`; the JSON output, or nullopt if nft failed.
  std::optional<std::string> run(const std::string& cmd) {
    std::lock_guard lock(nftMutex());
    const int rc = nft_run_cmd_from_buffer(ctx_, cmd.c_str());
    std::string out = nft_ctx_get_output_buffer(ctx_);
    (void)nft_ctx_get_error_buffer(ctx_);  // clears it
    if (rc != 0) return std::nullopt;
    return out;
  }

 private:
  static nft_ctx* newContext() {
    std::lock_guard lock(nftMutex());
    return nft_ctx_new(NFT_CTX_DEFAULT);
  }
  nft_ctx* ctx_;
};

}  // namespace

bool fenceAdmits(const std::string& tableJson, const std::string& vip) {
  const auto j = nlohmann::json::parse(tableJson, nullptr, false);
  // Unreadable: say open, so that a format nft changes shows up as windows, not as silence.
  if (!j.is_object() || !j.contains("nftables") || !j["nftables"].is_array()) return true;
  std::optional<std::string> chain;
  std::map<std::string, bool> setHasElements;
  std::vector<const nlohmann::json*> rules;
  for (const auto& item : j["nftables"]) {
    if (item.contains("map") && item["map"].value("name", "") == "vips4") {
      for (const auto& e : item["map"].value("elem", nlohmann::json::array())) {
        if (!e.is_array() || e.size() != 2 || !e[0].is_string() || e[0] != vip) continue;
        const auto& verdict = e[1];
        for (const char* kind : {"jump", "goto"}) {
          if (verdict.contains(kind)) chain = verdict[kind].value("target", "");
        }
      }
    } else if (item.contains("set")) {
      const auto& set = item["set"];
      setHasElements[set.value("name", "")] = set.contains("elem") && !set["elem"].empty();
    } else if (item.contains("rule")) {
      rules.push_back(&item["rule"]);
    }
  }
  if (!chain) return true;  // not gated
  for (const auto* rule : rules) {
    if (rule->value("chain", "") != *chain || !rule->contains("expr")) continue;
    const auto& exprs = (*rule)["expr"];
    if (exprs.empty()) continue;
    const auto& last = exprs.back();
    if (!last.contains("return") && !last.contains("accept")) continue;
    bool open = true;
    for (const auto& e : exprs) {
      if (!e.contains("match")) continue;
      const auto& right = e["match"].value("right", nlohmann::json());
      if (right.is_string() && right.get<std::string>().rfind('@', 0) == 0) {
        const auto it = setHasElements.find(right.get<std::string>().substr(1));
        if (it == setHasElements.end() || !it->second) open = false;
      }
    }
    if (open) return true;
  }
  return false;
}

AddressWatcher::AddressWatcher(const Topology& topo, std::vector<std::string> hosts,
                               AddressWatcherOptions opts)
    : opts_(std::move(opts)), hosts_(std::move(hosts)), watched_(hosts_.size()) {
  parseIpv4(opts_.vip);
  std::vector<std::string> paths;
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    paths.push_back(topo.nsPath(hosts_[i]));
    watched_[i].history.host = hosts_[i];
  }
  for (std::size_t i = 0; i < hosts_.size(); ++i) {
    threads_.emplace_back([this, i, p = paths[i]] { run(i, p); });
  }
  // Started: every host polled once (or failed).
  const bool ok = waitUntil(
      [&] {
        std::lock_guard lock(mu_);
        return std::all_of(watched_.begin(), watched_.end(),
                           [](const Watched& w) { return w.latest || !w.error.empty(); });
      },
      Ms(5000), Ms(1));
  std::string errors;
  {
    std::lock_guard lock(mu_);
    for (const auto& w : watched_) {
      if (!w.error.empty()) errors += w.history.host + ": " + w.error + "\n";
    }
  }
  if (!ok || !errors.empty()) {
    stop();
    throw std::runtime_error("AddressWatcher did not start: " + errors);
  }
}

AddressWatcher::~AddressWatcher() { stop(); }

void AddressWatcher::stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void AddressWatcher::run(std::size_t index, const std::string& nsPath) {
  try {
    enterNamespace(nsPath);
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) failErrno("netlink socket");
    std::optional<Nft> nft;
    if (opts_.checkFence) nft.emplace();
    const std::uint32_t vip = parseIpv4(opts_.vip);
    const std::string tableCmd = "list table inet " + opts_.table;
    std::uint32_t seq = 0;
    std::int64_t prevStart = 0;
    while (!stop_) {
      const std::int64_t start = monoNs();
      OwnershipSample s;
      s.address = hasAddress(fd, vip, ++seq);
      const std::int64_t fenceStart = monoNs();
      s.seenNs = fenceStart;
      if (!nft) {
        s.fenceOpen = true;
      } else if (auto table = nft->run(tableCmd)) {
        s.fenceOpen = fenceAdmits(*table, opts_.vip);
      } else {
        s.fenceOpen = true;  // no table: nothing gates the VIP
      }
      s.ns = monoNs();
      {
        std::lock_guard lock(mu_);
        Watched& w = watched_[index];
        auto& tr = w.history.transitions;
        if (tr.empty() || tr.back().address != s.address || tr.back().fenceOpen != s.fenceOpen) {
          s.prevSeenNs = w.latest ? w.latest->seen() : s.seenNs;
          tr.push_back(s);
        }
        w.history.endNs = s.ns;
        w.latest = s;
        w.latestStartNs = start;
        ++w.stats.polls;
        w.sumFenceUs += static_cast<double>(s.ns - fenceStart) / 1e3;
        if (prevStart) {
          const double periodUs = static_cast<double>(start - prevStart) / 1e3;
          w.sumPeriodUs += periodUs;
          w.stats.maxPeriodUs = std::max(w.stats.maxPeriodUs, periodUs);
        }
      }
      prevStart = start;
      std::this_thread::sleep_for(opts_.period);
    }
    ::close(fd);
  } catch (const std::exception& e) {
    std::lock_guard lock(mu_);
    watched_[index].error = e.what();
  }
}

std::vector<OwnershipHistory> AddressWatcher::histories() const {
  std::lock_guard lock(mu_);
  std::vector<OwnershipHistory> out;
  for (const auto& w : watched_) out.push_back(w.history);
  return out;
}

std::optional<OwnershipSample> AddressWatcher::latest(const std::string& host) const {
  std::lock_guard lock(mu_);
  for (const auto& w : watched_) {
    if (w.history.host == host) return w.latest;
  }
  throw std::out_of_range("not watched: " + host);
}

bool AddressWatcher::waitFor(const std::string& host, bool owns, Ms timeout) const {
  const std::int64_t since = monoNs();
  return waitUntil(
      [&] {
        std::lock_guard lock(mu_);
        for (const auto& w : watched_) {
          if (w.history.host == host) {
            return w.latest && w.latestStartNs >= since && w.latest->owns() == owns;
          }
        }
        throw std::out_of_range("not watched: " + host);
      },
      timeout, Ms(1));
}

PollStats AddressWatcher::stats(const std::string& host) const {
  std::lock_guard lock(mu_);
  for (const auto& w : watched_) {
    if (w.history.host != host) continue;
    PollStats s = w.stats;
    if (s.polls > 1) s.meanPeriodUs = w.sumPeriodUs / static_cast<double>(s.polls - 1);
    if (s.polls > 0) s.meanFenceUs = w.sumFenceUs / static_cast<double>(s.polls);
    return s;
  }
  throw std::out_of_range("not watched: " + host);
}

// --- SplitBrainChecker ---

SplitBrainChecker::SplitBrainChecker(std::map<Mac, std::string> hostOfMac, CheckerOptions opts)
    : hostOfMac_(std::move(hostOfMac)), opts_(opts) {}

SplitBrainChecker SplitBrainChecker::forTopology(const Topology& topo, CheckerOptions opts) {
  std::map<Mac, std::string> names;
  for (const auto& n : topo.hostNames()) names[*Mac::parse(topo.host(n).mac)] = n;
  return SplitBrainChecker(std::move(names), opts);
}

std::string SplitBrainChecker::hostOf(const Mac& m) const {
  const auto it = hostOfMac_.find(m);
  return it == hostOfMac_.end() ? "" : it->second;
}

std::vector<SplitBrainChecker::Run> SplitBrainChecker::runs(const ProbeHistory& h) const {
  // Per MAC, per round: first and last arrival.
  std::map<Mac, std::map<std::uint64_t, std::pair<std::int64_t, std::int64_t>>> answered;
  for (const auto& r : h.replies) {
    auto [it, fresh] = answered[r.sender].try_emplace(r.round, r.ns, r.ns);
    if (!fresh) {
      it->second.first = std::min(it->second.first, r.ns);
      it->second.second = std::max(it->second.second, r.ns);
    }
  }
  std::vector<Run> out;
  for (const auto& [mac, rounds] : answered) {
    std::optional<Run> cur;
    for (const auto& [round, times] : rounds) {
      if (cur && round - cur->lastRound <= opts_.lossTolerance + 1) {
        cur->lastRound = round;
        cur->lastNs = std::max(cur->lastNs, times.second);
        ++cur->replies;
        continue;
      }
      if (cur) out.push_back(*cur);
      cur = Run{mac, round, round, times.first, times.second, 1};
    }
    if (cur) out.push_back(*cur);
  }
  std::sort(out.begin(), out.end(), [](const Run& a, const Run& b) {
    return std::tie(a.firstRound, a.mac) < std::tie(b.firstRound, b.mac);
  });
  return out;
}

std::vector<SplitBrainWindow> SplitBrainChecker::arpWindows(const ProbeHistory& h) const {
  std::map<std::uint64_t, std::int64_t> sent;
  for (const auto& r : h.rounds) sent[r.round] = r.sentNs;
  const auto rs = runs(h);
  std::vector<SplitBrainWindow> raw;
  for (std::size_t i = 0; i < rs.size(); ++i) {
    for (std::size_t j = i + 1; j < rs.size(); ++j) {
      const Run& a = rs[i];
      const Run& b = rs[j];
      if (a.mac == b.mac) continue;
      const std::uint64_t lo = std::max(a.firstRound, b.firstRound);
      const std::uint64_t hi = std::min(a.lastRound, b.lastRound);
      if (lo > hi) continue;
      SplitBrainWindow w;
      w.source = SplitBrainWindow::Source::kArp;
      w.macs = {std::min(a.mac, b.mac), std::max(a.mac, b.mac)};
      w.firstRound = lo;
      w.lastRound = hi;
      raw.push_back(w);
    }
  }
  // Merge windows of the same pair whose rounds overlap or touch.
  std::sort(raw.begin(), raw.end(), [](const SplitBrainWindow& a, const SplitBrainWindow& b) {
    return std::tie(a.macs, a.firstRound) < std::tie(b.macs, b.firstRound);
  });
  std::vector<SplitBrainWindow> merged;
  for (auto& w : raw) {
    if (!merged.empty() && merged.back().macs == w.macs &&
        w.firstRound <= merged.back().lastRound + 1) {
      merged.back().lastRound = std::max(merged.back().lastRound, w.lastRound);
    } else {
      merged.push_back(w);
    }
  }
  for (auto& w : merged) {
    std::int64_t firstReply = INT64_MAX, lastReply = INT64_MIN;
    for (const auto& r : h.replies) {
      if (r.round < w.firstRound || r.round > w.lastRound) continue;
      if (r.sender != w.macs[0] && r.sender != w.macs[1]) continue;
      firstReply = std::min(firstReply, r.ns);
      lastReply = std::max(lastReply, r.ns);
    }
    const auto lo = sent.find(w.firstRound);
    const auto hi = sent.find(w.lastRound);
    w.startNs = lo != sent.end() ? std::min(lo->second, firstReply) : firstReply;
    w.endNs = hi != sent.end() ? std::max(hi->second + h.periodNs, lastReply) : lastReply;
    for (const auto& m : w.macs) w.hosts.push_back(hostOf(m).empty() ? m.str() : hostOf(m));
  }
  std::sort(merged.begin(), merged.end(), [](const SplitBrainWindow& a, const SplitBrainWindow& b) {
    return a.startNs < b.startNs;
  });
  return merged;
}

std::vector<FailoverGap> SplitBrainChecker::failoverGaps(const ProbeHistory& h) const {
  const auto rs = runs(h);
  std::vector<FailoverGap> gaps;
  for (std::size_t i = 1; i < rs.size(); ++i) {
    const Run& a = rs[i - 1];
    const Run& b = rs[i];
    if (a.mac == b.mac) continue;
    FailoverGap g;
    g.from = a.mac;
    g.to = b.mac;
    g.fromHost = hostOf(a.mac);
    g.toHost = hostOf(b.mac);
    g.lastFromRound = a.lastRound;
    g.firstToRound = b.firstRound;
    g.lastFromNs = a.lastNs;
    g.firstToNs = b.firstNs;
    gaps.push_back(g);
  }
  return gaps;
}

std::vector<std::pair<std::int64_t, std::int64_t>> seenOwning(const OwnershipHistory& h) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  std::optional<std::int64_t> since;
  for (const auto& s : h.transitions) {
    if (s.owns() && !since) since = s.seen();
    if (!s.owns() && since) {
      out.emplace_back(*since, std::max(*since, s.prevSeen()));
      since.reset();
    }
  }
  if (since) out.emplace_back(*since, std::max(*since, h.endNs));
  return out;
}

std::vector<SplitBrainWindow> SplitBrainChecker::ownershipWindows(
    const std::vector<OwnershipHistory>& hs) const {
  std::vector<std::vector<std::pair<std::int64_t, std::int64_t>>> owning;
  for (const auto& h : hs) owning.push_back(seenOwning(h));
  std::vector<SplitBrainWindow> out;
  for (std::size_t i = 0; i < hs.size(); ++i) {
    for (std::size_t j = i + 1; j < hs.size(); ++j) {
      for (const auto& a : owning[i]) {
        for (const auto& b : owning[j]) {
          const std::int64_t lo = std::max(a.first, b.first);
          const std::int64_t hi = std::min(a.second, b.second);
          if (lo > hi) continue;
          SplitBrainWindow w;
          w.source = SplitBrainWindow::Source::kAddress;
          w.startNs = lo;
          w.endNs = hi;
          w.hosts = {hs[i].host, hs[j].host};
          out.push_back(w);
        }
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const SplitBrainWindow& a, const SplitBrainWindow& b) {
    return a.startNs < b.startNs;
  });
  return out;
}

std::string SplitBrainWindow::describe() const {
  std::ostringstream s;
  s << (source == Source::kArp ? "arp" : "address") << " split-brain " << ms(startNs) << ".."
    << ms(endNs) << " ms (" << ms(endNs - startNs) << " ms)";
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    s << (i ? ", " : ": ") << hosts[i];
    if (i < macs.size()) s << " " << macs[i].str();
  }
  if (source == Source::kArp) s << "; rounds " << firstRound << ".." << lastRound;
  return s.str();
}

std::string FailoverGap::describe() const {
  std::ostringstream s;
  s << "failover " << (fromHost.empty() ? from.str() : fromHost) << " -> "
    << (toHost.empty() ? to.str() : toHost) << ": " << ms(gapNs()) << " ms (rounds "
    << lastFromRound << " -> " << firstToRound << ", " << silentRounds() << " silent)";
  return s.str();
}

std::string describe(const std::vector<SplitBrainWindow>& windows) {
  std::string s;
  for (const auto& w : windows) s += w.describe() + "\n";
  return s;
}

std::string describe(const std::vector<FailoverGap>& gaps) {
  std::string s;
  for (const auto& g : gaps) s += g.describe() + "\n";
  return s;
}

}  // namespace quorate::netns
