// Links and LinkWatcher over rtnetlink (libnl-route-3): RTM_GETLINK / NEWLINK / DELLINK and the
// RTNLGRP_LINK multicast group.
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/attr.h>
#include <netlink/cache.h>
#include <netlink/route/link.h>
#include <netlink/route/link/macvlan.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "server/kernel/libnl_ptr.h"
#include "server/kernel/links.h"
#include "server/kernel/netlink_socket.h"

namespace quorate::kernel {
namespace {

using libnl::CachePtr;
using libnl::LinkPtr;
using libnl::NlAddrPtr;
using libnl::SockPtr;

bool validName(const std::string& name) { return !name.empty() && name.size() < IFNAMSIZ; }

LinkInfo toInfo(rtnl_link* link) {
  LinkInfo info;
  if (const char* n = rtnl_link_get_name(link)) info.name = n;
  info.index = rtnl_link_get_ifindex(link);
  if (nl_addr* a = rtnl_link_get_addr(link);
      a != nullptr && nl_addr_get_len(a) == info.mac.size()) {
    std::memcpy(info.mac.data(), nl_addr_get_binary_addr(a), info.mac.size());
  }
  unsigned flags = rtnl_link_get_flags(link);
  info.adminUp = (flags & IFF_UP) != 0;
  info.running = (flags & IFF_RUNNING) != 0;
  return info;
}

class NetlinkLinks final : public Links {
 public:
  // Opens the socket now, in the caller's network namespace; a failure here is retried (and
  // reported) by the first request.
  NetlinkLinks() { (void)sock_.begin("connect"); }

  Result<LinkInfo> get(const std::string& name) override {
    const std::string what = "get link " + name;
    Result<LinkPtr> link = fetch(name, what);
    if (!link) return link.status();
    return toInfo(link->get());
  }

  Status ensureMacvlan(const std::string& name, const std::string& parent,
                       const net::MacAddress& mac) override {
    const std::string what =
        "ensure macvlan " + name + " on " + parent + " with MAC " + net::toString(mac);
    if (!validName(name)) return Status::fail(EINVAL, what + ": bad interface name");
    // Multicast bit set or all zeros: the kernel would say EADDRNOTAVAIL, less clearly.
    if ((mac[0] & 0x01) != 0 ||
        std::all_of(mac.begin(), mac.end(), [](auto b) { return b == 0; })) {
      return Status::fail(EINVAL, what + ": not a unicast MAC");
    }
    Result<LinkPtr> parentLink = fetch(parent, what + ": parent " + parent);
    if (!parentLink) return parentLink.status();
    const int parentIndex = rtnl_link_get_ifindex(parentLink->get());

    Result<LinkPtr> existing = fetch(name, what);
    if (existing) {
      rtnl_link* l = existing->get();
      // Never delete an interface we could not have made (a typo must not remove eth0).
      if (!rtnl_link_is_macvlan(l)) {
        return Status::fail(EEXIST, what + ": " + name + " exists and is not a macvlan");
      }
      LinkInfo info = toInfo(l);
      if (rtnl_link_get_link(l) == parentIndex && info.mac == mac &&
          rtnl_link_macvlan_get_mode(l) == MACVLAN_MODE_PRIVATE) {
        return info.adminUp ? Status::ok() : setUp(l, what);
      }
      if (Status s = removeLink(name); !s) return s;
    } else if (existing.status().err() != ENODEV) {
      return existing.status();
    }

    LinkPtr link(rtnl_link_macvlan_alloc());
    NlAddrPtr addr(nl_addr_build(AF_LLC, mac.data(), mac.size()));
    if (!link || !addr) return Status::fail(ENOMEM, what);
    rtnl_link_set_name(link.get(), name.c_str());
    rtnl_link_set_link(link.get(), parentIndex);
    rtnl_link_set_addr(link.get(), addr.get());
    rtnl_link_macvlan_set_mode(link.get(), MACVLAN_MODE_PRIVATE);
    if (Status s = sock_.begin(what); !s) return s;
    if (Status s =
            sock_.check(rtnl_link_add(sock_.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL), what);
        !s) {
      return s;
    }
    // Created down: before it goes up it gets no IPv6 link-local address of its own, which the
    // kernel would announce from the virtual MAC (duplicate address detection, router and
    // multicast listener messages) on every director, holder or not, pulling the switch's entry
    // for that MAC to a dark one. Frames from the virtual MAC are the holder's alone.
    if (Status s = writeSysctl("/proc/sys/net/ipv6/conf/" + name + "/addr_gen_mode", "1",
                               what + ": no IPv6 link-local address");
        !s && s.err() != ENOENT) {  // ENOENT: no IPv6 in this kernel, nothing to announce
      return s;
    }
    Result<LinkPtr> created = fetch(name, what);
    if (!created) return created.status();
    return setUp(created->get(), what);
  }

  // Writes `value` to the sysctl file `path` (of the calling thread's network namespace).
  static Status writeSysctl(const std::string& path, const std::string& value,
                            const std::string& what) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return Status::fail(errno, what);
    const bool ok = std::fputs(value.c_str(), f) >= 0;
    const int closed = std::fclose(f);
    if (!ok || closed != 0) return Status::fail(errno ? errno : EIO, what);
    return Status::ok();
  }

  Status setIpv4Conf(const std::string& device, const std::string& key,
                     const std::string& value) override {
    const std::string what = "set net.ipv4.conf." + device + "." + key + " = " + value;
    if (!validName(device) || key.empty() || key.find('/') != std::string::npos ||
        key.find("..") != std::string::npos) {
      return Status::fail(EINVAL, what + ": bad device or key");
    }
    // /proc/sys/net shows the network namespace of the thread that opens the file.
    return writeSysctl("/proc/sys/net/ipv4/conf/" + device + "/" + key, value, what);
  }

  Status removeLink(const std::string& name) override {
    const std::string what = "remove link " + name;
    if (!validName(name)) return Status::fail(EINVAL, what + ": bad interface name");
    LinkPtr link(rtnl_link_alloc());
    if (!link) return Status::fail(ENOMEM, what);
    rtnl_link_set_name(link.get(), name.c_str());
    if (Status s = sock_.begin(what); !s) return s;
    int rc = rtnl_link_delete(sock_.get(), link.get());
    if (rc < 0 && sock_.errnoOf(rc) == ENODEV) return Status::ok();  // absent: done
    return sock_.check(rc, what);
  }

 private:
  Result<LinkPtr> fetch(const std::string& name, const std::string& what) {
    if (!validName(name)) return Status::fail(ENODEV, what + ": no device named '" + name + "'");
    if (Status s = sock_.begin(what); !s) return s;
    rtnl_link* raw = nullptr;
    int rc = rtnl_link_get_kernel(sock_.get(), 0, name.c_str(), &raw);
    LinkPtr link(raw);
    if (rc < 0) return sock_.check(rc, what);
    return link;
  }

  Status setUp(rtnl_link* orig, const std::string& what) {
    LinkPtr change(rtnl_link_alloc());
    if (!change) return Status::fail(ENOMEM, what);
    rtnl_link_set_flags(change.get(), IFF_UP);
    if (Status s = sock_.begin(what); !s) return s;
    return sock_.check(rtnl_link_change(sock_.get(), orig, change.get(), 0), what + ": set up");
  }

  RouteSocket sock_;
};

class NetlinkLinkWatcher final : public LinkWatcher {
 public:
  explicit NetlinkLinkWatcher(SockPtr sk) : sk_(std::move(sk)) {
    nl_socket_modify_cb(sk_.get(), NL_CB_VALID, NL_CB_CUSTOM, &NetlinkLinkWatcher::onMessage, this);
  }

  int fd() const override { return nl_socket_get_fd(sk_.get()); }

  Result<std::vector<std::string>> drain() override {
    names_.clear();
    bool overflowed = false;
    // Bounded, so that a storm of changes cannot keep the caller here; fd() stays readable.
    for (int i = 0; i < 4096; ++i) {
      int rc = nl_recvmsgs_default(sk_.get());
      if (rc >= 0) continue;
      if (rc == -NLE_AGAIN) break;
      if (rc == -NLE_NOMEM) {  // ENOBUFS: the kernel dropped notifications for us
        overflowed = true;
        continue;
      }
      return Status::fail(errnoFromNlError(rc),
                          std::string("read link notifications [libnl: ") + nl_geterror(rc) + "]");
    }
    if (overflowed) {
      // Anything may have changed: name every link there is.
      if (Status s = addAllLinks(); !s) return s;
    }
    return std::move(names_);
  }

 private:
  static int onMessage(nl_msg* msg, void* arg) {
    auto* self = static_cast<NetlinkLinkWatcher*>(arg);
    nlmsghdr* hdr = nlmsg_hdr(msg);
    if (hdr->nlmsg_type != RTM_NEWLINK && hdr->nlmsg_type != RTM_DELLINK) return NL_SKIP;
    nlattr* tb[IFLA_MAX + 1] = {};
    if (nlmsg_parse(hdr, sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) < 0) return NL_SKIP;
    if (tb[IFLA_IFNAME] == nullptr) return NL_SKIP;
    const char* s = static_cast<const char*>(nla_data(tb[IFLA_IFNAME]));
    self->note(std::string(s, strnlen(s, nla_len(tb[IFLA_IFNAME]))));
    return NL_OK;
  }

  void note(std::string name) {
    if (std::find(names_.begin(), names_.end(), name) == names_.end()) {
      names_.push_back(std::move(name));
    }
  }

  Status addAllLinks() {
    const std::string what = "list links after lost notifications";
    RouteSocket sock;  // short-lived: the watcher's own socket carries only notifications
    if (Status s = sock.begin(what); !s) return s;
    nl_cache* raw = nullptr;
    int rc = rtnl_link_alloc_cache(sock.get(), AF_UNSPEC, &raw);
    CachePtr cache(raw);
    if (rc < 0) return sock.check(rc, what);
    for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
      if (const char* n = rtnl_link_get_name(reinterpret_cast<rtnl_link*>(o))) note(n);
    }
    return Status::ok();
  }

  SockPtr sk_;
  std::vector<std::string> names_;
};

}  // namespace

std::unique_ptr<Links> makeNetlinkLinks() { return std::make_unique<NetlinkLinks>(); }

Result<std::unique_ptr<LinkWatcher>> makeLinkWatcher() {
  const std::string what = "watch links";
  SockPtr sk(nl_socket_alloc());
  if (!sk) return Status::fail(ENOMEM, what);
  nl_socket_disable_seq_check(sk.get());  // notifications carry no sequence of ours
  nl_socket_enable_msg_peek(sk.get());
  int rc = nl_connect(sk.get(), NETLINK_ROUTE);
  if (rc < 0) return Status::fail(errnoFromNlError(rc), what + ": netlink connect");
  rc = nl_socket_add_membership(sk.get(), RTNLGRP_LINK);
  if (rc < 0) return Status::fail(errnoFromNlError(rc), what + ": join RTNLGRP_LINK");
  rc = nl_socket_set_nonblocking(sk.get());
  if (rc < 0) return Status::fail(errnoFromNlError(rc), what + ": non-blocking");
  // Room for bursts (many VLANs flapping at once); overflow is still handled in drain().
  (void)nl_socket_set_buffer_size(sk.get(), 1 << 20, 0);
  return std::unique_ptr<LinkWatcher>(std::make_unique<NetlinkLinkWatcher>(std::move(sk)));
}

}  // namespace quorate::kernel
