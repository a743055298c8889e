// The nftables fence: per lease, a chain that lets the lease's VIPs through while one of two
// slots is open, each slot one set element: a real-time interval with a kernel timeout.
// The ruleset is installed through libnftables; arm() and close() are raw nfnetlink batches.
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/kernel/fence.h"
#include "server/kernel/fence_plan.h"
#include "server/kernel/netlink_channel.h"
#include "server/kernel/nft_messages.h"

namespace quorate::kernel {
namespace {

// The ruleset, per table ("arp T" and "inet T"):
//  - verdict maps from each VIP to its lease's chain, written by install() only: `vips4`,
//    `vips6` (inet) and `vipsna6`, keyed on the raw target of a neighbour advertisement (nft
//    1.0.6 has no "icmpv6 taddr"; Linux sends an NA from its target when the target is an
//    address of the interface, and proxy-NDP or anycast NAs from another source);
//  - base chains that send every packet to or from a VIP through its lease's chain:
//      arp:  in (input): requests for the VIP; out (output): replies and gratuitous ARP from it;
//      inet: pre (prerouting, priority raw: before conntrack, routing and IPVS): traffic to the
//            VIP; out (output, priority raw): traffic from it, and NAs for it; post
//            (postrouting, after source NAT): traffic that got the VIP as its source after the
//            output hook or without crossing it (IPVS masquerading rewrites a real server's
//            reply in forward; a nat table's snat to the VIP), which `out` never sees;
//  - per lease i, chain `lease<i>`, written by install() only: `meta time @lease<i>_a return`,
//    the same for `lease<i>_b`, then `drop`. A slot's set holds, while open, one interval of
//    `meta time` (the kernel's CLOCK_REALTIME in ns), [0, deadline): the absolute gate; the
//    element carries a kernel timeout: the relative gate. Empty, the slot is shut.
// A packet passes a lease's chain if either slot is open; a packet that meets two gates (from one
// VIP, an NA for another) must pass both. An address not in a map is never touched.
//
// Each arm() writes ONE slot: flush its set and add the new interval with the new timeout, in one
// transaction. The other slot's set is not touched, so a packet never depends on how the kernel
// commits the slot being written. (An arm that ends earlier than the other slot then writes that
// one too, in a second transaction, while the first stays open: see armOnce().) That is what Debian
// 12's kernel (6.1) needs: its pipapo sets could miss an element that a transaction deleted and
// re-added while it committed, which dropped all traffic of the VIPs for milliseconds at every
// renewal with the previous per-VIP ruleset. A renewal writes set elements only, never a rule: a
// transaction that adds a rule makes the kernel revalidate the whole table, which walks every
// element of the VIP verdict maps and costs time in the number of VIPs (61 us for 1 VIP, 947 us for
// 4,096 on 6.18 when each arm rewrote the lease chain; 14 us for both now). So a renewal costs the
// same whatever the number of VIPs.
constexpr const char* kArpBase = R"(
  map vips4 { type ipv4_addr : verdict; }
  chain in {
    type filter hook input priority 0;
    arp daddr ip vmap @vips4
  }
  chain out {
    type filter hook output priority 0;
    arp saddr ip vmap @vips4
  }
)";

constexpr const char* kInetBase = R"(
  map vips4 { type ipv4_addr : verdict; }
  map vips6 { type ipv6_addr : verdict; }
  map vipsna6 { typeof @th,64,128 : verdict; }
  chain pre {
    type filter hook prerouting priority -300;
    ip daddr vmap @vips4
    ip6 daddr vmap @vips6
  }
  chain out {
    type filter hook output priority -300;
    ip saddr vmap @vips4
    ip6 saddr vmap @vips6
    icmpv6 type nd-neighbor-advert @th,64,128 vmap @vipsna6
  }
  chain post {
    type filter hook postrouting priority 300;
    ip saddr vmap @vips4
    ip6 saddr vmap @vips6
  }
)";

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
std::string rawHex(const net::IpAddress& a) {
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

// One set's element list in nft syntax ("{ a, b }"), for install().
std::string elementList(const std::vector<std::string>& keys) {
  std::string s = "{ ";
  for (std::size_t i = 0; i < keys.size(); ++i) s += (i > 0 ? ", " : "") + keys[i];
  return s + " }";
}

std::string leaseChain(std::size_t i) { return "lease" + std::to_string(i); }
std::string slotSet(std::size_t i, int slot) { return leaseChain(i) + (slot == 0 ? "_a" : "_b"); }

std::int64_t monotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Group {
  std::vector<net::IpAddress> vips;
  bool inetGate = false;  // the lease chain and its slot sets exist in the inet table
  bool arpGate = false;   // ... and in the arp table (once the group has had an IPv4 address)
  fence::Gate gate;       // as this object last committed it (see fence_plan.h)
};

// One verdict-map entry that gates an address: the arp and inet maps for IPv4, the inet map and
// the NA target map for IPv6.
struct MapEntry {
  const char* family;
  const char* map;
  std::string key;
};

std::vector<MapEntry> entriesOf(const net::IpAddress& a) {
  if (a.isV4()) return {{"arp", "vips4", a.toString()}, {"inet", "vips4", a.toString()}};
  return {{"inet", "vips6", a.toString()}, {"inet", "vipsna6", rawHex(a)}};
}

// A lease's two slot sets and its chain, closed, in nft syntax (inside a table block).
std::string gateBlock(std::size_t i) {
  // Closed: both slot sets empty. The chain is written here only: a renewal writes set
  // elements alone, so no commit of it revalidates the table (which walks every VIP's verdict
  // map element: a cost in the number of VIPs).
  return "  set " + slotSet(i, 0) + " { typeof meta time; flags interval, timeout; }\n  set " +
         slotSet(i, 1) + " { typeof meta time; flags interval, timeout; }\n  chain " +
         leaseChain(i) + " {\n    meta time @" + slotSet(i, 0) + " return\n    meta time @" +
         slotSet(i, 1) + " return\n    drop\n  }\n";
}

// The two tables a lease's gate lives in; the arp one gates only IPv4 addresses.
constexpr nft::Family kBoth[] = {{NFPROTO_ARP, "arp"}, {NFPROTO_INET, "inet"}};

class NftFence final : public Fence {
 public:
  explicit NftFence(std::string table)
      : table_(std::move(table)), ctx_(nft_ctx_new(NFT_CTX_DEFAULT)), sock_(NETLINK_NETFILTER) {
    // Opened here, in the network namespace of the creating thread, and kept.
    socketStatus_ = sock_.open("netfilter");
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

  Status install(const std::vector<std::vector<net::IpAddress>>& groups) override {
    return installTables(groups, {});
  }

  Status update(std::size_t group, const std::vector<net::IpAddress>& addresses) override {
    const std::string what = "nft update " + leaseChain(group);
    if (auto s = usable(what); !s) return s;
    if (group > groups_.size() || (group == groups_.size() && groups_.empty())) {
      return unknown(what, group);
    }
    std::vector<net::IpAddress> want;
    for (const auto& a : addresses) {
      if (!a.isV4() && !a.isV6()) return Status::fail(EINVAL, what + ": unset address");
      if (std::find(want.begin(), want.end(), a) != want.end()) continue;
      for (std::size_t j = 0; j < groups_.size(); ++j) {
        const auto& other = groups_[j].vips;
        if (j != group && std::find(other.begin(), other.end(), a) != other.end()) {
          return Status::fail(EINVAL, what + ": " + a.toString() + " is in lease " +
                                          std::to_string(j) + " of the fence");
        }
      }
      want.push_back(a);
    }
    // The next index: a lease added by a reload, appended (closed, like every group at install)
    // so that no other lease's index, chain or gate moves.
    const bool appended = group == groups_.size();
    if (appended) groups_.emplace_back();
    Group& g = groups_[group];
    auto in = [](const std::vector<net::IpAddress>& v, const net::IpAddress& a) {
      return std::find(v.begin(), v.end(), a) != v.end();
    };
    std::vector<net::IpAddress> added, removed;
    for (const auto& a : want) {
      if (!in(g.vips, a)) added.push_back(a);
    }
    for (const auto& a : g.vips) {
      if (!in(want, a)) removed.push_back(a);
    }
    if (added.empty() && removed.empty()) return Status::ok();
    const bool newInet = !g.inetGate && !added.empty();
    const bool newArp = !g.arpGate && std::any_of(added.begin(), added.end(),
                                                  [](const auto& a) { return a.isV4(); });
    // One transaction: the gates a first address needs (closed), then the retired addresses
    // mapped to drop, then the new ones to the lease's chain. Every address is gated at every
    // instant: by the lease's chain before, by drop or by the chain after.
    std::string cmd;
    if (newArp) cmd += "table arp " + table_ + " {\n" + gateBlock(group) + "}\n";
    if (newInet) cmd += "table inet " + table_ + " {\n" + gateBlock(group) + "}\n";
    for (const auto& a : removed) {
      for (const auto& e : entriesOf(a)) {
        const std::string at = std::string(e.family) + " " + table_ + " " + e.map;
        cmd += "delete element " + at + " { " + e.key + " }\n";
        cmd += "add element " + at + " { " + e.key + " : drop }\n";
      }
    }
    for (const auto& a : added) {
      for (const auto& e : entriesOf(a)) {
        const std::string at = std::string(e.family) + " " + table_ + " " + e.map;
        if (retired_.contains(a)) cmd += "delete element " + at + " { " + e.key + " }\n";
        cmd += "add element " + at + " { " + e.key + " : jump " + leaseChain(group) + " }\n";
      }
    }
    const Status applied = run(cmd, what);
    if (!applied) {
      if (appended) groups_.pop_back();
      return applied;
    }
    g.vips = std::move(want);
    g.arpGate = g.arpGate || newArp;
    g.inetGate = g.inetGate || newInet;
    for (const auto& a : added) retired_.erase(a);
    for (const auto& a : removed) retired_.insert(a);
    if (!newArp && !newInet) return Status::ok();
    return copyGate(group, newInet ? familiesOf(g) : std::span<const nft::Family>(kBoth).first(1),
                    what + ": copying the gate to the new chain");
  }

  Status release(const std::vector<net::IpAddress>& addresses) override {
    const std::string what = "nft release " + table_;
    if (auto s = usable(what); !s) return s;
    std::string cmd;
    std::vector<net::IpAddress> gone;
    for (const auto& a : addresses) {
      if (!retired_.contains(a) || std::find(gone.begin(), gone.end(), a) != gone.end()) continue;
      gone.push_back(a);
      for (const auto& e : entriesOf(a)) {
        cmd += std::string("delete element ") + e.family + " " + table_ + " " + e.map + " { " +
               e.key + " }\n";
      }
    }
    if (auto s = run(cmd, what); !s) return s;
    for (const auto& a : gone) retired_.erase(a);
    return Status::ok();
  }

  Status installTables(const std::vector<std::vector<net::IpAddress>>& groups,
                       const std::set<net::IpAddress>& retired) {
    const std::string what = "nft install " + table_;
    if (auto s = usable(what); !s) return s;
    std::vector<Group> next(groups.size());
    std::set<net::IpAddress> seen;
    for (std::size_t i = 0; i < groups.size(); ++i) {
      std::set<net::IpAddress> mine;
      for (const auto& a : groups[i]) {
        if (!a.isV4() && !a.isV6()) return Status::fail(EINVAL, what + ": unset address");
        if (mine.contains(a)) continue;  // the same VIP twice in one lease gates the same
        if (!seen.insert(a).second) {
          return Status::fail(EINVAL, what + ": " + a.toString() + " is in two leases");
        }
        mine.insert(a);
        next[i].vips.push_back(a);
        next[i].inetGate = true;
        if (a.isV4()) next[i].arpGate = true;
      }
    }
    std::set<net::IpAddress> keptRetired;
    for (const auto& a : retired) {
      if (!seen.contains(a)) keptRetired.insert(a);
    }
    // The whole replacement commits at once: there is no instant without the fence.
    std::string cmd = deleteTables();
    std::string arp = kArpBase, inet = kInetBase;
    std::vector<std::string> arp4, inet4, inet6, na6;
    for (std::size_t i = 0; i < next.size(); ++i) {
      const Group& g = next[i];
      if (!g.inetGate) continue;
      const std::string chain = leaseChain(i);
      const std::string sets = gateBlock(i);
      if (g.arpGate) arp += sets;
      inet += sets;
      for (const auto& a : g.vips) {
        const std::string to = " : jump " + chain;
        if (a.isV4()) {
          arp4.push_back(a.toString() + to);
          inet4.push_back(a.toString() + to);
        } else {
          inet6.push_back(a.toString() + to);
          na6.push_back(rawHex(a) + to);
        }
      }
    }
    cmd += "table arp " + table_ + " {" + arp + "}\n";
    cmd += "table inet " + table_ + " {" + inet + "}\n";
    auto fill = [&](const char* family, const char* map, const std::vector<std::string>& keys) {
      if (keys.empty()) return;
      cmd += std::string("add element ") + family + " " + table_ + " " + map + " " +
             elementList(keys) + "\n";
    };
    fill("arp", "vips4", arp4);
    fill("inet", "vips4", inet4);
    fill("inet", "vips6", inet6);
    fill("inet", "vipsna6", na6);
    // Retired addresses (update()) stay dark across a reinstall until they are released.
    for (const auto& a : keptRetired) {
      for (const auto& e : entriesOf(a)) {
        cmd += std::string("add element ") + e.family + " " + table_ + " " + e.map + " { " + e.key +
               " : drop }\n";
      }
    }
    if (auto s = run(cmd, what); !s) return s;
    groups_ = std::move(next);
    retired_ = std::move(keptRetired);
    return Status::ok();
  }

  Status arm(std::size_t group, std::chrono::milliseconds remaining,
             std::chrono::nanoseconds realtimeDeadline) override {
    const std::string what = "nft arm " + leaseChain(group);
    if (auto s = usable(what); !s) return s;
    if (group >= groups_.size()) return unknown(what, group);
    if (fence::shutsInstead(remaining, realtimeDeadline)) return close(group);
    const Status st = armOnce(group, remaining, realtimeDeadline, what);
    if (st.err() != ENOENT) return st;
    return healed(st, [&] { return armOnce(group, remaining, realtimeDeadline, what); });
  }

  Status close(std::size_t group) override {
    const std::string what = "nft close " + leaseChain(group);
    if (auto s = usable(what); !s) return s;
    if (group >= groups_.size()) return unknown(what, group);
    const Status st = closeOnce(group, what);
    if (st.err() != ENOENT) return st;
    // The reinstalled fence is closed: nothing to apply again.
    return healed(st, [] { return Status::ok(); });
  }

  Status uninstall() override {
    const std::string what = "nft uninstall " + table_;
    if (auto s = usable(what); !s) return s;
    if (auto s = run(deleteTables(), what); !s) return s;
    groups_.clear();
    retired_.clear();
    return Status::ok();
  }

 private:
  // A table, set or chain of ours is gone (`nft flush ruleset`, which a restart of Debian's
  // nftables service runs, or a firewall manager replacing the whole ruleset): the VIPs are
  // unfenced until the fence is back, and no later arm() or close() could succeed. Reinstall it
  // (every lease closed, as at start-up) and apply the call again, then still report the failure
  // so that it is logged and the caller treats the call as uncertain.
  template <class Again>
  Status healed(const Status& failed, Again again) {
    std::vector<std::vector<net::IpAddress>> groups;
    groups.reserve(groups_.size());
    for (const auto& g : groups_) groups.push_back(g.vips);
    if (auto s = installTables(groups, retired_); !s) {
      return failed.withWhat(failed.what() + "; reinstalling the fence failed: " + s.message());
    }
    const Status s = again();
    // Status::message() appends strerror(err) last: it must read as the first attempt's error,
    // not as the outcome of the call applied again.
    return failed.withWhat(std::string("the fence's tables were damaged: reinstalled, every lease "
                                       "closed, ") +
                           (s ? std::string("this call applied again")
                              : "this call failed again (" + s.message() + ")") +
                           "; the first attempt, " + failed.what() + ", failed");
  }

  Status armOnce(std::size_t group, std::chrono::milliseconds remaining,
                 std::chrono::nanoseconds realtimeDeadline, const std::string& what) {
    Group& g = groups_[group];
    if (!g.inetGate) return Status::ok();
    const fence::ArmPlan plan = fence::planArm(g.gate, remaining, realtimeDeadline, monotonicNs());
    if (const Status st = writeOnce(g, group, plan.slot, plan, what); !st || !plan.alsoOther) {
      return st;
    }
    // This arm ends earlier than the previous one: the other slot gets the same interval, in a
    // transaction of its own, while the slot just written stays open. Emptying the other slot in
    // this arm's transaction instead let packets through neither slot: a packet looks the slots
    // up one after the other, each lookup in the generation current at that instant, so one
    // whose lookups straddle the commit can see slot a from before it and slot b from after it
    // (on 6.18, shortening renewals back to back lost 11-14 of 10,000-50,000 ARP probes that way;
    // written like this, 0 of 110,000-170,000). Here every transaction writes one slot while
    // the other is open, and no renewal empties a slot.
    return writeOnce(g, group, 1 - plan.slot, plan, what);
  }

  // Writes one slot in one transaction and records it; on failure the next arm writes it again.
  Status writeOnce(Group& g, std::size_t group, int slot, const fence::ArmPlan& plan,
                   const std::string& what) {
    const Status st = commit(
        nft::writeSlot(seq_, table_, familiesOf(g), slotSet(group, slot),
                       static_cast<std::uint64_t>(plan.timeout.count()), plan.fresh.deadlineNs),
        what);
    g.gate = fence::afterWrite(g.gate, slot, plan.fresh, st.isOk());
    return st;
  }

  Status closeOnce(std::size_t group, const std::string& what) {
    Group& g = groups_[group];
    if (!g.inetGate) return Status::ok();
    const Status st = commit(
        nft::flushSlots(seq_, table_, familiesOf(g), slotSet(group, 0), slotSet(group, 1)), what);
    g.gate = fence::afterClose(g.gate, st.isOk());
    return st;
  }

  // Writes the group's open slots, as this object last knew them, into the gate update() just
  // created in `families`, each no later than it ends: the remaining kernel timeout from the
  // estimated end (which the commit of the original only made later), the same absolute
  // deadline. A slot that a failed write left "open" is copied too: its limits are still ones
  // an arm asked for. The gate's record is not changed: the new sets are never later than it.
  Status copyGate(std::size_t group, std::span<const nft::Family> families,
                  const std::string& what) {
    const Group& g = groups_[group];
    const std::int64_t now = monotonicNs();
    for (int slot = 0; slot < 2; ++slot) {
      const fence::Slot& s = g.gate.slots[slot];
      if (!s.open || s.monoEndNs <= now) continue;
      const auto ms = static_cast<std::uint64_t>((s.monoEndNs - now) / 1'000'000);
      if (ms == 0) continue;
      if (auto st = commit(
              nft::writeSlot(seq_, table_, families, slotSet(group, slot), ms, s.deadlineNs), what);
          !st) {
        return st;
      }
    }
    return Status::ok();
  }

  Status usable(const std::string& what) const {
    if (ctx_ == nullptr) return Status::fail(ENOMEM, what + ": nft_ctx_new failed");
    if (!validTableName(table_)) return Status::fail(EINVAL, what + ": bad table name");
    if (!socketStatus_) {
      return socketStatus_.withWhat(what + ": " + socketStatus_.what());
    }
    return Status::ok();
  }

  // Commands deleting both tables, whether or not they exist: "add; delete" makes the delete
  // succeed either way.
  std::string deleteTables() const {
    std::string cmd;
    for (const char* family : {"arp", "inet"}) {
      cmd += std::string("add table ") + family + " " + table_ + "\n";
      cmd += std::string("delete table ") + family + " " + table_ + "\n";
    }
    return cmd;
  }

  Status unknown(const std::string& what, std::size_t group) const {
    return Status::fail(EINVAL, what + ": no lease " + std::to_string(group) + " in the fence (" +
                                    std::to_string(groups_.size()) + " installed" +
                                    (groups_.empty() ? "; install() not called?" : "") + ")");
  }

  static std::span<const nft::Family> familiesOf(const Group& g) {
    return g.arpGate ? std::span<const nft::Family>(kBoth)
                     : std::span<const nft::Family>(kBoth).last(1);
  }

  // Sends one transaction. nfnetlink handles a batch inside sendmsg() and queues every ack
  // before returning, so the acks are read without waiting (Acks::Queued).
  Status commit(const nft::Transaction& tx, const std::string& what) {
    seq_ += tx.sequences();
    if (!tx.ok) return Status::fail(EMSGSIZE, what + ": a value too large for netlink");
    auto acks = sock_.sendBatch(tx.bytes, tx.first, tx.messages() + 1, netlink::Acks::Queued, what,
                                /*quietHead=*/1);
    if (!acks) return acks.status();
    return nft::outcomeOf(tx, *acks, what);
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
  netlink::Channel sock_;
  Status socketStatus_;
  std::uint32_t seq_ = 1;
  std::vector<Group> groups_;
  std::set<net::IpAddress> retired_;  // mapped to drop by update(), until release()
};

}  // namespace

std::unique_ptr<Fence> makeNftFence(std::string table) {
  return std::make_unique<NftFence>(std::move(table));
}

}  // namespace quorate::kernel
