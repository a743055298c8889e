// The nftables fence: per-VIP "live" set elements with kernel timeouts, driven through libnftables.
#include <nftables/libnftables.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "server/kernel/fence.h"

namespace quorate::kernel {
namespace {

// Both tables hold a "managed" set (every VIP the fence gates: fixed by install()) and a "live"
// set with per-element timeouts (the VIPs currently open). A packet that carries a managed VIP
// and whose VIP is not live is dropped:
//  - arp: requests for the VIP (input) and replies or gratuitous ARP from it (output);
//  - inet: IPv4/IPv6 traffic to the VIP (prerouting, before conntrack and routing) and from it
//    (output). Linux sends a neighbour advertisement from its target address when the target is
//    an address of the interface, so the ip6 saddr rule drops it. Proxy-NDP and anycast NAs
//    leave with another source, so a second pair of sets keyed on the raw NA target (nft 1.0.6
//    has no "icmpv6 taddr"; a raw payload cannot be looked up in an ipv6_addr set) gates those.
constexpr const char* kArpBody = R"( {
  set managed4 { type ipv4_addr; }
  set live4 { type ipv4_addr; flags timeout; }
  chain in {
    type filter hook input priority 0;
    arp daddr ip @managed4 arp daddr ip != @live4 drop
  }
  chain out {
    type filter hook output priority 0;
    arp saddr ip @managed4 arp saddr ip != @live4 drop
  }
})";

constexpr const char* kInetBody = R"( {
  set managed4 { type ipv4_addr; }
  set live4 { type ipv4_addr; flags timeout; }
  set managed6 { type ipv6_addr; }
  set live6 { type ipv6_addr; flags timeout; }
  set managedna6 { typeof @th,64,128; }
  set livena6 { typeof @th,64,128; flags timeout; }
  chain pre {
    type filter hook prerouting priority -300;
    ip daddr @managed4 ip daddr != @live4 drop
    ip6 daddr @managed6 ip6 daddr != @live6 drop
  }
  chain out {
    type filter hook output priority -300;
    ip saddr @managed4 ip saddr != @live4 drop
    ip6 saddr @managed6 ip6 saddr != @live6 drop
    icmpv6 type nd-neighbor-advert @th,64,128 @managedna6 @th,64,128 != @livena6 drop
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

// One set's element list ("{ a timeout 1s, b timeout 1s }"); `suffix` follows every element.
std::string elements(const std::vector<std::string>& keys, const std::string& suffix) {
  std::string s = "{ ";
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) s += ", ";
    s += keys[i];
    s += suffix;
  }
  return s + " }";
}

struct Keys {
  std::vector<std::string> v4;   // dotted quads, for arp and inet live4/managed4
  std::vector<std::string> v6;   // for live6/managed6
  std::vector<std::string> na6;  // raw hex, for livena6/managedna6
};

Keys keysOf(const std::vector<IpAddress>& addresses) {
  Keys k;
  for (const auto& a : addresses) {
    if (a.isV4()) {
      k.v4.push_back(a.toString());
    } else if (a.isV6()) {
      k.v6.push_back(a.toString());
      k.na6.push_back(rawHex(a));
    }
  }
  return k;
}

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
    for (const auto& a : managed) {
      if (!a.isV4() && !a.isV6()) return Status::fail(EINVAL, what + ": unset address");
    }
    Keys k = keysOf(managed);
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
             elements(keys, "") + "\n";
    };
    fill("arp", "managed4", k.v4);
    fill("inet", "managed4", k.v4);
    fill("inet", "managed6", k.v6);
    fill("inet", "managedna6", k.na6);
    if (auto s = run(cmd, what); !s) return s;
    managed_ = std::set<IpAddress>(managed.begin(), managed.end());
    return Status::ok();
  }

  Status arm(const std::vector<IpAddress>& vips, std::chrono::milliseconds remaining) override {
    const std::string what = "nft arm " + joinAddresses(vips);
    if (auto s = usable(what); !s) return s;
    for (const auto& a : vips) {
      if (!managed_.contains(a)) {
        return Status::fail(EINVAL, what + ": " + a.toString() + " is not managed by the fence" +
                                        (managed_.empty() ? " (install() not called?)" : ""));
      }
    }
    if (remaining.count() <= 0) return close(vips);
    // Per set: add (so the delete cannot fail on an absent element), delete (so the final add
    // is new and carries the new timeout: nft 1.0.6 does not update an existing element's
    // timeout), add with the time left. One transaction: the element is never seen missing.
    const std::string timeout = " timeout " + std::to_string(remaining.count()) + "ms";
    return run(setCommands(vips, timeout), what);
  }

  Status close(const std::vector<IpAddress>& vips) override {
    // Unmanaged addresses are never live, so closing them is a harmless no-op in the kernel.
    const std::string what = "nft close " + joinAddresses(vips);
    if (auto s = usable(what); !s) return s;
    return run(setCommands(vips, ""), what);
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
    return Status::ok();
  }

 private:
  Status usable(const std::string& what) const {
    if (ctx_ == nullptr) return Status::fail(ENOMEM, what + ": nft_ctx_new failed");
    if (!validTableName(table_)) return Status::fail(EINVAL, what + ": bad table name");
    return Status::ok();
  }

  // Commands that leave every set of `vips` without the element (timeout empty) or with it
  // expiring after `timeout`.
  std::string setCommands(const std::vector<IpAddress>& vips, const std::string& timeout) const {
    Keys k = keysOf(vips);
    std::string cmd;
    auto one = [&](const char* family, const char* set, const std::vector<std::string>& keys) {
      if (keys.empty()) return;
      const std::string target = std::string(family) + " " + table_ + " " + set + " ";
      cmd += "add element " + target + elements(keys, " timeout 1s") + "\n";
      cmd += "delete element " + target + elements(keys, "") + "\n";
      if (!timeout.empty()) cmd += "add element " + target + elements(keys, timeout) + "\n";
    };
    one("arp", "live4", k.v4);
    one("inet", "live4", k.v4);
    one("inet", "live6", k.v6);
    one("inet", "livena6", k.na6);
    return cmd;
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
  std::set<IpAddress> managed_;
};

}  // namespace

std::unique_ptr<Fence> makeNftFence(std::string table) {
  return std::make_unique<NftFence>(std::move(table));
}

}  // namespace quorate::kernel
