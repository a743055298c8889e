// Vips over rtnetlink (libnl-route-3): RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR dump.
#include <linux/if_addr.h>
#include <net/if.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>

#include "server/kernel/libnl_ptr.h"
#include "server/kernel/netlink_socket.h"
#include "server/kernel/vips.h"

namespace quorate::kernel {
namespace {

constexpr std::uint32_t kForever = std::numeric_limits<std::uint32_t>::max();  // INFINITY_LIFE_TIME

using libnl::AddrPtr;
using libnl::CachePtr;
using libnl::LinkPtr;
using libnl::NlAddrPtr;

// The label the kernel stores for an IPv4 address: the device name when none is given.
std::string effectiveLabel(const net::Vip& vip) {
  return vip.label.empty() ? vip.device : vip.label;
}

// Checks what the kernel would reject less clearly (or what libnl cannot express: prefix 0).
Status validate(const net::Vip& vip, const std::string& what) {
  const net::IpAddress& a = vip.prefix.address;
  if (!a.isV4() && !a.isV6()) return Status::fail(EAFNOSUPPORT, what + ": address family unset");
  int max = a.isV4() ? 32 : 128;
  if (vip.prefix.length < 1 || vip.prefix.length > max) {
    return Status::fail(EINVAL, what + ": prefix length must be 1.." + std::to_string(max));
  }
  if (!vip.label.empty()) {
    if (!a.isV4()) return Status::fail(EINVAL, what + ": labels are IPv4 only");
    if (vip.label.size() >= IFNAMSIZ || vip.label.rfind(vip.device, 0) != 0) {
      return Status::fail(EINVAL, what + ": label must start with the device name and fit " +
                                      std::to_string(IFNAMSIZ - 1) + " characters");
    }
  }
  return Status::ok();
}

class NetlinkVips final : public Vips {
 public:
  // Opens the socket now, in the caller's network namespace; a failure here is retried (and
  // reported) by the first request.
  NetlinkVips() { (void)sock_.begin("connect"); }

  Status add(const net::Vip& vip, std::optional<std::chrono::seconds> validLifetime) override {
    const std::string what = "add " + vip.toString();
    if (Status s = validate(vip, what); !s) return s;
    std::uint32_t lifetime = kForever;
    if (validLifetime) {
      if (validLifetime->count() <= 0) {
        return Status::fail(EINVAL, what + ": lifetime must be at least 1s");
      }
      if (validLifetime->count() < static_cast<std::int64_t>(kForever)) {
        lifetime = static_cast<std::uint32_t>(validLifetime->count());
      }
    }
    Result<int> index = ifindex(vip.device, what);
    if (!index) return index.status();

    // NLM_F_REPLACE refreshes lifetimes but keeps an IPv4 address's old label, so an address
    // whose label must change is deleted first (a brief gap, only when the label changes).
    if (vip.prefix.address.isV4()) {
      Result<std::vector<net::Vip>> present = listIndex(*index, vip.device, what);
      if (!present) return present.status();
      for (const net::Vip& p : *present) {
        if (p.prefix == vip.prefix && effectiveLabel(p) != effectiveLabel(vip)) {
          if (Status s = remove(p); !s) return s;
        }
      }
    }

    AddrPtr addr = makeAddr(vip, *index);
    if (!addr) return Status::fail(ENOMEM, what);
    if (!vip.label.empty()) rtnl_addr_set_label(addr.get(), vip.label.c_str());
    if (vip.prefix.address.isV6()) rtnl_addr_set_flags(addr.get(), IFA_F_NODAD);
    // Preferred = valid: a preferred lifetime of 0 would make the address deprecated at once.
    rtnl_addr_set_valid_lifetime(addr.get(), lifetime);
    rtnl_addr_set_preferred_lifetime(addr.get(), lifetime);
    if (Status s = sock_.begin(what); !s) return s;
    // rtnl_addr_add adds NLM_F_CREATE itself.
    return sock_.check(rtnl_addr_add(sock_.get(), addr.get(), NLM_F_REPLACE), what);
  }

  Status remove(const net::Vip& vip) override {
    const std::string what = "remove " + vip.toString();
    if (Status s = validate(vip, what); !s) return s;
    Result<int> index = ifindex(vip.device, what);
    // No device, no address: removal is idempotent.
    if (!index) return index.status().err() == ENODEV ? Status::ok() : index.status();
    // No label in the request: the kernel would refuse to delete the address if the label
    // differed, and the address is what we mean to remove.
    AddrPtr addr = makeAddr(vip, *index);
    if (!addr) return Status::fail(ENOMEM, what);
    if (Status s = sock_.begin(what); !s) return s;
    int rc = rtnl_addr_delete(sock_.get(), addr.get(), 0);
    if (rc < 0) {
      int err = sock_.errnoOf(rc);
      if (err == EADDRNOTAVAIL || err == ENOENT) return Status::ok();
    }
    return sock_.check(rc, what);
  }

  Result<std::vector<net::Vip>> list(const std::string& device) override {
    const std::string what = "list addresses of dev " + device;
    Result<int> index = ifindex(device, what);
    if (!index) return index.status();
    return listIndex(*index, device, what);
  }

 private:
  // The interface index of `device`; ENODEV if there is none.
  Result<int> ifindex(const std::string& device, const std::string& what) {
    if (device.empty() || device.size() >= IFNAMSIZ) {
      return Status::fail(ENODEV, what + ": no device named '" + device + "'");
    }
    if (Status s = sock_.begin(what); !s) return s;
    rtnl_link* raw = nullptr;
    int rc = rtnl_link_get_kernel(sock_.get(), 0, device.c_str(), &raw);
    LinkPtr link(raw);
    if (rc < 0) return sock_.check(rc, what + ": look up " + device);
    return rtnl_link_get_ifindex(link.get());
  }

  Result<std::vector<net::Vip>> listIndex(int index, const std::string& device,
                                          const std::string& what) {
    CachePtr cache;
    int rc = 0;
    // A dump interrupted by a concurrent change is simply asked for again.
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (Status s = sock_.begin(what); !s) return s;
      nl_cache* raw = nullptr;
      rc = rtnl_addr_alloc_cache(sock_.get(), &raw);
      cache.reset(raw);
      if (rc != -NLE_DUMP_INTR) break;
    }
    if (rc < 0) return sock_.check(rc, what);

    std::vector<net::Vip> out;
    for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
      auto* a = reinterpret_cast<rtnl_addr*>(o);
      if (rtnl_addr_get_ifindex(a) != index) continue;
      int family = rtnl_addr_get_family(a);
      nl_addr* local = rtnl_addr_get_local(a);
      if ((family != AF_INET && family != AF_INET6) || local == nullptr) continue;
      net::Vip v;
      v.device = device;
      v.prefix.address.family = family;
      std::size_t len = family == AF_INET ? 4 : 16;
      if (nl_addr_get_len(local) != len) continue;
      std::memcpy(v.prefix.address.bytes.data(), nl_addr_get_binary_addr(local), len);
      v.prefix.length = rtnl_addr_get_prefixlen(a);
      // The kernel labels unlabelled IPv4 addresses with the device name; report those as
      // unlabelled so that what add() was given and what list() returns compare equal.
      if (const char* label = rtnl_addr_get_label(a); family == AF_INET && label != nullptr) {
        if (device != label) v.label = label;
      }
      out.push_back(std::move(v));
    }
    return out;
  }

  // An address object with the identity of `vip` on `index` (family, local, prefix length).
  static AddrPtr makeAddr(const net::Vip& vip, int index) {
    AddrPtr addr(rtnl_addr_alloc());
    const net::IpAddress& ip = vip.prefix.address;
    NlAddrPtr local(nl_addr_build(ip.family, ip.bytes.data(), ip.size()));
    if (!addr || !local) return nullptr;
    rtnl_addr_set_family(addr.get(), ip.family);
    rtnl_addr_set_ifindex(addr.get(), index);
    if (rtnl_addr_set_local(addr.get(), local.get()) < 0) return nullptr;
    rtnl_addr_set_prefixlen(addr.get(), vip.prefix.length);  // after set_local, which resets it
    return addr;
  }

  RouteSocket sock_;
};

}  // namespace

std::unique_ptr<Vips> makeNetlinkVips() { return std::make_unique<NetlinkVips>(); }

}  // namespace quorate::kernel
