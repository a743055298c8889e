// Owning pointers for the libnl-route objects the address and link ports use, each freed by
// its own libnl call.
#pragma once

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include <memory>

namespace quorate::kernel::libnl {

struct AddrDeleter {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct NlAddrDeleter {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct LinkDeleter {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct CacheDeleter {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
struct SockDeleter {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
using AddrPtr = std::unique_ptr<rtnl_addr, AddrDeleter>;
using NlAddrPtr = std::unique_ptr<nl_addr, NlAddrDeleter>;
using LinkPtr = std::unique_ptr<rtnl_link, LinkDeleter>;
using CachePtr = std::unique_ptr<nl_cache, CacheDeleter>;
using SockPtr = std::unique_ptr<nl_sock, SockDeleter>;

}  // namespace quorate::kernel::libnl
