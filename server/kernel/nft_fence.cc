// The nftables fence: per-VIP "live" set elements with kernel timeouts and per-VIP real-time
// deadlines. Tables and rules go through libnftables; arm() and close() send their element
// changes as one raw nfnetlink batch.
#include <arpa/inet.h>
#include <endian.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/kernel/fence.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

namespace quorate::kernel {
namespace {

// Both tables hold a "managed" set (every VIP the fence gates: fixed by install()) and two gates
// per VIP, both of which must be open for a managed VIP's packet to pass:
//  - "live": an element with a relative kernel timeout (immune to wall-clock steps);
//  - "until": the interval VIP . [0, deadline) over `meta time`, the kernel's CLOCK_REALTIME
//    (immune to the holder freezing between reading its clock and committing the timeout).
// What is gated:
//  - arp: requests for the VIP (input) and replies or gratuitous ARP from it (output);
//  - inet: IPv4/IPv6 traffic to the VIP (prerouting, before conntrack and routing) and from it
//    (output). Linux sends a neighbour advertisement from its target address when the target is
//    an address of the interface, so the ip6 saddr rules drop it. Proxy-NDP and anycast NAs
//    leave with another source, so sets keyed on the raw NA target (nft 1.0.6 has no
//    "icmpv6 taddr"; a raw payload cannot be looked up in an ipv6_addr set) gate those.
constexpr const char* kArpBody = R"( {
  set managed4 { type ipv4_addr; }
  set live4 { type ipv4_addr; flags timeout; }
  set until4 { typeof arp daddr ip . meta time; flags interval; }
  chain in {
    type filter hook input priority 0;
    arp daddr ip @managed4 arp daddr ip != @live4 drop
    arp daddr ip @managed4 arp daddr ip . meta time != @until4 drop
  }
  chain out {
    type filter hook output priority 0;
    arp saddr ip @managed4 arp saddr ip != @live4 drop
    arp saddr ip @managed4 arp saddr ip . meta time != @until4 drop
  }
})";

constexpr const char* kInetBody = R"( {
  set managed4 { type ipv4_addr; }
  set live4 { type ipv4_addr; flags timeout; }
  set until4 { typeof ip daddr . meta time; flags interval; }
  set managed6 { type ipv6_addr; }
  set live6 { type ipv6_addr; flags timeout; }
  set until6 { typeof ip6 daddr . meta time; flags interval; }
  set managedna6 { typeof @th,64,128; }
  set livena6 { typeof @th,64,128; flags timeout; }
  set untilna6 { typeof @th,64,128 . meta time; flags interval; }
  chain pre {
    type filter hook prerouting priority -300;
    ip daddr @managed4 ip daddr != @live4 drop
    ip daddr @managed4 ip daddr . meta time != @until4 drop
    ip6 daddr @managed6 ip6 daddr != @live6 drop
    ip6 daddr @managed6 ip6 daddr . meta time != @until6 drop
  }
  chain out {
    type filter hook output priority -300;
    ip saddr @managed4 ip saddr != @live4 drop
    ip saddr @managed4 ip saddr . meta time != @until4 drop
    ip6 saddr @managed6 ip6 saddr != @live6 drop
    ip6 saddr @managed6 ip6 saddr . meta time != @until6 drop
    icmpv6 type nd-neighbor-advert @th,64,128 @managedna6 @th,64,128 != @livena6 drop
    icmpv6 type nd-neighbor-advert @th,64,128 @managedna6 @th,64,128 . meta time != @untilna6 drop
  }
})";

// Table names go into command text: only identifiers, so nothing can be injected.
bool validTableName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool other = (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!alpha && (i == 0 || !other)) return false;
  }
  return true;
}

// The NA target as the raw 128-bit payload element: big-endian hex.
std::string rawHex(const IpAddress& a) {
  std::string s = "0x";
  char buf[3];
  for (std::uint8_t b : a.bytes) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    s += buf;
  }
  return s;
}

// libnftables reports no errno, only text such as "Error: Could not process rule: No such file or
// directory". Recover the errno from the strerror() text when there is one.
int errnoFromText(const std::string& text) {
  for (int e : {ENOENT, EEXIST, EPERM, EACCES, EINVAL, EBUSY, ENOMEM, ENOSPC, EOPNOTSUPP, ERANGE,
                E2BIG, ENOBUFS, EAFNOSUPPORT, EPROTONOSUPPORT}) {
    if (text.find(std::strerror(e)) != std::string::npos) return e;
  }
  return EIO;
}

// nft reports every failed command of a batch as "Error: ...", the command, and a line of carets
// under the culprit. Keep the first error and its command on one line, and count the rest.
std::string firstError(const std::string& text) {
  std::string first;
  int errors = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind("Error:", 0) == 0) ++errors;
    bool carets = line.find_first_not_of(" ^~") == std::string::npos;
    if (errors <= 1 && !line.empty() && !carets) first += (first.empty() ? "" : " in: ") + line;
  }
  if (first.empty()) return "nft failed without a message";
  if (errors > 1) first += " (+" + std::to_string(errors - 1) + " more)";
  return first;
}

std::string joinAddresses(const std::vector<IpAddress>& vips) {
  std::string s;
  for (const auto& a : vips) {
    if (!s.empty()) s += ',';
    s += a.toString();
  }
  return s;
}

// One set's element list in nft syntax ("{ a, b }"), for install().
std::string elementList(const std::vector<std::string>& keys) {
  std::string s = "{ ";
  for (std::size_t i = 0; i < keys.size(); ++i) s += (i > 0 ? ", " : "") + keys[i];
  return s + " }";
}

// ---- Raw nfnetlink element batches. ----
// nft's own language parses `meta time` values in whole seconds only, too coarse for a lease
// deadline, so arm() and close() build their NEWSETELEM/DELSETELEM messages here, with keys in
// nanoseconds. The set layout (key lengths, concatenation fields) is the one nft created.

using Bytes = std::vector<std::uint8_t>;

// A set element as sent: key, optional closing key (interval sets), optional timeout.
struct Element {
  Bytes key;
  Bytes keyEnd;
  std::optional<std::uint64_t> timeoutMs;
  std::string text;  // for error messages, in nft syntax
};

// One batch of element messages; message i (0-based) carries sequence number base + 1 + i.
class Batch {
 public:
  explicit Batch(std::uint32_t base) : base_(base) {
    header(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, AF_UNSPEC, NFNL_SUBSYS_NFTABLES, base_);
    finish();
  }

  // NEWSETELEM or DELSETELEM of `elements` in `family`'s `table`/`set`; no elements on delete
  // flushes the set. `text` names the message in errors.
  void add(bool create, int family, const std::string& table, const std::string& set,
           const std::vector<Element>& elements, std::string text) {
    const int type =
        (NFNL_SUBSYS_NFTABLES << 8) | (create ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM);
    const int flags = NLM_F_REQUEST | NLM_F_ACK | (create ? NLM_F_CREATE : 0);
    header(type, flags, family, 0, base_ + 1 + static_cast<std::uint32_t>(texts_.size()));
    attr(NFTA_SET_ELEM_LIST_TABLE, table.c_str(), table.size() + 1);
    attr(NFTA_SET_ELEM_LIST_SET, set.c_str(), set.size() + 1);
    if (!elements.empty()) {
      std::size_t list = nest(NFTA_SET_ELEM_LIST_ELEMENTS);
      for (const auto& e : elements) {
        std::size_t one = nest(NFTA_LIST_ELEM);
        data(NFTA_SET_ELEM_KEY, e.key);
        if (!e.keyEnd.empty()) data(NFTA_SET_ELEM_KEY_END, e.keyEnd);
        if (e.timeoutMs) {
          std::uint64_t be = htobe64(*e.timeoutMs);
          attr(NFTA_SET_ELEM_TIMEOUT, &be, sizeof be);
        }
        end(one);
      }
      end(list);
    }
    finish();
    texts_.push_back(std::move(text));
  }

  // Closes the batch; the buffer is then ready to send.
  const Bytes& done() {
    header(NFNL_MSG_BATCH_END, NLM_F_REQUEST, AF_UNSPEC, NFNL_SUBSYS_NFTABLES,
           base_ + 1 + static_cast<std::uint32_t>(texts_.size()));
    finish();
    return buf_;
  }
  std::uint32_t base() const { return base_; }
  std::size_t messages() const { return texts_.size(); }
  const std::string& text(std::size_t i) const { return texts_.at(i); }

 private:
  void header(int type, int flags, int family, int resId, std::uint32_t seq) {
    msg_ = buf_.size();
    nlmsghdr h{};
    h.nlmsg_type = static_cast<std::uint16_t>(type);
    h.nlmsg_flags = static_cast<std::uint16_t>(flags);
    h.nlmsg_seq = seq;
    append(&h, sizeof h);
    nfgenmsg g{};
    g.nfgen_family = static_cast<std::uint8_t>(family);
    g.version = NFNETLINK_V0;
    g.res_id = htons(static_cast<std::uint16_t>(resId));
    append(&g, sizeof g);
  }
  void finish() {
    auto len = static_cast<std::uint32_t>(buf_.size() - msg_);
    std::memcpy(&buf_[msg_], &len, sizeof len);  // nlmsg_len is the first field
  }
  void append(const void* p, std::size_t n) {
    const auto* b = static_cast<const std::uint8_t*>(p);
    buf_.insert(buf_.end(), b, b + n);
    buf_.resize(NLMSG_ALIGN(buf_.size()), 0);
  }
  void attr(int type, const void* p, std::size_t n) {
    nlattr a{};
    a.nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + n);
    a.nla_type = static_cast<std::uint16_t>(type);
    append(&a, sizeof a);
    append(p, n);
  }
  void data(int type, const Bytes& value) {
    std::size_t d = nest(type);
    attr(NFTA_DATA_VALUE, value.data(), value.size());
    end(d);
  }
  std::size_t nest(int type) {
    std::size_t at = buf_.size();
    nlattr a{};
    a.nla_type = static_cast<std::uint16_t>(type | NLA_F_NESTED);
    append(&a, sizeof a);
    return at;
  }
  void end(std::size_t at) {
    auto len = static_cast<std::uint16_t>(buf_.size() - at);
    std::memcpy(&buf_[at], &len, sizeof len);  // nla_len is the first field
  }

  std::uint32_t base_;
  std::size_t msg_ = 0;
  Bytes buf_;
  std::vector<std::string> texts_;
};

// What the kernel said about a batch.
struct Outcome {
  int err = 0;             // first error, 0 on success
  std::size_t failed = 0;  // index of the failed message (messages() for the batch itself)
  int errors = 0;          // how many messages failed
  bool uncertain = false;  // the outcome could not be read: the batch may have committed
};

class NetfilterSocket {
 public:
  NetfilterSocket() {
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd_ < 0) {
      openErr_ = errno;
      return;
    }
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    // Acks without the request echoed back: a batch of many elements stays small.
    int one = 1;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        setsockopt(fd_, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one) != 0) {
      openErr_ = errno;
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~NetfilterSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  NetfilterSocket(const NetfilterSocket&) = delete;
  NetfilterSocket& operator=(const NetfilterSocket&) = delete;

  int openError() const { return fd_ < 0 ? (openErr_ != 0 ? openErr_ : EBADF) : 0; }

  // Sends the batch and collects one ack per message. nfnetlink handles a batch inside sendmsg()
  // and queues every ack before returning, so the replies are read without waiting; a short poll
  // only guards against a kernel that would not.
  Outcome talk(Batch& batch) {
    Outcome out;
    const Bytes& buf = batch.done();
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t n =
        sendto(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
    if (n != static_cast<ssize_t>(buf.size())) {
      out.err = n < 0 ? errno : EMSGSIZE;
      out.failed = batch.messages();
      return out;
    }
    const std::uint32_t first = batch.base();
    const std::uint32_t last = first + static_cast<std::uint32_t>(batch.messages());
    std::vector<bool> acked(batch.messages(), false);
    std::size_t missing = batch.messages();
    alignas(nlmsghdr) std::uint8_t rx[8192];
    bool waited = false;
    while (missing > 0) {
      ssize_t r = recv(fd_, rx, sizeof rx, MSG_DONTWAIT);
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (out.err != 0 || waited) break;  // a failed batch may leave some messages unacked
        pollfd p{fd_, POLLIN, 0};
        waited = true;
        if (poll(&p, 1, 100) <= 0) break;
        continue;
      }
      if (r < 0) {
        if (errno == EINTR) continue;
        out.err = errno;  // ENOBUFS: acks lost
        out.failed = batch.messages();
        out.uncertain = true;
        return out;
      }
      auto len = static_cast<std::size_t>(r);
      for (auto* h = reinterpret_cast<nlmsghdr*>(rx); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_type != NLMSG_ERROR || h->nlmsg_seq < first || h->nlmsg_seq > last) continue;
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) continue;
        const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        // Sequence `first` is the batch header: the whole batch failed (commit, memory).
        const std::size_t i = h->nlmsg_seq == first ? batch.messages() : h->nlmsg_seq - first - 1;
        if (i < acked.size() && !acked[i]) {
          acked[i] = true;
          --missing;
        }
        if (e->error != 0) {
          ++out.errors;
          if (out.err == 0 || i < out.failed) {
            out.err = -e->error;
            out.failed = i;
          }
        }
      }
    }
    if (out.err == 0 && missing > 0) {
      out.err = EIO;
      out.failed = batch.messages();
      out.uncertain = true;
    }
    return out;
  }

 private:
  int fd_ = -1;
  int openErr_ = 0;
};

// The key of an until element: the address, then the time as nft's `meta time` lookup sees it
// (64-bit nanoseconds, converted to big-endian by the rule).
Bytes timeKey(const Bytes& address, std::uint64_t ns) {
  Bytes k = address;
  std::uint64_t be = htobe64(ns);
  const auto* p = reinterpret_cast<const std::uint8_t*>(&be);
  k.insert(k.end(), p, p + sizeof be);
  return k;
}

// The sets one address lives in: where its live element goes and where its until element goes.
struct SetRef {
  int family;
  const char* nftFamily;
  const char* live;
  const char* until;
};
constexpr SetRef kV4Sets[] = {{NFPROTO_ARP, "arp", "live4", "until4"},
                              {NFPROTO_INET, "inet", "live4", "until4"}};
// The IPv6 address and the NA target carry the same 16 bytes.
constexpr SetRef kV6Sets[] = {{NFPROTO_INET, "inet", "live6", "until6"},
                              {NFPROTO_INET, "inet", "livena6", "untilna6"}};

// An until element's time range [from, to), CLOCK_REALTIME ns. A pipapo set stores a range as
// the aligned blocks (prefixes) that tile it, and its insert and delete cost grows quickly with
// their number: [0, deadline) in nanoseconds takes ~30 of them, ~1.5 ms per arm(). So the
// window ends at the deadline rounded down to kGrain (a gate that shuts up to 1 ms early, never
// late) and starts at the latest point, at or before now, that leaves the fewest blocks.
struct Window {
  std::uint64_t from = 0;
  std::uint64_t to = 0;
};
constexpr std::uint64_t kGrain = std::uint64_t{1} << 20;  // 1.048576 ms

std::uint64_t realtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// The window up to `deadlineNs` that contains `nowNs`, or none if the deadline has passed.
// [to - (to mod 2^q), to) splits into one block per set bit of (to mod 2^q): the smallest q whose
// window reaches back to now gives the fewest.
std::optional<Window> window(std::uint64_t nowNs, std::uint64_t deadlineNs) {
  const std::uint64_t to = deadlineNs & ~(kGrain - 1);
  if (to <= nowNs) return std::nullopt;
  for (int q = 21; q < 64; ++q) {
    const std::uint64_t low = to & ((std::uint64_t{1} << q) - 1);
    if (low >= to - nowNs) return Window{to - low, to};
  }
  return Window{0, to};
}

std::span<const SetRef> setsOf(const IpAddress& a) {
  if (a.isV4()) return kV4Sets;
  if (a.isV6()) return kV6Sets;
  return {};
}

Bytes keyOf(const IpAddress& a) { return Bytes(a.bytes.begin(), a.bytes.begin() + a.size()); }

class NftFence final : public Fence {
 public:
  explicit NftFence(std::string table)
      : table_(std::move(table)), ctx_(nft_ctx_new(NFT_CTX_DEFAULT)) {
    if (ctx_ != nullptr) {
      // Nothing goes to the daemon's stdout/stderr: output is discarded, errors become Status.
      nft_ctx_buffer_output(ctx_);
      nft_ctx_buffer_error(ctx_);
    }
  }
  ~NftFence() override {
    if (ctx_ != nullptr) nft_ctx_free(ctx_);
  }
  NftFence(const NftFence&) = delete;
  NftFence& operator=(const NftFence&) = delete;

  Status install(const std::vector<IpAddress>& managed) override {
    const std::string what = "nft install " + table_;
    if (auto s = usable(what); !s) return s;
    std::vector<std::string> v4, v6, na6;
    for (const auto& a : managed) {
      if (a.isV4()) {
        v4.push_back(a.toString());
      } else if (a.isV6()) {
        v6.push_back(a.toString());
        na6.push_back(rawHex(a));
      } else {
        return Status::fail(EINVAL, what + ": unset address");
      }
    }
    // "add; delete" makes the delete succeed whether or not an earlier run left the table, and
    // the whole replacement commits at once: there is no instant without the fence.
    std::string cmd;
    for (const char* family : {"arp", "inet"}) {
      cmd += std::string("add table ") + family + " " + table_ + "\n";
      cmd += std::string("delete table ") + family + " " + table_ + "\n";
    }
    cmd += "table arp " + table_ + kArpBody + "\n";
    cmd += "table inet " + table_ + kInetBody + "\n";
    auto fill = [&](const char* family, const char* set, const std::vector<std::string>& keys) {
      if (keys.empty()) return;
      cmd += std::string("add element ") + family + " " + table_ + " " + set + " " +
             elementList(keys) + "\n";
    };
    fill("arp", "managed4", v4);
    fill("inet", "managed4", v4);
    fill("inet", "managed6", v6);
    fill("inet", "managedna6", na6);
    if (auto s = run(cmd, what); !s) return s;
    managed_ = std::set<IpAddress>(managed.begin(), managed.end());
    until_.clear();
    resync_ = false;
    return Status::ok();
  }

  Status arm(const std::vector<IpAddress>& vips, std::chrono::milliseconds remaining,
             std::chrono::nanoseconds realtimeDeadline) override {
    const std::string what = "nft arm " + joinAddresses(vips);
    if (auto s = usable(what); !s) return s;
    for (const auto& a : vips) {
      if (!managed_.contains(a)) {
        return Status::fail(EINVAL, what + ": " + a.toString() + " is not managed by the fence" +
                                        (managed_.empty() ? " (install() not called?)" : ""));
      }
    }
    if (remaining.count() <= 0 || realtimeDeadline.count() <= 0) return close(vips);
    return change(vips, remaining, static_cast<std::uint64_t>(realtimeDeadline.count()), what);
  }

  Status close(const std::vector<IpAddress>& vips) override {
    // Unmanaged addresses are never live, so closing them is a harmless no-op in the kernel.
    const std::string what = "nft close " + joinAddresses(vips);
    if (auto s = usable(what); !s) return s;
    return change(vips, std::chrono::milliseconds(0), 0, what);
  }

  Status uninstall() override {
    const std::string what = "nft uninstall " + table_;
    if (auto s = usable(what); !s) return s;
    std::string cmd;
    for (const char* family : {"arp", "inet"}) {
      cmd += std::string("add table ") + family + " " + table_ + "\n";
      cmd += std::string("delete table ") + family + " " + table_ + "\n";
    }
    if (auto s = run(cmd, what); !s) return s;
    managed_.clear();
    until_.clear();
    resync_ = false;
    return Status::ok();
  }

 private:
  Status usable(const std::string& what) const {
    if (ctx_ == nullptr) return Status::fail(ENOMEM, what + ": nft_ctx_new failed");
    if (!validTableName(table_)) return Status::fail(EINVAL, what + ": bad table name");
    if (int e = sock_.openError(); e != 0) {
      return Status::fail(e, what + ": netfilter netlink socket");
    }
    return Status::ok();
  }

  // Opens `vips` for `remaining` and until `deadlineNs` (CLOCK_REALTIME), or closes them
  // (deadlineNs 0), in one transaction. If the kernel's until elements are not what this object
  // remembers (someone edited the set, or an earlier outcome was lost), the until sets are
  // rebuilt from memory in a second transaction; an address that memory lacks stays closed.
  Status change(const std::vector<IpAddress>& vips, std::chrono::milliseconds remaining,
                std::uint64_t deadlineNs, const std::string& what) {
    std::map<IpAddress, Window> next = until_;
    // Read before the commit, so the window's start is never after the kernel's time then.
    const std::optional<Window> w =
        deadlineNs != 0 ? window(realtimeNs(), deadlineNs) : std::nullopt;
    for (const auto& a : vips) {
      if (w) {
        next[a] = *w;
      } else {
        next.erase(a);  // closing, or a deadline already past: no window is a shut gate
      }
    }
    Status s = Status::ok();
    for (int attempt = 0; attempt < 2; ++attempt) {
      Batch batch(seq_);
      std::size_t liveMessages = 0;
      buildLive(batch, vips, remaining);
      liveMessages = batch.messages();
      if (resync_) {
        buildRebuild(batch, next);
      } else {
        buildUntil(batch, vips, next);
      }
      seq_ += static_cast<std::uint32_t>(batch.messages()) + 2;
      if (batch.messages() == 0) return Status::ok();
      Outcome out = sock_.talk(batch);
      if (out.err == 0) {
        until_ = std::move(next);
        resync_ = false;
        return Status::ok();
      }
      std::string text =
          out.failed < batch.messages() ? batch.text(out.failed) : std::string("the batch");
      if (out.errors > 1) text += " (+" + std::to_string(out.errors - 1) + " more)";
      s = Status::fail(out.err, what + ": " + text);
      const bool untilFailed = out.failed >= liveMessages && out.failed < batch.messages();
      if (out.uncertain) resync_ = true;
      if (!untilFailed || resync_) break;
      resync_ = true;  // memory and kernel disagree: rebuild
    }
    return s;
  }

  // Per live set: add (so the delete cannot fail on an absent element), delete (so the final
  // add is new and carries the new timeout: kernels before 6.10 keep an existing element's
  // timeout on add), add with the time left. One transaction: the element is never seen missing.
  void buildLive(Batch& batch, const std::vector<IpAddress>& vips,
                 std::chrono::milliseconds remaining) const {
    // Arp first (NFPROTO_ARP > NFPROTO_INET), as nft would list them.
    std::map<std::pair<int, std::string>, std::vector<IpAddress>, std::greater<>> bySet;
    for (const auto& a : vips) {
      for (const auto& ref : setsOf(a)) bySet[{ref.family, ref.live}].push_back(a);
    }
    for (const auto& [where, addrs] : bySet) {
      const auto& [family, set] = where;
      const std::string target = std::string(family == NFPROTO_ARP ? "arp " : "inet ") + table_ +
                                 " " + set + " { " + joinAddresses(addrs) + " }";
      std::vector<Element> placeholder, bare, timed;
      for (const auto& a : addrs) {
        placeholder.push_back({keyOf(a), {}, 1000, ""});
        bare.push_back({keyOf(a), {}, std::nullopt, ""});
        timed.push_back({keyOf(a), {}, static_cast<std::uint64_t>(remaining.count()), ""});
      }
      batch.add(true, family, table_, set, placeholder, "add element " + target + " timeout 1s");
      batch.add(false, family, table_, set, bare, "delete element " + target);
      if (remaining.count() > 0) {
        batch.add(true, family, table_, set, timed,
                  "add element " + target + " timeout " + std::to_string(remaining.count()) + "ms");
      }
    }
  }

  // Per until set: delete the remembered range of each address, add its new one.
  void buildUntil(Batch& batch, const std::vector<IpAddress>& vips,
                  const std::map<IpAddress, Window>& next) const {
    std::map<std::pair<int, std::string>, std::pair<std::vector<Element>, std::vector<Element>>,
             std::greater<>>
        bySet;  // (old ranges, new ranges)
    for (const auto& a : vips) {
      for (const auto& ref : setsOf(a)) {
        auto& [olds, news] = bySet[{ref.family, ref.until}];
        if (auto it = until_.find(a); it != until_.end()) olds.push_back(range(a, it->second));
        if (auto it = next.find(a); it != next.end()) news.push_back(range(a, it->second));
      }
    }
    for (const auto& [where, ranges] : bySet) {
      const auto& [family, set] = where;
      const auto& [olds, news] = ranges;
      if (!olds.empty())
        batch.add(false, family, table_, set, olds, describe(false, family, set, olds));
      if (!news.empty())
        batch.add(true, family, table_, set, news, describe(true, family, set, news));
    }
  }

  // Every until set flushed and refilled from `next`.
  void buildRebuild(Batch& batch, const std::map<IpAddress, Window>& next) const {
    for (bool v4 : {true, false}) {
      for (const auto& ref :
           v4 ? std::span<const SetRef>(kV4Sets) : std::span<const SetRef>(kV6Sets)) {
        std::vector<Element> all;
        for (const auto& [a, w] : next) {
          if (a.isV4() == v4) all.push_back(range(a, w));
        }
        batch.add(false, ref.family, table_, ref.until, {},
                  std::string("flush set ") + ref.nftFamily + " " + table_ + " " + ref.until);
        if (!all.empty()) {
          batch.add(true, ref.family, table_, ref.until, all,
                    describe(true, ref.family, ref.until, all));
        }
      }
    }
  }

  // The until element of `a`: the window, as an inclusive range.
  static Element range(const IpAddress& a, const Window& w) {
    return {timeKey(keyOf(a), w.from), timeKey(keyOf(a), w.to - 1), std::nullopt,
            a.toString() + " . " + std::to_string(w.from) + "-" + std::to_string(w.to - 1) + "ns"};
  }

  std::string describe(bool create, int family, const std::string& set,
                       const std::vector<Element>& elements) const {
    std::string s = std::string(create ? "add element " : "delete element ") +
                    (family == NFPROTO_ARP ? "arp " : "inet ") + table_ + " " + set + " { ";
    for (std::size_t i = 0; i < elements.size(); ++i) s += (i > 0 ? ", " : "") + elements[i].text;
    return s + " }";
  }

  // Runs `cmd` as one transaction; on failure the Status carries nft's own error text.
  Status run(const std::string& cmd, const std::string& what) {
    if (cmd.empty()) return Status::ok();
    int rc = nft_run_cmd_from_buffer(ctx_, cmd.c_str());
    // Reading the buffers also rewinds them, so each call starts empty.
    (void)nft_ctx_get_output_buffer(ctx_);
    const char* err = nft_ctx_get_error_buffer(ctx_);
    if (rc == 0) return Status::ok();
    std::string text = firstError(err != nullptr ? err : "");
    return Status::fail(errnoFromText(text), what + ": " + text);
  }

  std::string table_;
  nft_ctx* ctx_;
  NetfilterSocket sock_;
  std::uint32_t seq_ = 1;
  std::set<IpAddress> managed_;
  std::map<IpAddress, Window> until_;  // committed windows
  bool resync_ = false;                // the until sets may differ from until_
};

}  // namespace

std::unique_ptr<Fence> makeNftFence(std::string table) {
  return std::make_unique<NftFence>(std::move(table));
}

}  // namespace quorate::kernel
