// Opening the ping check's ICMP socket: the ping socket first, the raw one as the fallback.
#include "server/check/icmp_socket.h"

#include <arpa/inet.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace quorate::server::check {
namespace {

socklen_t toSockaddr(const net::IpAddress& a, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (a.family == AF_INET6) {
    auto& s = reinterpret_cast<sockaddr_in6&>(out);
    s.sin6_family = AF_INET6;
    std::memcpy(&s.sin6_addr, a.bytes.data(), 16);
    return sizeof s;
  }
  auto& s = reinterpret_cast<sockaddr_in&>(out);
  s.sin_family = AF_INET;
  std::memcpy(&s.sin_addr, a.bytes.data(), 4);
  return sizeof s;
}

// A raw socket receives every ICMP message the host gets: let through only what an attempt
// reads (echo replies, and errors that may quote our request).
Status filterRaw(int fd, bool v6) {
  if (v6) {
    icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
    ICMP6_FILTER_SETPASS(ICMP6_DST_UNREACH, &filter);
    if (::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0) {
      return Status::fail(errno, "filter the raw ICMPv6 socket");
    }
    return Status::ok();
  }
  icmp_filter filter{};
  filter.data = ~((1U << ICMP_ECHOREPLY) | (1U << ICMP_DEST_UNREACH));  // the types blocked
  if (::setsockopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof filter) != 0) {
    return Status::fail(errno, "filter the raw ICMP socket");
  }
  return Status::ok();
}

}  // namespace

Result<IcmpSocket> openIcmpSocket(const net::IpAddress& to,
                                  const std::optional<net::IpAddress>& bindTo, bool allowPing) {
  const bool v6 = to.family == AF_INET6;
  const int family = v6 ? AF_INET6 : AF_INET;
  const int protocol = v6 ? int{IPPROTO_ICMPV6} : int{IPPROTO_ICMP};
  IcmpSocket s;
  int pingError = EACCES;
  if (allowPing) {
    s.fd = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (s.fd < 0) pingError = errno;  // EACCES: the group is outside ping_group_range
  }
  if (s.fd < 0) {
    s.fd = ::socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
    if (s.fd < 0) {
      return Status::fail(errno, std::string("open an ICMP socket (a ping socket: ") +
                                     std::strerror(pingError) + "; a raw one needs CAP_NET_RAW)");
    }
    s.raw = true;
    if (Status filtered = filterRaw(s.fd, v6); !filtered) {
      ::close(s.fd);
      return filtered;
    }
  }
  auto fail = [&](const std::string& what) {
    const int err = errno;
    ::close(s.fd);
    return Status::fail(err, what);
  };
  sockaddr_storage address;
  // A ping socket is always bound: binding gives it its echo identifier.
  if (bindTo || !s.raw) {
    net::IpAddress any;  // the unspecified address of the family: port (identifier) only
    any.family = family;
    const socklen_t size = toSockaddr(bindTo.value_or(any), address);
    if (::bind(s.fd, reinterpret_cast<const sockaddr*>(&address), size) != 0) {
      return fail(bindTo ? "bind to " + bindTo->toString() : std::string("bind the ping socket"));
    }
  }
  // Connected: the kernel keeps other hosts' messages out, and a ping socket learns of a hard
  // ICMP error (unreachable) as a failed receive.
  const socklen_t size = toSockaddr(to, address);
  if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&address), size) != 0) {
    return fail("connect to " + to.toString());
  }
  if (!s.raw) {
    socklen_t length = sizeof address;
    if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return fail("read the ping socket's identifier");
    }
    s.id = ntohs(v6 ? reinterpret_cast<const sockaddr_in6&>(address).sin6_port
                    : reinterpret_cast<const sockaddr_in&>(address).sin_port);
  }
  return s;
}

}  // namespace quorate::server::check
